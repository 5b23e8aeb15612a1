//! torchvision's multi-weight API (`torchvision.models.get_model_weights`,
//! `get_weight`, `Weights`): every published weights file of the zoo's
//! torchvision models as a [`WeightsEntry`] (URL, SHA-256 prefix, the preset
//! transform's numbers, categories, metrics, parameters, GFLOPS, file size,
//! minimum input, recipe), the model's `DEFAULT`, the category lists
//! ([`categories`]), a cache as torch.hub keeps one ([`hub`]), and one call
//! that gives a ready model with its weights entry and categories on a
//! device ([`load_classifier`], [`load_fcn`]); [`WeightsEntry::transforms`]
//! is torchvision's `weights.transforms()` (`zoo_augment::inference`).
//!
//! The entries are torchvision 0.29.2's, generated from its source by
//! `scripts/make_pretrained_entries.py` (`entries.rs`): every member of each
//! `*_Weights` enum (`IMAGENET1K_V1`, `IMAGENET1K_V2`, VGG-16's
//! `IMAGENET1K_FEATURES`, the FCNs' `COCO_WITH_VOC_LABELS_V1`) of every
//! model of [`crate::registry`] that has published weights, and of
//! `fcn_resnet50` / `fcn_resnet101`. The registry's [`WeightsInfo`] (the
//! `IMAGENET1K_V1` numbers) is checked equal to these entries by the tests.
//!
//! ```
//! use zoo_models::pretrained::{self, Metrics, PresetSpec};
//! let v2 = pretrained::get_weight("ResNet50_Weights.IMAGENET1K_V2").unwrap();
//! assert_eq!(pretrained::default_weights("resnet50").unwrap(), v2);
//! assert_eq!(v2.metrics.get("acc@1"), Some(80.858));
//! assert!(matches!(v2.preset, PresetSpec::Classification { crop_size: 224, resize_size: 232, .. }));
//! assert_eq!(v2.category_names()[1], "goldfish");
//! assert_eq!(pretrained::weights("resnet50").unwrap().len(), 2);
//! let e = pretrained::weights("resnet5O").unwrap_err();
//! assert!(e.to_string().contains("resnet50"), "{e}");
//! ```
//!
//! [`WeightsInfo`]: crate::registry::WeightsInfo

pub mod categories;
mod entries;
pub mod hub;
mod transforms;

use std::fmt;
use std::path::{Path, PathBuf};

use burn::tensor::Device;

use crate::fcn::{Fcn, FcnConfig};
use crate::registry::{self, Model, ModelArgs, RegistryError};
use crate::weights::{StateDict, WeightsError};

pub use categories::Categories;
pub use hub::{FetchOptions, HubError};

use entries::{MODELS, ModelWeights};

/// The resampling of a preset's resize (torchvision's `InterpolationMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Interpolation {
    /// `InterpolationMode.BILINEAR`.
    Bilinear,
    /// `InterpolationMode.BICUBIC`.
    Bicubic,
}

impl Interpolation {
    /// torchvision's value: `"bilinear"`, `"bicubic"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bilinear => "bilinear",
            Self::Bicubic => "bicubic",
        }
    }
}

/// The numbers of a weights entry's preset transform
/// (`torchvision/transforms/_presets.py`), as plain data: what an image must
/// go through before the model sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PresetSpec {
    /// `ImageClassification`: resize the shorter side to `resize_size`
    /// (antialiased), centre-crop `crop_size`, scale to [0, 1], normalise.
    Classification {
        /// The side of the centre crop.
        crop_size: usize,
        /// The shorter side after resizing.
        resize_size: usize,
        /// The resize's resampling.
        interpolation: Interpolation,
        /// The per-channel mean subtracted (RGB).
        mean: [f64; 3],
        /// The per-channel standard deviation divided by (RGB).
        std: [f64; 3],
    },
    /// `SemanticSegmentation`: resize the shorter side to `resize_size`
    /// (none: keep the size), scale to [0, 1], normalise.
    Segmentation {
        /// The shorter side after resizing.
        resize_size: Option<usize>,
        /// The resize's resampling.
        interpolation: Interpolation,
        /// The per-channel mean subtracted (RGB).
        mean: [f64; 3],
        /// The per-channel standard deviation divided by (RGB).
        std: [f64; 3],
    },
    /// `ObjectDetection`: scale to [0, 1] (the model resizes and normalises).
    Detection,
}

