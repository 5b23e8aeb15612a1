//! Inception v3 (Szegedy et al. 2016, "Rethinking the Inception
//! Architecture"): torchvision's `inception_v3`, with its field names
//! (`Conv2d_1a_3x3` .. `Mixed_7c`, `AuxLogits`, `fc`), 299x299 inputs,
//! factorised 1x7 / 7x1 convolutions, the auxiliary head on `Mixed_6e` and
//! `transform_input`.

// The fields carry torchvision's `state_dict` names (`Conv2d_1a_3x3`,
// `Mixed_5b`, `AuxLogits`), which are not snake case; the allowance has to be
// module-wide to reach the code `#[derive(Module)]` generates.
#![allow(non_snake_case)]

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor};
use zoo_layers::trace;

use crate::parts::BasicConv2d;
use crate::parts::{global_avg, imagenet_to_half_range, linear, max_pool};

/// Configuration of an [`InceptionV3`].
#[derive(Config, Debug)]
pub struct InceptionV3Config {
    /// Output classes.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Whether the auxiliary classifier on `Mixed_6e` exists (torchvision's
    /// default: yes; it is evaluated only in training).
    #[config(default = true)]
    pub aux_logits: bool,
    /// Re-normalise ImageNet-normalised inputs to the range the ported
    /// Google weights expect.
    #[config(default = false)]
    pub transform_input: bool,
    /// Input channels (3 for ImageNet; `transform_input` needs 3).
    #[config(default = 3)]
    pub in_channels: usize,
    /// Dropout before the classifier.
    #[config(default = 0.5)]
    pub dropout: f64,
}

fn basic(c: [usize; 2], k: usize, p: usize, s: usize, device: &Device) -> BasicConv2d {
    BasicConv2d::rect(c, [k, k], [p, p], s, device)
}

/// 1x7 (`wide`) or 7x1 convolution with "same" padding.
fn seven(c: [usize; 2], wide: bool, device: &Device) -> BasicConv2d {
    if wide {
        BasicConv2d::rect(c, [1, 7], [0, 3], 1, device)
    } else {
        BasicConv2d::rect(c, [7, 1], [3, 0], 1, device)
    }
}

/// 1x3 (`wide`) or 3x1 convolution with "same" padding.
fn three(c: [usize; 2], wide: bool, device: &Device) -> BasicConv2d {
    if wide {
        BasicConv2d::rect(c, [1, 3], [0, 1], 1, device)
    } else {
        BasicConv2d::rect(c, [3, 1], [1, 0], 1, device)
    }
}

/// 3x3 stride-1 average pooling with padding 1, counting the padding (torch's default).
fn avg3(x: Tensor<4>) -> Tensor<4> {
    trace::avg_pool2d(
        x,
        AvgPoolOptions::new([3, 3])
            .with_stride([1, 1])
            .with_padding([1, 1])
            .with_count_include_pad(true),
    )
}

/// 3x3 stride-2 max pooling without padding.
fn max3(x: Tensor<4>) -> Tensor<4> {
    trace::max_pool2d(x, MaxPoolOptions::new([3, 3]).with_stride([2, 2]))
}

/// `Mixed_5b..5d`: 1x1; 1x1 then 5x5; 1x1 then two 3x3; pool then 1x1.
#[derive(Module, Debug)]
pub struct InceptionA {
    /// 1x1, 64.
    pub branch1x1: BasicConv2d,
    /// 1x1, 48.
    pub branch5x5_1: BasicConv2d,
    /// 5x5, 64.
    pub branch5x5_2: BasicConv2d,
    /// 1x1, 64.
    pub branch3x3dbl_1: BasicConv2d,
    /// 3x3, 96.
    pub branch3x3dbl_2: BasicConv2d,
    /// 3x3, 96.
    pub branch3x3dbl_3: BasicConv2d,
    /// 1x1 after the average pool.
    pub branch_pool: BasicConv2d,
}

impl InceptionA {
    fn new(i: usize, pool_features: usize, d: &Device) -> Self {
        Self {
            branch1x1: basic([i, 64], 1, 0, 1, d),
            branch5x5_1: basic([i, 48], 1, 0, 1, d),
            branch5x5_2: basic([48, 64], 5, 2, 1, d),
            branch3x3dbl_1: basic([i, 64], 1, 0, 1, d),
            branch3x3dbl_2: basic([64, 96], 3, 1, 1, d),
            branch3x3dbl_3: basic([96, 96], 3, 1, 1, d),
            branch_pool: basic([i, pool_features], 1, 0, 1, d),
        }
    }

