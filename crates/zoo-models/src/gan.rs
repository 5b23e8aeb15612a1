//! Generative adversarial networks (Goodfellow et al. 2014; d2l 20.1-20.2,
//! CS231n lecture 13):
//!
//! - [`Mlp`]: d2l's 2-D GAN nets, `nn.Sequential`s of `Linear` layers with
//!   tanh between them (`net_G = Linear(2, 2)`, `net_D = Linear(2, 5), Tanh,
//!   Linear(5, 3), Tanh, Linear(3, 1)`); torch keys `0.*`, `2.*`, `4.*`.
//! - [`DcganGenerator`] / [`DcganDiscriminator`]: d2l's DCGAN `net_G` (four
//!   `G_block`s of transposed convolution, batch norm and ReLU, a last
//!   transposed convolution and tanh: a latent `[N, latent, 1, 1]` to an
//!   image `[N, C, 64, 64]`) and `net_D` (four `D_block`s of stride-2
//!   convolution, batch norm and LeakyReLU 0.2, a last 4x4 convolution to one
//!   logit); the keys of those `nn.Sequential`s (`0.conv2d_trans.weight`,
//!   `0.batch_norm.*`, ..., `4.weight`).
//!
//! The [`Generator`] and [`Discriminator`] traits are what the training
//! step (`zoo_train::gan`) needs of any pair.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::{leaky_relu, relu, tanh};
use burn::tensor::{Device, Tensor};
use zoo_layers::norm::{BatchNorm, BatchNormConfig};
use zoo_layers::trace;

use crate::weights::{StateDict, WeightsError, load_state_dict};

/// A generator: noise `[N, ...]` (rank `Z`) to samples (rank `X`).
pub trait Generator<const Z: usize, const X: usize>: Module + Clone {
    /// Samples from noise.
    fn generate(&self, z: Tensor<Z>) -> Tensor<X>;
}

/// A discriminator: samples (rank `X`) to one logit each, `[N]`.
pub trait Discriminator<const X: usize>: Module + Clone {
    /// The logit that each sample is real.
    fn logit(&self, x: Tensor<X>) -> Tensor<1>;
}

/// Configuration of an [`Mlp`].
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Widths from input to output: `[2, 2]` is d2l's `net_G`, `[2, 5, 3, 1]` its `net_D`.
    pub sizes: Vec<usize>,
    /// Draw every weight and bias from `N(0, std)` (d2l's GAN: 0.02)
    /// instead of PyTorch's default `Linear` initialisation.
    #[config(default = "None")]
    pub normal_std: Option<f64>,
}

/// `Linear` layers with tanh between them (none after the last).
#[derive(Module, Debug)]
pub struct Mlp {
    /// The layers (torch keys `0`, `2`, `4`, ...: the tanh take the odd indices).
    pub layers: Vec<Linear>,
}

impl MlpConfig {
    /// d2l's 2-D GAN generator, `Linear(2, 2)`.
    pub fn d2l_generator() -> Self {
        Self::new(vec![2, 2])
    }

    /// d2l's 2-D GAN discriminator, `Linear(2, 5), Tanh, Linear(5, 3), Tanh, Linear(3, 1)`.
    pub fn d2l_discriminator() -> Self {
        Self::new(vec![2, 5, 3, 1])
    }

    /// The network with PyTorch's default `Linear` initialisation.
    ///
    /// # Panics
    /// With fewer than two sizes or a zero width.
    pub fn init(&self, device: &Device) -> Mlp {
        assert!(
            self.sizes.len() >= 2 && self.sizes.iter().all(|&s| s > 0),
            "MlpConfig: sizes {:?}, expected at least two positive widths",
            self.sizes
        );
        Mlp {
            layers: self
                .sizes
                .windows(2)
                .map(|w| {
                    let init = match self.normal_std {
                        Some(std) => Initializer::Normal { mean: 0.0, std },
                        None => Initializer::KaimingUniform {
                            gain: 1.0 / 3f64.sqrt(),
                            fan_out_only: false,
                        },
                    };
                    LinearConfig::new(w[0], w[1])
                        .with_initializer(init)
                        .init(device)
                })
                .collect(),
        }
    }
}

impl Mlp {
    /// `[N, in]` to `[N, out]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        self.layers.iter().enumerate().fold(x, |x, (i, l)| {
            let y = trace::linear(l, x);
            if i < last { tanh(y) } else { y }
        })
    }

    /// The `nn.Sequential` key of a parameter path (`layers.1.weight` -> `2.weight`).
    pub fn torch_key(path: &str) -> String {
        sequential_key(path, "layers.", |i| 2 * i)
    }

    /// Loads a torch `state_dict`.
    pub fn load_torch(self, sd: &StateDict) -> Result<Self, WeightsError> {
        load_state_dict(self, sd, &|p| Some(Self::torch_key(p)))
    }
}

