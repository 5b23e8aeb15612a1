//! ResNet's residual blocks (He et al. 2016; d2l 8.6), with torchvision's
//! field names: `conv1`, `bn1`, `conv2`, `bn2` (`conv3`, `bn3` for the
//! bottleneck) and the projection shortcut `downsample` (`conv` and `bn`
//! here for torchvision's `downsample.0` / `downsample.1`).
//!
//! - [`BasicBlock`]: two 3x3 convolutions, `relu(F(x) + shortcut(x))`.
//!   torchvision's form has bias-free convolutions and a batch-normalised
//!   projection; d2l's `Residual` has biased convolutions and a bare 1x1
//!   projection (`use_1x1conv`): [`ResidualStyle`] picks one.
//! - [`Bottleneck`]: 1x1 reduce, 3x3 (strided), 1x1 expand by 4
//!   (torchvision's ResNet-50, stride on the 3x3 as in "ResNet v1.5").
//!   With `groups` and `base_width` it is ResNeXt's block (Xie et al. 2017)
//!   and Wide ResNet's.
//!
//! The blocks normalise with [`BatchNorm`] unless built with another
//! [`Norm2d`] (`init_with_norm`): torchvision's detection backbones use
//! `FrozenBatchNorm2d` (zoo-models' `fpn`).

use crate::trace::{self, relu};
use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Device, Tensor};

use super::conv;
use crate::norm::{BatchNorm, BatchNormConfig};

/// The normalisation layer of a residual block: `[N, C, H, W]` normalised
/// per channel. [`BatchNorm`] by default; any module implementing it (a
/// frozen batch norm, a choice of several) can stand in its place.
pub trait Norm2d: Module {
    /// Normalises `[N, C, H, W]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4>;

    /// `relu(self.forward(x))`.
    fn forward_relu(&self, x: Tensor<4>) -> Tensor<4> {
        relu(Norm2d::forward(self, x))
    }

    /// `self.forward(conv(x))`, plus `residual` when given, then a ReLU
    /// when `relu`: the layers one by one unless the norm fuses them
    /// ([`BatchNorm::forward_conv`] does in evaluation on flex).
    fn forward_conv(
        &self,
        conv: &Conv2d,
        x: Tensor<4>,
        residual: Option<Tensor<4>>,
        relu: bool,
    ) -> Tensor<4> {
        let y = trace::conv2d(conv, x);
        match residual {
            None if relu => self.forward_relu(y),
            None => Norm2d::forward(self, y),
            Some(r) => {
                let y = Norm2d::forward(self, y) + r;
                if relu { trace::relu(y) } else { y }
            }
        }
    }
}

impl Norm2d for BatchNorm {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        BatchNorm::forward(self, x)
    }

    fn forward_relu(&self, x: Tensor<4>) -> Tensor<4> {
        BatchNorm::forward_relu(self, x)
    }

    fn forward_conv(
        &self,
        conv: &Conv2d,
        x: Tensor<4>,
        residual: Option<Tensor<4>>,
        relu: bool,
    ) -> Tensor<4> {
        BatchNorm::forward_conv(self, conv, x, residual, relu)
    }
}

/// Batch norm of `channels` with PyTorch's defaults: the norm of the
/// blocks' `init`.
fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).init(device)
}

/// Which reference's form of the block.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ResidualStyle {
    /// torchvision: bias-free convolutions, projection = 1x1 conv + batch norm.
    Torchvision,
    /// d2l: biased convolutions, projection = biased 1x1 conv.
    D2l,
}

/// The projection shortcut: a strided 1x1 convolution (and batch norm).
#[derive(Module, Debug)]
pub struct Downsample<N: Norm2d = BatchNorm> {
    /// The 1x1 convolution (torchvision's `downsample.0`).
    pub conv: Conv2d,
    /// Its batch norm (torchvision's `downsample.1`; absent in d2l's form).
    pub bn: Option<N>,
}

