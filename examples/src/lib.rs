//! What the per-architecture examples share: the course's Fashion-MNIST
//! classification run (d2l chapters 7-8) for any registered model, with the
//! fine-tuning recipe of d2l 14.2 (`--weights`, `--freeze-features`).
//!
//! Each binary (`alexnet`, `vgg`, `nin`, `googlenet`, `resnet`, `densenet`)
//! is [`run`] with the course's setting for its family as the defaults,
//! including its initialisation: the course's models start from
//! Xavier-uniform convolution and linear weights, as d2l's `train_ch6` /
//! `init_cnn` draw them (PyTorch's default initialisation leaves the deep
//! sigmoid/ReLU networks without batch norm at chance for hundreds of steps).

pub mod images;
pub mod trained;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use clap::Parser;
use zoo_augment::transforms::{Compose, Transform};
use zoo_datasets::{FashionMnist, ImageBatcher, ImageDataset, Split};
use zoo_models::registry::{self, Model, ModelArgs};
use zoo_models::weights::StateDict;
use zoo_optim::SgdConfig;
use zoo_optim::groups::{AnyOptimizer, GroupOptions, ParamGroupSpec, grouped_optimizer};
use zoo_train::{ClassifyConfig, TrainConfig, fit_with_aux};

/// The course's setting for one family, the defaults of its example, read
/// from the registry (the family's course model, its input side, its
/// `(lr, epochs, batch_size)` and builder arguments): the course's recipe is
/// data in the family's file, not a second copy here.
pub struct Course {
    /// The registry name trained by default.
    pub model: &'static str,
    /// The input side the course resizes Fashion-MNIST to.
    pub input_size: usize,
    /// Learning rate.
    pub lr: f64,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Epochs.
    pub epochs: usize,
    /// Builder arguments beyond the classes and input (the course's small VGG).
    pub args: ModelArgs,
}

impl Course {
    /// The course's setting of `family`, from its registered course model.
    pub fn of(family: &str) -> Result<Self, Failure> {
        let info = registry::course_model(family).ok_or_else(|| {
            Failure::Usage(format!(
                "the family `{family}` has no course model in the registry"
            ))
        })?;
        let c = info.course.expect("a course model has course settings");
        Ok(Self {
            model: info.name,
            input_size: info.input[1],
            lr: c.lr,
            batch_size: c.batch_size,
            epochs: c.epochs,
            args: info.course_args(),
        })
    }
}

/// The flags every classification example takes.
#[derive(Parser, Debug)]
pub struct Flags {
    /// The registry model (default: the course's variant of this family;
    /// torchvision's names, e.g. resnet18, take 3-channel input: the grey
    /// images are repeated to RGB and normalised with ImageNet's statistics).
    #[arg(long)]
    pub model: Option<String>,
    /// Epochs (default: the course's).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Mini-batch size (default: the course's).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// SGD learning rate (default: the course's).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Side the 28x28 images are resized to (default: the course's; shrink it on a CPU).
    #[arg(long)]
    pub input_size: Option<usize>,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    pub device: Option<String>,
    /// Directory of the genuine Fashion-MNIST files (default: the data
    /// directory if `cargo xtask download fashion-mnist` filled it, else the
    /// embedded 10,000/2,000 subset).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Train on a random N of the training images (and test on N/4), for a quick run.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Start from these weights: a torchvision `state_dict` (`.pth`,
    /// `.safetensors`; a classifier for other classes is replaced by a new
    /// one) or a checkpoint of this project (`model.bpk`).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Fine-tuning: train only the classifier, the trunk frozen.
    #[arg(long)]
    pub freeze_features: bool,
    /// Fine-tuning (d2l 14.2): replace the classifier of the --weights
    /// model by a freshly initialised one (the new output layer of the
    /// course's recipe), keeping the trunk.
    #[arg(long, requires = "weights")]
    pub reset_head: bool,
    /// Seed of the initialisation, the subset and the shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where checkpoints, metrics.jsonl and curves.png go (default: `runs/<model>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue from the newest checkpoint in --out.
    #[arg(long)]
    pub resume: bool,
    /// Augment the training batches with a preset: none, flip, crop
    /// (pad 4 + random crop + flip), course (flip, the course's
    /// RandomResizedCrop and ColorJitter), auto / auto-cifar10 / auto-svhn
    /// (AutoAugment), rand (RandAugment) or trivial (TrivialAugmentWide).
    #[arg(long, default_value = "none")]
    pub augment: String,
    /// Fine-tuning (d2l 14.2): the classifier trains at this multiple of
    /// --lr (the course's 10), the trunk at --lr.
    #[arg(long)]
    pub head_lr_mult: Option<f64>,
    /// Train GoogLeNet / Inception v3 with their auxiliary classifiers
    /// (torchvision's weights in the loss: 0.3 each, 0.4).
    #[arg(long)]
    pub aux: bool,
    /// The training recipes (weight averaging, mixing, label smoothing, ensembles).
    #[command(flatten)]
    pub recipes: RecipeFlags,
}

