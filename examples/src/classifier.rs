//! The course's Fashion-MNIST classification run (d2l chapters 7-8) for any
//! registered model: [`run`] with the course's settings from the registry
//! ([`Course`]), the fine-tuning recipe of d2l 14.2 (`--weights`,
//! `--freeze-features`, `--reset-head`), and the inference rate.

use crate::cli::{
    Failure, augmentation, check_batch_size, check_not_empty, check_training_flags, device, exit,
};
use crate::recipes::{RecipeFlags, evaluate_ensemble};
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
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
