//! Small helpers the families share: layers with PyTorch's default
//! initialisation (convolutions come from `zoo_layers::blocks::conv`) and
//! the pooling calls.

use burn::nn::{Linear, LinearConfig};
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor};
use zoo_layers::trace;

/// A linear layer with bias.
pub(crate) fn linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    LinearConfig::new(d_in, d_out).init(device)
}

/// A fresh classifier in place of `old`: the same inputs, `num_classes`
/// outputs.
pub(crate) fn new_head(old: &Linear, num_classes: usize, device: &Device) -> Linear {
    let [d_in, _] = old.weight.dims();
    linear(d_in, num_classes, device)
}

/// Max pooling `k x k`, stride `s`, padding `p`.
pub(crate) fn max_pool(x: Tensor<4>, k: usize, s: usize, p: usize, ceil: bool) -> Tensor<4> {
    trace::max_pool2d(
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
    trace::op("Flatten", trace::adaptive_avg_pool2d(x, [1, 1]), |x| {
        x.reshape([n, c])
    })
}

/// Adaptive average pooling to `size`, flattened to `[N, C * h * w]`.
pub(crate) fn adaptive_flat(x: Tensor<4>, size: [usize; 2]) -> Tensor<2> {
    let [n, c, _, _] = x.dims();
    trace::op("Flatten", trace::adaptive_avg_pool2d(x, size), |x| {
        x.reshape([n, c * size[0] * size[1]])
    })
}

/// torchvision's `transform_input` of GoogLeNet and Inception v3: images
/// normalised with ImageNet's mean and std re-normalised to mean 0.5, std
/// 0.5 per channel, as the ported Google weights expect.
pub(crate) fn imagenet_to_half_range(x: Tensor<4>) -> Tensor<4> {
    let mean = [0.485, 0.456, 0.406];
    let std = [0.229, 0.224, 0.225];
    let [n, _, h, w] = x.dims();
    let channels: Vec<Tensor<4>> = (0..3)
        .map(|c| {
            x.clone()
                .slice([0..n, c..c + 1, 0..h, 0..w])
                .mul_scalar(std[c] / 0.5)
                .add_scalar((mean[c] - 0.5) / 0.5)
        })
        .collect();
    Tensor::cat(channels, 1)
}