/// The recipe flags every classification example takes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RecipeFlags {
    /// Keep an exponential moving average of the weights with this decay
    /// (e.g. 0.999), updated every step; validation and checkpoints hold it.
    #[arg(long)]
    pub ema: Option<f64>,
    /// Stochastic weight averaging: the equal average of the weights at the
    /// end of each epoch from this epoch (from 1) on.
    #[arg(long, conflicts_with = "ema")]
    pub swa_start: Option<usize>,
    /// Mix the training batches: mixup, cutmix (soft-target cross-entropy)
    /// or pairing (SamplePairing with the paper's schedule scaled to the run).
    #[arg(long)]
    pub mix: Option<String>,
    /// The Beta parameter of mixup / cutmix (default: torchvision's recipe,
    /// 0.2 for mixup, 1.0 for cutmix).
    #[arg(long)]
    pub mix_alpha: Option<f64>,
    /// Label smoothing of the cross-entropy (0 to <1).
    #[arg(long, default_value_t = 0.0)]
    pub label_smoothing: f64,
    /// Instead of training: evaluate these checkpoints (checkpoint
    /// directories, or run directories whose newest checkpoint is taken)
    /// one by one and as an ensemble averaging their softmax outputs.
    #[arg(long, num_args = 1..)]
    pub ensemble: Vec<PathBuf>,
}

impl RecipeFlags {
    /// Sets the recipes on `config` (a run of `epochs` epochs); a bad value
    /// is a usage error naming its flag.
    pub fn apply(&self, config: &mut ClassifyConfig, epochs: usize) -> Result<(), Failure> {
        use zoo_train::recipes::{Averaging, Mix};
        let usage = Failure::Usage;
        config.average = match (self.ema, self.swa_start) {
            (Some(decay), _) => Some(Averaging::Ema { decay }),
            (None, Some(start_epoch)) => Some(Averaging::Swa { start_epoch }),
            (None, None) => None,
        };
        if let Some(a) = &config.average {
            a.validate().map_err(|e| {
                usage(format!(
                    "--{}: {e}",
                    if self.ema.is_some() {
                        "ema"
                    } else {
                        "swa-start"
                    }
                ))
            })?;
        }
        if let Some(start) = self.swa_start
            && start > epochs
        {
            return Err(usage(format!(
                "--swa-start {start}: after the last epoch ({epochs}), so nothing would be averaged; expected 1 to --epochs"
            )));
        }
        if let Some(alpha) = self.mix_alpha {
            if self.mix.is_none() {
                return Err(usage(format!(
                    "--mix-alpha {alpha} without --mix: expected --mix mixup or cutmix beside it"
                )));
            }
            if !(alpha > 0.0 && alpha <= f32::MAX as f64) {
                return Err(usage(format!(
                    "--mix-alpha {alpha}: expected a positive number, finite in float32"
                )));
            }
        }
        config.mix = match &self.mix {
            None => None,
            Some(name) => {
                let alpha = self
                    .mix_alpha
                    .unwrap_or(if name == "cutmix" { 1.0 } else { 0.2 });
                Some(Mix::from_name(name, alpha, epochs).map_err(|e| usage(format!("--mix {e}")))?)
            }
        };
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(usage(format!(
                "--label-smoothing {}: expected a value in [0, 1)",
                self.label_smoothing
            )));
        }
        config.label_smoothing = self.label_smoothing;
        Ok(())
    }
}

