//! Weight penalties (weight decay as a loss term).

use burn::tensor::Tensor;

/// L2 weight penalty `lambda / 2 * sum(w^2)` (weight decay, d2l 3.7). Shape `[1]`.
pub fn l2_penalty<const D: usize>(weight: Tensor<D>, lambda: f64) -> Tensor<1> {
    weight.square().sum().mul_scalar(lambda / 2.0)
}

/// L1 weight penalty `lambda * sum(|w|)`. Shape `[1]`.
pub fn l1_penalty<const D: usize>(weight: Tensor<D>, lambda: f64) -> Tensor<1> {
    weight.abs().sum().mul_scalar(lambda)
}