    /// `[N, i, H, W]` to `[N, 224 + pool_features, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b5 = self
            .branch5x5_2
            .forward(self.branch5x5_1.forward(x.clone()));
        let b3 = self.branch3x3dbl_1.forward(x.clone());
        let b3 = self.branch3x3dbl_3.forward(self.branch3x3dbl_2.forward(b3));
        let bp = self.branch_pool.forward(avg3(x));
        Tensor::cat(vec![b1, b5, b3, bp], 1)
    }
}

/// `Mixed_6a`: grid reduction 35 -> 17.
#[derive(Module, Debug)]
pub struct InceptionB {
    /// 3x3 stride 2, 384.
    pub branch3x3: BasicConv2d,
    /// 1x1, 64.
    pub branch3x3dbl_1: BasicConv2d,
    /// 3x3, 96.
    pub branch3x3dbl_2: BasicConv2d,
    /// 3x3 stride 2, 96.
    pub branch3x3dbl_3: BasicConv2d,
}

impl InceptionB {
    fn new(i: usize, d: &Device) -> Self {
        Self {
            branch3x3: basic([i, 384], 3, 0, 2, d),
            branch3x3dbl_1: basic([i, 64], 1, 0, 1, d),
            branch3x3dbl_2: basic([64, 96], 3, 1, 1, d),
            branch3x3dbl_3: basic([96, 96], 3, 0, 2, d),
        }
    }

    /// `[N, i, H, W]` to `[N, 480 + i, H', W']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b3 = self.branch3x3.forward(x.clone());
        let bd = self.branch3x3dbl_1.forward(x.clone());
        let bd = self.branch3x3dbl_3.forward(self.branch3x3dbl_2.forward(bd));
        Tensor::cat(vec![b3, bd, max3(x)], 1)
    }
}

/// `Mixed_6b..6e`: factorised 7x7 convolutions.
#[derive(Module, Debug)]
pub struct InceptionC {
    /// 1x1, 192.
    pub branch1x1: BasicConv2d,
    /// 1x1, c7.
    pub branch7x7_1: BasicConv2d,
    /// 1x7.
    pub branch7x7_2: BasicConv2d,
    /// 7x1, 192.
    pub branch7x7_3: BasicConv2d,
    /// 1x1, c7.
    pub branch7x7dbl_1: BasicConv2d,
    /// 7x1.
    pub branch7x7dbl_2: BasicConv2d,
    /// 1x7.
    pub branch7x7dbl_3: BasicConv2d,
    /// 7x1.
    pub branch7x7dbl_4: BasicConv2d,
    /// 1x7, 192.
    pub branch7x7dbl_5: BasicConv2d,
    /// 1x1 after the average pool, 192.
    pub branch_pool: BasicConv2d,
}

impl InceptionC {
    fn new(i: usize, c7: usize, d: &Device) -> Self {
        Self {
            branch1x1: basic([i, 192], 1, 0, 1, d),
            branch7x7_1: basic([i, c7], 1, 0, 1, d),
            branch7x7_2: seven([c7, c7], true, d),
            branch7x7_3: seven([c7, 192], false, d),
            branch7x7dbl_1: basic([i, c7], 1, 0, 1, d),
            branch7x7dbl_2: seven([c7, c7], false, d),
            branch7x7dbl_3: seven([c7, c7], true, d),
            branch7x7dbl_4: seven([c7, c7], false, d),
            branch7x7dbl_5: seven([c7, 192], true, d),
            branch_pool: basic([i, 192], 1, 0, 1, d),
        }
    }

    /// `[N, i, H, W]` to `[N, 768, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b7 = [&self.branch7x7_1, &self.branch7x7_2, &self.branch7x7_3]
            .iter()
            .fold(x.clone(), |y, c| c.forward(y));
        let bd = [
            &self.branch7x7dbl_1,
            &self.branch7x7dbl_2,
            &self.branch7x7dbl_3,
            &self.branch7x7dbl_4,
            &self.branch7x7dbl_5,
        ]
        .iter()
        .fold(x.clone(), |y, c| c.forward(y));
        let bp = self.branch_pool.forward(avg3(x));
        Tensor::cat(vec![b1, b7, bd, bp], 1)
    }
}

