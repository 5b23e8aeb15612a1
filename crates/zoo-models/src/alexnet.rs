//! AlexNet (Krizhevsky et al. 2012): the course's variant (d2l 8.1: one grey
//! channel at 224x224, 96/256/384/384/256 channels, 6400 flattened features,
//! dropout 0.5) and torchvision's (64/192/384/256/256 channels, 6x6 adaptive
//! average pooling). `pool_after[i]` says whether a 3x3 stride-2 max pool
//! follows convolution `i`.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Tensor};
use zoo_layers::conv_size::{conv_output_size, pool_output_size};
use zoo_layers::trace::{self, relu};

use zoo_layers::blocks::conv;

use crate::parts::{adaptive_flat, linear, max_pool};

/// Which AlexNet.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum AlexNetStyle {
    /// The course's.
    D2l,
    /// torchvision's.
    Torchvision,
}

/// Configuration of an [`AlexNet`].
#[derive(Config, Debug)]
pub struct AlexNetConfig {
    /// Which AlexNet.
    #[config(default = "AlexNetStyle::Torchvision")]
    pub style: AlexNetStyle,
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Output classes.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Input height and width (sizes the course's first linear layer).
    #[config(default = "[224, 224]")]
    pub input_size: [usize; 2],
}

/// An AlexNet.
#[derive(Module, Debug)]
pub struct AlexNet {
    /// The five convolutions.
    pub features: Vec<Conv2d>,
    /// Whether a max pool follows each convolution.
    #[module(skip)]
    pub pool_after: Vec<bool>,
    /// Whether the trunk output is adaptively pooled to 6x6 (torchvision).
    #[module(skip)]
    pub adaptive_pool: bool,
    /// Classifier layer 1.
    pub fc1: Linear,
    /// Classifier layer 2.
    pub fc2: Linear,
    /// Classifier layer 3.
    pub fc3: Linear,
    /// Dropout (0.5) around the classifier.
    pub dropout: Dropout,
}

/// `(out channels, kernel, stride, padding, pool after)` of each convolution.
fn layout(style: AlexNetStyle) -> [(usize, usize, usize, usize, bool); 5] {
    match style {
        AlexNetStyle::D2l => [
            (96, 11, 4, 1, true),
            (256, 5, 1, 2, true),
            (384, 3, 1, 1, false),
            (384, 3, 1, 1, false),
            (256, 3, 1, 1, true),
        ],
        AlexNetStyle::Torchvision => [
            (64, 11, 4, 2, true),
            (192, 5, 1, 2, true),
            (384, 3, 1, 1, false),
            (256, 3, 1, 1, false),
            (256, 3, 1, 1, true),
        ],
    }
}

impl AlexNetConfig {
    /// The course's AlexNet: one grey channel, 10 classes, 224x224.
    pub fn d2l() -> Self {
        Self::new()
            .with_style(AlexNetStyle::D2l)
            .with_in_channels(1)
            .with_num_classes(10)
    }

    /// Input features of the first linear layer.
    pub fn flat_features(&self) -> Result<usize, String> {
        if self.style == AlexNetStyle::Torchvision {
            return Ok(256 * 36);
        }
        let mut size = self.input_size;
        for (_, k, s, p, pool) in layout(self.style) {
            for side in &mut size {
                *side = conv_output_size(*side, k, s, p, 1).map_err(|e| e.to_string())?;
                if pool {
                    *side =
                        pool_output_size(*side, 3, 2, 0, 1, false).map_err(|e| e.to_string())?;
                }
            }
        }
        Ok(256 * size[0] * size[1])
    }

