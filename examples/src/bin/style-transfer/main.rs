//! Neural style transfer (Gatys et al.; d2l 14.12):
//!
//! ```text
//! cargo run -p examples --bin style-transfer -- --content assets/images/chelsea.jpg \
//!     --style assets/images/hubble_deep_field.jpg --out out.png \
//!     [--weights vgg19.pth] [--size 300x450] [--steps 500] [--every 100] [--optimizer adam|lbfgs] \
//!     [--run-dir runs/style-transfer] [--resume] [--device D]
//! ```
//!
//! The course's settings by default: 300x450, content weight 1, style 1e4,
//! total variation 10, Adam lr 0.3 decayed by 0.8 every 50 steps, 500 steps;
//! style layers conv1_1 .. conv5_1, content conv4_2 (see `zoo_style::features`
//! for the convention). The transfer runs on the shared training loop: an
//! "epoch" is `--every` steps, after which the current image is written
//! beside `--out` (`out-0100.png`, ...) and a checkpoint (the image and
//! Adam's state) into `--run-dir`, with `metrics.jsonl` and the loss curves
//! `curves.png`; `--resume` continues a run from its newest checkpoint to the
//! same numbers as an uninterrupted one.
//! Without `--weights` it takes torchvision's VGG-19 through the weights
//! cache (`zoo_models::pretrained`, fetched on first use; `--offline` reads
//! only the cache, an error naming the URL and the path to put the file
//! at); `--random-weights` runs on random ones, to try the pipeline.

use examples::Failure;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use burn::data::dataloader::DataLoader;
use burn::tensor::{Device, Tensor};
use clap::Parser;
use zoo_style::features::{Pooling, Vgg19Config, Vgg19Features};
use zoo_style::transfer::{Init, Optimizer, StepReport, Transfer, TransferConfig};
use zoo_train::checkpoint::{load_model_and_optim, save_model_and_optim};
use zoo_train::trainer::weights_finite;
use zoo_train::{IndexLoader, Step, Task, TrainConfig, TrainError};

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
    #[arg(long, default_value = "runs/style-transfer/style-transfer.png")]
    out: PathBuf,
    /// torchvision's vgg19 weights (`.pth` or `.safetensors`); default: its
    /// published file through the weights cache ($ZOO_HOME/weights, else
    /// ~/.cache/zoo/weights), fetched on first use.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Run on random VGG-19 weights (to try the pipeline: not a style
    /// transfer) instead of fetching torchvision's.
    #[arg(long, conflicts_with = "weights")]
    random_weights: bool,
    /// Do not download: missing weights are an error naming the URL and the
    /// path to put the file at.
    #[arg(long)]
    offline: bool,
    /// Working size HxW (both images are resized to it).
    #[arg(long, default_value = "300x450")]
    size: String,
    /// Optimisation steps.
    #[arg(long, default_value_t = 500)]
    steps: usize,
    /// adam (the course's schedule) or lbfgs.
    #[arg(long, default_value = "adam")]
    optimizer: String,
    /// Steps per epoch of the loop: the current image, a checkpoint and a
    /// line of losses every N steps (0, or more than --steps: one epoch of
    /// all the steps).
    #[arg(long, default_value_t = 100)]
    every: usize,
    /// Where the checkpoints, `metrics.jsonl` and `curves.png` go.
    #[arg(long, default_value = "runs/style-transfer")]
    run_dir: PathBuf,
    /// Continue from the newest checkpoint in --run-dir (Adam only).
    #[arg(long)]
    resume: bool,
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

/// A style transfer as a task of the shared loop: every batch is one
/// optimisation step of the synthesised image; the measures are the
/// weighted loss terms; a checkpoint holds the image, Adam's state and the
/// number of steps done.
struct StyleTask {
    transfer: Transfer,
    /// Steps per epoch.
    every: usize,
    /// Steps in all (the intermediate images stop before the last).
    steps: usize,
    out: PathBuf,
    /// Where the measures go (the plain device).
    plain: Device,
    first: Option<StepReport>,
    last: Option<StepReport>,
}

impl Task for StyleTask {
    type Batch = ();

