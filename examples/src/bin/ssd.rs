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
//! `cls_eval` / `bbox_eval`). Then on the held-out split: `multibox_detection`
//! (NMS 0.5), mAP@0.5 (VOC all-point) and COCO-style mAP@[.5:.95], and a PNG
//! of the predictions (coloured, with class and score) beside the true boxes
//! (white). `--voc DIR` trains on Pascal VOC 2007 instead (an extracted
//! `VOCdevkit/VOC2007`: `trainval` to train, `test` held out).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor};
use clap::Parser;
use image::{Rgb, RgbImage};
use zoo_datasets::detection::{DetectionDataset, fashion_on_photos, voc};
use zoo_detect::anchors::{multibox_detection, multibox_priors, multibox_target};
use zoo_detect::draw::{COLOURS, DrawBox, draw_boxes, save_png};
use zoo_detect::eval::{Detection, GroundTruth, coco_map, mean_average_precision};
use zoo_losses::multibox_loss;
use zoo_models::ssd::{TinySsd, TinySsdConfig};
use zoo_optim::SgdConfig;

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
    /// Where the predictions PNG goes.
    #[arg(long, default_value = "runs/ssd")]
    out: PathBuf,
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

fn run(args: &Args) -> Result<(), examples::Failure> {
    let usage = |e: String| (2u8, e);
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
            fashion_on_photos(args.val, args.size, args.objects, args.seed + 1_000_003)
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
    let mut model = TinySsdConfig::new(num_classes).init(&train_device);
    let mut optim = SgdConfig::torch_default().with_weight_decay(5e-4).init();
    let mut rng = zoo_augment::Rng::new(args.seed);
    let mut order: Vec<usize> = (0..train.items.len()).collect();
    let mut priors: Option<Tensor<3>> = None;
    for epoch in 1..=args.epochs {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let t0 = Instant::now();
        // Sums kept on the device, read once per epoch.
        let plain = train_device.clone().inner();
        let mut loss_sum = Tensor::<1>::zeros([1], &plain);
        let mut wrong = Tensor::<1, Int>::zeros([1], &plain);
        let mut abs_err = Tensor::<1>::zeros([1], &plain);
        let (mut labelled, mut offsets) = (0.0, 0.0);
        for chunk in order.chunks(args.batch_size) {
            let batch = train.batch(chunk, &train_device);
            let out = model.forward(batch.images);
            if priors.is_none() {
                priors = Some(anchors(&out.feature_sizes, &train_device).map_err(|e| (1, e))?);
            }
            let anchors = priors.clone().expect("computed above");
            let t = multibox_target(anchors, batch.labels).map_err(|e| (1, e.to_string()))?;
            let [b, a, _] = out.cls_preds.dims();
            let loss = multibox_loss(out.cls_preds.clone(), out.bbox_preds.clone(), &t);
            loss_sum = loss_sum + loss.clone().detach().inner().mul_scalar(chunk.len() as f64);
            // The course's cls_eval / bbox_eval.
            let predicted: Tensor<2, Int> = out.cls_preds.detach().argmax(2).squeeze_dim(2);
            wrong = wrong + predicted.not_equal(t.class_labels).int().sum().inner();
            labelled += (b * a) as f64;
            let masked = (out.bbox_preds.detach() - t.bbox_offset) * t.bbox_mask;
            abs_err = abs_err + masked.abs().sum().inner();
            offsets += (b * a * 4) as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(args.lr, model, grads);
        }
        let n = train.items.len() as f64;
        let loss = loss_sum.into_scalar::<f32>() as f64 / n;
        if !loss.is_finite() {
            return Err((
                1,
                format!("the training loss became {loss} in epoch {epoch}; lower --lr"),
            ));
        }
        println!(
            "epoch {epoch:>2}: loss {:.4}, class err {:.2e}, bbox mae {:.2e}, {:.1} images/s",
            loss,
            wrong.into_scalar::<i64>() as f64 / labelled,
            abs_err.into_scalar::<f32>() as f64 / offsets,
            n / t0.elapsed().as_secs_f64()
        );
    }

    let eval = model.valid();
    let (dets, gts) = detect(&eval, &val, args.size, &device).map_err(|e| (1, e))?;
    let voc50 = mean_average_precision(&dets, &gts, 0.5).map_err(|e| (1, e.to_string()))?;
    let coco = coco_map(&dets, &gts).map_err(|e| (1, e.to_string()))?;
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
        draw_boxes(&mut img, &boxes);
        image::imageops::replace(
            &mut grid,
            &img,
            (k as u32 % 4 * s) as i64,
            (k as u32 / 4 * s) as i64,
        );
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| (1, format!("cannot create {}: {e}", args.out.display())))?;
    let png = args.out.join("predictions.png");
    save_png(&grid, &png).map_err(|e| (1, e.to_string()))?;
    println!(
        "predictions (score > 0.5, coloured) and true boxes (white): {}",
        png.display()
    );
    Ok(())
}
