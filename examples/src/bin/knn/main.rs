//! k-nearest neighbours on raw pixels (CS231n lecture 2 and assignment 1):
//!
//! ```text
//! cargo run -p examples --bin knn -- [--dataset fashion-mnist|cifar-10] [--metric l1|l2] \
//!     [--train 5000] [--test 500] [--folds 5] [--ks 1,3,5,8,10,12,15,20,50,100] \
//!     [--data-dir DIR] [--out runs/knn] [--device D]
//! ```
//!
//! Chooses `k` by n-fold cross-validation on the first `--train` training
//! images (CS231n's `np.array_split` folds), then predicts the first
//! `--test` test images with the best `k` against all `--train` images, and
//! draws the cross-validation plot (every fold's accuracy per `k`, the mean
//! with its standard deviation) to `knn.png`. Fashion-MNIST (the embedded
//! subset unless downloaded) or CIFAR-10 (`cargo xtask download cifar-10`),
//! pixels scaled to [0, 1].

use std::path::PathBuf;
use std::process::ExitCode;

use burn::tensor::{Device, Tensor, TensorData};
use clap::Parser;
use examples::Failure;
use zoo_classic::knn::{KNearest, Metric, cross_validate};
use zoo_datasets::{Cifar10, FashionMnist, ImageDataset, Split};
use zoo_plot::curves::{Legend, Panel, Series, curves_png};

#[derive(Parser)]
#[command(
    about = "k-nearest neighbours on raw pixels (Fashion-MNIST, CIFAR-10), k by cross-validation"
)]
struct Args {
    /// fashion-mnist, or cifar-10 once downloaded.
    #[arg(long, default_value = "fashion-mnist")]
    dataset: String,
    /// Distance: l1 or l2.
    #[arg(long, default_value = "l1")]
    metric: String,
    /// Training images used (the first ones).
    #[arg(long, default_value_t = 5000)]
    train: usize,
    /// Test images predicted (the first ones).
    #[arg(long, default_value_t = 500)]
    test: usize,
    /// Cross-validation folds.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// The k tried (CS231n's list).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,3,5,8,10,12,15,20,50,100"
    )]
    ks: Vec<usize>,
    /// Where the downloaded data set is (default: the zoo's data
    /// directory; Fashion-MNIST falls back to the embedded subset).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where `knn.png` goes.
    #[arg(long, default_value = "runs/knn")]
    out: PathBuf,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

/// The first `n` images as `[n, 784]` in [0, 1] and their labels.
fn rows(set: &ImageDataset, n: usize, device: &Device) -> (Tensor<2>, Vec<usize>) {
    let per = set.shape().iter().product::<usize>();
    let pixels: Vec<f32> = (0..n)
        .flat_map(|i| set.pixels(i).iter().map(|&p| p as f32 / 255.0))
        .collect();
    let labels = (0..n).map(|i| set.label(i)).collect();
    (
        Tensor::from_data(TensorData::new(pixels, [n, per]), device),
        labels,
    )
}

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Failure> {
    let metric: Metric = args
        .metric
        .parse()
        .map_err(|e| Failure::Usage(format!("--metric: {e}")))?;
    if args.ks.is_empty() || args.ks.contains(&0) {
        return Err(Failure::Usage(format!(
            "--ks {:?}: expected k >= 1",
            args.ks
        )));
    }
    for (flag, v) in [("--train", args.train), ("--test", args.test)] {
        if v == 0 {
            return Err(Failure::Usage(format!(
                "{flag} 0: expected at least 1 image"
            )));
        }
    }
    let (backend, device) = examples::device(args.device.as_deref())?;
    let load = |split| match args.dataset.as_str() {
        "fashion-mnist" => FashionMnist::load(args.data_dir.as_deref(), split),
        _ => Cifar10::load(args.data_dir.as_deref(), split),
    };
    if !["fashion-mnist", "cifar-10"].contains(&args.dataset.as_str()) {
        return Err(Failure::Usage(format!(
            "--dataset {}: expected fashion-mnist or cifar-10",
            args.dataset
        )));
    }
    let train_set = load(Split::Train).map_err(|e| Failure::Usage(e.to_string()))?;
    let test_set = load(Split::Test).map_err(|e| Failure::Usage(e.to_string()))?;
    examples::check_not_empty(&train_set, Split::Train)?;
    examples::check_not_empty(&test_set, Split::Test)?;
    let (n, m) = (
        args.train.min(train_set.len()),
        args.test.min(test_set.len()),
    );
    let kmax = args.ks.iter().copied().max().unwrap_or(1);
    let fold_rows = n - n.div_ceil(args.folds.max(1));
    if args.folds < 2 || kmax > fold_rows {
        return Err(Failure::Usage(format!(
            "--folds {} with {n} training images and k up to {kmax}: expected at least 2 folds whose training part ({fold_rows} images) holds k",
            args.folds
        )));
    }
    println!(
        "kNN ({metric:?}) on {} pixels on {backend}: {n} training images in {} folds, {m} test images",
        args.dataset, args.folds
    );
    let (x, y) = rows(&train_set, n, &device);
    let start = std::time::Instant::now();
    let scores =
        cross_validate(x.clone(), &y, &args.ks, args.folds, metric).map_err(Failure::run)?;
    let mut best = (args.ks[0], f64::MIN);
    let mut folds = Vec::new();
    let mut means = Vec::new();
    let mut band = (Vec::new(), Vec::new());
    for (k, accs) in &scores {
        let mean = accs.iter().sum::<f64>() / accs.len() as f64;
        let sd = (accs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / accs.len() as f64).sqrt();
        println!(
            "k = {k:3}: accuracy {mean:.4} +- {sd:.4} ({})",
            accs.iter()
                .map(|a| format!("{a:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        folds.extend(accs.iter().map(|&a| (*k as f64, a)));
        means.push((*k as f64, mean));
        band.0.push((*k as f64, mean - sd));
        band.1.push((*k as f64, mean + sd));
        if mean > best.1 {
            best = (*k, mean);
        }
    }
    println!(
        "cross-validation: {:.1} s; best k = {} ({:.4})",
        start.elapsed().as_secs_f64(),
        best.0,
        best.1
    );
    let knn = KNearest::fit(x, &y, metric).map_err(Failure::run)?;
    let (tx, ty) = rows(&test_set, m, &device);
    let start = std::time::Instant::now();
    let pred = knn.predict(tx, best.0).map_err(Failure::run)?;
    let right = pred.iter().zip(&ty).filter(|(p, t)| p == t).count();
    println!(
        "test: {right} / {m} = {:.4} with k = {} ({:.2} s)",
        right as f64 / m as f64,
        best.0,
        start.elapsed().as_secs_f64()
    );
    let panel = Panel::new(
        format!("{}-fold cross-validation, {metric:?} distance", args.folds),
        "k",
        "accuracy",
    )
    .with(Series::scatter("one fold", folds))
    .with(Series::xy("mean", means))
    .with(Series::xy("mean - sd", band.0))
    .with(Series::xy("mean + sd", band.1))
    .with_legend(Legend::UpperRight);
    let png = curves_png(&[panel], 720, 440).map_err(Failure::run)?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Failure::run(format!("cannot create {}: {e}", args.out.display())))?;
    let path = args.out.join("knn.png");
    zoo_plot::png::write_bytes(&png, &path).map_err(Failure::run)?;
    println!("wrote {}", path.display());
    Ok(())
}
