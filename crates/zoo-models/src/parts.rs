//! Small helpers the families share: layers with PyTorch's default
//! initialisation (convolutions come from `zoo_layers::blocks::conv`) and
//! the pooling calls.

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor};
use zoo_layers::norm::{BatchNorm, BatchNormConfig};
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

/// torchvision's `BasicConv2d`: bias-free convolution, batch norm (eps 0.001), ReLU.
#[derive(Module, Debug)]
pub struct BasicConv2d {
    /// The convolution.
    pub conv: Conv2d,
    /// Its batch norm.
    pub bn: BatchNorm,
}

impl BasicConv2d {
    pub(crate) fn new(
        channels: [usize; 2],
        k: usize,
        p: usize,
        stride: usize,
        device: &Device,
    ) -> Self {
        Self::rect(channels, [k, k], [p, p], stride, device)
    }

    /// A `kernel[0] x kernel[1]` convolution (Inception v3's factorised
    /// 1x7 / 7x1 and 1x3 / 3x1), bias-free, and batch norm with eps 1e-3.
    pub(crate) fn rect(
        channels: [usize; 2],
        kernel: [usize; 2],
        padding: [usize; 2],
        stride: usize,
        device: &Device,
    ) -> Self {
        Self {
            conv: Conv2dConfig::new(channels, kernel)
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(
                    padding[0], padding[1], padding[0], padding[1],
                ))
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(channels[1])
                .with_eps(1e-3)
                .init(device),
        }
    }

    /// `relu(bn(conv(x)))`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.bn.forward_conv(&self.conv, x, None, true)
    }
}
