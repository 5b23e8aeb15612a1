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

use std::fmt;
use std::str::FromStr;

use zoo_detect::anchors::MultiboxTargets;
/// The box-regression losses, with `torchvision.ops` semantics, from zoo-detect.
pub use zoo_detect::boxes::{ciou_loss, diou_loss, giou_loss};

use burn::nn::loss::HuberLossConfig;
use burn::tensor::activation::{log_sigmoid, log_softmax};
use burn::tensor::{Int, Tensor};

/// How an element-wise loss is reduced to a scalar.
///
/// PyTorch's `reduction="none"` is the `*_elementwise` function of each loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// The mean over every element.
    #[default]
    Mean,
    /// The sum over every element.
    Sum,
}

impl Reduction {
    /// Reduces an element-wise loss to a tensor of shape `[1]`.
    pub fn apply<const D: usize>(self, loss: Tensor<D>) -> Tensor<1> {
        match self {
            Reduction::Mean => loss.mean(),
            Reduction::Sum => loss.sum(),
        }
    }

    /// As [`Reduction::apply`], but the mean of no elements is 0 instead of
    /// NaN: torchvision's box losses (`generalized_box_iou_loss`,
    /// `distance_box_iou_loss`, `complete_box_iou_loss`) reduce with
    /// `loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()`.
    pub fn apply_or_zero<const D: usize>(self, loss: Tensor<D>) -> Tensor<1> {
        match self {
            Reduction::Mean if loss.shape().num_elements() == 0 => {
                Tensor::zeros([1], &loss.device())
            }
            _ => self.apply(loss),
        }
    }
}

impl FromStr for Reduction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            other => Err(format!(
                "unknown reduction `{other}`: expected `mean` or `sum` (use the *_elementwise \
                 function for torch's `none`)"
            )),
        }
    }
}

impl fmt::Display for Reduction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reduction::Mean => "mean",
            Reduction::Sum => "sum",
        })
    }
}

fn check_same_shape<const D: usize>(name: &str, input: &Tensor<D>, target: &Tensor<D>) {
    assert_eq!(
        input.dims(),
        target.dims(),
        "{name}: input shape {:?} and target shape {:?} differ",
        input.dims(),
        target.dims()
    );
}

/// Squared error `(input - target)^2`, element-wise (`F.mse_loss(..., reduction="none")`).
///
/// # Panics
/// When the shapes differ.
pub fn mse_loss_elementwise<const D: usize>(input: Tensor<D>, target: Tensor<D>) -> Tensor<D> {
    check_same_shape("mse_loss", &input, &target);
    (input - target).square()
}

/// Mean or summed squared error (`F.mse_loss`).
pub fn mse_loss<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    reduction.apply(mse_loss_elementwise(input, target))
}

/// The course notes' squared loss `1/(2N) * sum((input - target)^2)`, `N` the first dimension.
pub fn half_mse_loss<const D: usize>(input: Tensor<D>, target: Tensor<D>) -> Tensor<1> {
    let n = input.dims()[0].max(1) as f64;
    mse_loss_elementwise(input, target)
        .sum()
        .div_scalar(2.0 * n)
}

/// Absolute error `|input - target|`, element-wise (`F.l1_loss(..., reduction="none")`).
///
/// # Panics
/// When the shapes differ.
pub fn l1_loss_elementwise<const D: usize>(input: Tensor<D>, target: Tensor<D>) -> Tensor<D> {
    check_same_shape("l1_loss", &input, &target);
    (input - target).abs()
}

/// Mean or summed absolute error (`F.l1_loss`).
pub fn l1_loss<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    reduction.apply(l1_loss_elementwise(input, target))
}

/// Smooth L1, element-wise (`F.smooth_l1_loss(..., reduction="none")`):
/// `0.5 d^2 / beta` where `|d| < beta`, else `|d| - 0.5 beta`; plain L1 when `beta == 0`.
///
/// # Panics
/// When the shapes differ or `beta < 0`.
pub fn smooth_l1_loss_elementwise<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    beta: f64,
) -> Tensor<D> {
    check_same_shape("smooth_l1_loss", &input, &target);
    assert!(beta >= 0.0, "smooth_l1_loss: beta must be >= 0, got {beta}");
    let diff = input - target;
    if beta == 0.0 {
        return diff.abs();
    }
    let abs = diff.clone().abs();
    let quadratic = diff.square().mul_scalar(0.5 / beta);
    let linear = abs.clone().sub_scalar(0.5 * beta);
    linear.mask_where(abs.lower_elem(beta), quadratic)
}