impl Generator<2, 2> for Mlp {
    fn generate(&self, z: Tensor<2>) -> Tensor<2> {
        self.forward(z)
    }
}

impl Discriminator<2> for Mlp {
    fn logit(&self, x: Tensor<2>) -> Tensor<1> {
        let [n, _] = x.dims();
        self.forward(x).reshape([n])
    }
}

/// `<prefix><i>.<rest>` -> `<index(i)>.<rest>`; `last.<rest>` -> `<4>.<rest>` style
/// renames are done by the callers.
fn sequential_key(path: &str, prefix: &str, index: impl Fn(usize) -> usize) -> String {
    if let Some(rest) = path.strip_prefix(prefix)
        && let Some((i, tail)) = rest.split_once('.')
        && let Ok(i) = i.parse::<usize>()
    {
        return format!("{}.{tail}", index(i));
    }
    path.to_string()
}

/// DCGAN's weight initialisation (Radford et al. 2016, d2l's `train`):
/// every convolution weight from `N(0, 0.02)`.
const DCGAN_INIT: Initializer = Initializer::Normal {
    mean: 0.0,
    std: 0.02,
};

/// Configuration of d2l's DCGAN [`DcganGenerator`].
#[derive(Config, Debug)]
pub struct DcganGeneratorConfig {
    /// Base width `n_G` (d2l: 64): the blocks have `8, 4, 2, 1` times it.
    #[config(default = 64)]
    pub n_g: usize,
    /// Latent size (d2l: 100).
    #[config(default = 100)]
    pub latent_dim: usize,
    /// Image channels (d2l: 3).
    #[config(default = 3)]
    pub channels: usize,
}

/// d2l's `G_block`: transposed convolution (no bias), batch norm, ReLU.
#[derive(Module, Debug)]
pub struct GBlock {
    /// Kernel 4 (stride 1 padding 0 in the first block, stride 2 padding 1 after).
    pub conv2d_trans: ConvTranspose2d,
    /// Its batch norm.
    pub batch_norm: BatchNorm,
}

/// d2l's DCGAN generator `net_G`: `[N, latent, 1, 1]` to `[N, C, 64, 64]` in `[-1, 1]`.
#[derive(Module, Debug)]
pub struct DcganGenerator {
    /// Four `G_block`s (keys `0`..`3`): 1 -> 4 -> 8 -> 16 -> 32 pixels.
    pub blocks: Vec<GBlock>,
    /// The last transposed convolution to the image channels (key `4`), then tanh.
    pub last: ConvTranspose2d,
}

fn conv_t(i: usize, o: usize, stride: usize, padding: usize, device: &Device) -> ConvTranspose2d {
    ConvTranspose2dConfig::new([i, o], [4, 4])
        .with_stride([stride, stride])
        .with_padding([padding, padding])
        .with_bias(false)
        .with_initializer(DCGAN_INIT)
        .init(device)
}

impl DcganGeneratorConfig {
    /// The network with DCGAN's initialisation (weights from `N(0, 0.02)`,
    /// batch norm at weight 1, bias 0).
    ///
    /// # Panics
    /// When a size is 0.
    pub fn init(&self, device: &Device) -> DcganGenerator {
        let n = self.n_g;
        assert!(
            n > 0 && self.latent_dim > 0 && self.channels > 0,
            "DcganGeneratorConfig: n_g {n}, latent_dim {}, channels {}: expected positive sizes",
            self.latent_dim,
            self.channels
        );
        let widths = [self.latent_dim, 8 * n, 4 * n, 2 * n, n];
        let blocks = widths
            .windows(2)
            .enumerate()
            .map(|(k, w)| {
                let (s, p) = if k == 0 { (1, 0) } else { (2, 1) };
                GBlock {
                    conv2d_trans: conv_t(w[0], w[1], s, p, device),
                    batch_norm: BatchNormConfig::new(w[1]).init(device),
                }
            })
            .collect();
        DcganGenerator {
            blocks,
            last: conv_t(n, self.channels, 2, 1, device),
        }
    }
}

impl DcganGenerator {
    /// Images `[N, C, 64, 64]` in `[-1, 1]` from latents `[N, latent, 1, 1]`.
    pub fn forward(&self, z: Tensor<4>) -> Tensor<4> {
        let x = self.blocks.iter().fold(z, |x, b| {
            relu(
                b.batch_norm
                    .forward(trace::conv_transpose2d(&b.conv2d_trans, x)),
            )
        });
        tanh(trace::conv_transpose2d(&self.last, x))
    }

