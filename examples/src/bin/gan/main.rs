//! d2l's generative adversarial network on 2-D Gaussian data (d2l 20.1):
//!
//! ```text
//! cargo run -p examples --bin gan -- [--epochs 20] [--batch-size 8] \
//!     [--lr-d 0.05] [--lr-g 0.005] [--seed 0] [--out runs/gan] [--resume] [--device D]
//! ```
//!
//! The real data are `X A + b` for `X ~ N(0, I)` with the course's `A =
//! [[1, 2], [-0.1, 0.5]]`, `b = [1, 2]` (1,000 points); the generator is
//! one `Linear(2, 2)`, the discriminator `Linear(2, 5), Tanh, Linear(5, 3),
//! Tanh, Linear(3, 1)`, all weights from `N(0, 0.02)`, each trained by Adam
//! (`update_D` then `update_G` per batch of 8), on the shared training loop
//! (checkpoints, `--resume`, `metrics.jsonl`, `curves.png`). At the end it
//! prints the learned generator's transform beside the true one and draws
//! real and generated points (`gan.png`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use clap::Parser;
use examples::Failure;
use zoo_models::gan::{Mlp, MlpConfig};
use zoo_optim::AdamConfig;
use zoo_plot::curves::{Legend, Panel, Series, curves_png};
use zoo_rng::Rng;
use zoo_train::gan::GanTask;
use zoo_train::{TrainConfig, train};

#[derive(Parser)]
#[command(about = "d2l's GAN on 2-D Gaussian data (d2l 20.1)")]
struct Args {
    /// Epochs (the course: 20).
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Mini-batch size (the course: 8).
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// The discriminator's Adam learning rate (the course: 0.05).
    #[arg(long, default_value_t = 0.05)]
    lr_d: f64,
    /// The generator's Adam learning rate (the course: 0.005).
    #[arg(long, default_value_t = 0.005)]
    lr_g: f64,
    /// Seed of the data, the initial weights, the shuffling and the noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where the checkpoints, `metrics.jsonl`, `curves.png` and `gan.png` go.
    #[arg(long, default_value = "runs/gan")]
    out: PathBuf,
    /// Continue from the newest checkpoint in --out.
    #[arg(long)]
    resume: bool,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

/// The course's real distribution: `x A + b`.
const A: [[f32; 2]; 2] = [[1.0, 2.0], [-0.1, 0.5]];
const B: [f32; 2] = [1.0, 2.0];

fn gaussian(n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..2 * n).map(|_| rng.normal() as f32).collect()
}

fn transform(x: &[f32]) -> Vec<f32> {
    x.chunks(2)
        .flat_map(|p| {
            [
                p[0] * A[0][0] + p[1] * A[1][0] + B[0],
                p[0] * A[0][1] + p[1] * A[1][1] + B[1],
            ]
        })
        .collect()
}

/// Mean and covariance of 2-D points.
fn moments(points: &[f32]) -> ([f64; 2], [[f64; 2]; 2]) {
    let n = (points.len() / 2) as f64;
    let mut m = [0.0; 2];
    for p in points.chunks(2) {
        m[0] += p[0] as f64 / n;
        m[1] += p[1] as f64 / n;
    }
    let mut c = [[0.0; 2]; 2];
    for p in points.chunks(2) {
        let d = [p[0] as f64 - m[0], p[1] as f64 - m[1]];
        for i in 0..2 {
            for j in 0..2 {
                c[i][j] += d[i] * d[j] / (n - 1.0);
            }
        }
    }
    (m, c)
}