/// `Mixed_7a`: grid reduction 17 -> 8.
#[derive(Module, Debug)]
pub struct InceptionD {
    /// 1x1, 192.
    pub branch3x3_1: BasicConv2d,
    /// 3x3 stride 2, 320.
    pub branch3x3_2: BasicConv2d,
    /// 1x1, 192.
    pub branch7x7x3_1: BasicConv2d,
    /// 1x7.
    pub branch7x7x3_2: BasicConv2d,
    /// 7x1.
    pub branch7x7x3_3: BasicConv2d,
    /// 3x3 stride 2.
    pub branch7x7x3_4: BasicConv2d,
}

impl InceptionD {
    fn new(i: usize, d: &Device) -> Self {
        Self {
            branch3x3_1: basic([i, 192], 1, 0, 1, d),
            branch3x3_2: basic([192, 320], 3, 0, 2, d),
            branch7x7x3_1: basic([i, 192], 1, 0, 1, d),
            branch7x7x3_2: seven([192, 192], true, d),
            branch7x7x3_3: seven([192, 192], false, d),
            branch7x7x3_4: basic([192, 192], 3, 0, 2, d),
        }
    }

    /// `[N, i, H, W]` to `[N, 512 + i, H', W']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b3 = self
            .branch3x3_2
            .forward(self.branch3x3_1.forward(x.clone()));
        let b7 = [
            &self.branch7x7x3_1,
            &self.branch7x7x3_2,
            &self.branch7x7x3_3,
            &self.branch7x7x3_4,
        ]
        .iter()
        .fold(x.clone(), |y, c| c.forward(y));
        Tensor::cat(vec![b3, b7, max3(x)], 1)
    }
}

/// `Mixed_7b`, `Mixed_7c`: expanded filter banks (1x3 and 3x1 side by side).
#[derive(Module, Debug)]
pub struct InceptionE {
    /// 1x1, 320.
    pub branch1x1: BasicConv2d,
    /// 1x1, 384.
    pub branch3x3_1: BasicConv2d,
    /// 1x3, 384.
    pub branch3x3_2a: BasicConv2d,
    /// 3x1, 384.
    pub branch3x3_2b: BasicConv2d,
    /// 1x1, 448.
    pub branch3x3dbl_1: BasicConv2d,
    /// 3x3, 384.
    pub branch3x3dbl_2: BasicConv2d,
    /// 1x3, 384.
    pub branch3x3dbl_3a: BasicConv2d,
    /// 3x1, 384.
    pub branch3x3dbl_3b: BasicConv2d,
    /// 1x1 after the average pool, 192.
    pub branch_pool: BasicConv2d,
}

impl InceptionE {
    fn new(i: usize, d: &Device) -> Self {
        Self {
            branch1x1: basic([i, 320], 1, 0, 1, d),
            branch3x3_1: basic([i, 384], 1, 0, 1, d),
            branch3x3_2a: three([384, 384], true, d),
            branch3x3_2b: three([384, 384], false, d),
            branch3x3dbl_1: basic([i, 448], 1, 0, 1, d),
            branch3x3dbl_2: basic([448, 384], 3, 1, 1, d),
            branch3x3dbl_3a: three([384, 384], true, d),
            branch3x3dbl_3b: three([384, 384], false, d),
            branch_pool: basic([i, 192], 1, 0, 1, d),
        }
    }

    /// `[N, i, H, W]` to `[N, 2048, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b3 = self.branch3x3_1.forward(x.clone());
        let b3 = Tensor::cat(
            vec![
                self.branch3x3_2a.forward(b3.clone()),
                self.branch3x3_2b.forward(b3),
            ],
            1,
        );
        let bd = self
            .branch3x3dbl_2
            .forward(self.branch3x3dbl_1.forward(x.clone()));
        let bd = Tensor::cat(
            vec![
                self.branch3x3dbl_3a.forward(bd.clone()),
                self.branch3x3dbl_3b.forward(bd),
            ],
            1,
        );
        let bp = self.branch_pool.forward(avg3(x));
        Tensor::cat(vec![b1, b3, bd, bp], 1)
    }
}

/// The auxiliary classifier on `Mixed_6e`'s 17x17 output.
#[derive(Module, Debug)]
pub struct InceptionAux {
    /// 1x1, 128.
    pub conv0: BasicConv2d,
    /// 5x5, 768.
    pub conv1: BasicConv2d,
    /// The classifier.
    pub fc: Linear,
}

impl InceptionAux {
    /// Auxiliary logits `[N, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = trace::avg_pool2d(x, AvgPoolOptions::new([5, 5]).with_stride([3, 3]));
        let x = self.conv1.forward(self.conv0.forward(x));
        trace::linear(&self.fc, global_avg(x))
    }
}