/// The checkpoint directory `path` names: itself when it holds `model.bpk`,
/// else the newest `checkpoints/epoch-*` under it.
pub fn checkpoint_dir(path: &std::path::Path) -> Result<PathBuf, String> {
    if path.join("model.bpk").is_file() {
        return Ok(path.to_path_buf());
    }
    trained::newest_checkpoint(path)
        .and_then(|file| file.parent().map(PathBuf::from))
        .ok_or_else(|| {
            format!(
                "{}: no model.bpk there nor under checkpoints/epoch-*: expected a checkpoint or a run directory",
                path.display()
            )
        })
}

/// `--ensemble`: loads each checkpoint's weights into `like` (the run's
/// model structure; `average.bpk` when the checkpoint has one), prints each
/// member's test accuracy and the ensemble's.
pub fn evaluate_ensemble<M: Module + Clone>(
    like: &M,
    identity: &[(&str, String)],
    dirs: &[PathBuf],
    forward: &dyn Fn(&M, Tensor<4>) -> Tensor<2>,
    test: &ImageDataset,
    batcher: &ImageBatcher,
    device: &Device,
) -> Result<(), Failure> {
    let mut members = Vec::with_capacity(dirs.len());
    for d in dirs {
        let dir = checkpoint_dir(d).map_err(Failure::Usage)?;
        let file = if dir.join("average.bpk").is_file() {
            dir.join("average.bpk")
        } else {
            dir.join("model.bpk")
        };
        check_member(&file, identity)?;
        let m = like
            .clone()
            .valid()
            .try_load_file(&file)
            .map_err(|e| Failure::Usage(format!("--ensemble {}: {e}", file.display())))?;
        members.push((file, m));
    }
    let models: Vec<M> = members.iter().map(|(_, m)| m.clone()).collect();
    let (each, together) =
        zoo_train::classify::evaluate_ensemble(&models, forward, test, batcher, device);
    for ((file, _), acc) in members.iter().zip(&each) {
        println!("member {}: test accuracy {acc:.4}", file.display());
    }
    let best = each.iter().cloned().fold(f64::MIN, f64::max);
    println!(
        "ensemble of {} (mean of softmax outputs): test accuracy {together:.4} (best member {best:.4})",
        each.len()
    );
    Ok(())
}

/// Checks an ensemble member `file` against the `state.json` beside it: its
/// bytes (the recorded SHA-256) and what its run recorded for each
/// `(key, value)` of `identity` (the model and its options this run
/// builds). A file without a `state.json` cannot be checked: a warning.
fn check_member(file: &std::path::Path, identity: &[(&str, String)]) -> Result<(), Failure> {
    let info = zoo_train::verified_checkpoint_file(file)
        .map_err(|e| Failure::Usage(format!("--ensemble: {e}")))?;
    let Some(info) = info else {
        eprintln!(
            "warning: {} has no state.json beside it: its bytes and model cannot be verified",
            file.display()
        );
        return Ok(());
    };
    for (key, want) in identity {
        let got = info.get(key).unwrap_or("(not recorded)");
        if got != want {
            return Err(Failure::Usage(format!(
                "--ensemble {}: its run recorded {key} `{got}`, this run builds {key} `{want}` (train the members with the same model flags)",
                file.display()
            )));
        }
    }
    Ok(())
}

/// The training augmentation `preset` for `side x side` images, `None` for
/// `none`; an unknown name is an error listing the presets.
pub fn augmentation(
    preset: &str,
    side: usize,
) -> Result<Option<Arc<dyn Transform + Send + Sync>>, String> {
    let pipeline = Compose::preset(preset, [side, side]).map_err(|e| format!("--augment {e}"))?;
    Ok((!pipeline.transforms.is_empty()).then(|| Arc::new(pipeline) as Arc<_>))
}

/// A random `n` of `set` (all of it when `n` is larger), drawn with `seed`.
fn sample(set: ImageDataset, n: usize, seed: u64) -> ImageDataset {
    if n >= set.len() {
        return set;
    }
    // A small xorshift keeps the examples free of an RNG dependency.
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut idx: Vec<usize> = (0..set.len()).collect();
    for i in (1..idx.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        idx.swap(i, (state % (i as u64 + 1)) as usize);
    }
    idx.truncate(n);
    idx.sort_unstable();
    set.subset(&idx)
}

