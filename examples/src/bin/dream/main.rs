//! What a trained LeNet "wants to see" (CS231n lecture 12): class
//! visualisation and DeepDream by gradient ascent on the image.
//!
//! ```text
//! cargo run -p examples --bin dream -- [--iterations 200] [--lr 1] [--l2 0.001] [--jitter 2] \
//!     [--blur-every 10] [--seed 0] [--weights FILE] [--data-dir DIR] [--out runs/dream/dream.png] [--device D]
//! ```
//!
//! Row 1: for each class, an image grown from grey noise to maximise that
//! class's score minus an L2 penalty (`zoo_explain::visualize::
//! class_visualization`: jitter, normalised steps, clamped to [0, 1], a
//! blur every few steps). Row 2: the first test image of each class, row
//! 3: the same after DeepDream on the second convolution's feature maps
//! (`deep_dream`: the patterns that layer already sees, amplified). The
//! network is the `lenet` example's newest checkpoint, frozen on an
//! autodiff device.

use std::path::PathBuf;
use std::process::ExitCode;

use burn::module::Module;
use burn::tensor::{Distribution, Tensor};
use clap::Parser;
use examples::Failure;
use examples::trained;
use zoo_explain::visualize::{AscentConfig, class_visualization, deep_dream};
use zoo_models::registry::Model;

#[derive(Parser)]
#[command(about = "Class visualisation and DeepDream on the lenet example's network")]
struct Args {
    /// Ascent steps.
    #[arg(long, default_value_t = 200)]
    iterations: usize,
    /// Step size (each step moves the image by lr along the unit gradient;
    /// positive and finite in float32).
    #[arg(long, default_value_t = 1.0)]
    lr: f64,
    /// L2 decay of the class visualisation (>= 0, finite in float32).
    #[arg(long, default_value_t = 0.001)]
    l2: f64,
    /// Largest random shift in pixels (0 to 27: less than the image's side).
    #[arg(long, default_value_t = 2)]
    jitter: usize,
    /// Blur every this many steps (0: never).
    #[arg(long, default_value_t = 10)]
    blur_every: usize,
    /// Seed of the noise and the jitter.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A checkpoint of the lenet example (default: the newest in runs/lenet).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Where a downloaded Fashion-MNIST is.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The picture (PNG).
    #[arg(long, default_value = "runs/dream/dream.png")]
    out: PathBuf,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

/// Whether every value of `x` is finite.
fn finite(x: Tensor<4>) -> Result<bool, Failure> {
    let v: Vec<f32> = x
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| Failure::run(format!("{e:?}")))?;
    Ok(v.iter().all(|v| v.is_finite()))
}

/// The side of the images (LeNet's input, Fashion-MNIST's images).
const SIDE: usize = 28;

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Failure> {
    examples::check_png_out(&args.out)?;
    examples::check_lr_flag("--lr", args.lr)?;
    examples::check_f32_flag("--l2", args.l2, examples::Sign::NonNegative)?;
    if args.jitter >= SIDE {
        return Err(Failure::Usage(format!(
            "--jitter {}: expected 0 to {} pixels (less than the image's side, {SIDE})",
            args.jitter,
            SIDE - 1
        )));
    }
    if args.iterations == 0 {
        return Err(Failure::Usage("--iterations 0: expected at least 1".into()));
    }
    let (backend, device) = examples::device(args.device.as_deref())?;
    let ad = device.clone().autodiff();
    ad.seed(args.seed);
    let (model, path) = trained::lenet(args.weights.as_deref(), &ad)?;
    let Model::LeNet(lenet) = model.freeze() else {
        return Err(Failure::Usage(format!("{}: not a LeNet", path.display())));
    };
    let set = examples::fashion_mnist(args.data_dir.as_deref(), zoo_datasets::Split::Test)?;
    let classes = set.classes().to_vec();
    let config = AscentConfig {
        iterations: args.iterations,
        learning_rate: args.lr,
        l2_reg: args.l2,
        max_jitter: args.jitter,
        blur_every: args.blur_every,
        seed: args.seed,
        ..AscentConfig::default()
    };
    println!(
        "LeNet from {} on {backend}: {} ascent steps, lr {}, L2 {}",
        path.display(),
        args.iterations,
        args.lr,
        args.l2
    );
    let t = std::time::Instant::now();
    let mut dreams = Vec::new();
    for c in 0..classes.len() {
        let start = Tensor::<4>::random([1, 1, 28, 28], Distribution::Normal(0.5, 0.1), &ad)
            .clamp(0.0, 1.0);
        let img =
            class_visualization(|x| lenet.forward(x), start, c, &config).map_err(Failure::run)?;
        let p = burn::tensor::activation::softmax(lenet.forward(img.clone().detach()), 1);
        let pv: Vec<f32> = p
            .into_data()
            .try_into_vec_as::<f32>()
            .map_err(|e| Failure::run(format!("{e:?}")))?;
        // A penalty or step too large for float32 turns the image (and p)
        // into NaN: stop before a black picture is written.
        if !pv[c].is_finite() {
            return Err(Failure::run(format!(
                "the class visualisation of {} became non-finite (p = {}); lower --l2 (now {}) or --lr (now {})",
                classes[c], pv[c], args.l2, args.lr
            )));
        }
        println!("  {:<11} p = {:.3}", classes[c], pv[c]);
        dreams.push(img.inner());
    }
    println!("class visualisation: {:.1} s", t.elapsed().as_secs_f64());
    let (x, _) = trained::one_per_class(&set, &ad);
    let t = std::time::Instant::now();
    // DeepDream keeps the photograph: fewer, smaller steps and no blur.
    let dream_config = AscentConfig {
        iterations: args.iterations / 4,
        learning_rate: args.lr / 2.0,
        blur_every: 0,
        ..config
    };
    let dreamt =
        deep_dream(|x| lenet.conv_features(x), x.clone(), &dream_config).map_err(Failure::run)?;
    if !finite(dreamt.clone().inner())? {
        return Err(Failure::run(format!(
            "DeepDream's images became non-finite; lower --lr (now {})",
            args.lr
        )));
    }
    println!(
        "DeepDream on conv2's maps of {} images: {:.1} s",
        x.dims()[0],
        t.elapsed().as_secs_f64()
    );
    let all = Tensor::cat(vec![Tensor::cat(dreams, 0), x.inner(), dreamt.inner()], 0);
    examples::images::save_grid(all, classes.len(), 4, &args.out).map_err(Failure::run)?;
    println!(
        "wrote {} (class visualisations; test images; after DeepDream)",
        args.out.display()
    );
    Ok(())
}