/// A weights entry's published metrics, under torchvision's `_metrics`
/// names.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metrics {
    /// `"ImageNet-1K"`: top-1 / top-5 accuracy (%), `acc@1` / `acc@5` (NaN
    /// where torchvision gives NaN: VGG-16's feature-only weights).
    ImageNet {
        /// `acc@1`.
        acc1: f64,
        /// `acc@5`.
        acc5: f64,
    },
    /// `"COCO-val2017-VOC-labels"`: mean IoU and pixel accuracy (%),
    /// `miou` / `pixel_acc`.
    CocoVoc {
        /// `miou`.
        miou: f64,
        /// `pixel_acc`.
        pixel_acc: f64,
    },
    /// `"COCO-val2017"`: box mAP and, for instance segmentation, mask mAP,
    /// `box_map` / `mask_map`.
    Coco {
        /// `box_map`.
        box_map: f64,
        /// `mask_map`.
        mask_map: Option<f64>,
    },
}

impl Metrics {
    /// torchvision's data-set key (`"ImageNet-1K"`, ...).
    pub fn dataset(&self) -> &'static str {
        match self {
            Self::ImageNet { .. } => "ImageNet-1K",
            Self::CocoVoc { .. } => "COCO-val2017-VOC-labels",
            Self::Coco { .. } => "COCO-val2017",
        }
    }

    /// The metrics as torchvision names them, with their values.
    pub fn values(&self) -> Vec<(&'static str, f64)> {
        match *self {
            Self::ImageNet { acc1, acc5 } => vec![("acc@1", acc1), ("acc@5", acc5)],
            Self::CocoVoc { miou, pixel_acc } => vec![("miou", miou), ("pixel_acc", pixel_acc)],
            Self::Coco { box_map, mask_map } => std::iter::once(("box_map", box_map))
                .chain(mask_map.map(|m| ("mask_map", m)))
                .collect(),
        }
    }

    /// One metric by torchvision's name (`"acc@1"`, `"miou"`, `"box_map"`).
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }
}

/// One member of a torchvision weights enum (`ResNet50_Weights.IMAGENET1K_V2`):
/// where the file is and how to check it, how to feed the model, what it
/// predicts and how well.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightsEntry {
    /// The builder's name (`resnet50`; a [`registry`] name for classifiers).
    pub model: &'static str,
    /// The enum's name (`ResNet50_Weights`).
    pub enum_name: &'static str,
    /// The member's name (`IMAGENET1K_V2`).
    pub tag: &'static str,
    /// The download URL.
    pub url: &'static str,
    /// The hex digits the file's SHA-256 begins with (carried in its name,
    /// checked as torch.hub's `check_hash` does).
    pub sha256_prefix: &'static str,
    /// The preset transform's numbers.
    pub preset: PresetSpec,
    /// The categories the outputs are (`None`: feature-only weights).
    pub categories: Option<Categories>,
    /// The published metrics.
    pub metrics: Metrics,
    /// Parameters (`meta["num_params"]`).
    pub num_params: usize,
    /// GFLOPS at the preset's input (`meta["_ops"]`, multiply-adds).
    pub gflops: f64,
    /// The file's size in MB (`meta["_file_size"]`).
    pub file_size_mb: f64,
    /// The smallest input `[H, W]` (`meta["min_size"]`).
    pub min_size: [usize; 2],
    /// The training recipe (`meta["recipe"]`), where torchvision gives one.
    pub recipe: Option<&'static str>,
}

impl WeightsEntry {
    /// torchvision's full name: `ResNet50_Weights.IMAGENET1K_V2`.
    pub fn name(&self) -> String {
        format!("{}.{}", self.enum_name, self.tag)
    }

    /// The file's name in the cache (the URL's last segment).
    pub fn file_name(&self) -> &'static str {
        self.url.rsplit('/').next().unwrap_or(self.url)
    }

    /// The category names, by output index (empty for feature-only weights).
    pub fn category_names(&self) -> &'static [&'static str] {
        self.categories.map_or(&[], Categories::names)
    }

    /// Whether this is its model's `DEFAULT`.
    pub fn is_default(&self) -> bool {
        table(self.model).is_some_and(|t| t.default == self.tag)
    }

    /// The number of outputs (classes) of a model with these weights
    /// (`len(meta["categories"])`), when it predicts categories.
    pub fn num_classes(&self) -> Option<usize> {
        self.categories.map(|c| c.names().len())
    }
}

