//! d2l's deep convolutional GAN (d2l 20.2; Radford et al. 2016) on
//! Fashion-MNIST at 64x64:
//!
//! ```text
//! cargo run -p examples --bin dcgan -- [--epochs 5] [--batch-size 64] [--lr 0.005] \
//!     [--width 16] [--latent 100] [--limit 2000] [--seed 0] [--out runs/dcgan] [--resume] \
//!     [--device D] [--data-dir DIR]
//! ```
//!
//! The course's `net_G` (four `G_block`s of transposed convolution, batch
//! norm and ReLU, a last transposed convolution and tanh) and `net_D` (four
//! `D_block`s of stride-2 convolution, batch norm and LeakyReLU 0.2, a last
//! 4x4 convolution), weights from `N(0, 0.02)`, both trained by Adam with
//! betas (0.5, 0.999) at the same rate, BCE with logits, one D step then
//! one G step per batch, on the shared training loop. The images are the
//! Fashion-MNIST items (the embedded subset unless downloaded) resized to
//! 64x64 and scaled to `[-1, 1]`, one channel. The course trains 64 base
//! channels (`n_G = n_D = 64`) for 20 epochs on a GPU; the defaults here
//! (`--width 16`, 2,000 images, 5 epochs) fit a few minutes of two CPU
//! cores. Every epoch writes `samples.png` (64 images from the same fixed
//! noise) and a copy `samples-NN.png`; the loop writes `curves.png`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use burn::tensor::{Device, Tensor, TensorData};
use clap::Parser;
use examples::Failure;
use zoo_augment::resize::{Interpolation, resize};
use zoo_datasets::{ImageDataset, Split};
use zoo_models::gan::{
    DcganDiscriminator, DcganDiscriminatorConfig, DcganGenerator, DcganGeneratorConfig,
};
use zoo_optim::AdamConfig;
use zoo_rng::Rng;
use zoo_train::gan::GanTask;
use zoo_train::{TrainConfig, train};

#[derive(Parser)]
#[command(about = "d2l's DCGAN on Fashion-MNIST at 64x64 (d2l 20.2)")]
struct Args {
    /// Epochs (the course: 20).
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Mini-batch size (the course: 256).
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Adam's learning rate for both nets (the course: 0.005).
    #[arg(long, default_value_t = 0.005)]
    lr: f64,
    /// Base channels `n_G = n_D` (the course: 64).
    #[arg(long, default_value_t = 16)]
    width: usize,
    /// Latent size (the course: 100).
    #[arg(long, default_value_t = 100)]
    latent: usize,
    /// Training images used (the first ones).
    #[arg(long, default_value_t = 2000)]
    limit: usize,
    /// Seed of the weights, the shuffling and the noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where the checkpoints, `metrics.jsonl`, `curves.png` and the grids go.
    #[arg(long, default_value = "runs/dcgan")]
    out: PathBuf,
    /// Continue from the newest checkpoint in --out.
    #[arg(long)]
    resume: bool,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
    /// Where a downloaded Fashion-MNIST is (default: the zoo's data directory;
    /// without one, the embedded subset).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// Test images the discriminator is scored on after each epoch (fewer
/// when the test set holds fewer).
const VALID_IMAGES: usize = 256;

/// Items `ix` as `[n, 1, 64, 64]` in `[-1, 1]`.
fn images(data: &ImageDataset, ix: &[usize], device: &Device) -> Tensor<4> {
    let v: Vec<f32> = ix
        .iter()
        .flat_map(|&i| data.pixels(i).iter().map(|&p| p as f32 / 255.0))
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(v, [ix.len(), 1, 28, 28]), device);
    resize(x, [64, 64], Interpolation::Bilinear, false)
        .expect("28x28 to 64x64")
        .mul_scalar(2.0)
        .sub_scalar(1.0)
}

