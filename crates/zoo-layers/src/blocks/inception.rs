//! GoogLeNet's Inception block as d2l 8.4 writes it: four branches —
//! 1x1 conv; 1x1 then 3x3 conv; 1x1 then 5x5 conv; 3x3 max pool (stride 1)
//! then 1x1 conv — each convolution followed by ReLU, concatenated on the
//! channels. Field names are d2l's (`b1_1`, `b2_1`, `b2_2`, `b3_1`, `b3_2`,
//! `b4_2`).

use crate::trace::{self, relu};
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor};

use super::conv;

/// Configuration of an [`Inception`] block: d2l's `Inception(c1, c2, c3, c4)`.
#[derive(Config, Debug)]
pub struct InceptionConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels of the 1x1 branch.
    pub c1: usize,
    /// Channels of the 1x1 reduction and of the 3x3 convolution.
    pub c2: [usize; 2],
    /// Channels of the 1x1 reduction and of the 5x5 convolution.
    pub c3: [usize; 2],
    /// Output channels of the pooling branch's 1x1 convolution.
    pub c4: usize,
}

impl InceptionConfig {
    /// The block, with PyTorch's default initialisation.
    pub fn init(&self, device: &Device) -> Inception {
        let i = self.in_channels;
        Inception {
            b1_1: conv([i, self.c1], 1, 1, 0, true, device),
            b2_1: conv([i, self.c2[0]], 1, 1, 0, true, device),
            b2_2: conv([self.c2[0], self.c2[1]], 3, 1, 1, true, device),
            b3_1: conv([i, self.c3[0]], 1, 1, 0, true, device),
            b3_2: conv([self.c3[0], self.c3[1]], 5, 1, 2, true, device),
            b4_2: conv([i, self.c4], 1, 1, 0, true, device),
        }
    }

    /// Output channels: `c1 + c2[1] + c3[1] + c4`.
    pub fn out_channels(&self) -> usize {
        self.c1 + self.c2[1] + self.c3[1] + self.c4
    }
}

/// An Inception block.
#[derive(Module, Debug)]
pub struct Inception {
    /// Branch 1: 1x1.
    pub b1_1: Conv2d,
    /// Branch 2: 1x1 reduction.
    pub b2_1: Conv2d,
    /// Branch 2: 3x3.
    pub b2_2: Conv2d,
    /// Branch 3: 1x1 reduction.
    pub b3_1: Conv2d,
    /// Branch 3: 5x5.
    pub b3_2: Conv2d,
    /// Branch 4: 1x1 after the 3x3 max pool.
    pub b4_2: Conv2d,
}

impl Inception {
    /// `[N, in, H, W]` to `[N, c1 + c2[1] + c3[1] + c4, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = relu(trace::conv2d(&self.b1_1, x.clone()));
        let b2 = relu(trace::conv2d(
            &self.b2_2,
            relu(trace::conv2d(&self.b2_1, x.clone())),
        ));
        let b3 = relu(trace::conv2d(
            &self.b3_2,
            relu(trace::conv2d(&self.b3_1, x.clone())),
        ));
        let pool = MaxPoolOptions::new([3, 3])
            .with_stride([1, 1])
            .with_padding([1, 1]);
        let pooled = trace::max_pool2d(x, pool);
        let b4 = relu(trace::conv2d(&self.b4_2, pooled));
        Tensor::cat(vec![b1, b2, b3, b4], 1)
    }
}