/// The model with `path`'s weights: a project checkpoint (`.bpk`) as it
/// is, a torchvision `state_dict` through the key translation, with a new
/// classifier when the file's has another number of classes.
fn with_weights(
    name: &str,
    args: &ModelArgs,
    model: Model,
    path: &std::path::Path,
    device: &Device,
) -> Result<Model, String> {
    if path.extension().is_some_and(|e| e == "bpk") {
        return model
            .try_load_file(path)
            .map_err(|e| format!("{}: {e}", path.display()));
    }
    let sd = StateDict::load(path).map_err(|e| e.to_string())?;
    let head = format!("{}.weight", model.head_prefixes()[0]);
    let key = model.torchvision_key(&head);
    let classes = args.num_classes.unwrap_or(10);
    let file_classes = match sd.get(&key).map(|t| t.shape().to_vec()) {
        None => None,
        Some(shape) if shape.len() == 2 && shape[0] > 0 => Some(shape[0]),
        Some(shape) => {
            return Err(format!(
                "{}: `{key}` has shape {shape:?}, expected a classifier weight [classes, features]",
                path.display()
            ));
        }
    };
    match file_classes {
        Some(n) if n != classes => {
            let file_args = ModelArgs {
                num_classes: Some(n),
                ..args.clone()
            };
            let m = registry::create(name, &file_args, device).map_err(|e| e.to_string())?;
            let m = m.load_torchvision(&sd).map_err(|e| e.to_string())?;
            println!(
                "loaded {} ({n} classes); new classifier for {classes}",
                path.display()
            );
            Ok(m.reset_classifier(classes, device))
        }
        _ => {
            let m = model.load_torchvision(&sd).map_err(|e| e.to_string())?;
            println!("loaded {}", path.display());
            Ok(m)
        }
    }
}

/// Why an example stopped.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A flag or input file that cannot be used (exit code 2); the message
    /// names it and what was expected.
    #[error("{0}")]
    Usage(String),
    /// A failure while running (exit code 1), with its cause.
    #[error(transparent)]
    Run(Box<dyn std::error::Error + Send + Sync>),
}

impl Failure {
    /// A failure while running, from an error (its source chain kept) or a message.
    pub fn run(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Failure::Run(e.into())
    }

    /// The process exit code: 2 for usage errors, 1 otherwise.
    pub fn code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Run(_) => 1,
        }
    }
}

/// The process exit code of an example's `result`, the error printed with
/// its causes.
pub fn exit(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut line = format!("error: {e}");
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                let text = c.to_string();
                if !line.contains(&text) {
                    line.push_str(&format!(": {text}"));
                }
                cause = c.source();
            }
            eprintln!("{line}");
            ExitCode::from(e.code())
        }
    }
}

/// The backend named by `--device` (else `$ZOO_DEVICE`, else flex) and its
/// device; an unknown or missing one is a usage error.
pub fn device(flag: Option<&str>) -> Result<(zoo_device::Backend, Device), Failure> {
    let backend = zoo_device::resolve(flag, zoo_device::DEFAULT_DEVICE)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let device = backend
        .device()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    Ok((backend, device))
}

/// Checks the flags every training example takes, each error naming its
/// flag: epochs and batch size positive, the learning rate positive and
/// finite in float32 (the precision the model trains in).
pub fn check_training_flags(epochs: usize, batch_size: usize, lr: f64) -> Result<(), Failure> {
    if epochs == 0 {
        return Err(Failure::Usage("--epochs 0: expected at least 1".into()));
    }
    if batch_size == 0 {
        return Err(Failure::Usage("--batch-size 0: expected at least 1".into()));
    }
    zoo_optim::check_lr(lr).map_err(|e| Failure::Usage(format!("--lr: {e}")))
}

/// Checks that a batch of `batch` images of `channels x side x side` fits
/// a tensor ([`zoo_device::budget`]); the error names `side_flag` (the
/// example's flag for the side) and the size.
pub fn check_batch_size(
    side_flag: &str,
    batch: usize,
    channels: usize,
    side: usize,
) -> Result<(), Failure> {
    if side == 0 {
        return Err(Failure::Usage(format!(
            "{side_flag} 0: expected a positive side"
        )));
    }
    zoo_device::budget::check("a batch of images", &[batch, channels, side, side])
        .map(|_| ())
        .map_err(|e| Failure::Usage(format!("{side_flag} {side} with --batch-size {batch}: {e}")))
}