fn noise(n: usize, latent: usize, rng: &mut Rng, device: &Device) -> Tensor<4> {
    let v: Vec<f32> = (0..n * latent).map(|_| rng.normal() as f32).collect();
    Tensor::from_data(TensorData::new(v, [n, latent, 1, 1]), device)
}

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Failure> {
    examples::check_training_flags(args.epochs, args.batch_size, args.lr)?;
    if !(1..=512).contains(&args.width) || !(1..=4096).contains(&args.latent) {
        return Err(Failure::Usage(format!(
            "--width {} --latent {}: expected 1 to 512 base channels and 1 to 4096 latent values",
            args.width, args.latent
        )));
    }
    if args.limit == 0 {
        return Err(Failure::Usage(
            "--limit 0: expected at least 1 image".into(),
        ));
    }
    let (backend, device) = examples::device(args.device.as_deref())?;
    let data = examples::fashion_mnist(args.data_dir.as_deref(), Split::Train)?;
    let held_out = examples::fashion_mnist(args.data_dir.as_deref(), Split::Test)?;
    let n = args.limit.min(data.len());
    println!(
        "DCGAN (n_G = n_D = {}, latent {}) on {n} Fashion-MNIST images at 64x64 on {backend}: Adam lr {} betas (0.5, 0.999), batches of {}",
        args.width, args.latent, args.lr, args.batch_size
    );
    let train_device = device.clone().autodiff();
    train_device.seed(args.seed);
    let net_g = DcganGeneratorConfig::new()
        .with_n_g(args.width)
        .with_latent_dim(args.latent)
        .with_channels(1)
        .init(&train_device);
    let net_d = DcganDiscriminatorConfig::new()
        .with_n_d(args.width)
        .with_channels(1)
        .init(&train_device);
    let adam = || AdamConfig::new().with_beta1(0.5).init();
    let (data, dev, latent) = (Arc::new(data), train_device.clone(), args.latent);
    let make = Arc::new(move |ix: &[usize], rng: &mut Rng| {
        (images(&data, ix, &dev), noise(ix.len(), latent, rng, &dev))
    });
    let fixed = noise(64, args.latent, &mut Rng::new(12345), &device);
    // D's validation scores: the first 256 test images, or as many as there are.
    let valid = (
        images(
            &held_out,
            &(0..VALID_IMAGES.min(held_out.len())).collect::<Vec<_>>(),
            &device,
        ),
        fixed.clone(),
    );
    let out = args.out.clone();
    let on_epoch = Box::new(move |epoch: usize, g: &DcganGenerator| {
        let samples = g.forward(fixed.clone());
        let grid = match examples::images::grid(samples, 8, -1.0, 1.0) {
            Ok(g) => g,
            Err(e) => return Some(format!("warning: no grid: {e}")),
        };
        for name in ["samples.png".to_string(), format!("samples-{epoch:02}.png")] {
            if let Err(e) = zoo_plot::png::save(&grid, &out.join(&name)) {
                return Some(format!("warning: {name} not written: {e}"));
            }
        }
        Some(format!(
            "samples: {}",
            out.join(format!("samples-{epoch:02}.png")).display()
        ))
    });
    let mut task: GanTask<DcganGenerator, DcganDiscriminator, 4, 4> = GanTask::new(
        net_g,
        net_d,
        adam(),
        adam(),
        1.0,
        n,
        args.batch_size,
        make,
        valid,
    )
    .map_err(|e| Failure::Usage(e.to_string()))?
    .on_epoch(on_epoch);
    let config = TrainConfig {
        seed: args.seed,
        out_dir: Some(args.out.clone()),
        resume: args.resume,
        identity: vec![
            ("model".into(), "d2l_dcgan".into()),
            ("width".into(), args.width.to_string()),
            ("latent".into(), args.latent.to_string()),
        ],
        ..TrainConfig::new(args.epochs, args.batch_size, args.lr)
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Failure::run(format!("cannot create {}: {e}", args.out.display())))?;
    let run = train(&mut task, &config).map_err(Failure::run)?;
    if let Some(e) = run.resumed_from {
        println!("resumed after epoch {e} from {}", args.out.display());
    }
    for r in &run.history {
        println!(
            "epoch {:>2}: loss_D {:.3}, loss_G {:.3}, D(real) {:.3}, D(fake) {:.3}, {:.1} images/s",
            r.epoch,
            r.get("train_loss_D"),
            r.get("train_loss_G"),
            r.get("valid_d_real"),
            r.get("valid_d_fake"),
            r.items_per_sec
        );
    }
    println!(
        "samples: {}; curves: {}",
        args.out.join("samples.png").display(),
        args.out.join("curves.png").display()
    );
    Ok(())
}