impl fmt::Display for WeightsEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        for (name, value) in self.metrics.values() {
            write!(f, " {name} {value}")?;
        }
        write!(
            f,
            " ({} params, {} GFLOPS, {} MB)",
            self.num_params, self.gflops, self.file_size_mb
        )
    }
}

/// Why a weights entry, a model or its weights could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PretrainedError {
    /// No model of this name has published weights (or, for
    /// [`load_classifier_file`], is registered).
    #[error("no model named `{name}` {what}; {}", suggest(close, known))]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// What was looked in.
        what: &'static str,
        /// The names closest to it (edit distance), best first.
        close: Vec<String>,
        /// Every name there is.
        known: Vec<String>,
    },
    /// The model has no weights of this tag.
    #[error("`{model}` has no weights `{tag}`; it has {} (or DEFAULT = {default})", tags.join(", "))]
    UnknownTag {
        /// The model.
        model: String,
        /// The tag asked for.
        tag: String,
        /// Its tags.
        tags: Vec<String>,
        /// The tag `DEFAULT` stands for.
        default: String,
    },
    /// A weights name that is not `Enum.TAG`, or whose enum is unknown.
    #[error(
        "no weights enum `{name}`: expected `<Enum>.<TAG>` such as `ResNet50_Weights.IMAGENET1K_V2`; {}",
        suggest(close, known)
    )]
    UnknownWeights {
        /// The name asked for.
        name: String,
        /// The enum names closest to it.
        close: Vec<String>,
        /// Every enum name there is.
        known: Vec<String>,
    },
    /// The weights are of another kind of model than the loader builds.
    #[error("`{name}` are {kind} weights; {hint}")]
    WrongLoader {
        /// The weights' name.
        name: String,
        /// What they are for.
        kind: &'static str,
        /// The loader to use.
        hint: &'static str,
    },
    /// The file could not be had.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// The file does not fit the model (another architecture or class
    /// count: the first key whose shape differs, with both shapes).
    #[error("{}", weights_message(path, model, source))]
    Weights {
        /// The file.
        path: PathBuf,
        /// The model it was loaded into.
        model: String,
        /// What did not fit.
        #[source]
        source: Box<WeightsError>,
    },
    /// The model could not be built.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

fn weights_message(path: &Path, model: &str, source: &WeightsError) -> String {
    match source {
        // These name the file themselves.
        WeightsError::Io { .. } | WeightsError::Format { .. } => source.to_string(),
        _ => format!(
            "{}: {source} (not a state_dict of `{model}` as built)",
            path.display()
        ),
    }
}

fn suggest(close: &[String], known: &[String]) -> String {
    if close.is_empty() {
        format!("there are: {}", known.join(", "))
    } else {
        format!("did you mean {}?", close.join(", "))
    }
}

/// Levenshtein distance, case-insensitive.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = (diag + usize::from(ca != cb)).min(up + 1).min(row[j] + 1);
            diag = up;
        }
    }
    row[b.len()]
}

/// The names within edit distance `max(2, len / 3)` of `name`, closest
/// first (at most 5).
pub fn close_names<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let limit = (name.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = known
        .into_iter()
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(5)
        .map(|(_, k)| k.to_string())
        .collect()
}

fn table(model: &str) -> Option<&'static ModelWeights> {
    MODELS.iter().find(|m| m.model == model)
}

fn unknown_model(name: &str) -> PretrainedError {
    let known: Vec<String> = models().map(str::to_string).collect();
    PretrainedError::UnknownModel {
        name: name.to_string(),
        what: "with published weights",
        close: close_names(name, models()),
        known,
    }
}

/// The models with published weights, the registry's order, then the FCNs.
pub fn models() -> impl Iterator<Item = &'static str> {
    MODELS.iter().map(|m| m.model)
}

/// Every weights entry.
pub fn all() -> impl Iterator<Item = &'static WeightsEntry> {
    MODELS.iter().flat_map(|m| m.entries.iter())
}