fn points(t: Tensor<2>) -> Result<Vec<f32>, Failure> {
    t.into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| Failure::run(format!("{e:?}")))
}

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Failure> {
    // The rates first, each error naming its own flag (not `--lr`).
    examples::check_lr_flag("--lr-d", args.lr_d)?;
    examples::check_lr_flag("--lr-g", args.lr_g)?;
    examples::check_training_flags(args.epochs, args.batch_size, args.lr_d)?;
    let (backend, device) = examples::device(args.device.as_deref())?;
    let n = 1000;
    let mut rng = Rng::new(args.seed);
    let data = Arc::new(transform(&gaussian(n, &mut rng)));
    let held_out = transform(&gaussian(100, &mut rng));
    let fixed_noise = gaussian(100, &mut rng);
    println!(
        "GAN on {n} points of X A + b (A = {A:?}, b = {B:?}) on {backend}: batches of {}, Adam lr_D {} / lr_G {}",
        args.batch_size, args.lr_d, args.lr_g
    );

    let train_device = device.clone().autodiff();
    train_device.seed(args.seed);
    let normal = |sizes: Vec<usize>| MlpConfig::new(sizes).with_normal_std(Some(0.02));
    let net_g = normal(vec![2, 2]).init(&train_device);
    let net_d = normal(vec![2, 5, 3, 1]).init(&train_device);
    let (points_dev, data_for) = (train_device.clone(), data.clone());
    let make = Arc::new(move |ix: &[usize], rng: &mut Rng| {
        let x: Vec<f32> = ix
            .iter()
            .flat_map(|&i| [data_for[2 * i], data_for[2 * i + 1]])
            .collect();
        let m = ix.len();
        let z = gaussian(m, rng);
        (
            Tensor::<2>::from_data(TensorData::new(x, [m, 2]), &points_dev),
            Tensor::<2>::from_data(TensorData::new(z, [m, 2]), &points_dev),
        )
    });
    let on = |v: &[f32], d: &Device| {
        Tensor::<2>::from_data(TensorData::new(v.to_vec(), [v.len() / 2, 2]), d)
    };
    let mut task: GanTask<Mlp, Mlp, 2, 2> = GanTask::new(
        net_g,
        net_d,
        AdamConfig::new().init(),
        AdamConfig::new().init(),
        args.lr_g / args.lr_d,
        n,
        args.batch_size,
        make,
        (on(&held_out, &device), on(&fixed_noise, &device)),
    )
    .map_err(|e| Failure::Usage(e.to_string()))?;
    let config = TrainConfig {
        seed: args.seed,
        out_dir: Some(args.out.clone()),
        resume: args.resume,
        identity: vec![
            ("model".into(), "d2l_gan_mlp".into()),
            ("lr_g".into(), args.lr_g.to_string()),
        ],
        ..TrainConfig::new(args.epochs, args.batch_size, args.lr_d)
    };
    let run = train(&mut task, &config).map_err(Failure::run)?;
    if let Some(e) = run.resumed_from {
        println!("resumed after epoch {e} from {}", args.out.display());
    }
    let last = run.history.last().expect("at least one epoch");
    println!(
        "epoch {}: loss_D {:.3}, loss_G {:.3}, D(real) {:.3}, D(fake) {:.3}, {:.0} samples/s",
        last.epoch,
        last.get("train_loss_D"),
        last.get("train_loss_G"),
        last.get("valid_d_real"),
        last.get("valid_d_fake"),
        last.items_per_sec
    );

    // The learned transform: G(z) = z W^T + c, so mean c and covariance W W^T.
    let g = task.generator().valid();
    let generated = points(g.forward(on(&fixed_noise, &device).to_device(&device)))?;
    let w = points(g.layers[0].weight.val().inner())?; // burn's [in, out] = W^T
    let c = points(
        g.layers[0]
            .bias
            .as_ref()
            .expect("a bias")
            .val()
            .inner()
            .reshape([1, 2]),
    )?;
    let true_cov = |i: usize, j: usize| (0..2).map(|k| A[k][i] * A[k][j]).sum::<f32>();
    let learned_cov = |i: usize, j: usize| (0..2).map(|k| w[k * 2 + i] * w[k * 2 + j]).sum::<f32>();
    println!(
        "true:    mean [{:.3}, {:.3}], covariance A^T A = [[{:.3}, {:.3}], [{:.3}, {:.3}]]",
        B[0],
        B[1],
        true_cov(0, 0),
        true_cov(0, 1),
        true_cov(1, 0),
        true_cov(1, 1)
    );
    println!(
        "learned: mean [{:.3}, {:.3}], covariance W W^T = [[{:.3}, {:.3}], [{:.3}, {:.3}]] (G(z) = z W^T + c)",
        c[0],
        c[1],
        learned_cov(0, 0),
        learned_cov(0, 1),
        learned_cov(1, 0),
        learned_cov(1, 1)
    );
    let (gm, gc) = moments(&generated);
    let (rm, rc) = moments(&held_out);
    println!(
        "samples: real mean [{:.3}, {:.3}] cov [[{:.3}, {:.3}], [{:.3}, {:.3}]]; generated mean [{:.3}, {:.3}] cov [[{:.3}, {:.3}], [{:.3}, {:.3}]] (100 each)",
        rm[0],
        rm[1],
        rc[0][0],
        rc[0][1],
        rc[1][0],
        rc[1][1],
        gm[0],
        gm[1],
        gc[0][0],
        gc[0][1],
        gc[1][0],
        gc[1][1]
    );

    let pairs = |v: &[f32]| -> Vec<(f64, f64)> {
        v.chunks(2).map(|p| (p[0] as f64, p[1] as f64)).collect()
    };
    let scatter = Panel::new("real and generated points", "x1", "x2")
        .with(Series::scatter("real", pairs(&held_out)))
        .with(Series::scatter("generated", pairs(&generated)))
        .with_legend(Legend::LowerRight);
    let curve = |name: &str| {
        Series::new(
            name,
            run.history
                .iter()
                .map(|r| r.get(&format!("train_{name}")))
                .collect(),
        )
    };
    let losses = Panel::new("losses per sample", "epoch", "BCE")
        .with(curve("loss_D"))
        .with(curve("loss_G"));
    let png = curves_png(&[losses, scatter], 960, 420).map_err(Failure::run)?;
    let path = args.out.join("gan.png");
    zoo_plot::png::write_bytes(&png, &path).map_err(Failure::run)?;
    println!("picture: {}", path.display());
    Ok(())
}
