//! Binary cross-entropy on logits, and on probabilities (`F.binary_cross_entropy`).

use burn::tensor::Tensor;
use burn::tensor::activation::log_sigmoid;

use crate::reduction::{Reduction, check_same_shape};

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

/// Binary cross-entropy of probabilities `p` in `[0, 1]`, element-wise
/// (`F.binary_cross_entropy(..., reduction="none")`): `-(t log p + (1 - t)
/// log(1 - p))` with each log clamped at -100, as PyTorch clamps it, so a
/// probability of exactly 0 or 1 gives a finite loss.
///
/// # Panics
/// When the shapes differ.
pub fn binary_cross_entropy_elementwise<const D: usize>(
    probs: Tensor<D>,
    target: Tensor<D>,
) -> Tensor<D> {
    check_same_shape("binary_cross_entropy", &probs, &target);
    let log_p = probs.clone().log().clamp_min(-100.0);
    let log_q = probs.neg().add_scalar(1.0).log().clamp_min(-100.0);
    let q = target.clone().neg().add_scalar(1.0);
    (target * log_p + q * log_q).neg()
}

/// Mean or summed binary cross-entropy of probabilities (`F.binary_cross_entropy`).
pub fn binary_cross_entropy<const D: usize>(
    probs: Tensor<D>,
    target: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    reduction.apply(binary_cross_entropy_elementwise(probs, target))
}