/// A model's weights (torchvision's `get_model_weights(name)`), in
/// torchvision's order (`IMAGENET1K_V1` first). An unknown name's error
/// lists the close names.
pub fn weights(model: &str) -> Result<&'static [WeightsEntry], PretrainedError> {
    table(model)
        .map(|t| t.entries)
        .ok_or_else(|| unknown_model(model))
}

/// A model's `DEFAULT` weights (the best published: `IMAGENET1K_V2` where
/// there is one).
pub fn default_weights(model: &str) -> Result<&'static WeightsEntry, PretrainedError> {
    weight(model, "DEFAULT")
}

/// A model's weights of one tag (`"IMAGENET1K_V1"`; `"DEFAULT"` stands for
/// the default).
pub fn weight(model: &str, tag: &str) -> Result<&'static WeightsEntry, PretrainedError> {
    let t = table(model).ok_or_else(|| unknown_model(model))?;
    let tag = if tag == "DEFAULT" { t.default } else { tag };
    t.entries
        .iter()
        .find(|e| e.tag == tag)
        .ok_or_else(|| PretrainedError::UnknownTag {
            model: model.to_string(),
            tag: tag.to_string(),
            tags: t.entries.iter().map(|e| e.tag.to_string()).collect(),
            default: t.default.to_string(),
        })
}

/// Weights by torchvision's full name (`get_weight`):
/// `"ResNet50_Weights.IMAGENET1K_V2"`, or `"ResNet50_Weights.DEFAULT"`.
pub fn get_weight(name: &str) -> Result<&'static WeightsEntry, PretrainedError> {
    let enums = || MODELS.iter().map(|m| m.enum_name);
    let unknown = |looked: &str| PretrainedError::UnknownWeights {
        name: name.to_string(),
        close: close_names(looked, enums()),
        known: enums().map(str::to_string).collect(),
    };
    let Some((enum_name, tag)) = name.split_once('.') else {
        return Err(unknown(name));
    };
    let t = MODELS
        .iter()
        .find(|m| m.enum_name == enum_name)
        .ok_or_else(|| unknown(enum_name))?;
    weight(t.model, tag)
}

/// The weights a name stands for: a model's name (its `DEFAULT`),
/// `model.TAG` (`resnet50.IMAGENET1K_V1`), or torchvision's full name
/// (`ResNet50_Weights.IMAGENET1K_V1`).
pub fn resolve(model_or_weights: &str) -> Result<&'static WeightsEntry, PretrainedError> {
    match model_or_weights.split_once('.') {
        None => default_weights(model_or_weights),
        Some((head, tag)) if table(head).is_some() => weight(head, tag),
        Some(_) => get_weight(model_or_weights),
    }
}

/// A model with its weights loaded: what [`load_classifier`] and
/// [`load_fcn`] return.
#[derive(Debug)]
pub struct Pretrained<M = Model> {
    /// The model, weights loaded, on the device asked for (in training
    /// mode as built: call `valid()` for inference on an autodiff device).
    pub model: M,
    /// The weights entry (`None` for a user's file).
    pub entry: Option<&'static WeightsEntry>,
    /// The category of each output index (empty where unknown: feature-only
    /// weights, a user's file).
    pub categories: &'static [&'static str],
}

impl<M> Pretrained<M> {
    /// The preset transform's numbers (`None` for a user's file).
    pub fn preset(&self) -> Option<PresetSpec> {
        self.entry.map(|e| e.preset)
    }
}

/// A registry classifier with torchvision's published weights, fetched
/// through the cache ([`hub::fetch`] with default options): `"resnet50"`
/// (its `DEFAULT`), `"resnet50.IMAGENET1K_V1"` or
/// `"ResNet50_Weights.IMAGENET1K_V1"`. Built with the arguments torchvision
/// builds it with for its weights ([`registry::ModelInfo::weights_args`]).
pub fn load_classifier(
    model_or_weights: &str,
    device: &Device,
) -> Result<Pretrained, PretrainedError> {
    load_classifier_with(model_or_weights, device, &FetchOptions::default())
}