/// Mean or summed smooth L1 (`F.smooth_l1_loss`).
pub fn smooth_l1_loss<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    beta: f64,
    reduction: Reduction,
) -> Tensor<1> {
    reduction.apply(smooth_l1_loss_elementwise(input, target, beta))
}

/// Huber loss, element-wise (`F.huber_loss(..., reduction="none")`):
/// `0.5 d^2` where `|d| <= delta`, else `delta (|d| - 0.5 delta)`. burn-nn's `HuberLoss`.
///
/// # Panics
/// When the shapes differ or `delta <= 0`.
pub fn huber_loss_elementwise<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    delta: f64,
) -> Tensor<D> {
    check_same_shape("huber_loss", &input, &target);
    assert!(delta > 0.0, "huber_loss: delta must be > 0, got {delta}");
    HuberLossConfig::new(delta as f32)
        .init()
        .forward_no_reduction(input, target)
}

/// Mean or summed Huber loss (`F.huber_loss`).
pub fn huber_loss<const D: usize>(
    input: Tensor<D>,
    target: Tensor<D>,
    delta: f64,
    reduction: Reduction,
) -> Tensor<1> {
    reduction.apply(huber_loss_elementwise(input, target, delta))
}

/// Binary cross-entropy on logits, element-wise, for targets in `[0, 1]`
/// (`F.binary_cross_entropy_with_logits(..., reduction="none")`).
///
/// Computed as `(1 - t) x - log_sigmoid(x)`, finite for logits of any
/// magnitude; its gradient is `sigmoid(x) - t`.
///
/// # Panics
/// When the shapes differ.
pub fn bce_with_logits_elementwise<const D: usize>(
    logits: Tensor<D>,
    target: Tensor<D>,
) -> Tensor<D> {
    check_same_shape("bce_with_logits", &logits, &target);
    (target.neg().add_scalar(1.0)) * logits.clone() - log_sigmoid(logits)
}

/// Mean or summed binary cross-entropy on logits (`F.binary_cross_entropy_with_logits`).
pub fn bce_with_logits<const D: usize>(
    logits: Tensor<D>,
    target: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    reduction.apply(bce_with_logits_elementwise(logits, target))
}

/// Targets of [`cross_entropy`]: class indices or per-class probabilities.
#[derive(Debug, Clone)]
pub enum CeTarget {
    /// Class indices, shape `[N]`, each in `0..C`.
    Classes(Tensor<1, Int>),
    /// Class probabilities (soft labels, as mixup and cutmix make), shape `[N, C]`.
    Probs(Tensor<2>),
}

/// Cross-entropy of logits `[N, C]` per sample, shape `[N]`
/// (`F.cross_entropy(..., reduction="none", label_smoothing=eps)`).
///
/// With smoothing `eps` the target distribution becomes
/// `(1 - eps) * target + eps / C` (for class indices, `target` is one-hot),
/// as PyTorch does. Uses a max-shifted log-softmax, so logits of magnitude
/// 1e4 give finite losses and gradients.
///
/// # Panics
/// When shapes disagree, `label_smoothing` is outside `[0, 1]`, or (in
/// debug builds, where it is checked) a class index is outside `[0, C)`.
pub fn cross_entropy_elementwise(
    logits: Tensor<2>,
    target: CeTarget,
    label_smoothing: f64,
) -> Tensor<1> {
    assert!(
        (0.0..=1.0).contains(&label_smoothing),
        "cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}"
    );
    let [n, c] = logits.dims();
    let log_p = log_softmax(logits, 1);
    let nll = match target {
        CeTarget::Classes(classes) => {
            assert_eq!(
                classes.dims(),
                [n],
                "cross_entropy: logits [N, C] = {:?} need class targets [N], got {:?}",
                [n, c],
                classes.dims()
            );
            // A class index outside [0, C) would gather garbage (or read out
            // of bounds on some backends). Checking reads two numbers back
            // from the device, so it runs in debug builds only.
            if cfg!(debug_assertions) && n > 0 {
                let range = Tensor::cat(
                    vec![
                        classes.clone().min().reshape([1]),
                        classes.clone().max().reshape([1]),
                    ],
                    0,
                )
                .into_data()
                .try_into_vec_as::<i64>()
                .expect("integer data");
                let bad = if range[0] < 0 { range[0] } else { range[1] };
                assert!(
                    range[0] >= 0 && range[1] < c as i64,
                    "cross_entropy: class index {bad} out of range for {c} classes (expected 0..{})",
                    c - 1
                );
            }
            log_p
                .clone()
                .gather(1, classes.reshape([n, 1]))
                .reshape([n])
                .neg()
        }
        CeTarget::Probs(probs) => {
            assert_eq!(
                probs.dims(),
                [n, c],
                "cross_entropy: logits {:?} and probability targets {:?} differ",
                [n, c],
                probs.dims()
            );
            (log_p.clone() * probs).sum_dim(1).reshape([n]).neg()
        }
    };
    if label_smoothing == 0.0 {
        return nll;
    }
    // PyTorch: (1 - eps) * nll + eps / C * sum_c(-log p_c).
    let uniform = log_p.sum_dim(1).reshape([n]).neg().div_scalar(c as f64);
    nll.mul_scalar(1.0 - label_smoothing) + uniform.mul_scalar(label_smoothing)
}

