//! Neural style transfer (Gatys et al.; d2l 14.12):
//!
//! ```text
//! cargo run -p examples --bin style-transfer -- --content assets/images/chelsea.jpg \
//!     --style assets/images/hubble_deep_field.jpg --out out.png \
//!     [--weights vgg19.pth] [--size 300x450] [--steps 500] [--optimizer adam|lbfgs] [--device D]
//! ```
//!
//! The course's settings by default: 300x450, content weight 1, style 1e4,
//! total variation 10, Adam lr 0.3 decayed by 0.8 every 50 steps, 500 steps;
//! style layers conv1_1 .. conv5_1, content conv4_2 (see `zoo_style::features`
//! for the convention). A progress bar shows the loss terms; every `--every`
//! steps the current image is written beside `--out` (`out-0100.png`, ...).
//! Without `--weights` it says that the result needs ImageNet-trained VGG-19
//! weights and runs on random ones (for testing the pipeline).

use examples::Failure;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use zoo_style::features::{Pooling, Vgg19Config, Vgg19Features};
use zoo_style::transfer::{Init, Optimizer, Transfer, TransferConfig};

#[derive(Parser)]
#[command(about = "Transfer the style of one image onto another (Gatys et al.; d2l 14.12)")]
struct Args {
    /// The content image (PNG or JPEG).
    #[arg(long)]
    content: PathBuf,
    /// The style image (PNG or JPEG).
    #[arg(long)]
    style: PathBuf,
    /// Where the result goes (PNG).
    #[arg(long, default_value = "style-transfer.png")]
    out: PathBuf,
    /// torchvision's vgg19 weights (`.pth` or `.safetensors`; `cargo xtask download vgg19`).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Working size HxW (both images are resized to it).
    #[arg(long, default_value = "300x450")]
    size: String,
    /// Optimisation steps.
    #[arg(long, default_value_t = 500)]
    steps: usize,
    /// adam (the course's schedule) or lbfgs.
    #[arg(long, default_value = "adam")]
    optimizer: String,
    /// Write the current image every N steps (0: only the result).
    #[arg(long, default_value_t = 100)]
    every: usize,
    /// Start from noise instead of the content image.
    #[arg(long)]
    noise: bool,
    /// Average pooling in the trunk (Gatys et al.) instead of max.
    #[arg(long)]
    avg_pool: bool,
    /// Tap the layers after their ReLU (Gatys et al.) instead of before (the course's code).
    #[arg(long)]
    after_relu: bool,
    /// Style weight.
    #[arg(long, default_value_t = 1e4)]
    style_weight: f64,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

/// `HxW` (or one number for a square).
fn parse_size(s: &str) -> Result<[usize; 2], String> {
    let bad = || format!("--size `{s}`, expected HxW such as 300x450 (each at least 32)");
    let parts: Vec<&str> = s.split('x').collect();
    let nums: Vec<usize> = parts
        .iter()
        .map(|p| p.trim().parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let size = match nums.as_slice() {
        [n] => [*n, *n],
        [h, w] => [*h, *w],
        _ => return Err(bad()),
    };
    if size.iter().any(|&v| v < 32) {
        return Err(bad());
    }
    Ok(size)
}

/// `out-0100.png` beside `out.png`.
fn intermediate(out: &Path, step: usize) -> PathBuf {
    let stem = out
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("style-transfer");
    out.with_file_name(format!("{stem}-{step:04}.png"))
}

fn run(args: &Args) -> Result<(), Failure> {
    let usage = Failure::Usage;
    let size = parse_size(&args.size).map_err(usage)?;
    examples::check_png_out(&args.out)?;
    zoo_device::budget::check("the image", &[64, 3, size[0], size[1]]).map_err(|e| {
        usage(format!(
            "--size {}: VGG-19's first feature maps of {e}",
            args.size
        ))
    })?;
    let optimizer = match args.optimizer.as_str() {
        "adam" => Optimizer::course_adam(),
        "lbfgs" => Optimizer::Lbfgs { lr: 1.0 },
        other => {
            return Err(usage(format!(
                "--optimizer `{other}`, expected adam or lbfgs"
            )));
        }
    };
    let (backend, device) = examples::device(args.device.as_deref())?;
    let content = examples::images::load_rgb(&args.content, Some(size), &device).map_err(usage)?;
    let style = examples::images::load_rgb(&args.style, Some(size), &device).map_err(usage)?;
    let config = Vgg19Config::new()
        .with_after_relu(args.after_relu)
        .with_pooling(if args.avg_pool {
            Pooling::Average
        } else {
            Pooling::Max
        });
    let extractor = match &args.weights {
        Some(path) => {
            Vgg19Features::load(&config, path, &device).map_err(|e| usage(e.to_string()))?
        }
        None => {
            let url = zoo_models::registry::info("vgg19")
                .and_then(|i| i.weights)
                .map(|w| w.url)
                .unwrap_or_default();
            eprintln!(
                "warning: no --weights. Style transfer needs ImageNet-trained VGG-19 weights: with the \
                 random ones used now the result only shows that the pipeline runs, not a style transfer. \
                 Get them with `cargo xtask download vgg19` (torchvision's {url}) and pass \
                 --weights <that file>."
            );
            // Drawn from a fixed seed, so a run repeats its numbers.
            device.seed(0);
            config.init(&device)
        }
    };
    let transfer_config = TransferConfig {
        style_weight: args.style_weight,
        optimizer,
        init: if args.noise {
            Init::Noise(0)
        } else {
            Init::Content
        },
        ..TransferConfig::default()
    };
    println!(
        "style transfer {}x{} on {backend}: {} steps of {}, content {} / style {} / tv {}",
        size[0],
        size[1],
        args.steps,
        args.optimizer,
        transfer_config.content_weight,
        transfer_config.style_weight,
        transfer_config.tv_weight
    );
    let mut transfer = Transfer::new(extractor, content, style, transfer_config, &device)
        .map_err(|e| usage(e.to_string()))?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::run(format!("cannot create {}: {e}", dir.display())))?;
    }
    let bar = ProgressBar::new(args.steps as u64);
    bar.set_style(
        ProgressStyle::with_template("[{bar:30}] {pos}/{len} {msg} ({elapsed} < {eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let start = Instant::now();
    let mut first = None;
    let mut last = None;
    for _ in 0..args.steps {
        let r = transfer.step();
        if !r.total.is_finite() {
            bar.finish_and_clear();
            return Err(Failure::run(format!(
                "the loss became {} at step {} (content {}, style {}, tv {}); nothing was written. \
                     Lower --style-weight, or check that --weights holds finite values",
                r.total, r.step, r.content, r.style, r.tv
            )));
        }
        bar.set_message(format!(
            "content {:.3e} style {:.3e} tv {:.3e} lr {:.3}",
            r.content, r.style, r.tv, r.lr
        ));
        bar.inc(1);
        if first.is_none() {
            first = Some(r.clone());
        }
        if args.every > 0 && r.step % args.every == 0 && r.step < args.steps {
            let path = intermediate(&args.out, r.step);
            examples::images::save_rgb(transfer.image(), &path).map_err(Failure::run)?;
            bar.suspend(|| {
                println!(
                    "step {:>4}: content {:.4e}, style {:.4e}, tv {:.4e}, total {:.4e} -> {}",
                    r.step,
                    r.content,
                    r.style,
                    r.tv,
                    r.total,
                    path.display()
                )
            });
        }
        last = Some(r);
    }
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    examples::images::save_rgb(transfer.image(), &args.out).map_err(Failure::run)?;
    if let (Some(a), Some(b)) = (first, last) {
        println!(
            "step 1: content {:.4e}, style {:.4e}, tv {:.4e}, total {:.4e}",
            a.content, a.style, a.tv, a.total
        );
        println!(
            "step {}: content {:.4e}, style {:.4e}, tv {:.4e}, total {:.4e}",
            b.step, b.content, b.style, b.tv, b.total
        );
    }
    println!(
        "{:.2} steps/s ({:.1} s); result: {}",
        args.steps as f64 / seconds,
        seconds,
        args.out.display()
    );
    Ok(())
}
