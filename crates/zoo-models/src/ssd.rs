//! The course's TinySSD (d2l 14.7 "Single Shot Multibox Detection"): a base
//! network of three down-sampling blocks (16, 32, 64 channels), three more
//! down-sampling blocks (128), a global max pool, and at each of those five
//! scales a class head and a box head (3x3 convolutions) over
//! `sizes[i].len() + ratios[i].len() - 1` anchors per pixel.
//!
//! The forward returns the predictions and the five feature-map sizes; the
//! anchors of those maps come from `zoo_detect::anchors::multibox_prior`
//! with [`TinySsdConfig::sizes`] and [`TinySsdConfig::ratios`] (the model
//! crate does not depend on the detection crate).

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor};
use zoo_layers::norm::{BatchNorm, BatchNormConfig};
use zoo_layers::trace;

/// The course's `down_sample_blk`: two 3x3 convolutions with batch norm and
/// ReLU, then a 2x2 max pool (halves the map).
#[derive(Module, Debug)]
pub struct DownSampleBlock {
    /// First convolution.
    pub conv1: Conv2d,
    /// Its batch norm.
    pub bn1: BatchNorm,
    /// Second convolution.
    pub conv2: Conv2d,
    /// Its batch norm.
    pub bn2: BatchNorm,
}

fn conv3x3(channels: [usize; 2], device: &Device) -> Conv2d {
    Conv2dConfig::new(channels, [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
}

impl DownSampleBlock {
    /// `in_channels` to `out_channels`.
    pub fn new(in_channels: usize, out_channels: usize, device: &Device) -> Self {
        Self {
            conv1: conv3x3([in_channels, out_channels], device),
            bn1: BatchNormConfig::new(out_channels).init(device),
            conv2: conv3x3([out_channels, out_channels], device),
            bn2: BatchNormConfig::new(out_channels).init(device),
        }
    }

    /// conv-bn-relu twice, then max pool 2.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.bn1.forward_relu(trace::conv2d(&self.conv1, x));
        let x = self.bn2.forward_relu(trace::conv2d(&self.conv2, x));
        trace::max_pool2d(x, MaxPoolOptions::new([2, 2]).with_stride([2, 2]))
    }
}

/// TinySSD's configuration.
#[derive(Config, Debug)]
pub struct TinySsdConfig {
    /// Object classes (the background is added).
    pub num_classes: usize,
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
}

impl TinySsdConfig {
    /// The course's anchor sizes per scale (fractions of the image).
    pub fn sizes() -> [[f64; 2]; 5] {
        [
            [0.2, 0.272],
            [0.37, 0.447],
            [0.54, 0.619],
            [0.71, 0.79],
            [0.88, 0.961],
        ]
    }

    /// The course's anchor ratios (the same at every scale).
    pub fn ratios() -> [f64; 3] {
        [1.0, 2.0, 0.5]
    }

    /// Anchors per pixel: sizes + ratios - 1 = 4.
    pub fn anchors_per_pixel() -> usize {
        Self::sizes()[0].len() + Self::ratios().len() - 1
    }

    /// A TinySSD with PyTorch's default initialisation.
    pub fn init(&self, device: &Device) -> TinySsd {
        let a = Self::anchors_per_pixel();
        let c = self.num_classes + 1;
        let channels = [64, 128, 128, 128, 128];
        TinySsd {
            base: vec![
                DownSampleBlock::new(self.in_channels, 16, device),
                DownSampleBlock::new(16, 32, device),
                DownSampleBlock::new(32, 64, device),
            ],
            blocks: vec![
                DownSampleBlock::new(64, 128, device),
                DownSampleBlock::new(128, 128, device),
                DownSampleBlock::new(128, 128, device),
            ],
            cls: channels
                .iter()
                .map(|&i| conv3x3([i, a * c], device))
                .collect(),
            bbox: channels
                .iter()
                .map(|&i| conv3x3([i, a * 4], device))
                .collect(),
            num_classes: self.num_classes,
        }
    }
}

/// TinySSD (d2l 14.7).
#[derive(Module, Debug)]
pub struct TinySsd {
    /// The base network (`blk_0`): 3 -> 16 -> 32 -> 64, input / 8.
    pub base: Vec<DownSampleBlock>,
    /// `blk_1` .. `blk_3`: 64 -> 128 -> 128 -> 128, each halving the map
    /// (`blk_4`, the global max pool, has no parameters).
    pub blocks: Vec<DownSampleBlock>,
    /// The class heads of the five scales.
    pub cls: Vec<Conv2d>,
    /// The box heads of the five scales.
    pub bbox: Vec<Conv2d>,
    /// Object classes.
    pub num_classes: usize,
}

/// What [`TinySsd::forward`] predicts.
#[derive(Debug, Clone)]
pub struct SsdOutput {
    /// Class scores `[B, A, num_classes + 1]` (logits; class 0 is the background).
    pub cls_preds: Tensor<3>,
    /// Box offsets `[B, A * 4]`.
    pub bbox_preds: Tensor<2>,
    /// `[h, w]` of the five feature maps, in the anchors' order.
    pub feature_sizes: Vec<[usize; 2]>,
}

/// The course's `flatten_pred`: `[B, C, H, W]` to `[B, H * W * C]` (channels last).
fn flatten_pred(p: Tensor<4>) -> Tensor<2> {
    let [b, c, h, w] = p.dims();
    p.permute([0, 2, 3, 1]).reshape([b, h * w * c])
}

impl TinySsd {
    /// Predictions for `x [B, C, H, W]` at the five scales.
    pub fn forward(&self, x: Tensor<4>) -> SsdOutput {
        let mut x = self.base.iter().fold(x, |x, b| b.forward(x));
        let mut cls = Vec::with_capacity(5);
        let mut bbox = Vec::with_capacity(5);
        let mut feature_sizes = Vec::with_capacity(5);
        for i in 0..5 {
            if i > 0 {
                x = if i < 4 {
                    self.blocks[i - 1].forward(x)
                } else {
                    // AdaptiveMaxPool2d((1, 1)).
                    x.max_dim(2).max_dim(3)
                };
            }
            let [_, _, h, w] = x.dims();
            feature_sizes.push([h, w]);
            cls.push(flatten_pred(trace::conv2d(&self.cls[i], x.clone())));
            bbox.push(flatten_pred(trace::conv2d(&self.bbox[i], x.clone())));
        }
        let cls = Tensor::cat(cls, 1);
        let b = cls.dims()[0];
        let c = self.num_classes + 1;
        let a = cls.dims()[1] / c;
        SsdOutput {
            cls_preds: cls.reshape([b, a, c]),
            bbox_preds: Tensor::cat(bbox, 1),
            feature_sizes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_courses_shapes_for_a_256_input() {
        // d2l 14.7.2: output anchors (1, 5444, 4), class preds (32, 5444, 2),
        // bbox preds (32, 21776) for a 256x256 batch; here batch 2.
        let device = zoo_device::from_name("flex").unwrap();
        let net = TinySsdConfig::new(1).init(&device);
        let out = net.forward(Tensor::zeros([2, 3, 256, 256], &device));
        assert_eq!(
            out.feature_sizes,
            [[32, 32], [16, 16], [8, 8], [4, 4], [1, 1]]
        );
        assert_eq!(out.cls_preds.dims(), [2, 5444, 2]);
        assert_eq!(out.bbox_preds.dims(), [2, 21776]);
    }
}
