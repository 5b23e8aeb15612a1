//! The model registry: every architecture by name, with its metadata, as
//! timm's `create_model` and torchvision's `get_model` / `get_model_weights`
//! offer them.
//!
//! Names are torchvision's builder names (`resnet18`, `vgg16_bn`,
//! `inception_v3`, ...) and the course's variants (`d2l_lenet`,
//! `d2l_alexnet`, ...). [`create`] builds one from [`ModelArgs`] (anything
//! not given takes the builder's default); [`info`] gives its paper,
//! default input, and for torchvision's models the published weights: URL,
//! hash prefix, parameter count, GFLOPS (multiply-adds) and ImageNet
//! accuracy, exactly as torchvision's `Weights.meta` lists them.
//! [`summary`] traces any model layer by layer (`zoo_layers::trace`).
//!
//! ```
//! use zoo_models::registry::{self, ModelArgs};
//! let device = zoo_device::from_name("flex").unwrap();
//! let args = ModelArgs { num_classes: Some(10), ..ModelArgs::default() };
//! let model = registry::create("resnet18", &args, &device).unwrap();
//! let x = burn::tensor::Tensor::<4>::zeros([1, 3, 64, 64], &device);
//! assert_eq!(model.forward(x).dims(), [1, 10]);
//! assert_eq!(registry::info("resnet18").unwrap().weights.unwrap().num_params, 11_689_512);
//! assert!(registry::create("resnet19", &args, &device).is_err());
//! ```

use std::fmt;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use zoo_layers::trace::{self, Row};

use crate::alexnet::{AlexNet, AlexNetConfig};
use crate::densenet::{DenseNet, DenseNetConfig};
use crate::googlenet::{D2lGoogLeNet, D2lGoogLeNetConfig, GoogLeNet, GoogLeNetConfig};
use crate::inception::{InceptionV3, InceptionV3Config};
use crate::lenet::{LeNet, LeNetActivation, LeNetConfig, LeNetPool};
use crate::nin::{Nin, NinConfig};
use crate::parts::linear;
use crate::resnet::{ResNet, ResNetConfig};
use crate::vgg::{Vgg, VggConfig};
use crate::weights::{StateDict, WeightsError, load_state_dict};

/// torchvision's published weights of a model (`IMAGENET1K_V1`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightsInfo {
    /// The official download URL.
    pub url: &'static str,
    /// The SHA-256 prefix torchvision puts in the file name and checks.
    pub sha256_prefix: &'static str,
    /// Parameters (trainable), as torchvision lists them.
    pub num_params: usize,
    /// GFLOPS at the default input, as torchvision lists them (multiply-adds).
    pub gflops: f64,
    /// ImageNet-1K top-1 accuracy (%).
    pub acc1: f64,
    /// ImageNet-1K top-5 accuracy (%).
    pub acc5: f64,
    /// File size in MB.
    pub file_mb: f64,
}

/// The course's training setting for a `d2l_*` model (d2l's chapter 7/8
/// code): Fashion-MNIST at `input`, SGD.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CourseSetting {
    /// Learning rate.
    pub lr: f64,
    /// Epochs.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
}

/// A registered model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelInfo {
    /// The name [`create`] takes.
    pub name: &'static str,
    /// The family (the file of `zoo_models`).
    pub family: &'static str,
    /// The paper.
    pub paper: &'static str,
    /// Default input `[C, H, W]`.
    pub input: [usize; 3],
    /// Default classes.
    pub num_classes: usize,
    /// torchvision's weights, for torchvision's models.
    pub weights: Option<WeightsInfo>,
    /// The course's hyper-parameters, for the course's models.
    pub course: Option<CourseSetting>,
}

const LENET: &str = "LeCun et al. 1998, Gradient-based learning applied to document recognition";
const ALEXNET: &str = "Krizhevsky et al. 2012, ImageNet classification with deep convolutional neural networks (torchvision: Krizhevsky 2014, One weird trick)";
const VGG: &str =
    "Simonyan & Zisserman 2015, Very deep convolutional networks for large-scale image recognition";
const NIN: &str = "Lin et al. 2014, Network in network";
const GOOGLENET: &str = "Szegedy et al. 2015, Going deeper with convolutions";
const INCEPTION3: &str =
    "Szegedy et al. 2016, Rethinking the Inception architecture for computer vision";