/// [`load_classifier`] with the cache's options (folder, mirror, offline,
/// progress).
pub fn load_classifier_with(
    model_or_weights: &str,
    device: &Device,
    options: &FetchOptions,
) -> Result<Pretrained, PretrainedError> {
    let entry = resolve(model_or_weights)?;
    let info = registry::info(entry.model).ok_or_else(|| wrong_loader(entry))?;
    let path = hub::fetch(entry, options)?;
    let sd = read(&path, entry.model)?;
    let model = registry::create(entry.model, &info.weights_args(), device)?;
    let model = model
        .load_torchvision(&sd)
        .map_err(|source| weights_error(&path, entry.model, source))?;
    Ok(Pretrained {
        model,
        entry: Some(entry),
        categories: entry.category_names(),
    })
}

fn read(path: &Path, model: &str) -> Result<StateDict, PretrainedError> {
    StateDict::load(path).map_err(|source| weights_error(path, model, source))
}

fn weights_error(path: &Path, model: &str, source: WeightsError) -> PretrainedError {
    PretrainedError::Weights {
        path: path.to_path_buf(),
        model: model.to_string(),
        source: Box::new(source),
    }
}

/// A registry model (`"resnet18"`, `"d2l_lenet"`, ...) with the weights of
/// a user's `state_dict` file (`.pth` / `.safetensors` with torchvision's
/// keys, as [`crate::weights`] reads them). The class count is read from
/// the file's classifier weight (the first of the model's head prefixes,
/// `fc.weight` for ResNet), and for GoogLeNet / Inception v3 whether the
/// file holds the auxiliary heads; everything else is the model's
/// published-weights arguments (torchvision's models) or its defaults. A
/// file of another architecture fails with the first key whose shape
/// differs (or is missing) and both shapes.
pub fn load_classifier_file(
    name: &str,
    path: &Path,
    device: &Device,
) -> Result<Pretrained, PretrainedError> {
    let info = registry::info(name).ok_or_else(|| {
        let known: Vec<String> = registry::list()
            .iter()
            .map(|m| m.name.to_string())
            .collect();
        PretrainedError::UnknownModel {
            name: name.to_string(),
            what: "in the registry",
            close: close_names(name, known.iter().map(String::as_str)),
            known,
        }
    })?;
    let sd = read(path, name)?;
    let mut args = if info.weights.is_some() {
        info.weights_args()
    } else {
        ModelArgs::default()
    };
    // The key names come from a model as built: the head's key, and the
    // auxiliary heads' (for the families that have them).
    let probe = registry::create(name, &args, device)?;
    let heads: Vec<String> = probe
        .head_prefixes()
        .iter()
        .map(|h| probe.torchvision_key(&format!("{h}.weight")))
        .collect();
    let classes = heads
        .first()
        .and_then(|k| sd.get(k))
        .and_then(|t| t.shape().first().copied());
    let aux = heads.iter().skip(1).any(|k| sd.get(k).is_some());
    // GoogLeNet's and Inception v3's builders default to their auxiliary
    // heads (torchvision's `aux_logits=True`).
    let takes_aux = info.takes("aux_logits");
    let rebuild = takes_aux && args.aux_logits.unwrap_or(true) != aux;
    if takes_aux {
        args.aux_logits = Some(aux);
    }
    let model = match classes {
        Some(n) if n != info.num_classes || rebuild => {
            args.num_classes = Some(n);
            registry::create(name, &args, device)?
        }
        _ if rebuild => registry::create(name, &args, device)?,
        _ => probe,
    };
    let model = model
        .load_torchvision(&sd)
        .map_err(|source| weights_error(path, name, source))?;
    Ok(Pretrained {
        model,
        entry: None,
        categories: &[],
    })
}

/// `fcn_resnet50` / `fcn_resnet101` with torchvision's
/// `COCO_WITH_VOC_LABELS_V1` weights, fetched through the cache: built as
/// torchvision builds it for them (21 classes, the auxiliary head).
/// Accepts the names [`resolve`] does.
pub fn load_fcn(
    model_or_weights: &str,
    device: &Device,
) -> Result<Pretrained<Fcn>, PretrainedError> {
    load_fcn_with(model_or_weights, device, &FetchOptions::default())
}

/// [`load_fcn`] with the cache's options.
pub fn load_fcn_with(
    model_or_weights: &str,
    device: &Device,
    options: &FetchOptions,
) -> Result<Pretrained<Fcn>, PretrainedError> {
    let entry = resolve(model_or_weights)?;
    let depth = fcn_depth(entry.model).ok_or_else(|| wrong_loader(entry))?;
    let path = hub::fetch(entry, options)?;
    let sd = read(&path, entry.model)?;
    let classes = entry.num_classes().unwrap_or(21);
    let model = FcnConfig::new(depth)
        .with_num_classes(classes)
        .with_aux_loss(true)
        .init(device)
        .load_torch(&sd)
        .map_err(|source| weights_error(&path, entry.model, source))?;
    Ok(Pretrained {
        model,
        entry: Some(entry),
        categories: entry.category_names(),
    })
}