impl<N: Norm2d> Downsample<N> {
    fn new(
        channels: [usize; 2],
        stride: usize,
        style: ResidualStyle,
        norm: &dyn Fn(usize) -> N,
        device: &Device,
    ) -> Self {
        match style {
            ResidualStyle::Torchvision => Self {
                conv: conv(channels, 1, stride, 0, false, device),
                bn: Some(norm(channels[1])),
            },
            ResidualStyle::D2l => Self {
                conv: conv(channels, 1, stride, 0, true, device),
                bn: None,
            },
        }
    }

    /// The projected input.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        trace::scope("downsample", "Sequential", x, |x| match &self.bn {
            Some(bn) => bn.forward_conv(&self.conv, x, None, false),
            None => trace::conv2d(&self.conv, x),
        })
    }
}

/// Configuration of a [`BasicBlock`].
#[derive(Config, Debug)]
pub struct BasicBlockConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Stride of the first convolution (and of the projection).
    #[config(default = 1)]
    pub stride: usize,
    /// Whether the shortcut is a projection; `None`: when the shape changes
    /// (stride > 1 or different channels), as torchvision decides.
    #[config(default = "None")]
    pub projection: Option<bool>,
    /// torchvision's or d2l's form.
    #[config(default = "ResidualStyle::Torchvision")]
    pub style: ResidualStyle,
}

impl BasicBlockConfig {
    /// The block, with PyTorch's default initialisation.
    ///
    /// # Panics
    /// When the shortcut is the identity but the shape changes.
    pub fn init(&self, device: &Device) -> BasicBlock {
        self.init_with_norm(&|c| batch_norm(c, device), device)
    }

    /// The block with `norm(channels)` as its normalisation layers.
    ///
    /// # Panics
    /// As [`init`](Self::init).
    pub fn init_with_norm<N: Norm2d>(
        &self,
        norm: &dyn Fn(usize) -> N,
        device: &Device,
    ) -> BasicBlock<N> {
        let (i, o, s) = (self.in_channels, self.out_channels, self.stride);
        let changes = s != 1 || i != o;
        let projection = self.projection.unwrap_or(changes);
        assert!(
            projection || !changes,
            "BasicBlockConfig: an identity shortcut needs stride 1 and equal channels, got stride {s}, {i} -> {o} channels"
        );
        let bias = self.style == ResidualStyle::D2l;
        BasicBlock {
            conv1: conv([i, o], 3, s, 1, bias, device),
            bn1: norm(o),
            conv2: conv([o, o], 3, 1, 1, bias, device),
            bn2: norm(o),
            downsample: projection.then(|| Downsample::new([i, o], s, self.style, norm, device)),
        }
    }
}

/// ResNet-18/34's block.
#[derive(Module, Debug)]
pub struct BasicBlock<N: Norm2d = BatchNorm> {
    /// First 3x3 convolution (strided).
    pub conv1: Conv2d,
    /// Its batch norm.
    pub bn1: N,
    /// Second 3x3 convolution.
    pub conv2: Conv2d,
    /// Its batch norm.
    pub bn2: N,
    /// The projection shortcut, if any.
    pub downsample: Option<Downsample<N>>,
}

impl<N: Norm2d> BasicBlock<N> {
    /// `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.bn1.forward_conv(&self.conv1, x.clone(), None, true);
        let shortcut = match &self.downsample {
            Some(d) => d.forward(x),
            None => x,
        };
        // bn2, the residual add and the ReLU in one pass over conv2's output.
        self.bn2.forward_conv(&self.conv2, y, Some(shortcut), true)
    }
}

