//! The classic pipeline beside a network (CS231n assignment 1's "image
//! features" and lecture 5): HOG features and a linear SVM on
//! Fashion-MNIST, against the same SVM on raw pixels and the `lenet`
//! example's network on the same test images.
//!
//! ```text
//! cargo run -p examples --bin hog-svm -- [--train 10000] [--test 2000] [--cell 4] \
//!     [--orientations 9] [--iterations 2000] [--lr 0.05] [--reg 0.0001] [--weights FILE] \
//!     [--data-dir DIR] [--out runs/hog-svm] [--device D]
//! ```
//!
//! HOG (`--orientations` bins, `--cell` x `--cell` pixel cells, 2x2-cell
//! blocks, L2-Hys) of every image, mean-subtracted with a bias column, then
//! CS231n's multiclass SVM by minibatch SGD; the same SVM on the pixels;
//! LeNet's accuracy when its checkpoint exists. Writes `hog-svm.png` (both
//! SVMs' training losses).

use std::path::PathBuf;
use std::process::ExitCode;

use burn::module::Module;
use clap::Parser;
use examples::Failure;
use examples::trained;
use zoo_classic::ClassicError;
use zoo_classic::hog::{BlockNorm, HogConfig};
use zoo_classic::linear::{LinearClassifier, LinearLoss, TrainConfig};
use zoo_datasets::ImageDataset;
use zoo_plot::curves::{Legend, Panel, Series, curves_png};