const RESNET: &str = "He et al. 2016, Deep residual learning for image recognition";
const RESNEXT: &str =
    "Xie et al. 2017, Aggregated residual transformations for deep neural networks";
const WRN: &str = "Zagoruyko & Komodakis 2016, Wide residual networks";
const DENSENET: &str = "Huang et al. 2017, Densely connected convolutional networks";

const fn tv(
    name: &'static str,
    family: &'static str,
    paper: &'static str,
    side: usize,
    w: (&'static str, usize, f64, f64, f64, f64),
) -> ModelInfo {
    let (file, num_params, gflops, acc1, acc5, file_mb) = w;
    ModelInfo {
        name,
        family,
        paper,
        input: [3, side, side],
        num_classes: 1000,
        weights: Some(WeightsInfo {
            url: file,
            sha256_prefix: "",
            num_params,
            gflops,
            acc1,
            acc5,
            file_mb,
        }),
        course: None,
    }
}

const fn d2l(
    name: &'static str,
    family: &'static str,
    paper: &'static str,
    side: usize,
    course: (f64, usize, usize),
) -> ModelInfo {
    ModelInfo {
        name,
        family,
        paper,
        input: [1, side, side],
        num_classes: 10,
        weights: None,
        course: Some(CourseSetting {
            lr: course.0,
            epochs: course.1,
            batch_size: course.2,
        }),
    }
}

/// Every registered model. torchvision's figures are its `Weights.meta`
/// (torchvision 0.29, `IMAGENET1K_V1`); the course's settings are d2l's.
const MODELS: [ModelInfo; 32] = [
    d2l("d2l_lenet", "lenet", LENET, 28, (0.9, 10, 256)),
    d2l("d2l_alexnet", "alexnet", ALEXNET, 224, (0.01, 10, 128)),
    d2l("d2l_vgg11", "vgg", VGG, 224, (0.05, 10, 128)),
    d2l("d2l_nin", "nin", NIN, 224, (0.1, 10, 128)),
    d2l("d2l_googlenet", "googlenet", GOOGLENET, 96, (0.1, 10, 128)),
    d2l("d2l_resnet18", "resnet", RESNET, 96, (0.05, 10, 256)),
    d2l("d2l_densenet", "densenet", DENSENET, 96, (0.1, 10, 256)),
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
    tv(
        "googlenet",
        "googlenet",
        GOOGLENET,
        224,
        (
            "https://download.pytorch.org/models/googlenet-1378be20.pth",
            6_624_904,
            1.498,
            69.778,
            89.53,
            49.731,
        ),
    ),
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
    tv(
        "resnet18",
        "resnet",
        RESNET,
        224,
        (
            "https://download.pytorch.org/models/resnet18-f37072fd.pth",
            11_689_512,
            1.814,
            69.758,
            89.078,
            44.661,
        ),
    ),
    tv(
        "resnet34",
        "resnet",
        RESNET,
        224,
        (
            "https://download.pytorch.org/models/resnet34-b627a593.pth",
            21_797_672,
            3.664,
            73.314,
            91.42,
            83.275,
        ),
    ),
    tv(
        "resnet50",
        "resnet",
        RESNET,
        224,
        (
            "https://download.pytorch.org/models/resnet50-0676ba61.pth",
            25_557_032,
            4.089,
            76.13,
            92.862,
            97.781,
        ),
    ),
    tv(
        "resnet101",
        "resnet",
        RESNET,
        224,
        (
            "https://download.pytorch.org/models/resnet101-63fe2227.pth",
            44_549_160,
            7.801,
            77.374,
            93.546,
            170.511,
        ),
    ),
    tv(
        "resnet152",
        "resnet",
        RESNET,
        224,
        (
            "https://download.pytorch.org/models/resnet152-394f9c45.pth",
            60_192_808,
            11.514,
            78.312,
            94.046,
            230.434,
        ),
    ),
    tv(
        "resnext50_32x4d",
        "resnet",
        RESNEXT,
        224,
        (
            "https://download.pytorch.org/models/resnext50_32x4d-7cdf4587.pth",
            25_028_904,
            4.23,
            77.618,
            93.698,
            95.789,
        ),
    ),
    tv(
        "resnext101_32x8d",
        "resnet",
        RESNEXT,
        224,
        (
            "https://download.pytorch.org/models/resnext101_32x8d-8ba56ff5.pth",
            88_791_336,
            16.414,
            79.312,
            94.526,
            339.586,
        ),
    ),
    tv(
        "resnext101_64x4d",
        "resnet",
        RESNEXT,
        224,
        (
            "https://download.pytorch.org/models/resnext101_64x4d-173b62eb.pth",
            83_455_272,
            15.46,
            83.246,
            96.454,
            319.318,
        ),
    ),
    tv(
        "wide_resnet50_2",
        "resnet",
        WRN,
        224,
        (
            "https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth",
            68_883_240,
            11.398,
            78.468,
            94.086,
            131.82,
        ),
    ),
    tv(
        "wide_resnet101_2",
        "resnet",
        WRN,
        224,
        (
            "https://download.pytorch.org/models/wide_resnet101_2-32ee1156.pth",
            126_886_696,
            22.753,
            78.848,
            94.284,
            242.896,
        ),
    ),
    tv(
        "densenet121",
        "densenet",
        DENSENET,
        224,
        (
            "https://download.pytorch.org/models/densenet121-a639ec97.pth",
            7_978_856,
            2.834,
            74.434,
            91.972,
            30.845,
        ),
    ),
    tv(
        "densenet161",
        "densenet",
        DENSENET,
        224,
        (
            "https://download.pytorch.org/models/densenet161-8d451a50.pth",
            28_681_000,
            7.728,
            77.138,
            93.56,
            110.369,
        ),
    ),
    tv(
        "densenet169",
        "densenet",
        DENSENET,
        224,
        (
            "https://download.pytorch.org/models/densenet169-b2777c0a.pth",
            14_149_480,
            3.36,
            75.6,
            92.806,
            54.708,
        ),
    ),
    tv(
        "densenet201",
        "densenet",
        DENSENET,
        224,
        (
            "https://download.pytorch.org/models/densenet201-c1103571.pth",
            20_013_928,
            4.291,
            76.896,
            93.37,
            77.373,
        ),
    ),
];

/// Every registered model, the course's first.
pub fn list() -> Vec<ModelInfo> {
    MODELS
        .iter()
        .map(|m| {
            let mut m = *m;
            if let Some(w) = &mut m.weights {
                w.sha256_prefix = hash_prefix(w.url);
            }
            m
        })
        .collect()
}

/// The model registered as `name`.
pub fn info(name: &str) -> Option<ModelInfo> {
    list().into_iter().find(|m| m.name == name)
}

/// The hash torchvision embeds in a weight file's name
/// (`resnet18-f37072fd.pth`: `f37072fd`).
fn hash_prefix(url: &'static str) -> &'static str {
    let file = url.rsplit('/').next().unwrap_or(url);
    let stem = file.strip_suffix(".pth").unwrap_or(file);
    stem.rsplit('-').next().unwrap_or("")
}

/// Builder arguments; `None` takes the builder's default. Which ones a
/// model takes is its builder's business: a given argument a model does not
/// take is an error, not silently ignored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelArgs {
    /// Output classes.
    pub num_classes: Option<usize>,
    /// Input channels.
    pub in_channels: Option<usize>,
    /// Input height and width (the course's LeNet, AlexNet and VGG size
    /// their first linear layer from it).
    pub input_size: Option<[usize; 2]>,
    /// GoogLeNet / Inception v3: auxiliary classifiers.
    pub aux_logits: Option<bool>,
    /// GoogLeNet / Inception v3: re-normalise ImageNet inputs.
    pub transform_input: Option<bool>,
    /// `d2l_lenet`: padding of the first convolution.
    pub conv1_padding: Option<usize>,
    /// `d2l_lenet`: ReLU and max pooling instead of sigmoid and average.
    pub relu: Option<bool>,
    /// `d2l_vgg11` / `d2l_resnet18`: `[convs, channels]` per block;
    /// `d2l_densenet`: `[convs]` per dense block.
    pub blocks: Option<Vec<Vec<usize>>>,
    /// `d2l_densenet`: stem channels.
    pub num_channels: Option<usize>,
    /// `d2l_densenet`: growth rate.
    pub growth_rate: Option<usize>,
}

/// The argument names [`ModelArgs::from_json`] accepts.
pub const ARG_NAMES: [&str; 10] = [
    "num_classes",
    "in_channels",
    "input_size",
    "aux_logits",
    "transform_input",
    "conv1_padding",
    "relu",
    "blocks",
    "num_channels",
    "growth_rate",
];

impl ModelArgs {
    /// Arguments from a JSON object (`{"num_classes": 10, "input_size": [96, 96]}`),
    /// as the parity cases spell a builder's arguments. `arch` (the name)
    /// and torchvision's `init_weights` (the initialisation scheme, not the
    /// network) are accepted and ignored; other keys outside [`ARG_NAMES`]
    /// are errors.
    pub fn from_json(
        map: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, RegistryError> {
        let bad = |key: &str, expected: &str, v: &serde_json::Value| RegistryError::Arg {
            arg: key.to_string(),
            reason: format!("{v} is not {expected}"),
        };
        let mut a = Self::default();
        for (k, v) in map {
            let uint = || {
                v.as_u64()
                    .map(|n| n as usize)
                    .ok_or_else(|| bad(k, "a non-negative integer", v))
            };
            let boolean = || v.as_bool().ok_or_else(|| bad(k, "true or false", v));
            match k.as_str() {
                "num_classes" => a.num_classes = Some(uint()?),
                "in_channels" => a.in_channels = Some(uint()?),
                "conv1_padding" => a.conv1_padding = Some(uint()?),
                "num_channels" => a.num_channels = Some(uint()?),
                "growth_rate" => a.growth_rate = Some(uint()?),
                "aux_logits" => a.aux_logits = Some(boolean()?),
                "transform_input" => a.transform_input = Some(boolean()?),
                "relu" => a.relu = Some(boolean()?),
                "input_size" => {
                    a.input_size = Some(
                        serde_json::from_value::<[usize; 2]>(v.clone())
                            .map_err(|_| bad(k, "[height, width]", v))?,
                    )
                }
                "blocks" => {
                    let b: Vec<serde_json::Value> = v
                        .as_array()
                        .cloned()
                        .ok_or_else(|| bad(k, "a list of blocks", v))?;
                    let blocks = b
                        .iter()
                        .map(|e| match e {
                            serde_json::Value::Array(_) => {
                                serde_json::from_value::<Vec<usize>>(e.clone()).ok()
                            }
                            _ => e.as_u64().map(|n| vec![n as usize]),
                        })
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| bad(k, "[[convs, channels], ...] or [convs, ...]", v))?;
                    a.blocks = Some(blocks);
                }
                "arch" | "init_weights" => {}
                other => {
                    return Err(RegistryError::Arg {
                        arg: other.to_string(),
                        reason: format!(
                            "unknown argument, expected one of {}",
                            ARG_NAMES.join(", ")
                        ),
                    });
                }
            }
        }
        Ok(a)
    }

    /// The names of the arguments that are set.
    fn given(&self) -> Vec<&'static str> {
        let set = [
            self.num_classes.is_some(),
            self.in_channels.is_some(),
            self.input_size.is_some(),
            self.aux_logits.is_some(),
            self.transform_input.is_some(),
            self.conv1_padding.is_some(),
            self.relu.is_some(),
            self.blocks.is_some(),
            self.num_channels.is_some(),
            self.growth_rate.is_some(),
        ];
        ARG_NAMES
            .iter()
            .zip(set)
            .filter(|(_, s)| *s)
            .map(|(n, _)| *n)
            .collect()
    }
}

