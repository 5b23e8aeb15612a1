//! DenseNet's blocks (Huang et al. 2017; d2l 8.7).
//!
//! A dense block's layer `l` sees the concatenation of the block input and
//! every earlier layer's output and adds `growth_rate` channels. Its layer
//! is d2l's `conv_block` (BN, ReLU, 3x3 conv with bias; fields `norm1`,
//! `conv1`) or, with a bottleneck size, torchvision's `_DenseLayer` (BN,
//! ReLU, bias-free 1x1 conv to `bn_size * growth_rate`, BN, ReLU, bias-free
//! 3x3 conv; fields `norm1`, `conv1`, `norm2`, `conv2`). The transition
//! layer (BN, ReLU, 1x1 conv, 2x2 average pool) halves the resolution.

use crate::trace::{self, relu};
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Device, Tensor};

use super::conv;
use crate::norm::{BatchNorm, BatchNormConfig};

/// Configuration of a [`DenseBlock`].
#[derive(Config, Debug)]
pub struct DenseBlockConfig {
    /// Layers in the block.
    pub num_layers: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Channels each layer adds.
    pub growth_rate: usize,
    /// torchvision's bottleneck width factor (4 in DenseNet-121); `None`:
    /// d2l's single 3x3 convolution.
    #[config(default = "None")]
    pub bn_size: Option<usize>,
}

impl DenseBlockConfig {
    /// Output channels: `in_channels + num_layers * growth_rate`.
    pub fn out_channels(&self) -> usize {
        self.in_channels + self.num_layers * self.growth_rate
    }

    /// The block, with PyTorch's default initialisation.
    pub fn init(&self, device: &Device) -> DenseBlock {
        let g = self.growth_rate;
        let layers = (0..self.num_layers)
            .map(|l| {
                let c = self.in_channels + l * g;
                match self.bn_size {
                    None => DenseLayer {
                        norm1: BatchNormConfig::new(c).init(device),
                        conv1: conv([c, g], 3, 1, 1, true, device),
                        norm2: None,
                        conv2: None,
                    },
                    Some(b) => DenseLayer {
                        norm1: BatchNormConfig::new(c).init(device),
                        conv1: conv([c, b * g], 1, 1, 0, false, device),
                        norm2: Some(BatchNormConfig::new(b * g).init(device)),
                        conv2: Some(conv([b * g, g], 3, 1, 1, false, device)),
                    },
                }
            })
            .collect();
        DenseBlock { layers }
    }
}

/// One layer of a dense block.
#[derive(Module, Debug)]
pub struct DenseLayer {
    /// Batch norm of the layer input.
    pub norm1: BatchNorm,
    /// The 3x3 convolution (d2l) or the 1x1 bottleneck (torchvision).
    pub conv1: Conv2d,
    /// Batch norm of the bottleneck (torchvision only).
    pub norm2: Option<BatchNorm>,
    /// The 3x3 convolution after the bottleneck (torchvision only).
    pub conv2: Option<Conv2d>,
}

impl DenseLayer {
    /// The `growth_rate` new channels.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = trace::conv2d(&self.conv1, relu(self.norm1.forward(x)));
        match (&self.norm2, &self.conv2) {
            (Some(n), Some(c)) => trace::conv2d(c, relu(n.forward(y))),
            _ => y,
        }
    }
}

/// A dense block.
#[derive(Module, Debug)]
pub struct DenseBlock {
    /// The layers, in order.
    pub layers: Vec<DenseLayer>,
}

impl DenseBlock {
    /// `[N, in, H, W]` to `[N, in + num_layers * growth_rate, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.layers.iter().fold(x, |x, layer| {
            let y = layer.forward(x.clone());
            Tensor::cat(vec![x, y], 1)
        })
    }
}

/// Configuration of a [`Transition`].
#[derive(Config, Debug)]
pub struct TransitionConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Whether the 1x1 convolution has a bias (d2l: yes; torchvision: no).
    #[config(default = true)]
    pub bias: bool,
}

impl TransitionConfig {
    /// The layer, with PyTorch's default initialisation.
    pub fn init(&self, device: &Device) -> Transition {
        Transition {
            norm: BatchNormConfig::new(self.in_channels).init(device),
            conv: conv(
                [self.in_channels, self.out_channels],
                1,
                1,
                0,
                self.bias,
                device,
            ),
        }
    }
}

/// DenseNet's transition layer.
#[derive(Module, Debug)]
pub struct Transition {
    /// Batch norm.
    pub norm: BatchNorm,
    /// 1x1 convolution.
    pub conv: Conv2d,
}

impl Transition {
    /// `[N, in, H, W]` to `[N, out, H/2, W/2]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = trace::conv2d(&self.conv, relu(self.norm.forward(x)));
        trace::avg_pool2d(y, AvgPoolOptions::new([2, 2]).with_stride([2, 2]))
    }
}
