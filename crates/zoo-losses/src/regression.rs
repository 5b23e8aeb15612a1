//! Regression losses: squared and absolute error, the course's half squared
//! loss, smooth L1 and Huber.

use burn::nn::loss::HuberLossConfig;
use burn::tensor::Tensor;

use crate::reduction::{Reduction, check_same_shape};

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
