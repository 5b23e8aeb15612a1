//! Semantic segmentation with the course's fully convolutional network
//! (d2l 14.11; Long et al. 2015):
//!
//! ```text
//! cargo run -p examples --bin fcn -- [--epochs 20] [--batch-size 16] [--lr 1e-3] \
//!     [--optimizer adam|sgd] [--size 128] [--train 480] [--val 64] [--objects 3] \
//!     [--weights resnet18.pth] [--voc DIR] [--seed 0] [--out runs/fcn] [--resume] [--device D]
//! ```
//!
//! The network: torchvision's ResNet-18 without pooling and classifier, a
//! 1x1 convolution to the classes, and a transposed convolution (kernel 64,
//! stride 32, padding 16) initialised by bilinear interpolation; the loss is
//! the per-pixel cross-entropy with boundary pixels (255) ignored. By
//! default it trains on a set generated from real data (Fashion-MNIST
//! trousers, sneakers and bags pasted onto crops of two photographs, each
//! pixel labelled by the item under it: 4 classes with the background) at
//! `--size`; `--voc DIR` trains on Pascal VOC 2012 (`cargo xtask download
//! voc-2012`; 21 classes, random 320x480 crops as the course takes them,
//! the first `--val` validation images at the same crop). The course
//! starts from ImageNet weights (`--weights`, torchvision's resnet18) and
//! trains with SGD at 0.001 (weight decay 1e-3); from random weights Adam
//! at 1e-3 (the default) learns faster. Each epoch reports the loss, the
//! pixel accuracy and the mean IoU on the held-out images and writes
//! `predictions.png` (rows of image | ground truth | prediction in the VOC
//! palette) beside the loop's checkpoints, `metrics.jsonl` and `curves.png`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use burn::data::dataloader::DataLoader;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor};
use clap::Parser;
use examples::Failure;
use image::RgbImage;
use zoo_augment::joint::random_hflip;
use zoo_datasets::segmentation::{self, IGNORE, SegmentationBatch, SegmentationDataset};
use zoo_losses::{Reduction, cross_entropy_pixels};
use zoo_models::fcn::{D2lFcn, D2lFcnConfig};
use zoo_models::weights::StateDict;
use zoo_optim::{AdamConfig, SgdConfig};
use zoo_rng::Rng;
use zoo_train::metrics::ConfusionMatrix;
use zoo_train::{IndexLoader, ModelState, Step, Task, TrainConfig, TrainError, train};

#[derive(Parser)]
#[command(about = "Semantic segmentation with the course's FCN (d2l 14.11)")]
struct Args {
    /// Epochs (the course: 5, from ImageNet weights).
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Mini-batch size (the course: 32).
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// Learning rate (the course: SGD at 0.001 on ImageNet weights).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// adam, or sgd (the course's, with weight decay 1e-3).
    #[arg(long, default_value = "adam")]
    optimizer: String,
    /// Side of the generated images (a multiple of 32).
    #[arg(long, default_value_t = 128)]
    size: usize,
    /// Generated training images (with --voc: at most this many VOC images).
    #[arg(long, default_value_t = 480)]
    train: usize,
    /// Held-out images.
    #[arg(long, default_value_t = 64)]
    val: usize,
    /// Most items pasted per generated image.
    #[arg(long, default_value_t = 3)]
    objects: usize,
    /// torchvision's ImageNet resnet18 weights for the trunk (`resnet18-f37072fd.pth`).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// An extracted `VOCdevkit/VOC2012` to train on instead of the generated set.
    #[arg(long)]
    voc: Option<PathBuf>,
    /// Seed of the data, the weights, the shuffling, the crops and flips.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where the checkpoints, `metrics.jsonl`, `curves.png` and `predictions.png` go.
    #[arg(long, default_value = "runs/fcn")]
    out: PathBuf,
    /// Continue from the newest checkpoint in --out.
    #[arg(long)]
    resume: bool,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

/// The course's VOC crop.
const VOC_CROP: [usize; 2] = [320, 480];

struct SegTask {
    params: ModelState<D2lFcn>,
    train: Arc<SegmentationDataset>,
    val: SegmentationDataset,
    crop: Option<[usize; 2]>,
    batch_size: usize,
    device: Device,
    plain: Device,
    out: PathBuf,
}

impl SegTask {
    fn model(&self) -> &D2lFcn {
        self.params.model()
    }

    /// The held-out images' batches (whole, or at the crop from a fixed stream).
    fn val_batches(&self) -> Vec<SegmentationBatch> {
        let mut rng = Rng::new(7);
        let all: Vec<usize> = (0..self.val.items.len()).collect();
        all.chunks(8)
            .map(|ix| self.val.batch(ix, self.crop, &mut rng, &self.plain))
            .collect()
    }