/// Configuration of a [`Bottleneck`] (torchvision's form).
#[derive(Config, Debug)]
pub struct BottleneckConfig {
    /// Input channels.
    pub in_channels: usize,
    /// The block's `planes`: the output has `4 * planes` channels.
    pub planes: usize,
    /// Groups of the 3x3 convolution (ResNeXt's cardinality; 1 for ResNet).
    #[config(default = 1)]
    pub groups: usize,
    /// Width per group at `planes` = 64 (ResNeXt's `d`; 64 for ResNet, 128
    /// for Wide ResNet-50-2).
    #[config(default = 64)]
    pub base_width: usize,
    /// Stride of the 3x3 convolution (and of the projection).
    #[config(default = 1)]
    pub stride: usize,
    /// Whether the shortcut is a projection; `None`: when the shape changes.
    #[config(default = "None")]
    pub projection: Option<bool>,
    /// Dilation (and padding) of the 3x3 convolution: torchvision's
    /// `replace_stride_with_dilation`, which the segmentation backbones use.
    #[config(default = 1)]
    pub dilation: usize,
}

impl BottleneckConfig {
    /// Output channels: `4 * planes`.
    pub fn out_channels(&self) -> usize {
        4 * self.planes
    }

    /// Channels of the 3x3 convolution, as torchvision computes them:
    /// `planes * base_width / 64 * groups`.
    pub fn width(&self) -> usize {
        self.planes * self.base_width / 64 * self.groups
    }

    /// The block, with PyTorch's default initialisation.
    ///
    /// # Panics
    /// When the shortcut is the identity but the shape changes.
    pub fn init(&self, device: &Device) -> Bottleneck {
        self.init_with_norm(&|c| batch_norm(c, device), device)
    }

    /// The block with `norm(channels)` as its normalisation layers.
    ///
    /// # Panics
    /// As [`init`](Self::init).
    pub fn init_with_norm<N: Norm2d>(
        &self,
        norm: &dyn Fn(usize) -> N,
        device: &Device,
    ) -> Bottleneck<N> {
        let (i, w, s) = (self.in_channels, self.width(), self.stride);
        let d = self.dilation.max(1);
        let o = self.out_channels();
        let changes = s != 1 || i != o;
        let projection = self.projection.unwrap_or(changes);
        assert!(
            projection || !changes,
            "BottleneckConfig: an identity shortcut needs stride 1 and {o} input channels, got stride {s}, {i} channels"
        );
        Bottleneck {
            conv1: conv([i, w], 1, 1, 0, false, device),
            bn1: norm(w),
            conv2: Conv2dConfig::new([w, w], [3, 3])
                .with_stride([s, s])
                .with_padding(PaddingConfig2d::Explicit(d, d, d, d))
                .with_dilation([d, d])
                .with_groups(self.groups)
                .with_bias(false)
                .init(device),
            bn2: norm(w),
            conv3: conv([w, o], 1, 1, 0, false, device),
            bn3: norm(o),
            downsample: projection
                .then(|| Downsample::new([i, o], s, ResidualStyle::Torchvision, norm, device)),
        }
    }
}

/// ResNet-50/101/152's block.
#[derive(Module, Debug)]
pub struct Bottleneck<N: Norm2d = BatchNorm> {
    /// 1x1 reduction.
    pub conv1: Conv2d,
    /// Its batch norm.
    pub bn1: N,
    /// 3x3 (strided, grouped for ResNeXt).
    pub conv2: Conv2d,
    /// Its batch norm.
    pub bn2: N,
    /// 1x1 expansion.
    pub conv3: Conv2d,
    /// Its batch norm.
    pub bn3: N,
    /// The projection shortcut, if any.
    pub downsample: Option<Downsample<N>>,
}

impl<N: Norm2d> Bottleneck<N> {
    /// `relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x))`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.bn1.forward_conv(&self.conv1, x.clone(), None, true);
        let y = self.bn2.forward_conv(&self.conv2, y, None, true);
        let shortcut = match &self.downsample {
            Some(d) => d.forward(x),
            None => x,
        };
        // bn3, the residual add and the ReLU in one pass over conv3's output.
        self.bn3.forward_conv(&self.conv3, y, Some(shortcut), true)
    }
}
