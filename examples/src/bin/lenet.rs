//! Trains the course's LeNet-5 on Fashion-MNIST (d2l 7.6):
//!
//!     cargo run -p examples --bin lenet -- [--epochs 10] [--device flex|ndarray|wgpu]
//!
//! Without `--data-dir` it trains on the full set when `cargo xtask download
//! fashion-mnist` has put it in the data directory (`$ZOO_DATA_DIR`, else
//! `~/.cache/zoo`), else on the real 10,000-image subset embedded in
//! `zoo-datasets`, evaluated on its 2,000 test images, so it runs on a fresh
//! machine without network. `--data-dir /usr/share/datasets/fashion-mnist`
//! (Debian's `dataset-fashion-mnist`) trains on the full 60,000 images.
//! Prints per epoch the training loss and accuracy, the test accuracy and
//! macro F1 (evaluated without autodiff), and the throughput.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor};
use clap::Parser;
use zoo_datasets::{FashionMnist, ImageBatcher, ImageDataset, Split};
use zoo_losses::{CeTarget, Reduction};
use zoo_models::lenet::{LeNet, LeNetActivation, LeNetConfig, LeNetPool};
use zoo_optim::SgdConfig;
use zoo_train::metrics::ConfusionMatrix;

#[derive(Parser)]
#[command(about = "Train LeNet-5 on Fashion-MNIST (the course's d2l 7.6 setup)")]
struct Args {
    /// Epochs.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    /// SGD learning rate (the course's 0.9 for the sigmoid LeNet).
    #[arg(long, default_value_t = 0.9)]
    lr: f64,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
    /// Directory of the genuine Fashion-MNIST files (default: the data directory
    /// when `cargo xtask download fashion-mnist` has filled it, else the
    /// embedded subset).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// ReLU and max pooling instead of the course's sigmoid and average pooling.
    #[arg(long)]
    relu: bool,
    /// Seed of the shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// SplitMix64: a small seeded generator for the shuffles.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle(&mut self, v: &mut [usize]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Correct predictions of a batch, left on the device (no host sync).
fn correct(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1, Int> {
    let pred = logits.argmax(1).flatten::<1>(0, 1);
    pred.equal(labels).int().sum()
}

fn evaluate(model: &LeNet, data: &ImageDataset, batch: usize, device: &Device) -> ConfusionMatrix {
    let mut cm = ConfusionMatrix::new(data.classes().len());
    let idx: Vec<usize> = (0..data.len()).collect();
    for chunk in idx.chunks(batch) {
        let b = ImageBatcher::new().batch_indices(data, chunk, device);
        cm.add_logits(model.forward(b.images), b.targets);
    }
    cm
}

fn main() -> ExitCode {
    let args = Args::parse();
    let backend = match zoo_device::resolve(args.device.as_deref(), zoo_device::DEFAULT_DEVICE) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let device = backend.device().expect("compiled in");
    let load = |split| FashionMnist::load(args.data_dir.as_deref(), split);
    let (train, test) = match (load(Split::Train), load(Split::Test)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.batch_size == 0 || args.epochs == 0 {
        eprintln!("error: --batch-size and --epochs must be positive");
        return ExitCode::from(2);
    }
    let source = train.source();
    println!(
        "LeNet-5 on Fashion-MNIST ({source}: {} train, {} test) on {backend}, batch {}, lr {}",
        train.len(),
        test.len(),
        args.batch_size,
        args.lr
    );

    let train_device = device.clone().autodiff();
    let mut config = LeNetConfig::new();
    if args.relu {
        config = config
            .with_activation(LeNetActivation::Relu)
            .with_pool(LeNetPool::Max);
    }
    let mut model = config.init(&train_device);
    let mut optim = SgdConfig::torch_default().init();
    let mut rng = SplitMix(args.seed);
    let mut order: Vec<usize> = (0..train.len()).collect();
    for epoch in 1..=args.epochs {
        let start = Instant::now();
        rng.shuffle(&mut order);
        // Running sums stay on the device; they are read once per epoch.
        let mut loss_sum = Tensor::<1>::zeros([1], &device);
        let mut right = Tensor::<1, Int>::zeros([1], &device);
        for chunk in order.chunks(args.batch_size) {
            let b = ImageBatcher::new().batch_indices(&train, chunk, &train_device);
            let (x, y) = (b.images, b.targets);
            let logits = model.forward(x);
            let loss = zoo_losses::cross_entropy(
                logits.clone(),
                CeTarget::Classes(y.clone()),
                0.0,
                Reduction::Mean,
            );
            right = right + correct(logits.detach(), y).without_autodiff();
            loss_sum = loss_sum
                + loss
                    .clone()
                    .detach()
                    .without_autodiff()
                    .mul_scalar(chunk.len() as f64);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(args.lr, model, grads);
        }
        let loss_sum = loss_sum.into_scalar::<f32>() as f64;
        let right = right.into_scalar::<i64>() as f64;
        let secs = start.elapsed().as_secs_f64();
        let cm = evaluate(&model.valid(), &test, 1000, &device);
        println!(
            "epoch {epoch:>2}: loss {:.4}, train acc {:.3}, test acc {:.3}, test macro F1 {:.3}, \
             {:.0} images/s",
            loss_sum / train.len() as f64,
            right / train.len() as f64,
            cm.accuracy(),
            cm.macro_prf().2,
            train.len() as f64 / secs
        );
    }
    ExitCode::SUCCESS
}