    fn train_loader(&self, _epoch: usize, _seed: u64) -> Arc<dyn DataLoader<()>> {
        Arc::new(IndexLoader::new(
            (0..self.every).collect(),
            1,
            Arc::new(|_: &[usize]| ()),
        ))
    }

    fn batches_per_epoch(&self) -> usize {
        self.every
    }

    /// The step's learning rate is the transfer's own schedule (Adam's decay
    /// every 50 steps), not the loop's per-epoch one.
    fn step(&mut self, _batch: (), _lr: f64) -> Step {
        let r = self.transfer.step();
        let value = |v: f64| Tensor::<1>::from_floats([v as f32], &self.plain);
        let sums = vec![
            ("content", value(r.content)),
            ("style", value(r.style)),
            ("tv", value(r.tv)),
            ("loss", value(r.total)),
        ];
        if self.first.is_none() {
            self.first = Some(r.clone());
        }
        self.last = Some(r);
        Step { count: 1, sums }
    }

    /// The weighted loss of the image as it stands after the epoch (clamped).
    fn validate(&mut self) -> Vec<(&'static str, f64)> {
        let (style, content) = self.transfer.distances();
        let c: f64 = content.iter().sum::<f64>() * self.transfer.config().content_weight;
        let s: f64 = style.iter().sum::<f64>() * self.transfer.config().style_weight;
        vec![("content", c), ("style", s)]
    }

    fn monitor(&self) -> (&'static str, bool) {
        ("style", false)
    }

    fn unit(&self) -> &'static str {
        "steps"
    }

    fn recorded(&self) -> Vec<(String, String)> {
        vec![("steps_per_epoch".into(), self.every.to_string())]
    }

    /// The image after the epoch, beside `--out`, except after the last step
    /// (the result itself is written there).
    fn report(&mut self, _epoch: usize) -> Option<String> {
        let step = self.transfer.steps();
        if step >= self.steps {
            return None;
        }
        let path = intermediate(&self.out, step);
        Some(
            match examples::images::save_rgb(self.transfer.image(), &path) {
                Ok(()) => format!("step {step:>4} -> {}", path.display()),
                Err(e) => format!("warning: step {step}: {e}"),
            },
        )
    }

    fn save(&self, dir: &Path) -> Result<Vec<String>, TrainError> {
        let Some(adam) = self.transfer.adam() else {
            // L-BFGS: the image alone, which cannot be resumed from exactly.
            return Ok(Vec::new());
        };
        let mut files = save_model_and_optim(dir, self.transfer.synthesized(), adam)?;
        let path = dir.join("steps.txt");
        std::fs::write(&path, self.transfer.steps().to_string())
            .map_err(|source| TrainError::Io { path, source })?;
        files.push("steps.txt".into());
        Ok(files)
    }

    fn load(&mut self, dir: &Path) -> Result<(), String> {
        let Some(adam) = self.transfer.adam() else {
            return Err(
                "an L-BFGS run cannot be resumed: burn's L-BFGS keeps its history in memory only"
                    .into(),
            );
        };
        let steps: usize = std::fs::read_to_string(dir.join("steps.txt"))
            .map_err(|e| format!("steps.txt: {e}"))?
            .trim()
            .parse()
            .map_err(|e| format!("steps.txt: {e}, expected the number of steps done"))?;
        let (synth, adam) =
            load_model_and_optim(dir, self.transfer.synthesized().clone(), adam.clone())?;
        self.transfer
            .restore(synth, adam, steps)
            .map_err(|e| e.to_string())
    }

    fn weights_finite(&self) -> bool {
        weights_finite(self.transfer.synthesized())
    }
}