/// Why a model could not be created.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No model has this name.
    #[error("no model named `{name}`; the registry has: {}", known.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
        /// The registered names.
        known: Vec<String>,
    },
    /// An argument is malformed, or the model does not take it.
    #[error("argument `{arg}`: {reason}")]
    Arg {
        /// The argument.
        arg: String,
        /// What is wrong.
        reason: String,
    },
    /// Weights did not fit.
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

/// Any registered model.
// A model is built once; boxing the variants would only add indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Model {
    /// The course's LeNet.
    LeNet(LeNet),
    /// AlexNet.
    AlexNet(AlexNet),
    /// VGG.
    Vgg(Vgg),
    /// The course's NiN.
    Nin(Nin),
    /// The course's GoogLeNet.
    D2lGoogLeNet(D2lGoogLeNet),
    /// torchvision's GoogLeNet.
    GoogLeNet(GoogLeNet),
    /// Inception v3.
    InceptionV3(InceptionV3),
    /// ResNet, ResNeXt, Wide ResNet.
    ResNet(ResNet),
    /// DenseNet.
    DenseNet(DenseNet),
}

/// Builds the model registered as `name`.
pub fn create(name: &str, args: &ModelArgs, device: &Device) -> Result<Model, RegistryError> {
    let Some(meta) = info(name) else {
        return Err(RegistryError::Unknown {
            name: name.to_string(),
            known: list().iter().map(|m| m.name.to_string()).collect(),
        });
    };
    let takes: &[&str] = match name {
        "d2l_lenet" => &[
            "num_classes",
            "in_channels",
            "input_size",
            "conv1_padding",
            "relu",
        ],
        "d2l_alexnet" => &["num_classes", "in_channels", "input_size"],
        "d2l_vgg11" => &["num_classes", "in_channels", "input_size", "blocks"],
        "d2l_nin" | "d2l_googlenet" => &["num_classes", "in_channels", "input_size"],
        "d2l_resnet18" => &["num_classes", "in_channels", "input_size", "blocks"],
        "d2l_densenet" => &[
            "num_classes",
            "in_channels",
            "input_size",
            "blocks",
            "num_channels",
            "growth_rate",
        ],
        "googlenet" | "inception_v3" => &[
            "num_classes",
            "in_channels",
            "input_size",
            "aux_logits",
            "transform_input",
        ],
        _ => &["num_classes", "in_channels", "input_size"],
    };
    if let Some(arg) = args.given().into_iter().find(|a| !takes.contains(a)) {
        return Err(RegistryError::Arg {
            arg: arg.to_string(),
            reason: format!("`{name}` does not take it (it takes {})", takes.join(", ")),
        });
    }
    let classes = args.num_classes.unwrap_or(meta.num_classes);
    let channels = args.in_channels.unwrap_or(meta.input[0]);
    let size = args.input_size.unwrap_or([meta.input[1], meta.input[2]]);
    for (arg, v) in [("num_classes", classes), ("in_channels", channels)] {
        if v == 0 {
            return Err(RegistryError::Arg {
                arg: arg.into(),
                reason: "0, expected at least 1".into(),
            });
        }
    }
    // Sizes from outside are checked before any layer is built.
    let budget = |arg: &str, what: &str, dims: &[u128]| {
        zoo_device::budget::check(what, dims)
            .map(|_| ())
            .map_err(|e| RegistryError::Arg {
                arg: arg.into(),
                reason: e.to_string(),
            })
    };
    // At most 1,000 convolutions in the blocks (the deepest course model has
    // about 120), and the widest layer a 3x3 convolution within the budget.
    let convs: u128 = args
        .blocks
        .iter()
        .flatten()
        .map(|b| b.first().copied().unwrap_or(0) as u128)
        .sum();
    if convs > 1000 {
        return Err(RegistryError::Arg {
            arg: "blocks".into(),
            reason: format!("{convs} convolutions in all, expected at most 1000"),
        });
    }
    let widest = [
        channels as u128,
        args.blocks
            .iter()
            .flatten()
            .filter_map(|b| b.get(1).map(|&c| c as u128))
            .max()
            .unwrap_or(0),
        (args.num_channels.unwrap_or(0) as u128)
            .saturating_add((args.growth_rate.unwrap_or(0) as u128).saturating_mul(convs.max(1))),
        64,
    ]
    .into_iter()
    .max()
    .unwrap_or(64);
    budget(
        "blocks / num_channels / growth_rate / in_channels",
        "the widest 3x3 convolution's weight",
        &[widest, widest, 3, 3],
    )?;
    // The widest classifier input of the registry is 4096 features, and
    // every model's first feature maps have at most 64 channels.
    budget(
        "num_classes",
        "a classifier of 4096 inputs and num_classes outputs",
        &[4096, classes as u128],
    )?;
    let pad = 2 * args.conv1_padding.unwrap_or(0) as u128;
    budget(
        if pad == 0 {
            "input_size"
        } else {
            "input_size / conv1_padding"
        },
        "64 feature maps of the padded input",
        &[
            64,
            channels as u128,
            size[0] as u128 + pad,
            size[1] as u128 + pad,
        ],
    )?;
    let pairs = |what: &str| -> Result<Option<Vec<[usize; 2]>>, RegistryError> {
        args.blocks
            .as_ref()
            .map(|b| {
                b.iter()
                    .map(|e| <[usize; 2]>::try_from(e.as_slice()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| RegistryError::Arg {
                        arg: "blocks".into(),
                        reason: format!("{what} expects [[convs, channels], ...], got {b:?}"),
                    })
            })
            .transpose()
    };
    let arg_err = |arg: &str, reason: String| RegistryError::Arg {
        arg: arg.to_string(),
        reason,
    };
    let depth = |prefix: &str| {
        name.strip_prefix(prefix)
            .and_then(|d| d.trim_end_matches("_bn").parse::<usize>().ok())
    };
    let d = device;
    let model = match name {
        "d2l_lenet" => {
            let mut c = LeNetConfig::new()
                .with_in_channels(channels)
                .with_num_classes(classes)
                .with_input_size(size)
                .with_conv1_padding(args.conv1_padding.unwrap_or(2));
            if args.relu == Some(true) {
                c = c
                    .with_activation(LeNetActivation::Relu)
                    .with_pool(LeNetPool::Max);
            }
            c.flat_features().map_err(|e| arg_err("input_size", e))?;
            Model::LeNet(c.init(d))
        }
        "d2l_alexnet" => {
            let c = AlexNetConfig::d2l()
                .with_in_channels(channels)
                .with_num_classes(classes)
                .with_input_size(size);
            c.flat_features().map_err(|e| arg_err("input_size", e))?;
            Model::AlexNet(c.init(d))
        }
        "alexnet" => Model::AlexNet(
            AlexNetConfig::new()
                .with_in_channels(channels)
                .with_num_classes(classes)
                .init(d),
        ),
        "d2l_vgg11" => {
            let mut c = VggConfig::d2l_vgg11()
                .with_in_channels(channels)
                .with_num_classes(classes)
                .with_input_size(size);
            if let Some(b) = pairs("d2l_vgg11")? {
                c.blocks = b;
            }
            let halvings = c.blocks.len() as u32;
            if size.iter().any(|s| s >> halvings == 0) {
                return Err(arg_err(
                    "input_size",
                    format!("{size:?} is too small for {halvings} 2x2 poolings"),
                ));
            }
            Model::Vgg(c.init(d))
        }
        "d2l_nin" => Model::Nin(
            NinConfig::new()
                .with_in_channels(channels)
                .with_num_classes(classes)
                .init(d),
        ),
        "d2l_googlenet" => Model::D2lGoogLeNet(
            D2lGoogLeNetConfig::new()
                .with_in_channels(channels)
                .with_num_classes(classes)
                .init(d),
        ),
        "googlenet" => Model::GoogLeNet(
            GoogLeNetConfig::new()
                .with_in_channels(channels)
                .with_num_classes(classes)
                .with_aux_logits(args.aux_logits.unwrap_or(true))
                .with_transform_input(args.transform_input.unwrap_or(false))
                .init(d),
        ),
        "inception_v3" => Model::InceptionV3(
            InceptionV3Config::new()
                .with_in_channels(channels)
                .with_num_classes(classes)
                .with_aux_logits(args.aux_logits.unwrap_or(true))
                .with_transform_input(args.transform_input.unwrap_or(false))
                .init(d),
        ),
        "d2l_resnet18" => {
            let mut c = ResNetConfig::d2l_resnet18()
                .with_in_channels(channels)
                .with_num_classes(classes);
            if let Some(b) = pairs("d2l_resnet18")? {
                if b.len() != 4 {
                    return Err(arg_err("blocks", format!("{} stages, expected 4", b.len())));
                }
                c.stages = b;
            }
            Model::ResNet(c.init(d))
        }
        "d2l_densenet" => {
            let mut c = DenseNetConfig::d2l()
                .with_in_channels(channels)
                .with_num_classes(classes)
                .with_num_init_features(args.num_channels.unwrap_or(64))
                .with_growth_rate(args.growth_rate.unwrap_or(32));
            if let Some(b) = &args.blocks {
                c.blocks = b
                    .iter()
                    .map(|e| match e.as_slice() {
                        [n] => Ok(*n),
                        _ => Err(arg_err(
                            "blocks",
                            format!("expected [convs, ...], got {b:?}"),
                        )),
                    })
                    .collect::<Result<_, _>>()?;
            }
            Model::DenseNet(c.init(d))
        }
        _ => {
            let config = if let Some(n) = depth("vgg") {
                VggConfig::torchvision(n, name.ends_with("_bn"), classes)
                    .map(|c| Model::Vgg(c.with_in_channels(channels).init(d)))
            } else if let Some(n) = depth("densenet") {
                DenseNetConfig::torchvision(n, classes)
                    .map(|c| Model::DenseNet(c.with_in_channels(channels).init(d)))
            } else if let Some(n) = depth("resnet") {
                ResNetConfig::torchvision(n, classes)
                    .map(|c| Model::ResNet(c.with_in_channels(channels).init(d)))
            } else {
                ResNetConfig::torchvision_variant(name, classes)
                    .map(|c| Model::ResNet(c.with_in_channels(channels).init(d)))
            };
            config.expect("every registered torchvision name has a builder")
        }
    };
    Ok(model)
}

impl Model {
    /// Logits `[N, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Model::LeNet(m) => m.forward(x),
            Model::AlexNet(m) => m.forward(x),
            Model::Vgg(m) => m.forward(x),
            Model::Nin(m) => m.forward(x),
            Model::D2lGoogLeNet(m) => m.forward(x),
            Model::GoogLeNet(m) => m.forward(x),
            Model::InceptionV3(m) => m.forward(x),
            Model::ResNet(m) => m.forward(x),
            Model::DenseNet(m) => m.forward(x),
        }
    }

    /// The convolutional trunk without the classifier, for the families
    /// that have one (torchvision's; `None` for LeNet, NiN and the course's
    /// GoogLeNet).
    pub fn features(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        match self {
            Model::AlexNet(m) => Some(m.features(x)),
            Model::Vgg(m) => Some(m.features(x)),
            Model::GoogLeNet(m) => Some(m.features(x)),
            Model::InceptionV3(m) => Some(m.features(x)),
            Model::ResNet(m) => Some(m.features(x)),
            Model::DenseNet(m) => Some(m.features(x)),
            Model::LeNet(_) | Model::Nin(_) | Model::D2lGoogLeNet(_) => None,
        }
    }

    /// torchvision's `state_dict` key of one of this model's parameter paths.
    pub fn torchvision_key(&self, path: &str) -> String {
        match self {
            Model::AlexNet(m) => m.torchvision_key(path),
            Model::Vgg(m) => m.torchvision_key(path),
            Model::GoogLeNet(_) => GoogLeNet::torchvision_key(path),
            Model::ResNet(_) => ResNet::torchvision_key(path),
            Model::DenseNet(_) => DenseNet::torchvision_key(path),
            _ => path.to_string(),
        }
    }

    /// Loads a torchvision `state_dict` (every key must fit: see
    /// [`crate::weights`]). DenseNet's legacy keys
    /// (`denselayer1.norm.1.weight`) are accepted, as torchvision accepts them.
    pub fn load_torchvision(self, sd: &StateDict) -> Result<Self, WeightsError> {
        let renamed;
        let sd = if matches!(self, Model::DenseNet(_)) {
            renamed = sd.renamed(&DenseNet::modern_key);
            &renamed
        } else {
            sd
        };
        let keys = |p: &str| Some(self.torchvision_key(p));
        load_state_dict(self.clone(), sd, &keys)
    }

    /// The parameter-path prefixes of the classifier(s): what a new head
    /// replaces and what `freeze_features` leaves trainable.
    pub fn head_prefixes(&self) -> &'static [&'static str] {
        match self {
            Model::LeNet(_) | Model::AlexNet(_) | Model::Vgg(_) => &["fc3"],
            Model::Nin(_) => &["blocks.3"],
            Model::D2lGoogLeNet(_) | Model::ResNet(_) => &["fc"],
            Model::GoogLeNet(_) => &["fc", "aux1.fc2", "aux2.fc2"],
            Model::InceptionV3(_) => &["fc", "AuxLogits.fc"],
            Model::DenseNet(_) => &["classifier"],
        }
    }

    /// The model with new, freshly initialised classifier(s) for
    /// `num_classes` (timm's `reset_classifier`): the fine-tuning recipe's
    /// new head.
    pub fn reset_classifier(self, num_classes: usize, device: &Device) -> Self {
        let fresh = |l: &burn::nn::Linear| {
            let [d_in, _] = l.weight.dims();
            linear(d_in, num_classes, device)
        };
        match self {
            Model::LeNet(mut m) => {
                m.fc3 = fresh(&m.fc3);
                Model::LeNet(m)
            }
            Model::AlexNet(mut m) => {
                m.fc3 = fresh(&m.fc3);
                Model::AlexNet(m)
            }
            Model::Vgg(mut m) => {
                m.fc3 = fresh(&m.fc3);
                Model::Vgg(m)
            }
            Model::Nin(mut m) => {
                m.reset_classifier(num_classes, device);
                Model::Nin(m)
            }
            Model::D2lGoogLeNet(mut m) => {
                m.fc = fresh(&m.fc);
                Model::D2lGoogLeNet(m)
            }
            Model::GoogLeNet(mut m) => {
                m.fc = fresh(&m.fc);
                for aux in [&mut m.aux1, &mut m.aux2].into_iter().flatten() {
                    aux.fc2 = fresh(&aux.fc2);
                }
                Model::GoogLeNet(m)
            }
            Model::InceptionV3(mut m) => {
                m.fc = fresh(&m.fc);
                if let Some(aux) = &mut m.AuxLogits {
                    aux.fc = fresh(&aux.fc);
                }
                Model::InceptionV3(m)
            }
            Model::ResNet(mut m) => {
                m.fc = fresh(&m.fc);
                Model::ResNet(m)
            }
            Model::DenseNet(mut m) => {
                m.classifier = fresh(&m.classifier);
                Model::DenseNet(m)
            }
        }
    }

    /// The model with every parameter outside the classifier frozen (no
    /// gradient, so optimizers leave it alone): the fine-tuning recipe's
    /// frozen trunk.
    pub fn freeze_features(self) -> Self {
        let heads = self.head_prefixes();
        crate::weights::set_trainable(self, &|path| {
            heads
                .iter()
                .any(|h| path == *h || path.starts_with(&format!("{h}.")))
        })
    }
}

