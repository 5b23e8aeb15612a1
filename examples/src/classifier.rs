//! The course's Fashion-MNIST classification run (d2l chapters 7-8) for any
//! registered model: a [`Plan`] (its steps [`Plan::data`], [`Plan::model`], [`Plan::fit`]) with the course's settings from the registry
//! ([`Course`]), the fine-tuning recipe of d2l 14.2 (`--weights`,
//! `--freeze-features`, `--reset-head`), and the inference rate.

use crate::cli::{
    Failure, augmentation, check_batch_size, check_not_empty, check_training_flags, device,
};
use crate::recipes::{RecipeFlags, evaluate_ensemble};
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use clap::Parser;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
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

/// What a classification example trains, checked: the model (the course's
/// or `--model`), its registration, the input side and the loop's settings,
/// the course's defaults where a flag is absent. The steps of a run are its
/// methods, in order: [`Plan::data`], [`Plan::model`], [`Plan::fit`].
pub struct Plan {
    /// The registry name trained.
    pub name: String,
    /// Its registration.
    pub info: registry::ModelInfo,
    /// Its builder arguments (10 classes, the input side where it takes one).
    pub args: ModelArgs,
    /// The input side the 28x28 images are resized to.
    pub side: usize,
    /// Epochs.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// SGD learning rate.
    pub lr: f64,
    /// The device's name, as printed.
    pub backend: zoo_device::Backend,
    /// The device.
    pub device: Device,
}

/// The training and test images and how they are batched.
pub struct Data {
    /// The training set (`--limit` of it, if asked).
    pub train: ImageDataset,
    /// The test set.
    pub test: ImageDataset,
    /// The batcher (resizing to the plan's side).
    pub batcher: ImageBatcher,
}

impl Plan {
    /// Checks the flags against the course's setting of `family`; `--model`
    /// may name a model of `family` or of the families `also` (the
    /// GoogLeNet example trains Inception v3, its successor). What a model
    /// accepts (its input side, auxiliary heads, minimum size) is read from
    /// its registration.
    pub fn new(family: &str, also: &[&str], flags: &Flags) -> Result<Self, Failure> {
        let course = Course::of(family)?;
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
        let mut args = if name == course.model {
            course.args.clone()
        } else {
            ModelArgs::default()
        };
        args.num_classes = Some(10);
        if info.takes("input_size") {
            args.input_size = Some([side, side]);
        }
        if info.takes("aux_logits") {
            // Fine-tuning trains the main head; the auxiliary heads stay out
            // unless --aux asks for them.
            args.aux_logits = Some(flags.aux);
        } else if flags.aux {
            let with: Vec<String> = registry::list()
                .into_iter()
                .filter(|m| m.takes("aux_logits"))
                .map(|m| m.name.to_string())
                .collect();
            return Err(usage(format!(
                "--aux: `{name}` has no auxiliary classifiers ({} have)",
                with.join(" and ")
            )));
        }
        if let Some(m) = flags.head_lr_mult
            && !(m > 0.0 && m.is_finite())
        {
            return Err(usage(format!(
                "--head-lr-mult {m}: expected a finite multiple > 0"
            )));
        }
        Ok(Self {
            name,
            info,
            args,
            side,
            epochs,
            batch_size,
            lr,
            backend,
            device,
        })
    }

    /// Fashion-MNIST (`--data-dir`, the download, or the embedded subset),
    /// `--limit` of it, batched at the plan's side; prints what trains.
    pub fn data(&self, flags: &Flags) -> Result<Data, Failure> {
        let load = |split| FashionMnist::load(flags.data_dir.as_deref(), split);
        let (mut train, mut test) = match (load(Split::Train), load(Split::Test)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return Err(Failure::Usage(e.to_string())),
        };
        check_not_empty(&train, Split::Train)?;
        check_not_empty(&test, Split::Test)?;
        if let Some(n) = flags.limit {
            train = sample(train, n, flags.seed);
            test = sample(test, n.div_ceil(4), flags.seed.wrapping_add(1));
        }
        check_batch_size(
            "--input-size",
            self.batch_size.min(train.len()),
            self.info.input[0],
            self.side,
        )?;
        let mut batcher = ImageBatcher::new();
        if self.side != 28 {
            batcher = batcher.resize(self.side, self.side);
        }
        println!(
            "{} on Fashion-MNIST ({}: {} train, {} test) at {side}x{side} on {}; {} epochs, batch {}, SGD lr {}",
            self.name,
            train.source(),
            train.len(),
            test.len(),
            self.backend,
            self.epochs,
            self.batch_size,
            self.lr,
            side = self.side,
        );
        Ok(Data {
            train,
            test,
            batcher,
        })
    }

