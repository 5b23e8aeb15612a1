//! The NiN block (Lin et al. 2013; d2l 8.3): `conv(k, s, p)`, ReLU, then
//! two 1x1 convolutions each followed by ReLU — a per-pixel MLP over
//! channels. d2l's `nn.Sequential` keys `0`, `2`, `4` are `conv1`, `conv2`,
//! `conv3` here.

use crate::trace::{self, relu};
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};

use super::conv;

/// Configuration of a [`NinBlock`].
#[derive(Config, Debug)]
pub struct NinBlockConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels (of every convolution).
    pub out_channels: usize,
    /// Kernel of the first convolution.
    pub kernel_size: usize,
    /// Stride of the first convolution.
    #[config(default = 1)]
    pub stride: usize,
    /// Padding of the first convolution.
    #[config(default = 0)]
    pub padding: usize,
}

impl NinBlockConfig {
    /// The block, with PyTorch's default initialisation.
    pub fn init(&self, device: &Device) -> NinBlock {
        let (i, o) = (self.in_channels, self.out_channels);
        NinBlock {
            conv1: conv(
                [i, o],
                self.kernel_size,
                self.stride,
                self.padding,
                true,
                device,
            ),
            conv2: conv([o, o], 1, 1, 0, true, device),
            conv3: conv([o, o], 1, 1, 0, true, device),
        }
    }
}

/// A NiN block.
#[derive(Module, Debug)]
pub struct NinBlock {
    /// The spatial convolution.
    pub conv1: Conv2d,
    /// The first 1x1 convolution.
    pub conv2: Conv2d,
    /// The second 1x1 convolution.
    pub conv3: Conv2d,
}

impl NinBlock {
    /// `[N, in, H, W]` to `[N, out, H', W']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu(trace::conv2d(&self.conv1, x));
        let x = relu(trace::conv2d(&self.conv2, x));
        relu(trace::conv2d(&self.conv3, x))
    }
}
