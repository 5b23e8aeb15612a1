//! The blocks the classic architectures are built from, each as a burn
//! module with field names that follow the reference implementation's
//! `state_dict` keys (d2l's for NiN, Inception and DenseNet's plain form;
//! torchvision's for the residual blocks and DenseNet's bottleneck form).
//!
//! - [`nin::NinBlock`]: a convolution and two 1x1 convolutions, each
//!   followed by ReLU (Lin et al. 2013; d2l 8.3).
//! - [`inception::Inception`]: GoogLeNet's four parallel branches (Szegedy
//!   et al. 2015; d2l 8.4).
//! - [`residual::BasicBlock`], [`residual::Bottleneck`]: ResNet's blocks,
//!   with or without a projection shortcut (He et al. 2016; d2l 8.6).
//! - [`dense::DenseBlock`], [`dense::Transition`]: DenseNet's (Huang et al.
//!   2017; d2l 8.7).

pub mod dense;
pub mod inception;
pub mod nin;
pub mod residual;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::Device;

/// A square `kernel x kernel` convolution with symmetric `padding` and
/// PyTorch's default initialisation (burn's `Conv2dConfig` defaults match
/// `torch.nn.Conv2d`'s Kaiming-uniform); the blocks and the architectures
/// build their convolutions with it.
pub fn conv(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    padding: usize,
    bias: bool,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_bias(bias)
        .init(device)
}