/// `fcn_resnet50` / `fcn_resnet101` with a user's `state_dict` file
/// (torchvision's keys): the class count from `classifier.4.weight`, the
/// auxiliary head when the file has `aux_classifier.*`.
pub fn load_fcn_file(
    name: &str,
    path: &Path,
    device: &Device,
) -> Result<Pretrained<Fcn>, PretrainedError> {
    let fcns = ["fcn_resnet50", "fcn_resnet101"];
    let depth = fcn_depth(name).ok_or_else(|| PretrainedError::UnknownModel {
        name: name.to_string(),
        what: "among the segmentation models",
        close: close_names(name, fcns),
        known: fcns.iter().map(|s| s.to_string()).collect(),
    })?;
    let sd = read(path, name)?;
    let head = Fcn::torch_key("classifier.out.weight");
    let classes = sd
        .get(&head)
        .and_then(|t| t.shape().first().copied())
        .unwrap_or(21);
    let aux = sd.keys().any(|k| k.starts_with("aux_classifier."));
    let model = FcnConfig::new(depth)
        .with_num_classes(classes)
        .with_aux_loss(aux)
        .init(device)
        .load_torch(&sd)
        .map_err(|source| weights_error(path, name, source))?;
    Ok(Pretrained {
        model,
        entry: None,
        categories: &[],
    })
}

/// The error of a loader given weights of another kind, naming the loader
/// for their kind (by their preset).
fn wrong_loader(entry: &WeightsEntry) -> PretrainedError {
    let (kind, hint) = match entry.preset {
        PresetSpec::Classification { .. } => (
            "classification",
            "load them with `pretrained::load_classifier`",
        ),
        PresetSpec::Segmentation { .. } => {
            ("segmentation", "load them with `pretrained::load_fcn`")
        }
        PresetSpec::Detection => (
            "detection",
            "build the detector with zoo-detect's `rcnn::models` and load them with its `load_torch`",
        ),
    };
    PretrainedError::WrongLoader {
        name: entry.name(),
        kind,
        hint,
    }
}

fn fcn_depth(model: &str) -> Option<usize> {
    match model {
        "fcn_resnet50" => Some(50),
        "fcn_resnet101" => Some(101),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_is_levenshtein() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("resnet50", "ResNet50"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(close_names("resnet5", models())[0], "resnet50");
        assert!(close_names("transformer", models()).is_empty());
    }

    #[test]
    fn every_model_has_its_default_and_unique_tags() {
        for m in MODELS {
            assert!(m.entries.iter().any(|e| e.tag == m.default), "{}", m.model);
            for (i, e) in m.entries.iter().enumerate() {
                assert_eq!((e.model, e.enum_name), (m.model, m.enum_name));
                assert!(m.entries[..i].iter().all(|o| o.tag != e.tag));
                assert_eq!(hub::hash_prefix(e.file_name()), Some(e.sha256_prefix));
            }
        }
    }

    #[test]
    fn names_resolve_as_torchvision_resolves_them() {
        let v1 = resolve("ResNet50_Weights.IMAGENET1K_V1").unwrap();
        assert_eq!(v1.tag, "IMAGENET1K_V1");
        assert_eq!(resolve("resnet50.IMAGENET1K_V1").unwrap(), v1);
        assert_eq!(resolve("resnet50").unwrap().tag, "IMAGENET1K_V2");
        assert_eq!(
            get_weight("ResNet50_Weights.DEFAULT").unwrap().tag,
            "IMAGENET1K_V2"
        );
        let e = get_weight("ResNet50_Weight.IMAGENET1K_V1").unwrap_err();
        assert!(e.to_string().contains("ResNet50_Weights"), "{e}");
        let e = weight("resnet50", "IMAGENET1K_V3").unwrap_err();
        assert!(
            e.to_string().contains("IMAGENET1K_V1, IMAGENET1K_V2"),
            "{e}"
        );
    }
}
