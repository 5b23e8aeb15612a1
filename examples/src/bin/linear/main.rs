//! Linear classifiers as class templates (CS231n lecture 3, assignment 1):
//!
//! ```text
//! cargo run -p examples --bin linear -- [--train 5000] [--test 1000] [--iterations 1500] \
//!     [--batch-size 200] [--lr 0.05] [--reg 0.001] [--seed 0] [--data-dir DIR] [--out runs/linear] [--device D]
//! ```
//!
//! Trains a multiclass SVM and a softmax classifier on Fashion-MNIST's raw
//! pixels (scaled to [0, 1], the training mean subtracted, a constant 1
//! appended for the bias, as the assignment does), both by minibatch SGD on
//! CS231n's losses, and reports their test accuracy. Writes `linear.png`
//! (the two loss curves) and `templates.png`: each class's column of `W`
//! drawn as an image, the SVM's row above the softmax's.

use std::path::PathBuf;
use std::process::ExitCode;

use burn::tensor::Tensor;
use clap::Parser;
use examples::Failure;
use zoo_classic::ClassicError;
use zoo_classic::linear::{LinearClassifier, LinearLoss, TrainConfig};
use zoo_datasets::ImageDataset;
use zoo_plot::curves::{Legend, Panel, Series, curves_png};

#[derive(Parser)]
#[command(
    about = "Linear SVM and softmax classifiers on Fashion-MNIST's pixels, and their class templates"
)]
struct Args {
    /// Training images (the first ones).
    #[arg(long, default_value_t = 5000)]
    train: usize,
    /// Test images (the first ones).
    #[arg(long, default_value_t = 1000)]
    test: usize,
    /// SGD steps (at most 1,000,000; a step whose loss is NaN or infinite
    /// stops the run, naming --lr and --reg).
    #[arg(long, default_value_t = 1500)]
    iterations: usize,
    /// Rows per step, drawn with replacement.
    #[arg(long, default_value_t = 200)]
    batch_size: usize,
    /// SGD learning rate.
    #[arg(long, default_value_t = 0.05)]
    lr: f64,
    /// L2 strength (`reg * sum(W * W)`).
    #[arg(long, default_value_t = 0.001)]
    reg: f64,
    /// Seed of the initial weights and the batches.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where a downloaded Fashion-MNIST is.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where `linear.png` and `templates.png` go.
    #[arg(long, default_value = "runs/linear")]
    out: PathBuf,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

/// The first `n` images in [0, 1] as rows, and their labels.
fn rows(set: &ImageDataset, n: usize) -> (Vec<f32>, Vec<usize>) {
    let px = (0..n)
        .flat_map(|i| set.pixels(i).iter().map(|&p| p as f32 / 255.0))
        .collect();
    (px, (0..n).map(|i| set.label(i)).collect())
}

/// The most SGD steps `--iterations` takes (the loss of each is kept for
/// the curves).
const MAX_ITERATIONS: usize = 1_000_000;

/// A training error as the run's failure: a loss that became NaN or
/// infinite names the flags to lower.
fn diverged(e: ClassicError, lr: f64, reg: f64) -> Failure {
    match e {
        ClassicError::NonFinite { .. } => Failure::run(format!(
            "{e}; lower the learning rate --lr (now {lr}) or the L2 strength --reg (now {reg})"
        )),
        e => Failure::run(e),
    }
}

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Failure> {
    examples::check_count("--iterations", args.iterations, MAX_ITERATIONS)?;
    examples::check_training_flags(args.iterations, args.batch_size, args.lr)?;
    examples::trained::check_reg(args.reg)?;
    let (backend, device) = examples::device(args.device.as_deref())?;
    let (train_set, test_set, n, m) =
        examples::trained::train_test_sets(args.data_dir.as_deref(), args.train, args.test)?;
    let [_, h, w] = train_set.shape();
    let d = h * w;
    // Each step selects `--batch-size` rows of `d` pixels and the bias.
    zoo_device::budget::check("a batch of rows", &[args.batch_size, d + 1])
        .map_err(|e| Failure::Usage(format!("--batch-size {}: {e}", args.batch_size)))?;
    let (px, y) = rows(&train_set, n);
    let mean = examples::trained::column_mean(&px, d);
    let ad = device.clone().autodiff();
    let x = examples::trained::centred_with_bias(&px, &mean, &ad);
    let (tpx, ty) = rows(&test_set, m);
    let tx = examples::trained::centred_with_bias(&tpx, &mean, &device);
    println!(
        "linear classifiers on Fashion-MNIST pixels on {backend}: {n} training, {m} test images; {} SGD steps of {}, lr {}, reg {}",
        args.iterations, args.batch_size, args.lr, args.reg
    );
    let mut panel =
        Panel::new("training loss", "iteration", "loss").with_legend(Legend::UpperRight);
    let mut templates = Vec::new();
    for loss in [LinearLoss::Svm, LinearLoss::Softmax] {
        let config = TrainConfig {
            learning_rate: args.lr,
            reg: args.reg,
            iterations: args.iterations,
            batch_size: args.batch_size,
            seed: args.seed,
            ..TrainConfig::new(loss)
        };
        let start = std::time::Instant::now();
        let (clf, losses) = LinearClassifier::train(x.clone(), &y, 10, &config)
            .map_err(|e| diverged(e, args.lr, args.reg))?;
        let secs = start.elapsed().as_secs_f64();
        let acc = |pred: Vec<usize>, truth: &[usize]| {
            pred.iter().zip(truth).filter(|(p, t)| p == t).count() as f64 / truth.len() as f64
        };
        let train_acc = acc(clf.predict(x.clone().inner()).map_err(Failure::run)?, &y);
        let test_acc = acc(clf.predict(tx.clone()).map_err(Failure::run)?, &ty);
        println!(
            "{loss:?}: loss {:.3} -> {:.3}, training accuracy {train_acc:.4}, test accuracy {test_acc:.4} ({secs:.1} s)",
            losses[0],
            losses[losses.len() - 1]
        );
        panel = panel.with(Series::new(
            format!("{loss:?}"),
            losses.iter().map(|&l| l as f64).collect(),
        ));
        // The templates: W's columns without the bias row, as images.
        let wt = clf
            .w
            .clone()
            .inner()
            .to_device(&device)
            .narrow(0, 0, d)
            .transpose()
            .reshape([10, 1, h, w]);
        let (lo, hi) = {
            let v: Vec<f32> = wt
                .clone()
                .into_data()
                .try_into_vec_as::<f32>()
                .map_err(|e| Failure::run(format!("{e:?}")))?;
            (
                v.iter().copied().fold(f32::MAX, f32::min),
                v.iter().copied().fold(f32::MIN, f32::max),
            )
        };
        templates.push((wt - lo) / (hi - lo).max(1e-12));
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Failure::run(format!("cannot create {}: {e}", args.out.display())))?;
    let png = curves_png(&[panel], 720, 400).map_err(Failure::run)?;
    let path = args.out.join("linear.png");
    zoo_plot::png::write_bytes(&png, &path).map_err(Failure::run)?;
    let tpath = args.out.join("templates.png");
    examples::images::save_grid(Tensor::cat(templates, 0), 10, 3, &tpath).map_err(Failure::run)?;
    println!(
        "wrote {} and {} (classes {})",
        path.display(),
        tpath.display(),
        train_set.classes().join(", ")
    );
    Ok(())
}