    /// Image | ground truth | prediction for the first four held-out images.
    fn picture(&self) -> Result<PathBuf, String> {
        let model = self.model().valid();
        let b = &self.val_batches()[0];
        let k = b.images.dims()[0].min(4);
        let images = b.images.clone().narrow(0, 0, k);
        let pred = model.forward(images.clone()).argmax(1).squeeze_dim::<3>(1);
        let [_, _, h, w] = images.dims();
        let read = |t: Tensor<3, Int>| -> Result<Vec<i64>, String> {
            t.into_data()
                .try_into_vec_as::<i64>()
                .map_err(|e| format!("{e:?}"))
        };
        let truth = read(b.masks.clone().narrow(0, 0, k))?;
        let pred = read(pred)?;
        let px: Vec<f32> = images
            .into_data()
            .try_into_vec_as::<f32>()
            .map_err(|e| format!("{e:?}"))?;
        let gap = 4;
        let mut img = RgbImage::from_pixel(
            (3 * w + 2 * gap) as u32,
            (k * h + (k - 1) * gap) as u32,
            image::Rgb([255, 255, 255]),
        );
        for i in 0..k {
            let oy = i * (h + gap);
            for y in 0..h {
                for x in 0..w {
                    let at = (i * h + y) * w + x;
                    let rgb = std::array::from_fn(|c| {
                        (px[((i * 3 + c) * h + y) * w + x] * 255.0).round() as u8
                    });
                    let label = |v: i64| segmentation::voc_colour(v as usize);
                    for (col, c) in [rgb, label(truth[at]), label(pred[at])]
                        .into_iter()
                        .enumerate()
                    {
                        img.put_pixel((col * (w + gap) + x) as u32, (oy + y) as u32, image::Rgb(c));
                    }
                }
            }
        }
        let path = self.out.join("predictions.png");
        zoo_plot::png::save(&img, &path).map_err(|e| e.to_string())?;
        Ok(path)
    }
}

impl Task for SegTask {
    type Batch = SegmentationBatch;

    fn train_loader(&self, _epoch: usize, seed: u64) -> Arc<dyn DataLoader<SegmentationBatch>> {
        let (data, device, crop) = (self.train.clone(), self.device.clone(), self.crop);
        Arc::new(IndexLoader::new(
            Rng::new(seed).permutation(self.train.items.len()),
            self.batch_size,
            Arc::new(move |ix: &[usize]| {
                let mut rng = Rng::for_batch(seed, ix[0]);
                let b = data.batch(ix, crop, &mut rng, &device);
                let (images, masks, _) =
                    random_hflip(b.images, b.masks, 0.5, &mut rng).expect("matching shapes");
                SegmentationBatch { images, masks }
            }),
        ))
    }