fn run(args: &Args) -> Result<(), Failure> {
    let usage = Failure::Usage;
    let size = parse_size(&args.size).map_err(usage)?;
    examples::check_png_out(&args.out)?;
    if args.steps == 0 {
        return Err(usage("--steps 0: expected at least 1".into()));
    }
    // Fewer steps than --every: one epoch of all of them.
    let every = if args.every == 0 || args.every > args.steps {
        args.steps
    } else {
        args.every
    };
    if !args.steps.is_multiple_of(every) {
        return Err(usage(format!(
            "--steps {} with --every {}: expected a multiple of --every (an epoch of the loop is --every steps)",
            args.steps, args.every
        )));
    }
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
    if args.resume && args.optimizer == "lbfgs" {
        return Err(usage(
            "--resume with --optimizer lbfgs: burn's L-BFGS keeps its history in memory only, so only Adam runs resume"
                .into(),
        ));
    }
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
    // The weights: --weights, else torchvision's VGG-19 through the weights
    // cache (fetched on first use), else with --random-weights none.
    let path = match (&args.weights, args.random_weights) {
        (Some(path), _) => Some(path.clone()),
        (None, true) => None,
        (None, false) => {
            let entry = zoo_models::pretrained::default_weights("vgg19")
                .map_err(|e| Failure::run(e.to_string()))?;
            let options = zoo_models::pretrained::FetchOptions {
                offline: args.offline,
                ..Default::default()
            };
            let path = zoo_models::pretrained::hub::fetch(entry, &options).map_err(|e| {
                usage(format!(
                    "{e}; or pass --weights FILE (torchvision's vgg19 state_dict), or --random-weights to run the pipeline on random weights"
                ))
            })?;
            Some(path)
        }
    };
    let weights = match &path {
        Some(path) => path.display().to_string(),
        None => "random".into(),
    };
    let extractor = match &path {
        Some(path) => {
            Vgg19Features::load(&config, path, &device).map_err(|e| usage(e.to_string()))?
        }
        None => {
            eprintln!(
                "warning: --random-weights: the result only shows that the pipeline runs, not a style transfer (that needs ImageNet-trained VGG-19 weights)"
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
    let transfer = Transfer::new(extractor, content, style, transfer_config, &device)
        .map_err(|e| usage(e.to_string()))?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::run(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut task = StyleTask {
        transfer,
        every,
        steps: args.steps,
        out: args.out.clone(),
        plain: device.clone(),
        first: None,
        last: None,
    };
    let lr = match task.transfer.config().optimizer {
        Optimizer::Adam { lr, .. } | Optimizer::Lbfgs { lr } => lr,
    };
    let train_config = TrainConfig {
        out_dir: Some(args.run_dir.clone()),
        resume: args.resume,
        identity: vec![
            ("content".into(), args.content.display().to_string()),
            ("style".into(), args.style.display().to_string()),
            ("weights".into(), weights),
            ("size".into(), format!("{}x{}", size[0], size[1])),
            ("optimizer".into(), args.optimizer.clone()),
            ("noise".into(), args.noise.to_string()),
            ("avg_pool".into(), args.avg_pool.to_string()),
            ("after_relu".into(), args.after_relu.to_string()),
            ("style_weight".into(), args.style_weight.to_string()),
        ],
        ..TrainConfig::new(args.steps / every, 1, lr)
    };
    let run = zoo_train::train(&mut task, &train_config).map_err(|e| match e {
        TrainError::Diverged { .. } => Failure::run(format!(
            "{e}. Lower --style-weight, or check that --weights holds finite values"
        )),
        e => Failure::run(e),
    })?;
    if let Some(e) = run.resumed_from {
        println!(
            "resumed after step {} from {}",
            e * every,
            args.run_dir.display()
        );
    }
    examples::images::save_rgb(task.transfer.image(), &args.out).map_err(Failure::run)?;
    let show = |r: &StepReport| {
        println!(
            "step {}: content {:.4e}, style {:.4e}, tv {:.4e}, total {:.4e}",
            r.step, r.content, r.style, r.tv, r.total
        )
    };
    if run.resumed_from.is_none()
        && let Some(r) = &task.first
    {
        show(r);
    }
    if let Some(r) = &task.last {
        show(r);
    }
    let trained: Vec<_> = run
        .history
        .iter()
        .skip(run.resumed_from.unwrap_or(0))
        .collect();
    let seconds: f64 = trained.iter().map(|r| r.seconds).sum();
    println!(
        "{:.2} steps/s ({:.1} s); result: {}; curves: {}",
        (trained.len() * every) as f64 / seconds.max(1e-9),
        seconds,
        args.out.display(),
        args.run_dir.join("curves.png").display()
    );
    Ok(())
}