/// Checks an `--out` PNG path before any work, by the rules
/// `zoo_plot::png::save` applies when writing.
pub fn check_png_out(path: &std::path::Path) -> Result<(), Failure> {
    zoo_plot::png::check_path(path).map_err(|e| Failure::Usage(format!("--out {e}")))
}

/// Checks a learning-rate flag (`flag`, e.g. `--lr-d`): positive and
/// finite in float32; the error names the flag.
pub fn check_lr_flag(flag: &str, lr: f64) -> Result<(), Failure> {
    zoo_optim::check_lr(lr).map_err(|e| Failure::Usage(format!("{flag}: {e}")))
}

/// Checks a count flag (`flag`, e.g. `--iterations`): from 1 to `max`; the
/// error names the flag and the range.
pub fn check_count(flag: &str, value: usize, max: usize) -> Result<(), Failure> {
    if (1..=max).contains(&value) {
        Ok(())
    } else {
        Err(Failure::Usage(format!(
            "{flag} {value}: expected 1 to {max}"
        )))
    }
}

/// A data set read for `split` that holds no images is a usage error
/// naming `--data-dir` and where the set came from.
pub fn check_not_empty(set: &ImageDataset, split: Split) -> Result<(), Failure> {
    if set.is_empty() {
        let part = match split {
            Split::Train => "training",
            Split::Test => "test",
        };
        return Err(Failure::Usage(format!(
            "--data-dir: the {part} set of {} holds no images; expected at least 1",
            set.source()
        )));
    }
    Ok(())
}

/// Fashion-MNIST's `split` from `data_dir` (`--data-dir`; else the
/// downloaded set, else the embedded subset): a set that cannot be read or
/// holds no images is a usage error.
pub fn fashion_mnist(
    data_dir: Option<&std::path::Path>,
    split: Split,
) -> Result<ImageDataset, Failure> {
    let set = FashionMnist::load(data_dir, split).map_err(|e| Failure::Usage(e.to_string()))?;
    check_not_empty(&set, split)?;
    Ok(set)
}

/// Parses the flags and trains `family`'s example with the course's
/// settings from the registry; the process exit code.
pub fn run(family: &str) -> ExitCode {
    run_with(family, &[])
}

/// [`run`], whose `--model` may also name a model of the families `also`
/// (the GoogLeNet example trains Inception v3, its successor, which has no
/// course run of its own).
pub fn run_with(family: &str, also: &[&str]) -> ExitCode {
    let flags = Flags::parse();
    exit(Course::of(family).and_then(|course| train(family, also, &course, &flags)))
}