/// torchvision's Inception v3.
#[derive(Module, Debug)]
pub struct InceptionV3 {
    /// 3x3 stride 2, 32.
    pub Conv2d_1a_3x3: BasicConv2d,
    /// 3x3, 32.
    pub Conv2d_2a_3x3: BasicConv2d,
    /// 3x3 padded, 64.
    pub Conv2d_2b_3x3: BasicConv2d,
    /// 1x1, 80.
    pub Conv2d_3b_1x1: BasicConv2d,
    /// 3x3, 192.
    pub Conv2d_4a_3x3: BasicConv2d,
    /// 35x35 blocks.
    pub Mixed_5b: InceptionA,
    /// 35x35 blocks.
    pub Mixed_5c: InceptionA,
    /// 35x35 blocks.
    pub Mixed_5d: InceptionA,
    /// Reduction to 17x17.
    pub Mixed_6a: InceptionB,
    /// 17x17 blocks.
    pub Mixed_6b: InceptionC,
    /// 17x17 blocks.
    pub Mixed_6c: InceptionC,
    /// 17x17 blocks.
    pub Mixed_6d: InceptionC,
    /// 17x17 blocks.
    pub Mixed_6e: InceptionC,
    /// The auxiliary classifier, if configured.
    pub AuxLogits: Option<InceptionAux>,
    /// Reduction to 8x8.
    pub Mixed_7a: InceptionD,
    /// 8x8 blocks.
    pub Mixed_7b: InceptionE,
    /// 8x8 blocks.
    pub Mixed_7c: InceptionE,
    /// Dropout before the classifier.
    pub dropout: Dropout,
    /// The classifier.
    pub fc: Linear,
    /// Whether inputs are re-normalised.
    pub transform_input: bool,
}

impl InceptionV3Config {
    /// The network, with burn's default initialisation (torchvision
    /// initialises from a truncated normal; the shapes and counts agree).
    pub fn init(&self, device: &Device) -> InceptionV3 {
        let d = device;
        InceptionV3 {
            Conv2d_1a_3x3: basic([self.in_channels, 32], 3, 0, 2, d),
            Conv2d_2a_3x3: basic([32, 32], 3, 0, 1, d),
            Conv2d_2b_3x3: basic([32, 64], 3, 1, 1, d),
            Conv2d_3b_1x1: basic([64, 80], 1, 0, 1, d),
            Conv2d_4a_3x3: basic([80, 192], 3, 0, 1, d),
            Mixed_5b: InceptionA::new(192, 32, d),
            Mixed_5c: InceptionA::new(256, 64, d),
            Mixed_5d: InceptionA::new(288, 64, d),
            Mixed_6a: InceptionB::new(288, d),
            Mixed_6b: InceptionC::new(768, 128, d),
            Mixed_6c: InceptionC::new(768, 160, d),
            Mixed_6d: InceptionC::new(768, 160, d),
            Mixed_6e: InceptionC::new(768, 192, d),
            AuxLogits: self.aux_logits.then(|| InceptionAux {
                conv0: basic([768, 128], 1, 0, 1, d),
                conv1: basic([128, 768], 5, 0, 1, d),
                fc: linear(768, self.num_classes, d),
            }),
            Mixed_7a: InceptionD::new(768, d),
            Mixed_7b: InceptionE::new(1280, d),
            Mixed_7c: InceptionE::new(2048, d),
            dropout: DropoutConfig::new(self.dropout).init(),
            fc: linear(2048, self.num_classes, d),
            transform_input: self.transform_input,
        }
    }
}

