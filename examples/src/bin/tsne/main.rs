//! t-SNE of a trained LeNet's features (CS231n lecture 12; van der Maaten
//! & Hinton 2008):
//!
//! ```text
//! cargo run -p examples --bin tsne -- [--images 1000] [--perplexity 30] [--iterations 1000] \
//!     [--pixels] [--seed 0] [--weights FILE] [--data-dir DIR] [--out runs/tsne/tsne.png] [--device D]
//! ```
//!
//! Embeds the first `--images` test images in 2-D by exact t-SNE
//! (scikit-learn's affinities, gradient and optimiser) of the `lenet`
//! example's 84 penultimate activations (or, with `--pixels`, of the raw
//! pixels, for comparison), and draws the points coloured by class, with
//! the 5-nearest-neighbour accuracy of the features as a number for how
//! well they separate the classes. `<stem>-neighbours.png` beside it
//! (`tsne-neighbours.png` for the default `--out`): one test image of each
//! class followed by its 8 nearest training images (of the first 5,000) in
//! the same space.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::module::Module;
use clap::Parser;
use examples::Failure;
use examples::trained;
use zoo_classic::knn::{Metric, cross_validate};
use zoo_explain::features::nearest_neighbours;
use zoo_explain::tsne::Tsne;
use zoo_plot::curves::{Legend, Panel, Series, curves_png};

#[derive(Parser)]
#[command(about = "t-SNE of the lenet example's penultimate features")]
struct Args {
    /// Test images embedded (the first ones).
    #[arg(long, default_value_t = 1000)]
    images: usize,
    /// Effective number of neighbours.
    #[arg(long, default_value_t = 30.0)]
    perplexity: f64,
    /// Gradient steps (the first 250 with early exaggeration).
    #[arg(long, default_value_t = 1000)]
    iterations: usize,
    /// Embed the raw pixels instead of the network's features.
    #[arg(long)]
    pixels: bool,
    /// Seed of the initial embedding.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A checkpoint of the lenet example (default: the newest in runs/lenet).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Where a downloaded Fashion-MNIST is.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The picture (PNG); the nearest neighbours go beside it as
    /// `<stem>-neighbours.png`.
    #[arg(long, default_value = "runs/tsne/tsne.png")]
    out: PathBuf,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

/// The nearest-neighbour grid beside `out`: `<stem>-neighbours.png`, so
/// that no file of a fixed name is overwritten.
fn neighbours_path(out: &Path) -> PathBuf {
    let stem = out.file_stem().unwrap_or_default().to_string_lossy();
    out.with_file_name(format!("{stem}-neighbours.png"))
}

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Failure> {
    examples::check_png_out(&args.out)?;
    // No steps would plot the random start as if it were a result.
    if args.iterations == 0 {
        return Err(Failure::Usage(
            "--iterations 0: expected at least 1 gradient step".into(),
        ));
    }
    let npath = neighbours_path(&args.out);
    let (backend, device) = examples::device(args.device.as_deref())?;
    let set = examples::fashion_mnist(args.data_dir.as_deref(), zoo_datasets::Split::Test)?;
    let n = args.images.min(set.len());
    if n < 10 {
        return Err(Failure::Usage(format!(
            "--images {}: {n} images; expected at least 10 (a 5-fold 5-NN score and t-SNE)",
            args.images
        )));
    }
    let (x, y) = trained::images(&set, &(0..n).collect::<Vec<_>>(), &device);
    let lenet = if args.pixels {
        None
    } else {
        let (model, path) = trained::lenet(args.weights.as_deref(), &device)?;
        let zoo_models::registry::Model::LeNet(lenet) = model.valid() else {
            return Err(Failure::Usage(format!("{}: not a LeNet", path.display())));
        };
        Some((lenet, path))
    };
    // The space: LeNet's 84 penultimate activations, or the raw pixels.
    let embed = |x: burn::tensor::Tensor<4>| match &lenet {
        Some((l, _)) => l.penultimate(x),
        None => {
            let [b, c, h, w] = x.dims();
            x.reshape([b, c * h * w])
        }
    };
    let what = match &lenet {
        Some((_, path)) => format!("LeNet's penultimate features ({})", path.display()),
        None => "raw pixels".to_string(),
    };
    let features = embed(x);
    let d = features.dims()[1];
    let knn = cross_validate(features.clone(), &y, &[5], 5, Metric::L2).map_err(Failure::run)?;
    let acc = knn[0].1.iter().sum::<f64>() / knn[0].1.len() as f64;
    println!(
        "{n} test images, {what}: {d} dimensions on {backend}; 5-NN accuracy (5 folds) {acc:.3}"
    );
    let v: Vec<f64> = features
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| Failure::run(format!("{e:?}")))?
        .into_iter()
        .map(f64::from)
        .collect();
    let tsne = Tsne {
        perplexity: args.perplexity,
        iterations: args.iterations,
        seed: args.seed,
        ..Tsne::default()
    };
    let t = std::time::Instant::now();
    let (emb, kl) = tsne
        .fit(&v, n, d)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    println!(
        "t-SNE (exact, perplexity {}, {} iterations): KL {kl:.3}, {:.1} s",
        args.perplexity,
        args.iterations,
        t.elapsed().as_secs_f64()
    );
    let classes = set.classes();
    let mut panel = Panel::new(format!("t-SNE of {what}"), "", "").with_legend(Legend::UpperRight);
    for (c, name) in classes.iter().enumerate() {
        let pts: Vec<(f64, f64)> = (0..n)
            .filter(|&i| y[i] == c)
            .map(|i| (emb[2 * i], emb[2 * i + 1]))
            .collect();
        panel = panel.with(Series::scatter(name.clone(), pts));
    }
    let png = curves_png(&[panel], 860, 700).map_err(Failure::run)?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::run(format!("cannot create {}: {e}", dir.display())))?;
    }
    zoo_plot::png::write_bytes(&png, &args.out).map_err(Failure::run)?;
    // Nearest training images in the same space.
    let train_set = examples::fashion_mnist(args.data_dir.as_deref(), zoo_datasets::Split::Train)?;
    let pool = train_set.len().min(5000);
    let (tx, _) = trained::images(&train_set, &(0..pool).collect::<Vec<_>>(), &device);
    let (qx, qy) = trained::one_per_class(&set, &device);
    let near = nearest_neighbours(embed(qx.clone()), embed(tx.clone()), 8).map_err(Failure::run)?;
    let mut tiles = Vec::new();
    for (q, row) in near.iter().enumerate() {
        tiles.push(qx.clone().narrow(0, q, 1));
        for &i in row {
            tiles.push(tx.clone().narrow(0, i, 1));
        }
    }
    let same: usize = near
        .iter()
        .enumerate()
        .map(|(q, row)| row.iter().filter(|&&i| train_set.label(i) == qy[q]).count())
        .sum();
    println!(
        "nearest training images: {same} of {} share the query's class",
        near.len() * 8
    );
    examples::images::save_grid(burn::tensor::Tensor::cat(tiles, 0), 9, 3, &npath)
        .map_err(Failure::run)?;
    println!("wrote {} and {}", args.out.display(), npath.display());
    Ok(())
}
