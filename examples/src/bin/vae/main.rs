//! PyTorch's variational autoencoder example (`examples/vae`; Kingma &
//! Welling 2014) on Fashion-MNIST:
//!
//! ```text
//! cargo run -p examples --bin vae -- [--epochs 10] [--batch-size 128] [--lr 1e-3] \
//!     [--latent 20] [--seed 1] [--out runs/vae] [--resume] [--device D] [--data-dir DIR]
//! ```
//!
//! The example's network (784 - 400 - 20 Gaussian latent - 400 - 784,
//! sigmoid output) and loss (summed binary cross-entropy of the
//! reconstruction plus the KL divergence from the standard normal prior),
//! Adam at 1e-3, batches of 128. It trains on the embedded Fashion-MNIST
//! subset (10,000 training and 2,000 test images; the full set when
//! downloaded), on the shared training loop, and prints the ELBO's loss per
//! image each epoch on both. Every epoch it writes `reconstruction.png`
//! (eight test images above their reconstructions) and `samples.png`
//! (64 decodings of the same prior draws), and keeps a copy of the samples
//! per epoch (`samples-NN.png`), so the grids are comparable.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use burn::data::dataloader::DataLoader;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use clap::Parser;
use examples::Failure;
use zoo_datasets::{ImageDataset, Split};
use zoo_models::vae::{Vae, VaeConfig};
use zoo_optim::AdamConfig;
use zoo_rng::Rng;
use zoo_train::{IndexLoader, ModelState, Step, Task, TrainConfig, TrainError, train};

#[derive(Parser)]
#[command(about = "PyTorch's VAE example on Fashion-MNIST")]
struct Args {
    /// Epochs (the example: 10).
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Mini-batch size (the example: 128).
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Adam's learning rate (the example: 1e-3).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Latent size (the example: 20).
    #[arg(long, default_value_t = 20)]
    latent: usize,
    /// Seed of the weights, the shuffling and the draws (the example: 1).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the checkpoints, `metrics.jsonl`, `curves.png` and the grids go.
    #[arg(long, default_value = "runs/vae")]
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

/// Images as rows of 784 values in `[0, 1]`.
fn rows(data: &ImageDataset, ix: &[usize], device: &Device) -> Tensor<2> {
    let v: Vec<f32> = ix
        .iter()
        .flat_map(|&i| data.pixels(i).iter().map(|&p| p as f32 / 255.0))
        .collect();
    Tensor::from_data(TensorData::new(v, [ix.len(), 784]), device)
}

/// Standard-normal draws `[n, k]` from a fixed stream.
fn normal(n: usize, k: usize, seed: u64, device: &Device) -> Tensor<2> {
    let mut rng = Rng::new(seed);
    let v: Vec<f32> = (0..n * k).map(|_| rng.normal() as f32).collect();
    Tensor::from_data(TensorData::new(v, [n, k]), device)
}

struct VaeTask {
    params: ModelState<Vae>,
    train: Arc<ImageDataset>,
    test: ImageDataset,
    batch_size: usize,
    latent: usize,
    device: Device,
    plain: Device,
    out: PathBuf,
}

impl VaeTask {
    fn model(&self) -> &Vae {
        self.params.model()
    }

    /// Eight test images (all when the set holds fewer) above their
    /// reconstructions (from the mean, `eps` = 0) and 64 decodings of
    /// fixed prior draws, as grids.
    fn pictures(&self, epoch: usize) -> Result<Vec<PathBuf>, String> {
        let model = self.model().valid();
        let k = 8.min(self.test.len());
        let x = rows(&self.test, &(0..k).collect::<Vec<_>>(), &self.plain);
        let (mu, _) = model.encode(x.clone());
        let recon = model.decode(mu);
        let both = Tensor::cat(vec![x, recon], 0).reshape([2 * k, 1, 28, 28]);
        let samples = model
            .decode(normal(64, self.latent, 42, &self.plain))
            .reshape([64, 1, 28, 28]);
        let mut written = Vec::new();
        for (img, name) in [
            (
                examples::images::grid(both, k, 0.0, 1.0)?,
                "reconstruction.png".to_string(),
            ),
            (
                examples::images::grid(samples.clone(), 8, 0.0, 1.0)?,
                "samples.png".into(),
            ),
            (
                examples::images::grid(samples, 8, 0.0, 1.0)?,
                format!("samples-{epoch:02}.png"),
            ),
        ] {
            let path = self.out.join(name);
            zoo_plot::png::save(&img, &path).map_err(|e| e.to_string())?;
            written.push(path);
        }
        Ok(written)
    }
}

impl Task for VaeTask {
    type Batch = Tensor<2>;