    /// The model from the registry on the training (autodiff) device, seeded:
    /// Xavier-uniform as the course initialises its networks, or
    /// `--weights`; then `--reset-head` and `--freeze-features`. A side too
    /// small for a layer, or a batch norm that would see one value, is
    /// refused here, naming the layer.
    pub fn model(&self, flags: &Flags, data: &Data) -> Result<Model, Failure> {
        let usage = Failure::Usage;
        let (name, side, device) = (&self.name, self.side, &self.device);
        let train_device = device.clone().autodiff();
        train_device.seed(flags.seed);
        let mut model =
            registry::create(name, &self.args, &train_device).map_err(|e| usage(e.to_string()))?;
        // One traced forward of a single image: an input too small for a layer
        // is refused here, naming the layer, not by the backend mid-epoch.
        let rows = registry::summary(&model, [1, self.info.input[0], side, side], false, device)
            .map_err(|e| usage(format!("--input-size {side}: {name}: {e}")))?;
        // Batch norm trains on the batch's statistics: a layer that sees a 1x1
        // map of a single image has one value per channel (torch refuses it too).
        let single = rows.iter().find(|r| {
            r.kind.starts_with("BatchNorm") && r.output.iter().skip(2).product::<usize>() == 1
        });
        if let Some(bn) = single
            && self.batch_size.min(data.train.len()) == 1
        {
            return Err(usage(format!(
                "--batch-size 1: a {} of {name} sees a 1x1 map at --input-size {side}, so one image gives it one value per channel, which batch norm cannot train on; use a batch of at least 2",
                bn.kind
            )));
        }
        if flags.aux {
            // The auxiliary classifiers run in training only: trace them once
            // too (Inception v3's pools a 17x17 map at 299 to 5x5; at a small
            // side nothing is left).
            let x = Tensor::<4>::zeros([2, self.info.input[0], side, side], &train_device);
            zoo_layers::trace::try_record(false, || model.forward_with_aux(x)).map_err(|e| {
                usage(format!(
                    "--aux at --input-size {side}: {name}'s auxiliary classifier: {e}"
                ))
            })?;
        }
        if let Some(path) = &flags.weights {
            model = with_weights(name, &self.args, model, path, &train_device).map_err(usage)?;
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
        Ok(model)
    }

    /// Trains `model` with the loop (SGD, or parameter groups with
    /// `--head-lr-mult`; the recipes; checkpoints, `metrics.jsonl` and
    /// `curves.png` under `--out`, default `runs/<model>`), prints the final
    /// test accuracy and the inference rate; with `--ensemble`, evaluates the
    /// ensemble instead.
    pub fn fit(&self, model: Model, data: Data, flags: &Flags) -> Result<(), Failure> {
        let usage = Failure::Usage;
        let (name, side, lr, device) = (&self.name, self.side, self.lr, &self.device);
        let channels = self.info.input[0];
        let to_input = move |x: Tensor<4>| model_input(x, channels);
        let forward = move |m: &Model, x: Tensor<4>| m.forward(to_input(x));
        let aux_forward = move |m: &Model, x: Tensor<4>| m.forward_with_aux(to_input(x));
        let Data {
            train,
            test,
            batcher,
        } = data;
        if !flags.recipes.ensemble.is_empty() {
            return evaluate_ensemble(
                &model,
                &[("model", name.clone()), ("input_size", side.to_string())],
                &flags.recipes.ensemble,
                &forward,
                &test,
                &batcher,
                device,
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
            .unwrap_or_else(|| PathBuf::from("runs").join(name));
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
                ("data".into(), train.source().to_string()),
                ("data_dir".into(), show(&flags.data_dir)),
                ("limit".into(), format!("{:?}", flags.limit)),
                ("weights".into(), show(&flags.weights)),
                ("freeze_features".into(), flags.freeze_features.to_string()),
                ("reset_head".into(), flags.reset_head.to_string()),
                ("augment_preset".into(), flags.augment.clone()),
                ("head_lr_mult".into(), format!("{:?}", flags.head_lr_mult)),
                ("aux".into(), flags.aux.to_string()),
            ],
            ..TrainConfig::new(self.epochs, self.batch_size, lr)
        };
        let mut config = ClassifyConfig {
            augment,
            ..ClassifyConfig::new(loop_config)
        };
        flags.recipes.apply(&mut config, self.epochs)?;
        let outcome = fit_with_aux(
            model,
            optim,
            &forward,
            flags.aux.then_some(&aux_forward as _),
            Arc::new(train),
            &test,
            &batcher,
            &config,
            device,
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
            &test,
            &batcher,
            self.batch_size,
            device,
        );
        println!(
            "inference: {per_sec:.0} images/s on {} (batch {}, test set)",
            self.backend, self.batch_size
        );
        println!(
            "checkpoints, metrics.jsonl and curves.png in {}",
            out.display()
        );
        Ok(())
    }
}

/// A batch of Fashion-MNIST images `[N, 1, H, W]` in `[0, 1]` as a model
/// of `channels` input channels takes it: as it is for the course's grey
/// models; for torchvision's RGB models the channel repeated, as
/// torchvision's `Grayscale(num_output_channels=3)` does, then ImageNet's
/// normalisation (the statistics their weights were trained with).
pub fn model_input(x: Tensor<4>, channels: usize) -> Tensor<4> {
    if channels == 3 && x.dims()[1] == 1 {
        let d = x.device();
        let mean = Tensor::<1>::from_floats([0.485, 0.456, 0.406], &d).reshape([1, 3, 1, 1]);
        let std = Tensor::<1>::from_floats([0.229, 0.224, 0.225], &d).reshape([1, 3, 1, 1]);
        (x.repeat_dim(1, 3) - mean) / std
    } else {
        x
    }
}

/// A random `n` of `set` (all of it when `n` is larger), drawn with `seed`.
///
/// `--limit N` trains on `sample(train, N, seed)` and tests on
/// `sample(test, ceil(N / 4), seed + 1)`.
pub fn sample(set: ImageDataset, n: usize, seed: u64) -> ImageDataset {
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
        return model.load_file(path);
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
