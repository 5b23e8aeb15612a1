//! Trains the course's TinySSD (d2l 14.7) end to end on a detection set that
//! runs offline:
//!
//!     cargo run -p examples --bin ssd -- [--epochs 20] [--size 256] [--device wgpu]
//!
//! The set is generated deterministically (`zoo_datasets::detection::fashion_on_photos`):
//! Fashion-MNIST trousers, sneakers and bags with known boxes pasted onto
//! crops of two real photographs, one or two per image, as the course pastes
//! bananas onto backgrounds. As the course: SGD lr 0.2, weight decay 5e-4,
//! batch 32, the loss cross-entropy over every anchor plus the masked L1 of
//! the box offsets; per epoch the class error and box MAE (the course's
//! `cls_eval` / `bbox_eval`) and the held-out mAP@0.5, through the shared
//! training loop (checkpoints, `--resume`, `metrics.jsonl`, `curves.png` in
//! `--out`). Then on the held-out split: `multibox_detection`
//! (NMS 0.5), mAP@0.5 (VOC all-point) and COCO-style mAP@[.5:.95], and a PNG
//! of the predictions (coloured, with class and score) beside the true boxes
//! (white). `--voc DIR` trains on Pascal VOC 2007 instead (an extracted
//! `VOCdevkit/VOC2007`: `trainval` to train, `test` held out).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use burn::data::dataloader::DataLoader;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor};
use clap::Parser;
use examples::Failure;
use image::{Rgb, RgbImage};
use zoo_datasets::detection::{DetectionBatch, DetectionDataset, fashion_on_photos, voc};
use zoo_detect::anchors::{multibox_detection, multibox_priors, multibox_target};
use zoo_detect::eval::{Detection, GroundTruth, coco_map, mean_average_precision};
use zoo_losses::multibox_loss;
use zoo_models::ssd::{TinySsd, TinySsdConfig};
use zoo_optim::SgdConfig;
use zoo_plot::boxes::{COLOURS, DrawBox, draw_boxes};
use zoo_plot::png::save as save_png;
use zoo_train::{IndexLoader, ModelState, Step, Task, TrainConfig, TrainError};

#[derive(Parser)]
#[command(about = "Train the course's TinySSD on a generated detection set (or VOC 2007)")]
struct Args {
    /// Epochs (the course: 20).
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Image side (the course: 256; 128 trains 4x faster on a CPU).
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// Training images generated.
    #[arg(long, default_value_t = 1000)]
    train: usize,
    /// Held-out images generated.
    #[arg(long, default_value_t = 100)]
    val: usize,
    /// At most this many objects per generated image.
    #[arg(long, default_value_t = 2)]
    objects: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// SGD learning rate.
    #[arg(long, default_value_t = 0.2)]
    lr: f64,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
    /// Seed of the data, the initialisation and the shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Train on Pascal VOC 2007 from this `VOC2007` folder instead.
    #[arg(long)]
    voc: Option<PathBuf>,
    /// Where checkpoints, metrics.jsonl, curves.png and the predictions PNG go.
    #[arg(long, default_value = "runs/ssd")]
    out: PathBuf,
    /// Continue from the newest checkpoint in --out.
    #[arg(long)]
    resume: bool,
}

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

/// The anchors of the model's five maps, `[1, A, 4]` (the same for every
/// batch of one image size: computed once).
fn anchors(feature_sizes: &[[usize; 2]], device: &Device) -> Result<Tensor<3>, String> {
    let sizes = TinySsdConfig::sizes();
    let sizes: Vec<&[f64]> = sizes.iter().map(|s| s.as_slice()).collect();
    multibox_priors(feature_sizes, &sizes, &TinySsdConfig::ratios(), device)
        .map_err(|e| e.to_string())
}

/// Detections of `model` on items `indices` of `data`, with their true boxes
/// (pixels of the `size x size` images).
fn detect(
    model: &TinySsd,
    data: &DetectionDataset,
    size: usize,
    device: &Device,
) -> Result<(Vec<Detection>, Vec<GroundTruth>), String> {
    let mut dets = Vec::new();
    let mut gts = Vec::new();
    let scale = size as f32;
    let all: Vec<usize> = (0..data.items.len()).collect();
    let mut priors: Option<Tensor<3>> = None;
    for chunk in all.chunks(32) {
        let batch = data.batch(chunk, device);
        let out = model.forward(batch.images);
        if priors.is_none() {
            priors = Some(anchors(&out.feature_sizes, device)?);
        }
        let anchors = priors.clone().expect("computed above");
        let probs = softmax(out.cls_preds, 2).permute([0, 2, 1]);
        let rows = multibox_detection(probs, out.bbox_preds, anchors, 0.5, 0.009999999)
            .map_err(|e| e.to_string())?;
        let [b, a, _] = rows.dims();
        let v: Vec<f32> = rows
            .into_data()
            .try_into_vec_as()
            .map_err(|e| format!("{e:?}"))?;
        for (k, &image) in chunk.iter().enumerate() {
            for r in v[k * a * 6..(k + 1) * a * 6].chunks(6) {
                if r[0] >= 0.0 {
                    dets.push(Detection {
                        image,
                        class: r[0] as usize,
                        score: r[1],
                        bbox: [r[2] * scale, r[3] * scale, r[4] * scale, r[5] * scale],
                    });
                }
            }
            for &(class, bx) in &data.items[image].objects {
                gts.push(GroundTruth {
                    image,
                    class,
                    bbox: bx.map(|c| c * scale),
                    difficult: false,
                });
            }
        }
        debug_assert_eq!(b, chunk.len());
    }
    Ok((dets, gts))
}

