//! Small helpers the families share: layers with PyTorch's default
//! initialisation (convolutions come from `zoo_layers::blocks::conv`) and
//! the pooling calls.

use burn::nn::{Linear, LinearConfig};
use burn::tensor::module::{adaptive_avg_pool2d, max_pool2d};
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor};

/// A linear layer with bias.
pub(crate) fn linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    LinearConfig::new(d_in, d_out).init(device)
}

/// Max pooling `k x k`, stride `s`, padding `p`.
pub(crate) fn max_pool(x: Tensor<4>, k: usize, s: usize, p: usize, ceil: bool) -> Tensor<4> {
    max_pool2d(
        x,
        MaxPoolOptions::new([k, k])
            .with_stride([s, s])
            .with_padding([p, p])
            .with_ceil_mode(ceil),
    )
}

/// Global average pooling to `[N, C]`.
pub(crate) fn global_avg(x: Tensor<4>) -> Tensor<2> {
    let [n, c, _, _] = x.dims();
    adaptive_avg_pool2d(x, [1, 1]).reshape([n, c])
}

/// Adaptive average pooling to `size`, flattened to `[N, C * h * w]`.
pub(crate) fn adaptive_flat(x: Tensor<4>, size: [usize; 2]) -> Tensor<2> {
    let [n, c, _, _] = x.dims();
    adaptive_avg_pool2d(x, size).reshape([n, c * size[0] * size[1]])
}

/// `[N, C, H, W]` flattened to `[N, C * H * W]`.
pub(crate) fn flatten(x: Tensor<4>) -> Tensor<2> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c * h * w])
}
