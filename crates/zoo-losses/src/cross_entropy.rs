//! Cross-entropy of logits with class or probability targets (label
//! smoothing included), per pixel for segmentation (with `ignore_index`),
//! and the perplexity of a language model.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

use crate::reduction::Reduction;

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

/// Perplexity of a language model's predictions: `exp(mean cross-entropy)`
/// of logits `[N, C]` against classes `[N]` (d2l 9.5). Shape `[1]`.
pub fn perplexity(logits: Tensor<2>, target: Tensor<1, Int>) -> Tensor<1> {
    cross_entropy(logits, CeTarget::Classes(target), 0.0, Reduction::Mean).exp()
}

/// Per-pixel cross-entropy of logits `[N, C, H, W]` against class targets
/// `[N, H, W]` (`F.cross_entropy(..., reduction="none")` on a segmentation
/// map), shape `[N, H, W]`. Pixels whose target is `ignore_index` (VOC's
/// 255 boundary) lose nothing and get no gradient; the others are checked
/// as [`cross_entropy_elementwise`] checks classes.
pub fn cross_entropy_pixels_elementwise(
    logits: Tensor<4>,
    target: Tensor<3, Int>,
    label_smoothing: f64,
    ignore_index: Option<i64>,
) -> Tensor<3> {
    let [n, c, h, w] = logits.dims();
    assert_eq!(
        target.dims(),
        [n, h, w],
        "cross_entropy: logits [N, C, H, W] = {:?} need targets [N, H, W], got {:?}",
        [n, c, h, w],
        target.dims()
    );
    let p = n * h * w;
    let flat = logits.permute([0, 2, 3, 1]).reshape([p, c]);
    let target = target.reshape([p]);
    let loss = match ignore_index {
        None => cross_entropy_elementwise(flat, CeTarget::Classes(target), label_smoothing),
        Some(ignore) => {
            let ignored = target.clone().equal_elem(ignore);
            let safe = target.mask_fill(ignored.clone(), 0);
            cross_entropy_elementwise(flat, CeTarget::Classes(safe), label_smoothing)
                .mask_fill(ignored, 0.0)
        }
    };
    loss.reshape([n, h, w])
}

/// Mean or summed per-pixel cross-entropy (`F.cross_entropy` on `[N, C, H,
/// W]` logits, the loss of d2l's FCN and torchvision's segmentation
/// references): the mean is over the pixels that are not ignored (NaN when
/// every pixel is, as in PyTorch). Shape `[1]`.
pub fn cross_entropy_pixels(
    logits: Tensor<4>,
    target: Tensor<3, Int>,
    label_smoothing: f64,
    ignore_index: Option<i64>,
    reduction: Reduction,
) -> Tensor<1> {
    let counted = match (reduction, ignore_index) {
        (Reduction::Mean, Some(ignore)) => {
            Some(target.clone().not_equal_elem(ignore).int().sum().float())
        }
        _ => None,
    };
    let loss = cross_entropy_pixels_elementwise(logits, target, label_smoothing, ignore_index);
    match counted {
        Some(count) => loss.sum() / count,
        None => reduction.apply(loss),
    }
}

#[cfg(test)]
mod pixel_tests {
    use super::*;

    #[test]
    fn ignored_pixels_lose_nothing_and_leave_the_mean() {
        let d = zoo_device::from_name("flex").unwrap();
        // Two pixels of two classes: logits (0, 0) and (0, ln 3).
        let logits = Tensor::<4>::from_floats([[[[0.0, 0.0]], [[0.0, 3f32.ln()]]]], &d);
        let target = Tensor::<3, Int>::from_ints([[[0, 255]]], &d);
        let each: Vec<f32> =
            cross_entropy_pixels_elementwise(logits.clone(), target.clone(), 0.0, Some(255))
                .into_data()
                .try_into_vec_as()
                .unwrap();
        // Pixel 0: -log(1/2); pixel 1 ignored.
        assert!(
            (each[0] - 2f32.ln()).abs() < 1e-6 && each[1] == 0.0,
            "{each:?}"
        );
        let mean = cross_entropy_pixels(logits.clone(), target, 0.0, Some(255), Reduction::Mean)
            .into_scalar::<f32>();
        assert!((mean - 2f32.ln()).abs() < 1e-6, "{mean}");
        // Every pixel ignored: the mean is 0 / 0, NaN as in PyTorch.
        let all = Tensor::<3, Int>::from_ints([[[255, 255]]], &d);
        let nan =
            cross_entropy_pixels(logits, all, 0.0, Some(255), Reduction::Mean).into_scalar::<f32>();
        assert!(nan.is_nan());
    }
}
