//! Losses with PyTorch's semantics, on any burn device.
//!
//! Each loss comes as an element-wise function (torch's `reduction="none"`)
//! and a reduced one taking a [`Reduction`]. burn-nn's losses are used where
//! they already compute what PyTorch computes (the Huber element-wise form);
//! the rest are written here because burn's differ from torch's: burn's
//! binary cross-entropy takes integer targets only, its cross-entropy has no
//! probability targets, and its smooth L1 divides by `beta` even when
//! `beta == 0`.
//!
//! ```
//! use burn::tensor::Tensor;
//! use zoo_losses::{mse_loss, Reduction};
//! let device = zoo_device::from_name("flex").unwrap();
//! let x = Tensor::<1>::from_floats([1.0, 2.0], &device);
//! let y = Tensor::<1>::from_floats([0.0, 0.0], &device);
//! let loss: Vec<f32> = mse_loss(x, y, Reduction::Mean).into_data().try_into_vec_as::<f32>().unwrap();
//! assert_eq!(loss, vec![2.5]); // (1 + 4) / 2
//! ```
//!
//! One loss family per file: [`reduction`], [`regression`] (MSE, L1, smooth
//! L1, Huber, the course's half-MSE), [`bce`], [`cross_entropy`](mod@cross_entropy) (per
//! sample and per pixel, and perplexity), [`hinge`], [`penalty`],
//! [`multibox`], [`vae`] (the negative ELBO); everything is re-exported at
//! the crate root.

pub mod bce;
pub mod cross_entropy;
pub mod hinge;
pub mod multibox;
pub mod penalty;
pub mod reduction;
pub mod regression;
pub mod vae;