#[derive(Parser)]
#[command(about = "HOG + linear SVM on Fashion-MNIST, beside the pixels' SVM and LeNet")]
struct Args {
    /// Training images (the first ones).
    #[arg(long, default_value_t = 10000)]
    train: usize,
    /// Test images (the first ones).
    #[arg(long, default_value_t = 2000)]
    test: usize,
    /// HOG cell size in pixels (1 to 14: a 28x28 image holds at least one
    /// block of 2x2 cells).
    #[arg(long, default_value_t = 4)]
    cell: usize,
    /// HOG orientation bins (1 to 360).
    #[arg(long, default_value_t = 9)]
    orientations: usize,
    /// SGD steps of each SVM (at most 1,000,000; a step whose loss is NaN
    /// or infinite stops the run, naming --lr and --reg).
    #[arg(long, default_value_t = 2000)]
    iterations: usize,
    /// SGD learning rate.
    #[arg(long, default_value_t = 0.05)]
    lr: f64,
    /// L2 strength (>= 0, finite in float32).
    #[arg(long, default_value_t = 0.0001)]
    reg: f64,
    /// A checkpoint of the lenet example (default: the newest in runs/lenet, if any).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Where a downloaded Fashion-MNIST is.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where `hog-svm.png` goes.
    #[arg(long, default_value = "runs/hog-svm")]
    out: PathBuf,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

/// The most SGD steps `--iterations` takes (the loss of each is kept for
/// the curves).
const MAX_ITERATIONS: usize = 1_000_000;

/// The most orientation bins `--orientations` takes (scikit-image takes any
/// positive number; past one bin per degree the histograms say nothing more).
const MAX_ORIENTATIONS: usize = 360;

/// The side of a Fashion-MNIST image, in pixels.
const SIDE: usize = 28;

/// The largest `--cell` whose cells still make one 2x2 block of a
/// `SIDE x SIDE` image.
const MAX_CELL: usize = SIDE / 2;

fn pixels(set: &ImageDataset, n: usize) -> Vec<f32> {
    (0..n)
        .flat_map(|i| set.pixels(i).iter().map(|&p| p as f32 / 255.0))
        .collect()
}

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Failure> {
    examples::check_count("--iterations", args.iterations, MAX_ITERATIONS)?;
    examples::check_lr_flag("--lr", args.lr)?;
    examples::trained::check_reg(args.reg)?;
    if !(1..=MAX_CELL).contains(&args.cell) {
        return Err(Failure::Usage(format!(
            "--cell {}: expected 1 to {MAX_CELL} pixels (a {SIDE}x{SIDE} image must hold one block of 2x2 cells)",
            args.cell
        )));
    }
    examples::check_count("--orientations", args.orientations, MAX_ORIENTATIONS)?;
    let (backend, device) = examples::device(args.device.as_deref())?;
    // The network compared against, loaded before the SVMs train: a bad
    // --weights is refused at once.
    let lenet = match args.weights.as_deref() {
        Some(p) => Some(trained::lenet(Some(p), &device)?),
        None => trained::newest_checkpoint(std::path::Path::new("runs/lenet"))
            .map(|p| trained::lenet(Some(&p), &device))
            .transpose()?,
    };
    let (train_set, test_set, n, m) =
        examples::trained::train_test_sets(args.data_dir.as_deref(), args.train, args.test)?;
    let hog = HogConfig {
        orientations: args.orientations,
        pixels_per_cell: [args.cell, args.cell],
        cells_per_block: [2, 2],
        block_norm: BlockNorm::L2Hys,
    };
    let [_, h, w] = train_set.shape();
    // The features of every image, held at once (and again on the device).
    let per_image = hog
        .features(&vec![0.0; h * w], h, w)
        .map_err(|e| Failure::Usage(format!("--cell {}: {e}", args.cell)))?
        .len();
    zoo_device::budget::check("the HOG features", &[n + m, per_image]).map_err(|e| {
        Failure::Usage(format!(
            "--orientations {} --cell {} with --train {} --test {}: {e}",
            args.orientations, args.cell, args.train, args.test
        ))
    })?;
    let features = |px: &[f32]| -> Result<Vec<f32>, Failure> {
        let mut out = Vec::new();
        for img in px.chunks(h * w) {
            out.extend(
                hog.features(img, h, w)
                    .map_err(|e| Failure::Usage(format!("--cell {}: {e}", args.cell)))?,
            );
        }
        Ok(out)
    };
    let (train_px, test_px) = (pixels(&train_set, n), pixels(&test_set, m));
    let t = std::time::Instant::now();
    let (train_hog, test_hog) = (features(&train_px)?, features(&test_px)?);
    let d = train_hog.len() / n;
    println!(
        "Fashion-MNIST on {backend}: {n} training, {m} test images; HOG ({} bins, {}x{} cells, 2x2 blocks): {d} features per image, {:.2} ms per image",
        args.orientations,
        args.cell,
        args.cell,
        t.elapsed().as_secs_f64() * 1e3 / (n + m) as f64
    );
    let y: Vec<usize> = (0..n).map(|i| train_set.label(i)).collect();
    let ty: Vec<usize> = (0..m).map(|i| test_set.label(i)).collect();
    let ad = device.clone().autodiff();
    let mut panel = Panel::new("multiclass SVM training loss", "iteration", "loss")
        .with_legend(Legend::UpperRight);
    let mut report = Vec::new();
    for (name, train_rows, test_rows, dim) in [
        ("pixels", &train_px, &test_px, h * w),
        ("HOG", &train_hog, &test_hog, d),
    ] {
        let mu = examples::trained::column_mean(train_rows, dim);
        let (x, tx) = (
            examples::trained::centred_with_bias(train_rows, &mu, &ad),
            examples::trained::centred_with_bias(test_rows, &mu, &device),
        );
        let config = TrainConfig {
            learning_rate: args.lr,
            reg: args.reg,
            iterations: args.iterations,
            batch_size: 200,
            ..TrainConfig::new(LinearLoss::Svm)
        };
        let t = std::time::Instant::now();
        let (clf, losses) = LinearClassifier::train(x, &y, 10, &config).map_err(|e| match e {
            ClassicError::NonFinite { .. } => Failure::run(format!(
                "the SVM on {name}: {e}; lower the learning rate --lr (now {}) or the L2 strength --reg (now {})",
                args.lr, args.reg
            )),
            e => Failure::run(e),
        })?;
        let pred = clf.predict(tx).map_err(Failure::run)?;
        let acc = pred.iter().zip(&ty).filter(|(p, t)| p == t).count() as f64 / m as f64;
        println!(
            "linear SVM on {name}: test accuracy {acc:.4} ({:.1} s)",
            t.elapsed().as_secs_f64()
        );
        report.push((name, acc));
        panel = panel.with(Series::new(
            name,
            losses.iter().map(|&l| l as f64).collect(),
        ));
    }
    match lenet {
        Some((model, path)) => {
            let (x, labels) = trained::images(&test_set, &(0..m).collect::<Vec<_>>(), &device);
            let pred = trained::predictions(&model.valid(), x);
            let acc = pred.iter().zip(&labels).filter(|(p, t)| p == t).count() as f64 / m as f64;
            println!("LeNet ({}): test accuracy {acc:.4}", path.display());
        }
        None => println!(
            "LeNet: no checkpoint in runs/lenet (run `cargo run -p examples --bin lenet` to compare)"
        ),
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Failure::run(format!("cannot create {}: {e}", args.out.display())))?;
    let png = curves_png(&[panel], 720, 400).map_err(Failure::run)?;
    let path = args.out.join("hog-svm.png");
    zoo_plot::png::write_bytes(&png, &path).map_err(Failure::run)?;
    println!("wrote {}", path.display());
    Ok(())
}