/// A model's layer-by-layer trace on a zero input of `shape`
/// (`[N, C, H, W]`), without gradients; with `timed`, each layer's forward
/// time (the device synchronised around it).
///
/// An error naming the layer when the input is too small for one of the
/// model's convolutions or poolings, or when the input would be larger than
/// a tensor may be.
pub fn summary(
    model: &Model,
    shape: [usize; 4],
    timed: bool,
    device: &Device,
) -> Result<Vec<Row>, RegistryError> {
    zoo_device::budget::check("the traced input", &shape).map_err(|e| RegistryError::Arg {
        arg: "input_size".into(),
        reason: e.to_string(),
    })?;
    let model = model.clone().valid();
    let x = Tensor::<4>::zeros(shape, &device.clone().inner());
    trace::try_record(timed, || model.forward(x))
        .map(|(_, rows)| rows)
        .map_err(|e| RegistryError::Arg {
            arg: "input_size".into(),
            reason: e.to_string(),
        })
}

impl ModelInfo {
    /// The builder arguments under which torchvision loads this model's
    /// published weights: GoogLeNet and Inception v3 then default to
    /// `transform_input = true`, and GoogLeNet's weights come without its
    /// auxiliary heads (`aux_logits = false`; Inception v3 keeps its own).
    /// Default arguments for every other model.
    pub fn weights_args(&self) -> ModelArgs {
        match self.name {
            "googlenet" => ModelArgs {
                aux_logits: Some(false),
                transform_input: Some(true),
                ..ModelArgs::default()
            },
            "inception_v3" => ModelArgs {
                transform_input: Some(true),
                ..ModelArgs::default()
            },
            _ => ModelArgs::default(),
        }
    }
}

/// Trainable parameters and multiply-adds (one image at the default
/// input) of the model registered as `name`, built as torchvision builds it
/// for its weights ([`ModelInfo::weights_args`]) and traced on `device`:
/// what torchvision's metadata lists, computed.
pub fn stats(name: &str, device: &Device) -> Result<(usize, u64), RegistryError> {
    let info = info(name).ok_or_else(|| RegistryError::Unknown {
        name: name.to_string(),
        known: list().iter().map(|m| m.name.to_string()).collect(),
    })?;
    let model = create(name, &info.weights_args(), device)?;
    let [c, h, w] = info.input;
    let rows = summary(&model, [1, c, h, w], false, device)?;
    let macs = rows.iter().filter(|r| r.leaf).map(|r| r.macs).sum();
    Ok((zoo_layers::params::num_trainable_params(&model), macs))
}

impl fmt::Display for ModelInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}; input {:?}, {} classes)",
            self.name, self.paper, self.input, self.num_classes
        )
    }
}