    fn train_loader(&self, _epoch: usize, seed: u64) -> Arc<dyn DataLoader<Tensor<2>>> {
        let (data, device) = (self.train.clone(), self.device.clone());
        Arc::new(IndexLoader::new(
            Rng::new(seed).permutation(self.train.len()),
            self.batch_size,
            Arc::new(move |ix: &[usize]| rows(&data, ix, &device)),
        ))
    }

    fn batches_per_epoch(&self) -> usize {
        self.train.len().div_ceil(self.batch_size)
    }

    fn step(&mut self, x: Tensor<2>, lr: f64) -> Step {
        let n = x.dims()[0];
        let model = self.params.model();
        // eps from the device's RNG (torch.randn_like), reseeded by the loop each epoch.
        let out = model.forward(x.clone());
        let loss = zoo_losses::vae_loss(out.recon, x, out.mu, out.logvar);
        let grads = GradientsParams::from_grads(loss.backward(), model);
        self.params.step(lr, grads);
        Step {
            count: n,
            sums: vec![("loss", loss.detach().inner())],
        }
    }

    /// The test set's loss per image, with fixed draws of `eps`.
    fn validate(&mut self) -> Vec<(&'static str, f64)> {
        let model = self.model().valid();
        let n = self.test.len();
        let mut total = 0.0;
        for (k, start) in (0..n).step_by(500).enumerate() {
            let ix: Vec<usize> = (start..(start + 500).min(n)).collect();
            let x = rows(&self.test, &ix, &self.plain);
            let eps = normal(ix.len(), self.latent, 1000 + k as u64, &self.plain);
            let out = model.forward_with(x.clone(), eps);
            total +=
                zoo_losses::vae_loss(out.recon, x, out.mu, out.logvar).into_scalar::<f32>() as f64;
        }
        vec![("loss", total / n as f64)]
    }

    fn monitor(&self) -> (&'static str, bool) {
        ("loss", false)
    }

    fn recorded(&self) -> Vec<(String, String)> {
        vec![
            ("train_images".into(), self.train.len().to_string()),
            ("latent".into(), self.latent.to_string()),
        ]
    }

    fn report(&mut self, epoch: usize) -> Option<String> {
        Some(match self.pictures(epoch) {
            Ok(paths) => format!(
                "grids: {}",
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Err(e) => format!("warning: the grids were not written: {e}"),
        })
    }

    fn save(&self, dir: &Path) -> Result<Vec<String>, TrainError> {
        self.params.save(dir)
    }

    fn load(&mut self, dir: &Path) -> Result<(), String> {
        self.params.load(dir)
    }

    fn weights_finite(&self) -> bool {
        self.params.weights_finite()
    }
}

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Failure> {
    examples::check_training_flags(args.epochs, args.batch_size, args.lr)?;
    if !(1..=4096).contains(&args.latent) {
        return Err(Failure::Usage(format!(
            "--latent {}: expected 1 to 4096",
            args.latent
        )));
    }
    let (backend, device) = examples::device(args.device.as_deref())?;
    let train_set = examples::fashion_mnist(args.data_dir.as_deref(), Split::Train)?;
    let test = examples::fashion_mnist(args.data_dir.as_deref(), Split::Test)?;
    println!(
        "VAE 784-400-{} on Fashion-MNIST ({} training, {} test images) on {backend}: Adam lr {}, batches of {}",
        args.latent,
        train_set.len(),
        test.len(),
        args.lr,
        args.batch_size
    );
    let train_device = device.clone().autodiff();
    train_device.seed(args.seed);
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Failure::run(format!("cannot create {}: {e}", args.out.display())))?;
    let mut task = VaeTask {
        params: ModelState::new(
            VaeConfig::new()
                .with_latent_size(args.latent)
                .init(&train_device),
            AdamConfig::new().init(),
        ),
        train: Arc::new(train_set),
        test,
        batch_size: args.batch_size,
        latent: args.latent,
        device: train_device,
        plain: device.clone(),
        out: args.out.clone(),
    };
    let config = TrainConfig {
        seed: args.seed,
        out_dir: Some(args.out.clone()),
        resume: args.resume,
        identity: vec![("model".into(), "vae".into())],
        ..TrainConfig::new(args.epochs, args.batch_size, args.lr)
    };
    let run = train(&mut task, &config).map_err(Failure::run)?;
    if let Some(e) = run.resumed_from {
        println!("resumed after epoch {e} from {}", args.out.display());
    }
    for r in &run.history {
        println!(
            "epoch {:>2}: train loss {:.2}, test loss {:.2} per image ({:.0} images/s)",
            r.epoch,
            r.get("train_loss"),
            r.get("valid_loss"),
            r.items_per_sec
        );
    }
    println!(
        "pictures: {}, {}, curves: {}",
        args.out.join("reconstruction.png").display(),
        args.out.join("samples.png").display(),
        args.out.join("curves.png").display()
    );
    Ok(())
}
