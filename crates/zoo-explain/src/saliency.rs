//! Saliency maps (Simonyan, Vedaldi & Zisserman 2014), as CS231n's
//! assignment 3 computes them: the gradient of the true class's score (the
//! unnormalised logit) with respect to the image, its absolute value, the
//! largest over the channels.

use burn::tensor::{Int, Tensor};

use crate::{ExplainError, check_classes, invalid};

/// `[N, H, W]` saliency of images `x [N, C, H, W]` for classes `y`, through
/// `forward` (images to scores `[N, classes]`). `x` must live on an
/// autodiff device; pass a model frozen there (`Module::freeze`) so that it
/// behaves as in evaluation mode and no parameter gradient is kept.
pub fn saliency_map(
    forward: impl Fn(Tensor<4>) -> Tensor<2>,
    x: Tensor<4>,
    y: &[usize],
) -> Result<Tensor<3>, ExplainError> {
    let [n, _, h, w] = x.dims();
    if !x.device().is_autodiff() {
        return invalid(
            "saliency_map",
            "the images are not on an autodiff device; expected device.autodiff()".into(),
        );
    }
    let x = x.detach().require_grad();
    let scores = forward(x.clone());
    let [ns, classes] = scores.dims();
    if ns != n {
        return invalid(
            "saliency_map",
            format!("the model gave {ns} rows of scores for {n} images"),
        );
    }
    check_classes("saliency_map", n, y, classes)?;
    let idx: Vec<i64> = y.iter().map(|&c| c as i64).collect();
    let idx = Tensor::<1, Int>::from_ints(idx.as_slice(), &scores.device()).reshape([n, 1]);
    let grads = scores.gather(1, idx).sum().backward();
    let g = x.grad(&grads).expect("the images take part in the scores");
    Ok(g.abs().max_dim(1).reshape([n, h, w]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// For a linear model `s = W vec(x)` the gradient of `s_y` is row `y`
    /// of `W`: the saliency is `max_c |W[y, c, h, w]|`, whatever `x` is.
    #[test]
    fn a_linear_models_saliency_is_its_weights() {
        let device = zoo_device::from_name("flex").unwrap().autodiff();
        let (c, h, w, classes) = (2, 2, 3, 3);
        let weights: Vec<f32> = (0..classes * c * h * w)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0)
            .collect();
        let wt =
            Tensor::<1>::from_floats(weights.as_slice(), &device).reshape([classes, c * h * w]);
        let forward = |x: Tensor<4>| {
            let n = x.dims()[0];
            x.reshape([n, c * h * w]).matmul(wt.clone().transpose())
        };
        let x = Tensor::<4>::ones([2, c, h, w], &device);
        let s: Vec<f32> = saliency_map(forward, x, &[2, 0])
            .unwrap()
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        for (img, &y) in [2usize, 0].iter().enumerate() {
            for p in 0..h * w {
                let want = (0..c)
                    .map(|ch| weights[y * c * h * w + ch * h * w + p].abs())
                    .fold(0.0, f32::max);
                assert_eq!(s[img * h * w + p], want, "image {img} pixel {p}");
            }
        }
    }

    #[test]
    fn a_class_outside_the_outputs_is_refused() {
        let device = zoo_device::from_name("flex").unwrap().autodiff();
        let forward = |x: Tensor<4>| x.reshape([1, 4]);
        let err = saliency_map(forward, Tensor::ones([1, 1, 2, 2], &device), &[7]).unwrap_err();
        assert!(
            err.to_string()
                .contains("class 7 outside the model's 4 outputs"),
            "{err}"
        );
    }
}