fn train(family: &str, also: &[&str], course: &Course, flags: &Flags) -> Result<(), Failure> {
    let usage = Failure::Usage;
    let (backend, device) = device(flags.device.as_deref())?;
    let name = flags.model.clone().unwrap_or(course.model.to_string());
    let info = registry::info(&name).ok_or_else(|| {
        usage(format!(
            "no model named `{name}`; `cargo run -p examples --bin summary -- --list` lists them"
        ))
    })?;
    if info.family != family && !also.contains(&info.family) {
        return Err(usage(format!(
            "`{name}` is a {} model; this is the {family} example",
            info.family
        )));
    }
    let side = flags.input_size.unwrap_or(course.input_size);
    if side < info.min_size {
        return Err(usage(format!(
            "--input-size {side}: `{name}` takes images of at least {0}x{0} (torchvision's min_size)",
            info.min_size
        )));
    }
    let epochs = flags.epochs.unwrap_or(course.epochs);
    let batch_size = flags.batch_size.unwrap_or(course.batch_size);
    let lr = flags.lr.unwrap_or(course.lr);
    check_training_flags(epochs, batch_size, lr)?;
    if flags.limit == Some(0) {
        return Err(usage(
            "--limit 0: expected at least 1 training image".into(),
        ));
    }
    let rgb = info.input[0] == 3;
    let mut args = if name == course.model {
        course.args.clone()
    } else {
        ModelArgs::default()
    };
    args.num_classes = Some(10);
    if matches!(name.as_str(), "d2l_lenet" | "d2l_alexnet" | "d2l_vgg11") {
        args.input_size = Some([side, side]);
    }
    if matches!(name.as_str(), "googlenet" | "inception_v3") {
        // Fine-tuning trains the main head; the auxiliary heads stay out
        // unless --aux asks for them.
        args.aux_logits = Some(flags.aux);
    } else if flags.aux {
        return Err(usage(format!(
            "--aux: `{name}` has no auxiliary classifiers (googlenet and inception_v3 have)"
        )));
    }
    if let Some(m) = flags.head_lr_mult
        && !(m > 0.0 && m.is_finite())
    {
        return Err(usage(format!(
            "--head-lr-mult {m}: expected a finite multiple > 0"
        )));
    }

    let load = |split| FashionMnist::load(flags.data_dir.as_deref(), split);
    let (mut train_set, mut test_set) = match (load(Split::Train), load(Split::Test)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return Err(usage(e.to_string())),
    };
    check_not_empty(&train_set, Split::Train)?;
    check_not_empty(&test_set, Split::Test)?;
    if let Some(n) = flags.limit {
        train_set = sample(train_set, n, flags.seed);
        test_set = sample(test_set, n.div_ceil(4), flags.seed.wrapping_add(1));
    }
    check_batch_size(
        "--input-size",
        batch_size.min(train_set.len()),
        info.input[0],
        side,
    )?;
    let mut batcher = ImageBatcher::new();
    if side != 28 {
        batcher = batcher.resize(side, side);
    }

    println!(
        "{name} on Fashion-MNIST ({}: {} train, {} test) at {side}x{side} on {backend}; {epochs} epochs, batch {batch_size}, SGD lr {lr}",
        train_set.source(),
        train_set.len(),
        test_set.len(),
    );

    let train_device = device.clone().autodiff();
    train_device.seed(flags.seed);
    let mut model =
        registry::create(&name, &args, &train_device).map_err(|e| usage(e.to_string()))?;
    // One traced forward of a single image: an input too small for a layer
    // is refused here, naming the layer, not by the backend mid-epoch.
    let rows = registry::summary(&model, [1, info.input[0], side, side], false, &device)
        .map_err(|e| usage(format!("--input-size {side}: {name}: {e}")))?;
    // Batch norm trains on the batch's statistics: a layer that sees a 1x1
    // map of a single image has one value per channel (torch refuses it too).
    let single = rows.iter().find(|r| {
        r.kind.starts_with("BatchNorm") && r.output.iter().skip(2).product::<usize>() == 1
    });
    if let Some(bn) = single
        && batch_size.min(train_set.len()) == 1
    {
        return Err(usage(format!(
            "--batch-size 1: a {} of {name} sees a 1x1 map at --input-size {side}, so one image gives it one value per channel, which batch norm cannot train on; use a batch of at least 2",
            bn.kind
        )));
    }
    if let Some(path) = &flags.weights {
        model = with_weights(&name, &args, model, path, &train_device).map_err(usage)?;
    } else if name.starts_with("d2l_") {
        // The course trains its networks from Xavier-uniform weights.
        model = zoo_layers::init::xavier_uniform_conv_linear(model);
    }
    if flags.reset_head {
        model = model.reset_classifier(10, &train_device);
        println!("new classifier: {}", model.head_prefixes().join(", "));
    }
    if flags.freeze_features {
        model = model.freeze_features();
        println!(
            "trunk frozen: training {} of {} parameters ({})",
            zoo_layers::params::num_trainable_params(&model),
            model.num_params(),
            model.head_prefixes().join(", ")
        );
    }
    // Grey images into an RGB model: the channel repeated, as torchvision's
    // `Grayscale(num_output_channels=3)` does, then ImageNet's normalisation.
    let to_input = move |x: Tensor<4>| {
        if rgb && x.dims()[1] == 1 {
            let d = x.device();
            let mean = Tensor::<1>::from_floats([0.485, 0.456, 0.406], &d).reshape([1, 3, 1, 1]);
            let std = Tensor::<1>::from_floats([0.229, 0.224, 0.225], &d).reshape([1, 3, 1, 1]);
            (x.repeat_dim(1, 3) - mean) / std
        } else {
            x
        }
    };
    let forward = move |m: &Model, x: Tensor<4>| m.forward(to_input(x));
    let aux_forward = move |m: &Model, x: Tensor<4>| m.forward_with_aux(to_input(x));
    if !flags.recipes.ensemble.is_empty() {
        return evaluate_ensemble(
            &model,
            &[("model", name.clone()), ("input_size", side.to_string())],
            &flags.recipes.ensemble,
            &forward,
            &test_set,
            &batcher,
            &device,
        );
    }
    let optim = match flags.head_lr_mult {
        None => SgdConfig::torch_default().init(),
        Some(mult) => {
            let heads: Vec<ParamGroupSpec> = model
                .head_prefixes()
                .iter()
                .map(|p| {
                    ParamGroupSpec::new(
                        *p,
                        GroupOptions {
                            lr: Some(lr * mult),
                            ..Default::default()
                        },
                    )
                })
                .collect();
            let optim = grouped_optimizer(
                &model,
                &AnyOptimizer::Sgd(SgdConfig::torch_default()),
                lr,
                &heads,
            )
            .map_err(|e| usage(format!("--head-lr-mult: {e}")))?;
            println!(
                "parameter groups: {} at lr {}, the rest at lr {lr}",
                model.head_prefixes().join(", "),
                lr * mult
            );
            optim
        }
    };
    let out = flags
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&name));
    let augment = augmentation(&flags.augment, side).map_err(usage)?;
    let show = |p: &Option<PathBuf>| {
        p.as_ref()
            .map_or("none".into(), |p| p.display().to_string())
    };
    let loop_config = TrainConfig {
        seed: flags.seed,
        out_dir: Some(out.clone()),
        resume: flags.resume,
        identity: vec![
            ("model".into(), name.clone()),
            ("input_size".into(), side.to_string()),
            ("data".into(), train_set.source().to_string()),
            ("data_dir".into(), show(&flags.data_dir)),
            ("limit".into(), format!("{:?}", flags.limit)),
            ("weights".into(), show(&flags.weights)),
            ("freeze_features".into(), flags.freeze_features.to_string()),
            ("reset_head".into(), flags.reset_head.to_string()),
            ("augment_preset".into(), flags.augment.clone()),
            ("head_lr_mult".into(), format!("{:?}", flags.head_lr_mult)),
            ("aux".into(), flags.aux.to_string()),
        ],
        ..TrainConfig::new(epochs, batch_size, lr)
    };
    let mut config = ClassifyConfig {
        augment,
        ..ClassifyConfig::new(loop_config)
    };
    flags.recipes.apply(&mut config, epochs)?;
    let outcome = fit_with_aux(
        model,
        optim,
        &forward,
        flags.aux.then_some(&aux_forward as _),
        Arc::new(train_set),
        &test_set,
        &batcher,
        &config,
        &device,
    )
    .map_err(Failure::run)?;
    if let Some(last) = outcome.history.last() {
        println!(
            "after {} epochs: test accuracy {:.3}",
            last.epoch,
            last.get("valid_acc")
        );
        if last.metrics.contains_key("valid_raw_acc") {
            println!(
                "(the averaged weights; the raw weights: test accuracy {:.3})",
                last.get("valid_raw_acc")
            );
        }
    }
    let per_sec = inference_rate(
        &outcome.model.valid(),
        &forward,
        &test_set,
        &batcher,
        batch_size,
        &device,
    );
    println!("inference: {per_sec:.0} images/s on {backend} (batch {batch_size}, test set)");
    println!(
        "checkpoints, metrics.jsonl and curves.png in {}",
        out.display()
    );
    Ok(())
}

/// Images per second of the evaluation-mode forward over `set`, in
/// batches of `batch_size` (the host-side batching included).
pub fn inference_rate<M>(
    model: &M,
    forward: &dyn Fn(&M, Tensor<4>) -> Tensor<2>,
    set: &ImageDataset,
    batcher: &ImageBatcher,
    batch_size: usize,
    device: &Device,
) -> f64 {
    let indices: Vec<usize> = (0..set.len()).collect();
    let start = Instant::now();
    for chunk in indices.chunks(batch_size.max(1)) {
        let batch = batcher.batch_indices(set, chunk, device);
        let _ = forward(model, batch.images);
    }
    let _ = device.sync();
    set.len() as f64 / start.elapsed().as_secs_f64()
}
