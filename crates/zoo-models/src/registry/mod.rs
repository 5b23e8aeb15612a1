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
//! Each family registers its models beside their definition: a
//! `pub(crate) const MODELS: &[Registration]` at the end of the family's
//! file (metadata, the arguments it takes, its builder) and an
//! `impl Classifier` for its model type. This module only collects them
//! ([`FAMILIES`]) and dispatches ([`Model`]). Adding a model to a family
//! touches that family's file; adding a family adds its file, one line to
//! `FAMILIES` and one variant to `Model` (the `families!` list in
//! `model.rs`).
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

mod args;
mod model;

use std::fmt;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use zoo_layers::trace::{self, Row};

use crate::weights::WeightsError;

pub use args::{ARG_NAMES, Build, ModelArgs};
pub use model::{Classifier, Model};

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
    /// The smallest input side the model takes (torchvision's `min_size`;
    /// 1 where any size works).
    pub min_size: usize,
    /// torchvision's weights, for torchvision's models.
    pub weights: Option<WeightsInfo>,
    /// The course's hyper-parameters, for the course's models.
    pub course: Option<CourseSetting>,
}

/// A model as its family registers it: the metadata, the builder
/// arguments it takes, and how to build it.
#[derive(Clone, Copy)]
pub struct Registration {
    /// The metadata (`sha256_prefix` is filled from the URL by [`list`]).
    pub info: ModelInfo,
    /// The [`ModelArgs`] it takes; any other given argument is an error.
    pub takes: &'static [&'static str],
    /// Builds it from checked arguments.
    pub build: fn(&Build) -> Result<Model, RegistryError>,
    /// The arguments under which torchvision's published weights load.
    pub weights_args: fn() -> ModelArgs,
    /// The builder arguments of the course's run (the course's small
    /// VGG-11); default arguments for every other model.
    pub course_args: fn() -> ModelArgs,
}

impl Registration {
    /// A model taking `takes`, built by `build`, whose weights (if any)
    /// load under default arguments.
    pub const fn new(
        info: ModelInfo,
        takes: &'static [&'static str],
        build: fn(&Build) -> Result<Model, RegistryError>,
    ) -> Self {
        Self {
            info,
            takes,
            build,
            weights_args: ModelArgs::default_args,
            course_args: ModelArgs::default_args,
        }
    }

    /// The same with other builder arguments for the course's run.
    pub const fn with_course_args(mut self, course_args: fn() -> ModelArgs) -> Self {
        self.course_args = course_args;
        self
    }

    /// The same with other arguments for the published weights.
    pub const fn with_weights_args(mut self, weights_args: fn() -> ModelArgs) -> Self {
        self.weights_args = weights_args;
        self
    }
}

/// The arguments every torchvision model takes.
pub(crate) const TV_ARGS: &[&str] = &["num_classes", "in_channels", "input_size"];

/// torchvision's metadata of a model (its `Weights.meta`, torchvision 0.29,
/// `IMAGENET1K_V1`): file URL, parameters, GFLOPS, acc@1, acc@5, MB.
pub(crate) const fn tv(
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
        min_size: tv_min_size(family),
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

/// torchvision's `min_size` of a family's models (the `_COMMON_META` of
/// `torchvision/models/<family>.py`): the smallest input side on which
/// their poolings leave something to classify.
const fn tv_min_size(family: &str) -> usize {
    match family.as_bytes() {
        b"alexnet" => 63,
        b"vgg" => 32,
        b"densenet" => 29,
        b"googlenet" => 15,
        b"inception" => 75,
        _ => 1,
    }
}

/// The course's metadata of a model: Fashion-MNIST at `side`, 10 classes,
/// d2l's `(lr, epochs, batch_size)`.
pub(crate) const fn d2l(
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
        min_size: 1,
        weights: None,
        course: Some(CourseSetting {
            lr: course.0,
            epochs: course.1,
            batch_size: course.2,
        }),
    }
}

/// The one list of registered families, each slice defined at the end of
/// its family's file.
pub const FAMILIES: &[&[Registration]] = &[
    crate::lenet::MODELS,
    crate::alexnet::MODELS,
    crate::vgg::MODELS,
    crate::nin::MODELS,
    crate::googlenet::MODELS,
    crate::inception::MODELS,
    crate::resnet::MODELS,
    crate::densenet::MODELS,
];

fn registration(name: &str) -> Option<&'static Registration> {
    FAMILIES
        .iter()
        .flat_map(|f| f.iter())
        .find(|r| r.info.name == name)
}

/// Every registered model, the course's first.
pub fn list() -> Vec<ModelInfo> {
    let all = FAMILIES.iter().flat_map(|f| f.iter()).map(|r| {
        let mut m = r.info;
        if let Some(w) = &mut m.weights {
            w.sha256_prefix = hash_prefix(w.url);
        }
        m
    });
    let (course, others): (Vec<_>, Vec<_>) = all.partition(|m| m.course.is_some());
    course.into_iter().chain(others).collect()
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

fn unknown(name: &str) -> RegistryError {
    RegistryError::Unknown {
        name: name.to_string(),
        known: list().iter().map(|m| m.name.to_string()).collect(),
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

/// Builds the model registered as `name`.
pub fn create(name: &str, args: &ModelArgs, device: &Device) -> Result<Model, RegistryError> {
    let Some(reg) = registration(name) else {
        return Err(unknown(name));
    };
    let takes = reg.takes;
    if let Some(arg) = args.given().into_iter().find(|a| !takes.contains(a)) {
        return Err(RegistryError::Arg {
            arg: arg.to_string(),
            reason: format!("`{name}` does not take it (it takes {})", takes.join(", ")),
        });
    }
    let build = Build::new(name, &reg.info, args, device)?;
    (reg.build)(&build)
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
    /// published weights (GoogLeNet and Inception v3 then default to
    /// `transform_input = true`, and GoogLeNet's weights come without its
    /// auxiliary heads); default arguments for every other model.
    pub fn weights_args(&self) -> ModelArgs {
        registration(self.name)
            .map(|r| (r.weights_args)())
            .unwrap_or_default()
    }
}

impl ModelInfo {
    /// Whether the model's builder takes the [`ModelArgs`] field `arg`
    /// (`"aux_logits"`: it has auxiliary classifiers).
    pub fn takes(&self, arg: &str) -> bool {
        registration(self.name).is_some_and(|r| r.takes.contains(&arg))
    }

    /// The builder arguments of the course's run of this model (the
    /// course's small VGG-11 for `d2l_vgg11`); default arguments otherwise.
    pub fn course_args(&self) -> ModelArgs {
        registration(self.name)
            .map(|r| (r.course_args)())
            .unwrap_or_default()
    }
}

/// The model of `family` that the course trains (the one with
/// [`ModelInfo::course`] settings), if the family has one.
pub fn course_model(family: &str) -> Option<ModelInfo> {
    list()
        .into_iter()
        .find(|m| m.family == family && m.course.is_some())
}

/// Trainable parameters and multiply-adds (one image at the default
/// input) of the model registered as `name`, built as torchvision builds it
/// for its weights ([`ModelInfo::weights_args`]) and traced on `device`:
/// what torchvision's metadata lists, computed.
pub fn stats(name: &str, device: &Device) -> Result<(usize, u64), RegistryError> {
    let info = info(name).ok_or_else(|| unknown(name))?;
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
