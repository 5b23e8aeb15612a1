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

// The registry's entries for this family (see `crate::registry`).

use crate::registry::{
    Build, Classifier, Model, ModelArgs, Registration, RegistryError, TV_ARGS, d2l, tv,
};

const VGG: &str =
    "Simonyan & Zisserman 2015, Very deep convolutional networks for large-scale image recognition";

/// The registered models of this family.
pub(crate) const MODELS: &[Registration] = &[
    Registration::new(
        d2l("d2l_vgg11", "vgg", VGG, 224, (0.05, 10, 128)),
        &["num_classes", "in_channels", "input_size", "blocks"],
        build_d2l,
    )
    .with_course_args(small_vgg),
    Registration::new(
        tv(
            "vgg11",
            "vgg",
            VGG,
            224,
            (
                "https://download.pytorch.org/models/vgg11-8a719046.pth",
                132_863_336,
                7.609,
                69.02,
                88.628,
                506.84,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "vgg11_bn",
            "vgg",
            VGG,
            224,
            (
                "https://download.pytorch.org/models/vgg11_bn-6002323d.pth",
                132_868_840,
                7.609,
                70.37,
                89.81,
                506.881,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "vgg13",
            "vgg",
            VGG,
            224,
            (
                "https://download.pytorch.org/models/vgg13-19584684.pth",
                133_047_848,
                11.308,
                69.928,
                89.246,
                507.545,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "vgg13_bn",
            "vgg",
            VGG,
            224,
            (
                "https://download.pytorch.org/models/vgg13_bn-abd245e5.pth",
                133_053_736,
                11.308,
                71.586,
                90.374,
                507.59,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "vgg16",
            "vgg",
            VGG,
            224,
            (
                "https://download.pytorch.org/models/vgg16-397923af.pth",
                138_357_544,
                15.47,
                71.592,
                90.382,
                527.796,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "vgg16_bn",
            "vgg",
            VGG,
            224,
            (
                "https://download.pytorch.org/models/vgg16_bn-6c64b313.pth",
                138_365_992,
                15.47,
                73.36,
                91.516,
                527.866,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "vgg19",
            "vgg",
            VGG,
            224,
            (
                "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
                143_667_240,
                19.632,
                72.376,
                90.876,
                548.051,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "vgg19_bn",
            "vgg",
            VGG,
            224,
            (
                "https://download.pytorch.org/models/vgg19_bn-c79401a0.pth",
                143_678_248,
                19.632,
                74.218,
                91.842,
                548.143,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
];

fn build_d2l(b: &Build) -> Result<Model, RegistryError> {
    let size = b.input_size;
    let mut c = VggConfig::d2l_vgg11()
        .with_in_channels(b.in_channels)
        .with_num_classes(b.num_classes)
        .with_input_size(size);
    if let Some(blocks) = b.pairs()? {
        c.blocks = blocks;
    }
    let halvings = c.blocks.len() as u32;
    if size.iter().any(|s| s >> halvings == 0) {
        return Err(b.arg_err(
            "input_size",
            format!("{size:?} is too small for {halvings} 2x2 poolings"),
        ));
    }
    Ok(Model::Vgg(c.init(b.device)))
}

/// The course's `ratio = 4` VGG-11 that d2l trains on Fashion-MNIST:
/// `((1, 16), (1, 32), (2, 64), (2, 128), (2, 128))`.
fn small_vgg() -> ModelArgs {
    ModelArgs {
        blocks: Some(vec![
            vec![1, 16],
            vec![1, 32],
            vec![2, 64],
            vec![2, 128],
            vec![2, 128],
        ]),
        ..ModelArgs::default()
    }
}

fn build_tv(b: &Build) -> Result<Model, RegistryError> {
    let depth = b.depth("vgg").unwrap_or(0);
    VggConfig::torchvision(depth, b.name.ends_with("_bn"), b.num_classes)
        .map(|c| Model::Vgg(c.with_in_channels(b.in_channels).init(b.device)))
        .ok_or_else(|| b.arg_err("name", format!("no VGG of depth {depth}")))
}

impl Classifier for Vgg {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        Vgg::forward(self, x)
    }
    fn trunk(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        Some(Vgg::features(self, x))
    }
    fn state_dict_key(&self, path: &str) -> String {
        Vgg::torchvision_key(self, path)
    }
    fn head_prefixes(&self) -> &'static [&'static str] {
        &["fc3"]
    }
    fn reset_head(&mut self, num_classes: usize, device: &Device) {
        self.fc3 = crate::parts::new_head(&self.fc3, num_classes, device);
    }
}
