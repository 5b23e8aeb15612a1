//! Network in Network (Lin et al. 2013) as the course builds it (d2l 8.3):
//! NiN blocks of 96, 256 and 384 channels each followed by a 3x3 stride-2
//! max pool, dropout 0.5, a last NiN block with one channel per class, and
//! global average pooling instead of dense layers.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{Device, Tensor};
use zoo_layers::blocks::nin::{NinBlock, NinBlockConfig};
use zoo_layers::trace;

use crate::parts::{global_avg, max_pool};

/// Configuration of a [`Nin`].
#[derive(Config, Debug)]
pub struct NinConfig {
    /// Input channels.
    #[config(default = 1)]
    pub in_channels: usize,
    /// Output classes.
    #[config(default = 10)]
    pub num_classes: usize,
}

/// The NiN network.
#[derive(Module, Debug)]
pub struct Nin {
    /// The four NiN blocks.
    pub blocks: Vec<NinBlock>,
    /// Dropout before the last block.
    pub dropout: Dropout,
}

impl NinConfig {
    /// The network, with PyTorch's default initialisation.
    pub fn init(&self, device: &Device) -> Nin {
        let specs = [
            (self.in_channels, 96, 11, 4, 0),
            (96, 256, 5, 1, 2),
            (256, 384, 3, 1, 1),
            (384, self.num_classes, 3, 1, 1),
        ];
        Nin {
            blocks: specs
                .iter()
                .map(|&(i, o, k, s, p)| {
                    NinBlockConfig::new(i, o, k)
                        .with_stride(s)
                        .with_padding(p)
                        .init(device)
                })
                .collect(),
            dropout: DropoutConfig::new(0.5).init(),
        }
    }
}

impl Nin {
    /// Replaces the last NiN block (whose 1x1 convolutions give the class
    /// scores) with a fresh one for `num_classes`.
    pub fn reset_classifier(&mut self, num_classes: usize, device: &Device) {
        self.blocks[3] = NinBlockConfig::new(384, num_classes, 3)
            .with_padding(1)
            .init(device);
    }

    /// Logits `[N, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = x;
        for (i, block) in self.blocks[..3].iter().enumerate() {
            x = trace::scope(format_args!("blocks.{i}"), "NinBlock", x, |x| {
                block.forward(x)
            });
            x = max_pool(x, 3, 2, 0, false);
        }
        let x = self.dropout.forward(x);
        let x = trace::scope("blocks.3", "NinBlock", x, |x| self.blocks[3].forward(x));
        global_avg(x)
    }
}

// The registry's entries for this family (see `crate::registry`).

use crate::registry::{Build, Classifier, Model, Registration, RegistryError, d2l};

const NIN: &str = "Lin et al. 2014, Network in network";

/// The registered models of this family.
pub(crate) const MODELS: &[Registration] = &[Registration::new(
    d2l("d2l_nin", "nin", NIN, 224, (0.1, 10, 128)),
    &["num_classes", "in_channels", "input_size"],
    build_d2l,
)];

fn build_d2l(b: &Build) -> Result<Model, RegistryError> {
    Ok(Model::Nin(
        NinConfig::new()
            .with_in_channels(b.in_channels)
            .with_num_classes(b.num_classes)
            .init(b.device),
    ))
}

impl Classifier for Nin {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        Nin::forward(self, x)
    }
    fn head_prefixes(&self) -> &'static [&'static str] {
        &["blocks.3"]
    }
    fn reset_head(&mut self, num_classes: usize, device: &Device) {
        Nin::reset_classifier(self, num_classes, device);
    }
}