impl InceptionV3 {
    /// The trunk to `Mixed_7c` (`[N, 2048, 8, 8]` at 299x299), and the
    /// auxiliary logits when `with_aux` and the head exists.
    fn trunk(&self, x: Tensor<4>, with_aux: bool) -> (Tensor<4>, Option<Tensor<2>>) {
        let x = if self.transform_input {
            imagenet_to_half_range(x)
        } else {
            x
        };
        let x = self.Conv2d_1a_3x3.forward(x);
        let x = self.Conv2d_2a_3x3.forward(x);
        let x = max_pool(self.Conv2d_2b_3x3.forward(x), 3, 2, 0, false);
        let x = self.Conv2d_3b_1x1.forward(x);
        let x = max_pool(self.Conv2d_4a_3x3.forward(x), 3, 2, 0, false);
        let x = trace::scope("Mixed_5b", "InceptionA", x, |x| self.Mixed_5b.forward(x));
        let x = trace::scope("Mixed_5c", "InceptionA", x, |x| self.Mixed_5c.forward(x));
        let x = trace::scope("Mixed_5d", "InceptionA", x, |x| self.Mixed_5d.forward(x));
        let x = trace::scope("Mixed_6a", "InceptionB", x, |x| self.Mixed_6a.forward(x));
        let x = trace::scope("Mixed_6b", "InceptionC", x, |x| self.Mixed_6b.forward(x));
        let x = trace::scope("Mixed_6c", "InceptionC", x, |x| self.Mixed_6c.forward(x));
        let x = trace::scope("Mixed_6d", "InceptionC", x, |x| self.Mixed_6d.forward(x));
        let x = trace::scope("Mixed_6e", "InceptionC", x, |x| self.Mixed_6e.forward(x));
        let aux = match (&self.AuxLogits, with_aux) {
            (Some(head), true) => Some(trace::scope("AuxLogits", "InceptionAux", x.clone(), |x| {
                head.forward(x)
            })),
            _ => None,
        };
        let x = trace::scope("Mixed_7a", "InceptionD", x, |x| self.Mixed_7a.forward(x));
        let x = trace::scope("Mixed_7b", "InceptionE", x, |x| self.Mixed_7b.forward(x));
        let x = trace::scope("Mixed_7c", "InceptionE", x, |x| self.Mixed_7c.forward(x));
        (x, aux)
    }

    /// The convolutional trunk: `[N, C, H, W]` to `Mixed_7c`'s output.
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        self.trunk(x, false).0
    }

    /// The trunk and the auxiliary logits when the head exists and the
    /// input is on an autodiff device (training), as torchvision returns
    /// `InceptionOutputs` in training mode.
    pub fn features_with_aux(&self, x: Tensor<4>) -> (Tensor<4>, Option<Tensor<2>>) {
        let training = x.device().is_autodiff();
        self.trunk(x, training)
    }

    /// Logits `[N, classes]` (the auxiliary head is not evaluated).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head(self.features(x))
    }

    /// The classifier on a trunk output: pool, dropout, `fc`.
    pub fn head(&self, x: Tensor<4>) -> Tensor<2> {
        trace::linear(&self.fc, self.dropout.forward(global_avg(x)))
    }
}

// The registry's entries for this family (see `crate::registry`).

use crate::registry::{Build, Classifier, Model, ModelArgs, Registration, RegistryError, tv};

const INCEPTION3: &str =
    "Szegedy et al. 2016, Rethinking the Inception architecture for computer vision";

/// The registered models of this family.
pub(crate) const MODELS: &[Registration] = &[Registration::new(
    tv(
        "inception_v3",
        "inception",
        INCEPTION3,
        299,
        (
            "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
            27_161_264,
            5.713,
            77.294,
            93.45,
            103.903,
        ),
    ),
    &[
        "num_classes",
        "in_channels",
        "input_size",
        "aux_logits",
        "transform_input",
    ],
    build_tv,
)
.with_weights_args(tv_weights_args)];

fn build_tv(b: &Build) -> Result<Model, RegistryError> {
    Ok(Model::InceptionV3(
        InceptionV3Config::new()
            .with_in_channels(b.in_channels)
            .with_num_classes(b.num_classes)
            .with_aux_logits(b.args.aux_logits.unwrap_or(true))
            .with_transform_input(b.args.transform_input.unwrap_or(false))
            .init(b.device),
    ))
}

/// torchvision loads Inception v3's weights with `transform_input`.
fn tv_weights_args() -> ModelArgs {
    ModelArgs {
        transform_input: Some(true),
        ..ModelArgs::default()
    }
}

impl Classifier for InceptionV3 {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        InceptionV3::forward(self, x)
    }
    fn logits_with_aux(&self, x: Tensor<4>) -> (Tensor<2>, Vec<(f64, Tensor<2>)>) {
        let (x, aux) = self.features_with_aux(x);
        (self.head(x), aux.into_iter().map(|a| (0.4, a)).collect())
    }
    fn trunk(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        Some(InceptionV3::features(self, x))
    }
    fn head_prefixes(&self) -> &'static [&'static str] {
        &["fc", "AuxLogits.fc"]
    }
    fn reset_head(&mut self, num_classes: usize, device: &Device) {
        self.fc = crate::parts::new_head(&self.fc, num_classes, device);
        if let Some(aux) = &mut self.AuxLogits {
            aux.fc = crate::parts::new_head(&aux.fc, num_classes, device);
        }
    }
}