    /// The `nn.Sequential` key of a parameter path (`blocks.0.conv2d_trans.weight`
    /// -> `0.conv2d_trans.weight`, `last.weight` -> `4.weight`).
    pub fn torch_key(path: &str) -> String {
        match path.strip_prefix("last.") {
            Some(rest) => format!("{}.{rest}", 4),
            None => sequential_key(path, "blocks.", |i| i),
        }
    }

    /// Loads a torch `state_dict` of d2l's `net_G`.
    pub fn load_torch(self, sd: &StateDict) -> Result<Self, WeightsError> {
        load_state_dict(self, sd, &|p| Some(Self::torch_key(p)))
    }
}

impl Generator<4, 4> for DcganGenerator {
    fn generate(&self, z: Tensor<4>) -> Tensor<4> {
        self.forward(z)
    }
}

/// Configuration of d2l's DCGAN [`DcganDiscriminator`].
#[derive(Config, Debug)]
pub struct DcganDiscriminatorConfig {
    /// Base width `n_D` (d2l: 64): the blocks have `1, 2, 4, 8` times it.
    #[config(default = 64)]
    pub n_d: usize,
    /// Image channels (d2l: 3).
    #[config(default = 3)]
    pub channels: usize,
    /// LeakyReLU's negative slope (d2l: 0.2).
    #[config(default = 0.2)]
    pub alpha: f64,
}

/// d2l's `D_block`: 4x4 stride-2 convolution (no bias), batch norm, LeakyReLU.
#[derive(Module, Debug)]
pub struct DBlock {
    /// The convolution.
    pub conv2d: Conv2d,
    /// Its batch norm.
    pub batch_norm: BatchNorm,
}

/// d2l's DCGAN discriminator `net_D`: `[N, C, 64, 64]` to one logit `[N, 1, 1, 1]`.
#[derive(Module, Debug)]
pub struct DcganDiscriminator {
    /// Four `D_block`s (keys `0`..`3`): 64 -> 32 -> 16 -> 8 -> 4 pixels.
    pub blocks: Vec<DBlock>,
    /// The last 4x4 convolution to one channel (key `4`).
    pub last: Conv2d,
    /// LeakyReLU's negative slope.
    pub alpha: f64,
}

fn conv4(i: usize, o: usize, stride: usize, padding: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([i, o], [4, 4])
        .with_stride([stride, stride])
        .with_padding(burn::nn::PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_bias(false)
        .with_initializer(DCGAN_INIT)
        .init(device)
}

impl DcganDiscriminatorConfig {
    /// The network with DCGAN's initialisation.
    ///
    /// # Panics
    /// When a size is 0.
    pub fn init(&self, device: &Device) -> DcganDiscriminator {
        let n = self.n_d;
        assert!(
            n > 0 && self.channels > 0,
            "DcganDiscriminatorConfig: n_d {n}, channels {}: expected positive sizes",
            self.channels
        );
        let widths = [self.channels, n, 2 * n, 4 * n, 8 * n];
        DcganDiscriminator {
            blocks: widths
                .windows(2)
                .map(|w| DBlock {
                    conv2d: conv4(w[0], w[1], 2, 1, device),
                    batch_norm: BatchNormConfig::new(w[1]).init(device),
                })
                .collect(),
            last: conv4(8 * n, 1, 1, 0, device),
            alpha: self.alpha,
        }
    }
}

impl DcganDiscriminator {
    /// Logits `[N, 1, 1, 1]` of images `[N, C, 64, 64]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.blocks.iter().fold(x, |x, b| {
            leaky_relu(
                b.batch_norm.forward(trace::conv2d(&b.conv2d, x)),
                self.alpha,
            )
        });
        trace::conv2d(&self.last, x)
    }

    /// The `nn.Sequential` key of a parameter path (`blocks.0.conv2d.weight`
    /// -> `0.conv2d.weight`, `last.weight` -> `4.weight`).
    pub fn torch_key(path: &str) -> String {
        DcganGenerator::torch_key(path)
    }

    /// Loads a torch `state_dict` of d2l's `net_D`.
    pub fn load_torch(self, sd: &StateDict) -> Result<Self, WeightsError> {
        load_state_dict(self, sd, &|p| Some(Self::torch_key(p)))
    }
}

impl Discriminator<4> for DcganDiscriminator {
    fn logit(&self, x: Tensor<4>) -> Tensor<1> {
        let [n, _, _, _] = x.dims();
        self.forward(x).reshape([n])
    }
}