    fn batches_per_epoch(&self) -> usize {
        // A last batch of one image cannot train batch norm: dropped.
        let n = self.train.items.len();
        if n > 1 && n % self.batch_size == 1 {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    fn step(&mut self, batch: SegmentationBatch, lr: f64) -> Step {
        let n = batch.images.dims()[0];
        let model = self.params.model();
        let logits = model.forward(batch.images);
        let loss = cross_entropy_pixels(
            logits,
            batch.masks,
            0.0,
            Some(IGNORE as i64),
            Reduction::Mean,
        );
        let grads = GradientsParams::from_grads(loss.backward(), model);
        self.params.step(lr, grads);
        Step {
            count: n,
            sums: vec![("loss", loss.detach().inner().mul_scalar(n as f64))],
        }
    }

    /// Loss, pixel accuracy and mean IoU on the held-out images.
    fn validate(&mut self) -> Vec<(&'static str, f64)> {
        let model = self.model().valid();
        let mut cm = ConfusionMatrix::new(self.train.classes.len());
        let (mut loss, mut count) = (0.0, 0usize);
        for b in self.val_batches() {
            let logits = model.forward(b.images);
            let n = logits.dims()[0];
            loss += cross_entropy_pixels(
                logits.clone(),
                b.masks.clone(),
                0.0,
                Some(IGNORE as i64),
                Reduction::Mean,
            )
            .into_scalar::<f32>() as f64
                * n as f64;
            count += n;
            if let Err(e) = cm.add_maps(logits.argmax(1).squeeze_dim::<3>(1), b.masks) {
                eprintln!("warning: {e}");
            }
        }
        vec![
            ("loss", loss / count.max(1) as f64),
            ("pixel_acc", cm.pixel_accuracy()),
            ("mean_iou", cm.mean_iou()),
        ]
    }

    fn monitor(&self) -> (&'static str, bool) {
        ("mean_iou", true)
    }

    fn recorded(&self) -> Vec<(String, String)> {
        vec![("train_images".into(), self.train.items.len().to_string())]
    }

    fn report(&mut self, _epoch: usize) -> Option<String> {
        Some(match self.picture() {
            Ok(p) => format!("predictions: {}", p.display()),
            Err(e) => format!("warning: predictions.png not written: {e}"),
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
    let usage = Failure::Usage;
    examples::check_training_flags(args.epochs, args.batch_size, args.lr)?;
    if args.size < 32 || !args.size.is_multiple_of(32) || args.size > 1024 {
        return Err(usage(format!(
            "--size {}: expected a multiple of 32 from 32 to 1024 (the FCN's output stride is 32)",
            args.size
        )));
    }
    if args.train < 2 || args.val == 0 {
        return Err(usage(format!(
            "--train {} --val {}: expected at least two training and one held-out image",
            args.train, args.val
        )));
    }
    let optim = match args.optimizer.as_str() {
        "adam" => AdamConfig::new().init(),
        "sgd" => SgdConfig::new().with_weight_decay(1e-3).init(),
        other => {
            return Err(usage(format!(
                "--optimizer `{other}`, expected adam or sgd"
            )));
        }
    };
    let (backend, device) = examples::device(args.device.as_deref())?;
    let (train_set, val, crop) = match &args.voc {
        Some(root) => (
            segmentation::voc_segmentation(root, "train", VOC_CROP, Some(args.train))
                .map_err(|e| usage(e.to_string()))?,
            segmentation::voc_segmentation(root, "val", VOC_CROP, Some(args.val))
                .map_err(|e| usage(e.to_string()))?,
            Some(VOC_CROP),
        ),
        None => {
            zoo_device::budget::check(
                "the generated images",
                &[args.train.saturating_add(args.val), 3, args.size, args.size],
            )
            .map_err(|e| usage(format!("--train {} --size {}: {e}", args.train, args.size)))?;
            (
                segmentation::fashion_on_photos(args.train, args.size, args.objects, args.seed)
                    .map_err(|e| usage(e.to_string()))?,
                segmentation::fashion_on_photos(
                    args.val,
                    args.size,
                    args.objects,
                    args.seed.wrapping_add(1_000_003),
                )
                .map_err(|e| usage(e.to_string()))?,
                None,
            )
        }
    };
    if train_set.items.len() < 2 || val.items.is_empty() {
        return Err(usage(format!(
            "{} training and {} held-out images after leaving out those smaller than the crop",
            train_set.items.len(),
            val.items.len()
        )));
    }
    let classes = train_set.classes.len();
    println!(
        "FCN (ResNet-18 trunk{}) on {} ({} training, {} held-out images, {} classes) on {backend}: {} lr {}",
        if args.weights.is_some() {
            ", ImageNet weights"
        } else {
            ", random weights"
        },
        if args.voc.is_some() {
            "Pascal VOC 2012, 320x480 crops"
        } else {
            "Fashion-MNIST items pasted on photographs"
        },
        train_set.items.len(),
        val.items.len(),
        classes,
        args.optimizer,
        args.lr
    );
    let train_device = device.clone().autodiff();
    train_device.seed(args.seed);
    let mut model = D2lFcnConfig::new(classes).init(&train_device);
    if let Some(path) = &args.weights {
        let sd = StateDict::load(path).map_err(|e| usage(e.to_string()))?;
        model = model
            .load_resnet18(&sd)
            .map_err(|e| usage(format!("{}: {e}", path.display())))?;
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Failure::run(format!("cannot create {}: {e}", args.out.display())))?;
    let mut task = SegTask {
        params: ModelState::new(model, optim),
        train: Arc::new(train_set),
        val,
        crop,
        batch_size: args.batch_size,
        device: train_device,
        plain: device.clone(),
        out: args.out.clone(),
    };
    let config = TrainConfig {
        seed: args.seed,
        out_dir: Some(args.out.clone()),
        resume: args.resume,
        identity: vec![
            ("model".into(), "d2l_fcn".into()),
            ("optimizer".into(), args.optimizer.clone()),
            ("size".into(), args.size.to_string()),
            ("objects".into(), args.objects.to_string()),
            (
                "weights".into(),
                args.weights
                    .as_ref()
                    .map_or("none".into(), |p| p.display().to_string()),
            ),
            (
                "voc".into(),
                args.voc
                    .as_ref()
                    .map_or("none".into(), |p| p.display().to_string()),
            ),
        ],
        ..TrainConfig::new(args.epochs, args.batch_size, args.lr)
    };
    let run = train(&mut task, &config).map_err(Failure::run)?;
    if let Some(e) = run.resumed_from {
        println!("resumed after epoch {e} from {}", args.out.display());
    }
    for r in &run.history {
        println!(
            "epoch {:>2}: train loss {:.3} | held-out loss {:.3}, pixel accuracy {:.3}, mean IoU {:.3} | {:.1} images/s",
            r.epoch,
            r.get("train_loss"),
            r.get("valid_loss"),
            r.get("valid_pixel_acc"),
            r.get("valid_mean_iou"),
            r.items_per_sec
        );
    }
    // Per-class IoU of the final model.
    let model = task.model().valid();
    let mut cm = ConfusionMatrix::new(classes);
    for b in task.val_batches() {
        let pred = model.forward(b.images).argmax(1).squeeze_dim::<3>(1);
        cm.add_maps(pred, b.masks).map_err(Failure::run)?;
    }
    println!(
        "held-out IoU per class (n/a: the class is in neither the held-out labels nor the predictions): {}",
        (0..classes)
            .map(|c| {
                let iou = cm.iou(c);
                let shown = if iou.is_nan() {
                    "n/a".to_string()
                } else {
                    format!("{iou:.3}")
                };
                format!("{} {shown}", task.train.classes[c])
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "pictures: {}, {}",
        args.out.join("predictions.png").display(),
        args.out.join("curves.png").display()
    );
    Ok(())
}
