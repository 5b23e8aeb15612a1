//! Trains the course's LeNet-5 on Fashion-MNIST (d2l 7.6):
//!
//!     cargo run -p examples --bin lenet -- [--epochs N] [--device flex|ndarray|wgpu]
//!
//! Without `--data-dir` it trains on the full set when `cargo xtask download
//! fashion-mnist` has put it in the data directory (`$ZOO_DATA_DIR`, else
//! `~/.cache/zoo`), else on the real 10,000-image subset embedded in
//! `zoo-datasets`, evaluated on its 2,000 test images, so it runs on a fresh
//! machine without network. `--data-dir /usr/share/datasets/fashion-mnist`
//! (Debian's `dataset-fashion-mnist`) trains on the full 60,000 images.
//!
//! The course's setup: sigmoid and average pooling, Xavier-uniform
//! weights, SGD at 0.9, batch 256, 10 epochs of the full set (60 of the
//! subset: as many images seen). Uses the shared training loop
//! (`zoo_train::fit`): a progress bar, one line per epoch (training loss and
//! accuracy, test loss, accuracy and macro F1, throughput); checkpoints, `metrics.jsonl` and `curves.png` in
//! `--out` (default `runs/lenet`); `--resume` continues from the newest
//! checkpoint there to the same numbers as an uninterrupted run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use burn::module::Module;
use burn::tensor::Tensor;
use clap::Parser;
use zoo_datasets::{FashionMnist, ImageBatcher, Split};
use zoo_models::lenet::{LeNet, LeNetActivation, LeNetConfig, LeNetPool};
use zoo_optim::SgdConfig;
use zoo_train::{ClassifyConfig, TrainConfig, fit};

#[derive(Parser)]
#[command(about = "Train LeNet-5 on Fashion-MNIST (the course's d2l 7.6 setup)")]
struct Args {
    /// Epochs (default: the course's 10 on the full 60,000 images; 60 on
    /// the embedded 10,000-image subset, as many images seen).
    #[arg(long)]
    epochs: Option<usize>,
    /// Mini-batch size.
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    /// SGD learning rate (the course's 0.9 for the sigmoid LeNet).
    #[arg(long, default_value_t = 0.9)]
    lr: f64,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
    /// Directory of the genuine Fashion-MNIST files (default: the data
    /// directory when `cargo xtask download fashion-mnist` has filled it, else
    /// the embedded subset).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// ReLU and max pooling instead of the course's sigmoid and average pooling.
    #[arg(long)]
    relu: bool,
    /// Seed of the initialisation and the shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where checkpoints, metrics.jsonl and curves.png go.
    #[arg(long, default_value = "runs/lenet")]
    out: PathBuf,
    /// Continue from the newest checkpoint in --out.
    #[arg(long)]
    resume: bool,
    /// Augment the training batches: none, flip, crop, course, auto, rand
    /// or trivial (see `examples::augmentation`).
    #[arg(long, default_value = "none")]
    augment: String,
    /// Weight averaging, batch mixing, label smoothing, ensembles.
    #[command(flatten)]
    recipes: examples::RecipeFlags,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let backend = match zoo_device::resolve(args.device.as_deref(), zoo_device::DEFAULT_DEVICE) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let device = match backend.device() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) =
        examples::check_training_flags(args.epochs.unwrap_or(1), args.batch_size, args.lr)
    {
        eprintln!("error: {e}");
        return ExitCode::from(e.code());
    }
    let augment = match examples::augmentation(&args.augment, 28) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let load = |split| FashionMnist::load(args.data_dir.as_deref(), split);
    let (train, test) = match (load(Split::Train), load(Split::Test)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = examples::check_not_empty(&train, Split::Train)
        .and_then(|()| examples::check_not_empty(&test, Split::Test))
    {
        return examples::exit(Err(e));
    }
    // The course trains 10 epochs of 60,000 images: on the subset, as many
    // images seen (60 epochs of its 10,000).
    let epochs = args.epochs.unwrap_or_else(|| {
        if matches!(train.source(), zoo_datasets::Source::Embedded) {
            10 * 60_000usize.div_ceil(train.len().max(1))
        } else {
            10
        }
    });
    println!(
        "LeNet-5 on Fashion-MNIST ({}: {} train, {} test) on {backend}, {epochs} epochs of batch {}, lr {}",
        train.source(),
        train.len(),
        test.len(),
        args.batch_size,
        args.lr
    );

    let train_device = device.clone().autodiff();
    train_device.seed(args.seed);
    let mut config = LeNetConfig::new();
    if args.relu {
        config = config
            .with_activation(LeNetActivation::Relu)
            .with_pool(LeNetPool::Max);
    }
    let model = config.init(&train_device);
    let forward = |m: &LeNet, x: Tensor<4>| m.forward(x);
    if !args.recipes.ensemble.is_empty() {
        return examples::exit(examples::evaluate_ensemble(
            &model,
            &[("model", "lenet".into()), ("relu", args.relu.to_string())],
            &args.recipes.ensemble,
            &forward,
            &test,
            &ImageBatcher::new(),
            &device,
        ));
    }
    let loop_config = TrainConfig {
        seed: args.seed,
        out_dir: Some(args.out.clone()),
        resume: args.resume,
        identity: vec![
            ("model".into(), "lenet".into()),
            ("relu".into(), args.relu.to_string()),
            ("data".into(), train.source().to_string()),
            (
                "data_dir".into(),
                args.data_dir
                    .as_ref()
                    .map_or("none".into(), |p| p.display().to_string()),
            ),
            ("augment_preset".into(), args.augment.clone()),
        ],
        ..TrainConfig::new(epochs, args.batch_size, args.lr)
    };
    let mut train_config = ClassifyConfig {
        augment,
        ..ClassifyConfig::new(loop_config)
    };
    if let Err(e) = args.recipes.apply(&mut train_config, epochs) {
        eprintln!("error: {e}");
        return ExitCode::from(e.code());
    }
    let outcome = match fit(
        model,
        SgdConfig::torch_default().init(),
        &forward,
        Arc::new(train),
        &test,
        &ImageBatcher::new(),
        &train_config,
        &device,
    ) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(e) = outcome.resumed_from {
        println!("resumed after epoch {e} from {}", args.out.display());
    }
    if let Some(last) = outcome.history.last() {
        println!(
            "after {} epochs: test accuracy {:.3}, test macro F1 {:.3}",
            last.epoch,
            last.get("valid_acc"),
            last.get("valid_macro_f1")
        );
        if last.metrics.contains_key("valid_raw_acc") {
            println!(
                "(the averaged weights; the raw weights: test accuracy {:.3})",
                last.get("valid_raw_acc")
            );
        }
    }
    let model = outcome.model.valid();
    let per_sec = examples::inference_rate(
        &model,
        &forward,
        &test,
        &ImageBatcher::new(),
        args.batch_size,
        &device,
    );
    println!(
        "inference: {per_sec:.0} images/s on {backend} (batch {}, test set)",
        args.batch_size
    );
    println!(
        "checkpoints, metrics.jsonl and curves.png in {}",
        args.out.display()
    );
    ExitCode::SUCCESS
}
