//! Occlusion sensitivity of a trained LeNet (Zeiler & Fergus 2014; CS231n
//! lecture 12):
//!
//! ```text
//! cargo run -p examples --bin occlusion -- [--patch 7] [--stride 2] [--fill 0] \
//!     [--weights FILE] [--data-dir DIR] [--out runs/occlusion/occlusion.png] [--device D]
//! ```
//!
//! For the first test image of each class: the softmax probability of the
//! true class while a `patch x patch` square of value `fill` slides over
//! the image with the stride, through the `lenet` example's newest
//! checkpoint in evaluation mode. Draws the images above their maps
//! (stretched to the image's size; dark where covering the square made the
//! network unsure, i.e. where it was looking).

use std::path::PathBuf;
use std::process::ExitCode;

use burn::module::Module;
use burn::tensor::Tensor;
use clap::Parser;
use examples::Failure;
use examples::trained;
use zoo_explain::occlusion::occlusion_map;

#[derive(Parser)]
#[command(about = "Occlusion maps of the lenet example's network")]
struct Args {
    /// Side of the square in pixels (1 to 28, the images' side).
    #[arg(long, default_value_t = 7)]
    patch: usize,
    /// Step between squares in pixels.
    #[arg(long, default_value_t = 2)]
    stride: usize,
    /// The square's value (the images are in [0, 1], background 0; finite
    /// in float32).
    #[arg(long, default_value_t = 0.0)]
    fill: f64,
    /// A checkpoint of the lenet example (default: the newest in runs/lenet).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Where a downloaded Fashion-MNIST is.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The picture (PNG).
    #[arg(long, default_value = "runs/occlusion/occlusion.png")]
    out: PathBuf,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

/// The side of the images (LeNet's input, Fashion-MNIST's images).
const SIDE: usize = 28;

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Failure> {
    examples::check_png_out(&args.out)?;
    examples::check_f32_flag("--fill", args.fill, examples::Sign::Any)?;
    examples::check_count("--patch", args.patch, SIDE)?;
    if args.stride == 0 {
        return Err(Failure::Usage(
            "--stride 0: expected at least 1 pixel".into(),
        ));
    }
    let (backend, device) = examples::device(args.device.as_deref())?;
    let (model, path) = trained::lenet(args.weights.as_deref(), &device)?;
    let set = trained::test_set(args.data_dir.as_deref())?;
    let (x, y) = trained::one_per_class(&set, &device);
    let net = model.valid();
    let t = std::time::Instant::now();
    let maps = occlusion_map(
        |x| net.forward(x),
        x.clone(),
        &y,
        args.patch,
        args.stride,
        args.fill,
    )
    .map_err(|e| Failure::Usage(e.to_string()))?;
    let [n, oh, ow] = maps.dims();
    println!(
        "LeNet from {} on {backend}: {n} images, {oh}x{ow} positions of a {}x{} square (fill {}), {:.1} ms",
        path.display(),
        args.patch,
        args.patch,
        args.fill,
        t.elapsed().as_secs_f64() * 1e3
    );
    let probs: Vec<f32> = maps
        .clone()
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| Failure::run(format!("{e:?}")))?;
    for (k, &c) in y.iter().enumerate() {
        let m = &probs[k * oh * ow..(k + 1) * oh * ow];
        let (lo, hi) = (
            m.iter().copied().fold(1.0f32, f32::min),
            m.iter().copied().fold(0.0f32, f32::max),
        );
        println!(
            "  {:<11} p(true class) from {lo:.3} to {hi:.3}",
            set.classes()[c]
        );
    }
    // Each pixel shows the position whose square is centred nearest to it
    // (probability 0..1 -> black..white).
    let [_, _, h, w] = x.dims();
    let nearest = |p: usize, positions: usize| {
        let centre = (args.patch as f64 - 1.0) / 2.0;
        ((p as f64 - centre) / args.stride as f64)
            .round()
            .clamp(0.0, (positions - 1) as f64) as usize
    };
    let mut big = Vec::with_capacity(n * h * w);
    for k in 0..n {
        for r in 0..h {
            for c in 0..w {
                big.push(probs[k * oh * ow + nearest(r, oh) * ow + nearest(c, ow)]);
            }
        }
    }
    let maps = Tensor::<1>::from_floats(big.as_slice(), &device).reshape([n, 1, h, w]);
    examples::images::save_grid(Tensor::cat(vec![x, maps], 0), n, 4, &args.out)
        .map_err(Failure::run)?;
    println!(
        "wrote {} (images above p(true class) with the square at each place)",
        args.out.display()
    );
    Ok(())
}