pub use bce::{
    bce_with_logits, bce_with_logits_elementwise, binary_cross_entropy,
    binary_cross_entropy_elementwise,
};
pub use cross_entropy::{
    CeTarget, cross_entropy, cross_entropy_elementwise, cross_entropy_pixels,
    cross_entropy_pixels_elementwise, perplexity,
};
pub use hinge::{multiclass_svm_loss, multiclass_svm_loss_elementwise};
pub use multibox::multibox_loss;
pub use penalty::{l1_penalty, l2_penalty};
pub use reduction::Reduction;
pub use regression::{
    half_mse_loss, huber_loss, huber_loss_elementwise, l1_loss, l1_loss_elementwise, mse_loss,
    mse_loss_elementwise, smooth_l1_loss, smooth_l1_loss_elementwise,
};
pub use vae::{gaussian_kl, vae_loss};
/// The box-regression losses, with `torchvision.ops` semantics, from zoo-detect.
pub use zoo_detect::boxes::{ciou_loss, diou_loss, giou_loss};

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;
    use burn::tensor::{Int, Tensor};

    fn device() -> Device {
        zoo_device::from_name("flex").unwrap()
    }

    #[test]
    #[should_panic(expected = "cross_entropy: class index 3 out of range for 3 classes")]
    fn class_index_out_of_range_is_named() {
        let logits = Tensor::<2>::zeros([2, 3], &device());
        let classes = Tensor::<1, burn::tensor::Int>::from_ints([0, 3], &device());
        let _ = cross_entropy(logits, CeTarget::Classes(classes), 0.0, Reduction::Mean);
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_into_vec_as::<f32>().unwrap()
    }

    fn close(got: &[f32], want: &[f32], tol: f32) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= tol * (1.0 + w.abs()),
                "{got:?} vs {want:?}"
            );
        }
    }

    // Reference values below were computed with PyTorch 2.x by hand
    // (torch.nn.functional with the same inputs).
    #[test]
    fn smooth_l1_and_huber_match_torch() {
        let d = device();
        let x = Tensor::<1>::from_floats([0.0, 0.5, 2.0, -3.0], &d);
        let y = Tensor::<1>::from_floats([0.0, 0.0, 0.0, 0.0], &d);
        // F.smooth_l1_loss(x, y, beta=1.0, reduction="none") = [0, 0.125, 1.5, 2.5]
        close(
            &values(smooth_l1_loss_elementwise(x.clone(), y.clone(), 1.0)),
            &[0.0, 0.125, 1.5, 2.5],
            1e-6,
        );
        // beta = 0 is plain L1.
        close(
            &values(smooth_l1_loss_elementwise(x.clone(), y.clone(), 0.0)),
            &[0.0, 0.5, 2.0, 3.0],
            1e-6,
        );
        // F.huber_loss(x, y, delta=2.0, reduction="none") = [0, 0.125, 2.0, 4.0]
        close(
            &values(huber_loss_elementwise(x, y, 2.0)),
            &[0.0, 0.125, 2.0, 4.0],
            1e-6,
        );
    }

    #[test]
    fn cross_entropy_is_finite_for_huge_logits() {
        let d = device().autodiff();
        let logits =
            Tensor::<2>::from_floats([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]], &d).require_grad();
        let target = Tensor::<1, Int>::from_ints([1, 1], &d);
        let loss = cross_entropy(
            logits.clone(),
            CeTarget::Classes(target),
            0.1,
            Reduction::Mean,
        );
        let grads = loss.backward();
        // Sample 0 puts all mass on class 0 while the target is 1: nll = 2e4.
        let value = values(loss)[0];
        assert!(value.is_finite());
        let g = values(logits.grad(&grads).unwrap());
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
        // log-softmax rows are [0, -2e4, -1e4] and [-2e4, 0, -9995], so with eps = 0.1:
        // sample 0: 0.9 * 2e4 + 0.1 * (3e4 / 3); sample 1: 0.9 * 0 + 0.1 * (29995 / 3).
        let want = ((0.9 * 2e4 + 0.1 / 3.0 * 3e4) + (0.1 / 3.0 * (2e4 + 9995.0))) / 2.0;
        close(&[value], &[want as f32], 1e-5);
    }

    #[test]
    fn cs231n_hinge_worked_example() {
        // CS231n "Linear classification": the three-sample example, margin 1.
        let d = device();
        let scores =
            Tensor::<2>::from_floats([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]], &d);
        let target = Tensor::<1, Int>::from_ints([0, 1, 2], &d);
        close(
            &values(multiclass_svm_loss_elementwise(
                scores.clone(),
                target.clone(),
                1.0,
            )),
            &[2.9, 0.0, 12.9],
            1e-5,
        );
        close(
            &values(multiclass_svm_loss(scores, target, 1.0, Reduction::Mean)),
            &[15.8 / 3.0],
            1e-5,
        );
    }

    #[test]
    fn perplexity_of_a_uniform_model_is_the_vocabulary_size() {
        let d = device();
        let logits = Tensor::<2>::zeros([4, 7], &d);
        let target = Tensor::<1, Int>::from_ints([0, 3, 6, 2], &d);
        close(&values(perplexity(logits, target)), &[7.0], 1e-5);
    }

    #[test]
    fn losses_pass_the_finite_difference_gradient_check() {
        use zoo_layers::gradcheck::{GradCheck, check_gradient};
        let d = device();
        let s = GradCheck::default();
        let x: Vec<f32> = (0..12).map(|i| (i as f32 * 0.37).sin() * 2.0).collect();
        let t = |d: &Device| {
            Tensor::<2>::from_floats(
                burn::tensor::TensorData::new(
                    (0..12).map(|i| (i as f32 * 0.11).cos()).collect::<Vec<_>>(),
                    [3, 4],
                ),
                d,
            )
        };
        let classes = |d: &Device| Tensor::<1, Int>::from_ints([2, 0, 3], d);
        check_gradient(
            |v: Tensor<2>| smooth_l1_loss(v.clone(), t(&v.device()), 0.5, Reduction::Sum),
            &x,
            [3, 4],
            &d,
            s,
        )
        .unwrap();
        check_gradient(
            |v: Tensor<2>| huber_loss(v.clone(), t(&v.device()), 0.7, Reduction::Mean),
            &x,
            [3, 4],
            &d,
            s,
        )
        .unwrap();
        check_gradient(
            |v: Tensor<2>| bce_with_logits(v.clone(), t(&v.device()).abs(), Reduction::Mean),
            &x,
            [3, 4],
            &d,
            s,
        )
        .unwrap();
        check_gradient(
            |v: Tensor<2>| {
                multiclass_svm_loss(v.clone(), classes(&v.device()), 1.0, Reduction::Mean)
            },
            &x,
            [3, 4],
            &d,
            s,
        )
        .unwrap();
        check_gradient(
            |v: Tensor<2>| {
                cross_entropy(
                    v.clone(),
                    CeTarget::Classes(classes(&v.device())),
                    0.1,
                    Reduction::Mean,
                )
            },
            &x,
            [3, 4],
            &d,
            s,
        )
        .unwrap();
        check_gradient(
            |v: Tensor<2>| {
                let probs = burn::tensor::activation::softmax(t(&v.device()), 1);
                cross_entropy(v, CeTarget::Probs(probs), 0.2, Reduction::Sum)
            },
            &x,
            [3, 4],
            &d,
            s,
        )
        .unwrap();
    }

    #[test]
    fn bce_with_logits_gradient_is_sigmoid_minus_target() {
        let d = device().autodiff();
        let x = Tensor::<1>::from_floats([0.0, 3.0, -50.0, 80.0], &d).require_grad();
        let t = Tensor::<1>::from_floats([0.5, 1.0, 0.0, 0.25], &d);
        let loss = bce_with_logits(x.clone(), t, Reduction::Sum);
        let grads = loss.backward();
        let s = |v: f32| 1.0 / (1.0 + (-v).exp());
        close(
            &values(x.grad(&grads).unwrap()),
            &[s(0.0) - 0.5, s(3.0) - 1.0, s(-50.0), s(80.0) - 0.25],
            1e-6,
        );
    }
}
