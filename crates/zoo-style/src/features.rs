//! VGG-19's convolutional trunk as a feature extractor.
//!
//! Layers are named as the style-transfer literature names them:
//! `conv<block>_<index>` (blocks 1 and 2 have two 3x3 convolutions, blocks 3
//! to 5 four; a 2x2 pool closes each block). A tap reads a convolution's
//! output before its ReLU (the course's code: `net[i]` for a convolution
//! index `i`) or after it (Gatys et al.'s `relu4_2`), as [`Vgg19Config`]
//! sets.
//!
//! Layer convention: the defaults are style `conv1_1, conv2_1, conv3_1,
//! conv4_1, conv5_1` and content `conv4_2`, before ReLU. Gatys et al. use
//! the same layers after ReLU (`relu4_2`); the course's code lists the
//! indices `[0, 5, 10, 19, 28]` and `[25]` of torchvision's `features`,
//! which are the same five style convolutions but `conv4_4` for the content
//! (its text describes a layer of the fourth block). `conv4_2` is the
//! choice of the paper the course follows and keeps more of the content's
//! spatial detail than the block's last layer; before-ReLU taps follow the
//! course's code, so its weights (content 1, style 1e4, TV 10) keep their
//! balance. Both are options.

use std::path::Path;

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, TensorData};
use zoo_layers::trace::{avg_pool2d, conv2d, max_pool2d, relu};
use zoo_models::weights::{StateDict, load_state_dict};

use crate::StyleError;

/// ImageNet's channel means, as torchvision normalises its inputs.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's channel standard deviations.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Convolutions per block.
const BLOCKS: [usize; 5] = [2, 2, 4, 4, 4];
const WIDTHS: [usize; 5] = [64, 128, 256, 512, 512];

/// ImageNet's mean and std as `[1, 3, 1, 1]` tensors on `device`.
fn imagenet_stats(device: &Device) -> (Tensor<4>, Tensor<4>) {
    let t = |v: [f32; 3]| Tensor::<4>::from_data(TensorData::new(v.to_vec(), [1, 3, 1, 1]), device);
    (t(IMAGENET_MEAN), t(IMAGENET_STD))
}

/// `(block, index)` (1-based) of each of the sixteen convolutions, in order.
fn layout() -> Vec<(usize, usize)> {
    BLOCKS
        .iter()
        .enumerate()
        .flat_map(|(b, &n)| (1..=n).map(move |i| (b + 1, i)))
        .collect()
}

/// The position (0..16) of a layer named `conv<b>_<i>`.
pub fn layer_index(name: &str) -> Result<usize, StyleError> {
    let unknown = || StyleError::UnknownLayer {
        name: name.to_string(),
    };
    let rest = name.strip_prefix("conv").ok_or_else(unknown)?;
    let (b, i) = rest.split_once('_').ok_or_else(unknown)?;
    let (b, i): (usize, usize) = (
        b.parse().map_err(|_| unknown())?,
        i.parse().map_err(|_| unknown())?,
    );
    layout()
        .iter()
        .position(|&l| l == (b, i))
        .ok_or_else(unknown)
}

/// The name of convolution `k` (0..16).
pub fn layer_name(k: usize) -> String {
    let (b, i) = layout()[k];
    format!("conv{b}_{i}")
}

/// The pooling between blocks.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// VGG's 2x2 max pooling.
    Max,
    /// 2x2 average pooling (Gatys et al.: "slightly more appealing results").
    Average,
}

/// The extractor's configuration.
#[derive(Config, Debug)]
pub struct Vgg19Config {
    /// Taps read the ReLU's output (Gatys) instead of the convolution's (the course's code).
    #[config(default = false)]
    pub after_relu: bool,
    /// Pooling between blocks.
    #[config(default = "Pooling::Max")]
    pub pooling: Pooling,
}

/// VGG-19's sixteen convolutions, `features.<i>` in torchvision's numbering.
#[derive(Module, Debug)]
pub struct Vgg19Features {
    /// The convolutions, conv1_1 .. conv5_4.
    pub convs: Vec<Conv2d>,
    /// Taps after the ReLU.
    #[module(skip)]
    pub after_relu: bool,
    /// Average instead of max pooling.
    #[module(skip)]
    pub average_pool: bool,
}

impl Vgg19Config {
    /// Random (PyTorch default) weights: for tests and for running without
    /// weights; style transfer needs ImageNet-trained ones ([`Vgg19Features::load`]).
    pub fn init(&self, device: &Device) -> Vgg19Features {
        let mut convs = Vec::new();
        let mut c = 3;
        for (&n, &w) in BLOCKS.iter().zip(&WIDTHS) {
            for _ in 0..n {
                convs.push(
                    Conv2dConfig::new([c, w], [3, 3])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .init(device),
                );
                c = w;
            }
        }
        Vgg19Features {
            convs,
            after_relu: self.after_relu,
            average_pool: self.pooling == Pooling::Average,
        }
    }
}

/// torchvision's `features` index of convolution `k`: per block, conv and
/// ReLU pairs, then the pool.
fn torchvision_index(k: usize) -> usize {
    let mut at = 0;
    let mut seen = 0;
    for &n in &BLOCKS {
        for _ in 0..n {
            if seen == k {
                return at;
            }
            at += 2;
            seen += 1;
        }
        at += 1;
    }
    unreachable!("VGG-19 has 16 convolutions")
}

