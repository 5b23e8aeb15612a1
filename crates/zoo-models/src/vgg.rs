//! VGG (Simonyan & Zisserman 2015): the course's block notation (d2l 8.2,
//! `((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))`, flatten straight
//! into the 4096-wide classifier) and torchvision's vgg11/13/16/19 with and
//! without batch norm (7x7 adaptive average pooling before the classifier).
//! `features` holds the convolutions in order; `pool_after[i]` says whether a
//! 2x2 max pool follows convolution `i`.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Tensor};
use zoo_layers::norm::{BatchNorm, BatchNormConfig};
use zoo_layers::trace::{self, relu};

use zoo_layers::blocks::conv;

use crate::parts::{adaptive_flat, linear, max_pool};

/// Configuration of a [`Vgg`].
#[derive(Config, Debug)]
pub struct VggConfig {
    /// Blocks as `(convolutions, channels)`, each ending in a 2x2 max pool.
    pub blocks: Vec<[usize; 2]>,
    /// Batch norm after each convolution (torchvision's `_bn` variants).
    #[config(default = false)]
    pub batch_norm: bool,
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Output classes.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Input height and width (sizes the first linear layer when there is
    /// no adaptive pooling).
    #[config(default = "[224, 224]")]
    pub input_size: [usize; 2],
    /// torchvision's adaptive average pooling to 7x7 before the classifier
    /// (the course flattens directly).
    #[config(default = true)]
    pub adaptive_pool: bool,
}

/// A convolution of the trunk, with its optional batch norm.
#[derive(Module, Debug)]
pub struct VggConv {
    /// 3x3, padding 1.
    pub conv: Conv2d,
    /// Batch norm (the `_bn` variants).
    pub bn: Option<BatchNorm>,
}

/// A VGG network.
#[derive(Module, Debug)]
pub struct Vgg {
    /// The convolutions, in order.
    pub features: Vec<VggConv>,
    /// Whether a 2x2 max pool follows each convolution.
    #[module(skip)]
    pub pool_after: Vec<bool>,
    /// Whether the trunk output is adaptively pooled to 7x7.
    #[module(skip)]
    pub adaptive_pool: bool,
    /// Classifier layer 1.
    pub fc1: Linear,
    /// Classifier layer 2.
    pub fc2: Linear,
    /// Classifier layer 3.
    pub fc3: Linear,
    /// Dropout (0.5) after the first two classifier layers.
    pub dropout: Dropout,
}

impl VggConfig {
    /// torchvision's `vgg11`, `vgg13`, `vgg16`, `vgg19` by depth.
    pub fn torchvision(depth: usize, batch_norm: bool, num_classes: usize) -> Option<Self> {
        let convs = match depth {
            11 => [1, 1, 2, 2, 2],
            13 => [2, 2, 2, 2, 2],
            16 => [2, 2, 3, 3, 3],
            19 => [2, 2, 4, 4, 4],
            _ => return None,
        };
        let widths = [64, 128, 256, 512, 512];
        Some(
            Self::new(convs.iter().zip(widths).map(|(&n, w)| [n, w]).collect())
                .with_batch_norm(batch_norm)
                .with_num_classes(num_classes),
        )
    }

    /// The course's VGG-11 on 224x224 grey images, 10 classes.
    pub fn d2l_vgg11() -> Self {
        Self::new(vec![[1, 64], [1, 128], [2, 256], [2, 512], [2, 512]])
            .with_in_channels(1)
            .with_num_classes(10)
            .with_adaptive_pool(false)
    }

    /// Input features of the first classifier layer.
    pub fn flat_features(&self) -> usize {
        let last = self.blocks.last().map_or(self.in_channels, |b| b[1]);
        if self.adaptive_pool {
            last * 49
        } else {
            let shrink = 1usize << self.blocks.len();
            last * (self.input_size[0] / shrink) * (self.input_size[1] / shrink)
        }
    }

    /// The network, with PyTorch's default initialisation.
    pub fn init(&self, device: &Device) -> Vgg {
        let mut features = Vec::new();
        let mut pool_after = Vec::new();
        let mut c = self.in_channels;
        for &[n, width] in &self.blocks {
            for i in 0..n {
                features.push(VggConv {
                    conv: conv([c, width], 3, 1, 1, true, device),
                    bn: self
                        .batch_norm
                        .then(|| BatchNormConfig::new(width).init(device)),
                });
                pool_after.push(i + 1 == n);
                c = width;
            }
        }
        Vgg {
            features,
            pool_after,
            adaptive_pool: self.adaptive_pool,
            fc1: linear(self.flat_features(), 4096, device),
            fc2: linear(4096, 4096, device),
            fc3: linear(4096, self.num_classes, device),
            dropout: DropoutConfig::new(0.5).init(),
        }
    }
}

impl Vgg {
    /// Index of each convolution in torchvision's `features` Sequential
    /// (conv, [bn,] ReLU, and a max pool after each block).
    fn sequential_indices(&self) -> Vec<usize> {
        let mut slot = 0;
        self.features
            .iter()
            .zip(&self.pool_after)
            .map(|(layer, &pool)| {
                let at = slot;
                slot += if layer.bn.is_some() { 3 } else { 2 } + usize::from(pool);
                at
            })
            .collect()
    }

    /// torchvision's `state_dict` key of a parameter path (`features.i.conv`
    /// and `.bn` to their Sequential indices; `fc1`..`fc3` to
    /// `classifier.0`, `.3`, `.6`).
    pub fn torchvision_key(&self, path: &str) -> String {
        let parts: Vec<&str> = path.splitn(4, '.').collect();
        match parts.as_slice() {
            ["features", i, kind, leaf] => {
                let i: usize = i.parse().unwrap_or(0);
                let at = self.sequential_indices().get(i).copied().unwrap_or(0);
                let at = if *kind == "bn" { at + 1 } else { at };
                format!("features.{at}.{leaf}")
            }
            ["fc1", leaf] => format!("classifier.0.{leaf}"),
            ["fc2", leaf] => format!("classifier.3.{leaf}"),
            ["fc3", leaf] => format!("classifier.6.{leaf}"),
            _ => path.to_string(),
        }
    }

    /// The convolutional trunk (torchvision's `features`).
    pub fn features(&self, mut x: Tensor<4>) -> Tensor<4> {
        for (layer, &pool) in self.features.iter().zip(&self.pool_after) {
            x = trace::conv2d(&layer.conv, x);
            if let Some(bn) = &layer.bn {
                x = bn.forward(x);
            }
            x = relu(x);
            if pool {
                x = max_pool(x, 2, 2, 0, false);
            }
        }
        x
    }

    /// Logits `[N, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.features(x);
        let x = if self.adaptive_pool {
            adaptive_flat(x, [7, 7])
        } else {
            trace::flatten(x)
        };
        let x = self.dropout.forward(relu(trace::linear(&self.fc1, x)));
        let x = self.dropout.forward(relu(trace::linear(&self.fc2, x)));
        trace::linear(&self.fc3, x)
    }
}