/// TinySSD trained as the course trains it, as a task of the shared loop:
/// the loss is the cross-entropy over every anchor plus the masked L1 of the
/// box offsets; the measures are the course's `cls_eval` / `bbox_eval` and,
/// on the held-out images, mAP@0.5.
struct SsdTask<'a> {
    /// `None` only inside a step.
    params: ModelState<TinySsd>,
    train: Arc<DetectionDataset>,
    val: &'a DetectionDataset,
    batch_size: usize,
    /// Seed of the shuffling: epoch `e` visits the images in the order of
    /// `e` successive shuffles from it (so a resumed run repeats it).
    data_seed: u64,
    size: usize,
    device: Device,
    plain: Device,
    /// The anchors (the same for every batch of one image size).
    priors: Option<Tensor<3>>,
}

impl SsdTask<'_> {
    fn model(&self) -> &TinySsd {
        self.params.model()
    }
}

impl Task for SsdTask<'_> {
    type Batch = DetectionBatch;

    fn train_loader(&self, epoch: usize, _seed: u64) -> Arc<dyn DataLoader<DetectionBatch>> {
        let mut rng = zoo_augment::Rng::new(self.data_seed);
        let mut order: Vec<usize> = (0..self.train.items.len()).collect();
        for _ in 0..epoch {
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i + 1));
            }
        }
        let (data, device) = (self.train.clone(), self.device.clone());
        Arc::new(IndexLoader::new(
            order,
            self.batch_size,
            Arc::new(move |ix: &[usize]| data.batch(ix, &device)),
        ))
    }

    fn batches_per_epoch(&self) -> usize {
        self.train.items.len().div_ceil(self.batch_size)
    }

    fn step(&mut self, batch: DetectionBatch, lr: f64) -> Step {
        let model = self.params.model();
        let out = model.forward(batch.images);
        let [b, a, _] = out.cls_preds.dims();
        let anchors = self
            .priors
            .get_or_insert_with(|| {
                anchors(&out.feature_sizes, &self.device).expect("TinySSD's own anchor sizes")
            })
            .clone();
        let t = multibox_target(anchors, batch.labels).expect("labels made by the data set");
        let loss = multibox_loss(out.cls_preds.clone(), out.bbox_preds.clone(), &t);
        let loss_sum = loss.clone().detach().inner().mul_scalar(b as f64);
        // The course's cls_eval / bbox_eval, per image: a anchors, 4 offsets each.
        let predicted: Tensor<2, Int> = out.cls_preds.detach().argmax(2).squeeze_dim(2);
        let wrong = predicted
            .not_equal(t.class_labels)
            .int()
            .sum()
            .inner()
            .float()
            .div_scalar(a as f64);
        let masked = (out.bbox_preds.detach() - t.bbox_offset) * t.bbox_mask;
        let abs_err = masked.abs().sum().inner().div_scalar((4 * a) as f64);
        let grads = GradientsParams::from_grads(loss.backward(), model);
        self.params.step(lr, grads);
        Step {
            count: b,
            sums: vec![
                ("loss", loss_sum),
                ("class_err", wrong),
                ("bbox_mae", abs_err),
            ],
        }
    }

    fn validate(&mut self) -> Vec<(&'static str, f64)> {
        let eval = self.model().valid();
        match detect(&eval, self.val, self.size, &self.plain)
            .and_then(|(d, g)| mean_average_precision(&d, &g, 0.5).map_err(|e| e.to_string()))
        {
            Ok(m) => vec![("map50", m.map)],
            Err(e) => {
                eprintln!("warning: held-out mAP not computed: {e}");
                vec![("map50", f64::NAN)]
            }
        }
    }

    fn monitor(&self) -> (&'static str, bool) {
        ("map50", true)
    }

    fn recorded(&self) -> Vec<(String, String)> {
        vec![("train_images".into(), self.train.items.len().to_string())]
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

fn run(args: &Args) -> Result<(), Failure> {
    let usage = Failure::Usage;
    examples::check_training_flags(args.epochs, args.batch_size, args.lr)?;
    if args.size < 64 {
        return Err(usage(format!(
            "--size {}: expected at least 64 (TinySSD halves the image five times)",
            args.size
        )));
    }
    if args.train == 0 || args.val == 0 {
        return Err(usage(format!(
            "--train {} --val {}: expected at least one training and one held-out image",
            args.train, args.val
        )));
    }
    examples::check_batch_size("--size", args.batch_size.min(args.train), 3, args.size)?;
    // The generated set keeps every image in memory (3 x size x size bytes each).
    zoo_device::budget::check(
        "the generated images",
        &[args.train.saturating_add(args.val), 3, args.size, args.size],
    )
    .map_err(|e| {
        usage(format!(
            "--train {} --val {} --size {}: {e}",
            args.train, args.val, args.size
        ))
    })?;
    let (backend, device) = examples::device(args.device.as_deref())?;
    let start = Instant::now();
    let (train, val) = match &args.voc {
        Some(root) => (
            voc::load(root, "trainval", args.size as u32, false, Some(args.train))
                .map_err(|e| usage(e.to_string()))?,
            voc::load(root, "test", args.size as u32, false, Some(args.val))
                .map_err(|e| usage(e.to_string()))?,
        ),
        None => (
            fashion_on_photos(args.train, args.size, args.objects, args.seed)
                .map_err(|e| usage(e.to_string()))?,
            fashion_on_photos(
                args.val,
                args.size,
                args.objects,
                args.seed.wrapping_add(1_000_003),
            )
            .map_err(|e| usage(e.to_string()))?,
        ),
    };
    let num_classes = train.classes.len();
    println!(
        "TinySSD on {} ({} train, {} held-out images of {s}x{s}, classes {}) on {backend}; made in {:.1} s",
        if args.voc.is_some() {
            "Pascal VOC 2007"
        } else {
            "Fashion-MNIST items pasted on photographs"
        },
        train.items.len(),
        val.items.len(),
        train.classes.join(", "),
        start.elapsed().as_secs_f64(),
        s = args.size,
    );

    let train_device = device.clone().autodiff();
    train_device.seed(args.seed);
    let mut task = SsdTask {
        params: ModelState::new(
            TinySsdConfig::new(num_classes).init(&train_device),
            SgdConfig::torch_default().with_weight_decay(5e-4).init(),
        ),
        train: Arc::new(train),
        val: &val,
        batch_size: args.batch_size,
        data_seed: args.seed,
        size: args.size,
        device: train_device,
        plain: device.clone(),
        priors: None,
    };
    let config = TrainConfig {
        seed: args.seed,
        out_dir: Some(args.out.clone()),
        resume: args.resume,
        identity: vec![
            ("model".into(), "tiny_ssd".into()),
            ("size".into(), args.size.to_string()),
            ("train".into(), args.train.to_string()),
            ("objects".into(), args.objects.to_string()),
            (
                "voc".into(),
                args.voc
                    .as_ref()
                    .map_or("none".into(), |p| p.display().to_string()),
            ),
        ],
        ..TrainConfig::new(args.epochs, args.batch_size, args.lr)
    };
    let run = zoo_train::train(&mut task, &config).map_err(Failure::run)?;
    if let Some(e) = run.resumed_from {
        println!("resumed after epoch {e} from {}", args.out.display());
    }
    let eval = task.model().valid();
    let (dets, gts) = detect(&eval, &val, args.size, &device).map_err(Failure::run)?;
    let voc50 = mean_average_precision(&dets, &gts, 0.5).map_err(Failure::run)?;
    let coco = coco_map(&dets, &gts).map_err(Failure::run)?;
    println!(
        "held-out: mAP@0.5 {:.3} (VOC all-point), mAP@[.5:.95] {:.3}; AP@0.5 per class: {}",
        voc50.map,
        coco.map,
        voc50
            .per_class
            .iter()
            .map(|(c, ap)| format!("{} {ap:.3}", val.classes[*c]))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // The first eight held-out images: predictions above 0.5 and the truth.
    let shown = val.items.len().min(8);
    let s = args.size as u32;
    let mut grid =
        RgbImage::from_pixel(4 * s, s * (shown as u32).div_ceil(4), Rgb([255, 255, 255]));
    for (k, item) in val.items[..shown].iter().enumerate() {
        let mut img = item.image.clone();
        let mut boxes: Vec<DrawBox> = gts
            .iter()
            .filter(|g| g.image == k)
            .map(|g| DrawBox {
                bbox: g.bbox,
                label: String::new(),
                colour: Rgb([255, 255, 255]),
            })
            .collect();
        boxes.extend(
            dets.iter()
                .filter(|d| d.image == k && d.score > 0.5)
                .map(|d| DrawBox {
                    bbox: d.bbox,
                    label: format!("{} {:.2}", val.classes[d.class], d.score),
                    colour: COLOURS[d.class % COLOURS.len()],
                }),
        );
        draw_boxes(&mut img, &boxes).map_err(Failure::run)?;
        image::imageops::replace(
            &mut grid,
            &img,
            (k as u32 % 4 * s) as i64,
            (k as u32 / 4 * s) as i64,
        );
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Failure::run(format!("cannot create {}: {e}", args.out.display())))?;
    let png = args.out.join("predictions.png");
    save_png(&grid, &png).map_err(Failure::run)?;
    println!(
        "predictions (score > 0.5, coloured) and true boxes (white): {}",
        png.display()
    );
    Ok(())
}
