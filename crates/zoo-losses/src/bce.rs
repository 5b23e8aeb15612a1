//! Binary cross-entropy on logits.

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