    /// The network, with PyTorch's default initialisation.
    ///
    /// # Panics
    /// When the input is too small for the course's layout.
    pub fn init(&self, device: &Device) -> AlexNet {
        let flat = self
            .flat_features()
            .unwrap_or_else(|e| panic!("AlexNet input {:?}: {e}", self.input_size));
        let mut c = self.in_channels;
        let mut features = Vec::new();
        let mut pool_after = Vec::new();
        for (out, k, s, p, pool) in layout(self.style) {
            features.push(conv([c, out], k, s, p, true, device));
            pool_after.push(pool);
            c = out;
        }
        AlexNet {
            features,
            pool_after,
            adaptive_pool: self.style == AlexNetStyle::Torchvision,
            fc1: linear(flat, 4096, device),
            fc2: linear(4096, 4096, device),
            fc3: linear(4096, self.num_classes, device),
            dropout: DropoutConfig::new(0.5).init(),
        }
    }
}

impl AlexNet {
    /// torchvision's `state_dict` key of a parameter path (torchvision's
    /// layout: convolutions at `features.0, 3, 6, 8, 10`, linear layers at
    /// `classifier.1, 4, 6`).
    pub fn torchvision_key(&self, path: &str) -> String {
        let parts: Vec<&str> = path.splitn(3, '.').collect();
        match parts.as_slice() {
            ["features", i, leaf] => {
                let i: usize = i.parse().unwrap_or(0);
                let at: usize = self.pool_after[..i]
                    .iter()
                    .map(|&p| 2 + usize::from(p))
                    .sum();
                format!("features.{at}.{leaf}")
            }
            ["fc1", leaf] => format!("classifier.1.{leaf}"),
            ["fc2", leaf] => format!("classifier.4.{leaf}"),
            ["fc3", leaf] => format!("classifier.6.{leaf}"),
            _ => path.to_string(),
        }
    }

    /// The convolutional trunk.
    pub fn features(&self, mut x: Tensor<4>) -> Tensor<4> {
        for (conv, &pool) in self.features.iter().zip(&self.pool_after) {
            x = relu(trace::conv2d(conv, x));
            if pool {
                x = max_pool(x, 3, 2, 0, false);
            }
        }
        x
    }

    /// Logits `[N, classes]`. torchvision puts dropout before the first two
    /// linear layers, the course after them; in evaluation they agree.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.features(x);
        if self.adaptive_pool {
            let x = adaptive_flat(x, [6, 6]);
            let x = relu(trace::linear(&self.fc1, self.dropout.forward(x)));
            let x = relu(trace::linear(&self.fc2, self.dropout.forward(x)));
            trace::linear(&self.fc3, x)
        } else {
            let x = self
                .dropout
                .forward(relu(trace::linear(&self.fc1, trace::flatten(x))));
            let x = self.dropout.forward(relu(trace::linear(&self.fc2, x)));
            trace::linear(&self.fc3, x)
        }
    }
}

// The registry's entries for this family (see `crate::registry`).

use crate::registry::{Build, Classifier, Model, Registration, RegistryError, TV_ARGS, d2l, tv};

const ALEXNET: &str = "Krizhevsky et al. 2012, ImageNet classification with deep convolutional neural networks (torchvision: Krizhevsky 2014, One weird trick)";

/// The registered models of this family.
pub(crate) const MODELS: &[Registration] = &[
    Registration::new(
        d2l("d2l_alexnet", "alexnet", ALEXNET, 224, (0.01, 10, 128)),
        &["num_classes", "in_channels", "input_size"],
        build_d2l,
    ),
    Registration::new(
        tv(
            "alexnet",
            "alexnet",
            ALEXNET,
            224,
            (
                "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
                61_100_840,
                0.714,
                56.522,
                79.066,
                233.087,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
];

fn build_d2l(b: &Build) -> Result<Model, RegistryError> {
    let c = AlexNetConfig::d2l()
        .with_in_channels(b.in_channels)
        .with_num_classes(b.num_classes)
        .with_input_size(b.input_size);
    c.flat_features().map_err(|e| b.arg_err("input_size", e))?;
    Ok(Model::AlexNet(c.init(b.device)))
}

fn build_tv(b: &Build) -> Result<Model, RegistryError> {
    Ok(Model::AlexNet(
        AlexNetConfig::new()
            .with_in_channels(b.in_channels)
            .with_num_classes(b.num_classes)
            .init(b.device),
    ))
}

impl Classifier for AlexNet {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        AlexNet::forward(self, x)
    }
    fn trunk(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        Some(AlexNet::features(self, x))
    }
    fn state_dict_key(&self, path: &str) -> String {
        AlexNet::torchvision_key(self, path)
    }
    fn head_prefixes(&self) -> &'static [&'static str] {
        &["fc3"]
    }
    fn reset_head(&mut self, num_classes: usize, device: &Device) {
        self.fc3 = crate::parts::new_head(&self.fc3, num_classes, device);
    }
}