impl Vgg19Features {
    /// The extractor with torchvision's `vgg19` weights from `path`
    /// (`.pth` or `.safetensors`; a full model's `classifier.*` keys are
    /// ignored, `features.*` must fit VGG-19 exactly: the first key or shape
    /// that does not is named).
    pub fn load(config: &Vgg19Config, path: &Path, device: &Device) -> Result<Self, StyleError> {
        let mut sd = StateDict::load(path)?;
        let extra: Vec<String> = sd
            .keys()
            .filter(|k| !k.starts_with("features."))
            .map(str::to_string)
            .collect();
        if extra.len() == sd.keys().count() {
            let first = extra.first().cloned().unwrap_or_default();
            return Err(StyleError::NotVgg19 {
                path: Some(path.to_path_buf()),
                reason: format!(
                    "no `features.*` keys (the first key is `{first}`): expected torchvision's vgg19 weights"
                ),
            });
        }
        for k in extra.iter().filter(|k| k.starts_with("classifier.")) {
            sd.remove(k);
        }
        Self::from_state_dict(config, &sd, device).map_err(|e| match e {
            StyleError::NotVgg19 { reason, .. } => StyleError::NotVgg19 {
                path: Some(path.to_path_buf()),
                reason,
            },
            e => e,
        })
    }

    /// The extractor with the `features.*` tensors of `sd`.
    pub fn from_state_dict(
        config: &Vgg19Config,
        sd: &StateDict,
        device: &Device,
    ) -> Result<Self, StyleError> {
        let model = config.init(device);
        let keys = |path: &str| -> Option<String> {
            // `convs.<k>.weight` -> `features.<torchvision index>.weight`.
            let mut parts = path.splitn(3, '.');
            let (_, k, leaf) = (parts.next()?, parts.next()?, parts.next()?);
            let k: usize = k.parse().ok()?;
            Some(format!("features.{}.{leaf}", torchvision_index(k)))
        };
        load_state_dict(model, sd, &keys).map_err(|e| StyleError::NotVgg19 {
            path: None,
            reason: e.to_string(),
        })
    }

    /// `image [N, 3, H, W]` in `[0, 1]` normalised with ImageNet's statistics.
    pub fn preprocess(image: Tensor<4>) -> Tensor<4> {
        let (mean, std) = imagenet_stats(&image.device());
        (image - mean) / std
    }

    /// The inverse of [`preprocess`](Self::preprocess), clamped to `[0, 1]`.
    pub fn postprocess(x: Tensor<4>) -> Tensor<4> {
        let (mean, std) = imagenet_stats(&x.device());
        (x * std + mean).clamp(0.0, 1.0)
    }

    /// The activations of convolutions `layers` (indices 0..16, see
    /// [`layer_index`]) for a normalised input `x`, in the order asked; the
    /// trunk runs only as deep as the deepest of them.
    pub fn extract(&self, x: Tensor<4>, layers: &[usize]) -> Vec<Tensor<4>> {
        let deepest = layers.iter().copied().max().unwrap_or(0);
        let ends: Vec<usize> = BLOCKS
            .iter()
            .scan(0, |acc, &n| {
                *acc += n;
                Some(*acc - 1)
            })
            .collect();
        let mut taps: Vec<Option<Tensor<4>>> = vec![None; self.convs.len()];
        let mut x = x;
        for (k, conv) in self.convs.iter().enumerate().take(deepest + 1) {
            let y = conv2d(conv, x);
            let r = relu(y.clone());
            taps[k] = Some(if self.after_relu { r.clone() } else { y });
            x = r;
            if ends.contains(&k) && k < deepest {
                x = if self.average_pool {
                    avg_pool2d(x, AvgPoolOptions::new([2, 2]).with_stride([2, 2]))
                } else {
                    max_pool2d(x, MaxPoolOptions::new([2, 2]).with_stride([2, 2]))
                };
            }
        }
        layers
            .iter()
            .map(|&k| taps[k].clone().expect("computed up to the deepest layer"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_names_map_to_torchvisions_indices() {
        assert_eq!(layer_index("conv1_1").unwrap(), 0);
        assert_eq!(layer_index("conv4_2").unwrap(), 9);
        assert_eq!(layer_index("conv5_4").unwrap(), 15);
        assert!(layer_index("conv2_3").is_err());
        assert!(
            layer_index("relu4_2")
                .unwrap_err()
                .to_string()
                .contains("conv1_1 .. conv5_4")
        );
        // The course's style indices [0, 5, 10, 19, 28] are convX_1; its
        // content index 25 is conv4_4; Gatys' conv4_2 is index 21.
        let course: Vec<usize> = [
            "conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1", "conv4_4", "conv4_2",
        ]
        .iter()
        .map(|n| torchvision_index(layer_index(n).unwrap()))
        .collect();
        assert_eq!(course, [0, 5, 10, 19, 28, 25, 21]);
        assert_eq!(layer_name(9), "conv4_2");
    }
}