/// Mean or summed cross-entropy (`F.cross_entropy`); see [`cross_entropy_elementwise`].
pub fn cross_entropy(
    logits: Tensor<2>,
    target: CeTarget,
    label_smoothing: f64,
    reduction: Reduction,
) -> Tensor<1> {
    reduction.apply(cross_entropy_elementwise(logits, target, label_smoothing))
}

/// The CS231n multiclass SVM (hinge) loss per sample, shape `[N]`:
/// `L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + margin)`.
///
/// Unlike `torch.nn.functional.multi_margin_loss`, the sum is not divided by
/// the number of classes. The CS231n worked example (scores
/// `[[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]]`, classes
/// `[0, 1, 2]`) gives `[2.9, 0, 12.9]`.
///
/// # Panics
/// When `target` is not `[N]` for scores `[N, C]`.
pub fn multiclass_svm_loss_elementwise(
    scores: Tensor<2>,
    target: Tensor<1, Int>,
    margin: f64,
) -> Tensor<1> {
    let [n, c] = scores.dims();
    assert_eq!(
        target.dims(),
        [n],
        "multiclass_svm_loss: scores {:?} need targets [{n}], got {:?}",
        [n, c],
        target.dims()
    );
    let target = target.reshape([n, 1]);
    let correct = scores.clone().gather(1, target.clone()); // [n, 1]
    let margins = (scores - correct).add_scalar(margin).clamp_min(0.0);
    // Drop the j = y_i term.
    let classes = Tensor::<1, Int>::arange(0..c as i64, &margins.device()).reshape([1, c]);
    let is_target = classes.equal(target);
    margins.mask_fill(is_target, 0.0).sum_dim(1).reshape([n])
}

/// Mean (over samples) or summed CS231n hinge loss; see [`multiclass_svm_loss_elementwise`].
pub fn multiclass_svm_loss(
    scores: Tensor<2>,
    target: Tensor<1, Int>,
    margin: f64,
    reduction: Reduction,
) -> Tensor<1> {
    reduction.apply(multiclass_svm_loss_elementwise(scores, target, margin))
}

/// Perplexity of a language model's predictions: `exp(mean cross-entropy)`
/// of logits `[N, C]` against classes `[N]` (d2l 9.5). Shape `[1]`.
pub fn perplexity(logits: Tensor<2>, target: Tensor<1, Int>) -> Tensor<1> {
    cross_entropy(logits, CeTarget::Classes(target), 0.0, Reduction::Mean).exp()
}

/// L2 weight penalty `lambda / 2 * sum(w^2)` (weight decay, d2l 3.7). Shape `[1]`.
pub fn l2_penalty<const D: usize>(weight: Tensor<D>, lambda: f64) -> Tensor<1> {
    weight.square().sum().mul_scalar(lambda / 2.0)
}

/// L1 weight penalty `lambda * sum(|w|)`. Shape `[1]`.
pub fn l1_penalty<const D: usize>(weight: Tensor<D>, lambda: f64) -> Tensor<1> {
    weight.abs().sum().mul_scalar(lambda)
}

/// The course's SSD loss (d2l 14.7): the cross-entropy of the class scores
/// `cls_preds [B, A, C + 1]` (logits, class 0 the background) over every
/// anchor plus the L1 error of the masked box offsets `bbox_preds [B, A * 4]`,
/// each averaged (the course's per-image means, then the batch mean).
pub fn multibox_loss(
    cls_preds: Tensor<3>,
    bbox_preds: Tensor<2>,
    targets: &MultiboxTargets,
) -> Tensor<1> {
    let [b, a, c] = cls_preds.dims();
    let cls = cross_entropy(
        cls_preds.reshape([b * a, c]),
        CeTarget::Classes(targets.class_labels.clone().reshape([b * a])),
        0.0,
        Reduction::Mean,
    );
    let bbox = ((bbox_preds - targets.bbox_offset.clone()) * targets.bbox_mask.clone())
        .abs()
        .mean();
    cls + bbox
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

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
