//! Classify photos with a pretrained network, as torchvision's weights API
//! does it (`weights = ResNet50_Weights.DEFAULT`, `weights.transforms()`,
//! `weights.meta["categories"]`):
//!
//! ```text
//! cargo run -p examples --bin classify -- [--model resnet50] photo.jpg [more files or folders] \
//!     [--weights FILE | --checkpoint RUN] [--topk 5] [--batch-size 8] [--json] \
//!     [--out runs/classify/classify.png] [--offline] [--device D]
//! ```
//!
//! Each image is decoded and made RGB as PIL's `convert("RGB")` does, goes
//! through the weights' preset (resize with antialias, centre crop, rescale,
//! normalise; `zoo_augment::inference`), the model in evaluation mode and a
//! softmax; the top `--topk` categories are printed per image (with `--json`
//! one object per line: `{"file": ..., "top": [{"index": i, "label": ...,
//! "prob": p}, ...]}`), and `--out` gets a picture of the cropped images
//! with their top 3.
//!
//! The weights: `--model NAME` (or `NAME.TAG`, `Enum_Weights.TAG`) fetches
//! torchvision's published file into the cache (`$ZOO_HOME/weights`, else
//! `~/.cache/zoo/weights`) on first use; `--weights FILE` takes a
//! torchvision `state_dict` (`.pth`, `.safetensors`) for the model, with
//! the preset and categories of its default weights; `--checkpoint RUN` a
//! run of the zoo's own classification examples (`runs/lenet`, ...), whose
//! categories are Fashion-MNIST's: the photo is made grey and resized to
//! 28x28, as those images are, then batched as the run batched them.

use std::path::PathBuf;
use std::process::ExitCode;

use burn::module::Module;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use clap::Parser;
use examples::trained::{self, Trained};
use examples::{Failure, check_png_out};
use image::{Rgb, RgbImage};
use zoo_augment::inference::{ImageClassification, Preset};
use zoo_datasets::{ImageDataset, Source, photo};
use zoo_models::pretrained::{self, FetchOptions, Pretrained};
use zoo_models::registry::Model;

#[derive(Parser)]
#[command(about = "Classify photos with a pretrained network (the top categories of each)")]
struct Args {
    /// Image files, or folders (their images, sorted by name).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The model with torchvision's weights: a name (`resnet50`, its default
    /// weights), `resnet50.IMAGENET1K_V1` or `ResNet50_Weights.IMAGENET1K_V1`.
    #[arg(long, default_value = "resnet50")]
    model: String,
    /// A torchvision `state_dict` (`.pth`, `.safetensors`) for --model instead
    /// of the published file (the preset and categories of its weights).
    #[arg(long, conflicts_with = "checkpoint")]
    weights: Option<PathBuf>,
    /// A run of the zoo's classification examples (a run folder such as
    /// runs/lenet, a checkpoint folder or its model.bpk).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// How many categories to print per image.
    #[arg(long, default_value_t = 5)]
    topk: usize,
    /// Images per forward pass.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// One JSON object per image on stdout, nothing else there.
    #[arg(long)]
    json: bool,
    /// The picture of the images with their top 3.
    #[arg(long, default_value = "runs/classify/classify.png")]
    out: PathBuf,
    /// Do not download: a missing weights file is an error naming the URL
    /// and the path to put it at.
    #[arg(long)]
    offline: bool,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

/// The most images the picture shows.
const MAX_SHOWN: usize = 24;

/// What classifies: a pretrained model and its preset, or a run of the zoo.
// One is built per run; boxing the model would only add indirection.
#[allow(clippy::large_enum_variant)]
enum Classifier {
    Pretrained {
        model: Model,
        preset: ImageClassification,
        categories: Vec<String>,
        what: String,
    },
    Trained(Trained),
}

/// One image's answer.
struct Answer {
    file: PathBuf,
    /// (index, probability), most probable first.
    top: Vec<(usize, f32)>,
    /// The image as the model saw it (the preset's crop), for the picture.
    seen: RgbImage,
}

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Failure> {
    let usage = Failure::Usage;
    if args.topk == 0 {
        return Err(usage("--topk 0: expected at least 1 category".into()));
    }
    examples::check_count("--batch-size", args.batch_size, 4096)?;
    check_png_out(&args.out)?;
    let files = examples::images::image_files(&args.inputs)?;
    let (_, device) = examples::device(args.device.as_deref())?;
    let classifier = classifier(args, &device)?;
    let categories = match &classifier {
        Classifier::Pretrained { categories, .. } => categories.clone(),
        Classifier::Trained(t) => t.categories.clone(),
    };
    let k = args.topk.min(categories.len());
    if !args.json {
        match &classifier {
            Classifier::Pretrained { what, preset, .. } => {
                println!("{what}; preset {preset}")
            }
            Classifier::Trained(t) => println!(
                "{} from {} (epoch {}), Fashion-MNIST's categories; photos made grey at 28x28, then {}x{}",
                t.name,
                t.path.display(),
                t.epoch,
                t.input_size,
                t.input_size
            ),
        }
    }
    let mut answers = Vec::with_capacity(files.len());
    for chunk in files.chunks(args.batch_size) {
        for answer in classify(&classifier, chunk, k, &device)? {
            print_answer(&answer, &categories, args.json);
            answers.push(answer);
        }
    }
    let picture = picture(&answers, &categories).map_err(Failure::run)?;
    zoo_plot::png::save(&picture, &args.out).map_err(Failure::run)?;
    if !args.json {
        println!("{}", args.out.display());
    }
    Ok(())
}

/// The model the flags name, with its preset and categories.
fn classifier(args: &Args, device: &Device) -> Result<Classifier, Failure> {
    let usage = Failure::Usage;
    if let Some(run) = &args.checkpoint {
        return Ok(Classifier::Trained(trained::checkpoint(run, device)?));
    }
    let entry = pretrained::resolve(&args.model).map_err(|e| usage(e.to_string()))?;
    let preset = match entry.transforms() {
        Preset::Classification(p) => p,
        _ => {
            return Err(usage(format!(
                "`{}` are not a classifier's weights (`segment` takes segmentation models)",
                entry.name()
            )));
        }
    };
    let Pretrained {
        model, categories, ..
    } = match &args.weights {
        Some(path) => pretrained::load_classifier_file(entry.model, path, device),
        None => {
            let options = FetchOptions {
                offline: args.offline,
                progress: !args.json,
                ..FetchOptions::default()
            };
            pretrained::load_classifier_with(&entry.name(), device, &options)
        }
    }
    .map_err(|e| usage(e.to_string()))?;
    let classes = model_classes(&model);
    // A user's file has no categories of its own: its weights' when it
    // has their number of classes, else the indices.
    let categories: Vec<String> = if !categories.is_empty() {
        categories.iter().map(|c| c.to_string()).collect()
    } else if entry.category_names().len() == classes {
        entry
            .category_names()
            .iter()
            .map(|c| c.to_string())
            .collect()
    } else {
        (0..classes).map(|i| format!("class {i}")).collect()
    };
    let what = match &args.weights {
        Some(path) => format!("{} with {}", entry.model, path.display()),
        None => entry.name(),
    };
    Ok(Classifier::Pretrained {
        model,
        preset,
        categories,
        what,
    })
}

/// The number of outputs of `model`.
fn model_classes(model: &Model) -> usize {
    let head = format!("{}.weight", model.head_prefixes()[0]);
    let key = model.torchvision_key(&head);
    let sd = zoo_models::weights::export_state_dict(model, &|p| {
        (model.torchvision_key(p) == key).then(|| key.clone())
    });
    sd.get(&key).map_or(0, |t| t.shape()[0])
}

/// Decodes `files`, passes them through the classifier and returns the
/// top `k` of each.
fn classify(
    classifier: &Classifier,
    files: &[PathBuf],
    k: usize,
    device: &Device,
) -> Result<Vec<Answer>, Failure> {
    let decode = |f: &PathBuf| photo::open_rgb(f).map_err(|e| Failure::Usage(e.to_string()));
    let (logits, seen) = match classifier {
        Classifier::Pretrained { model, preset, .. } => {
            let mut data = Vec::new();
            let mut seen = Vec::new();
            let mut shape = [0usize; 3];
            for f in files {
                let img = decode(f)?;
                let crop = preset
                    .pixels(&img)
                    .map_err(|e| Failure::Usage(format!("{}: {e}", f.display())))?;
                let x = preset
                    .normalize(&crop)
                    .map_err(|e| Failure::Usage(format!("{}: {e}", f.display())))?;
                shape = [x.shape()[0], x.shape()[1], x.shape()[2]];
                data.extend(
                    x.try_into_vec::<f32>()
                        .map_err(|e| Failure::run(format!("{e:?}")))?,
                );
                seen.push(crop);
            }
            let x = Tensor::<4>::from_data(
                TensorData::new(data, [files.len(), shape[0], shape[1], shape[2]]),
                device,
            );
            (model.valid().forward(x), seen)
        }
        Classifier::Trained(t) => {
            let mut pixels = Vec::new();
            let mut seen = Vec::new();
            for f in files {
                let img = decode(f)?;
                let small = ImageClassification::new(28, 28)
                    .pixels(&img)
                    .map_err(|e| Failure::Usage(format!("{}: {e}", f.display())))?;
                let grey = grey(&small);
                pixels.extend(grey.iter().copied());
                seen.push(RgbImage::from_fn(28, 28, |x, y| {
                    let v = grey[(y * 28 + x) as usize];
                    Rgb([v, v, v])
                }));
            }
            let set = ImageDataset::new(
                pixels,
                vec![0; files.len()],
                [1, 28, 28],
                t.categories.clone(),
                Source::Memory,
            )
            .map_err(Failure::run)?;
            let indices: Vec<usize> = (0..files.len()).collect();
            let batch = t.batcher().batch_indices(&set, &indices, device);
            (t.logits(batch.images), seen)
        }
    };
    let (probs, index) = softmax(logits, 1).topk_with_indices(k, 1);
    let probs: Vec<f32> = probs
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| Failure::run(format!("{e:?}")))?;
    let index: Vec<i64> = index
        .into_data()
        .try_into_vec_as::<i64>()
        .map_err(|e| Failure::run(format!("{e:?}")))?;
    Ok(files
        .iter()
        .zip(seen)
        .enumerate()
        .map(|(i, (f, seen))| Answer {
            file: f.clone(),
            top: (0..k)
                .map(|j| (index[i * k + j] as usize, probs[i * k + j]))
                .collect(),
            seen,
        })
        .collect())
}

/// PIL's `convert("L")`: `(R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16`.
fn grey(img: &RgbImage) -> Vec<u8> {
    img.pixels()
        .map(|p| {
            let [r, g, b] = p.0.map(u32::from);
            ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) as u8
        })
        .collect()
}

/// A JSON string literal of `s`.
fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn print_answer(a: &Answer, categories: &[String], json: bool) {
    if json {
        let top: Vec<String> = a
            .top
            .iter()
            .map(|&(i, p)| {
                format!(
                    "{{\"index\": {i}, \"label\": {}, \"prob\": {p}}}",
                    json_string(&categories[i])
                )
            })
            .collect();
        println!(
            "{{\"file\": {}, \"top\": [{}]}}",
            json_string(&a.file.display().to_string()),
            top.join(", ")
        );
    } else {
        println!("{}", a.file.display());
        for &(i, p) in &a.top {
            println!("  {:>6.2}%  {} ({i})", 100.0 * p, categories[i]);
        }
    }
}

/// The cropped images in a grid, each with its top 3 below it.
fn picture(answers: &[Answer], categories: &[String]) -> Result<RgbImage, zoo_plot::PlotError> {
    let shown = &answers[..answers.len().min(MAX_SHOWN)];
    let tile = 224u32;
    let text = 14.0;
    let line = 18u32;
    let cols = (shown.len() as u32).clamp(1, 4);
    let rows = (shown.len() as u32).div_ceil(cols);
    let cell_h = tile + 4 * line + 8;
    let cell_w = tile + 16;
    let mut img = RgbImage::from_pixel(cols * cell_w, rows * cell_h, Rgb([255, 255, 255]));
    for (n, a) in shown.iter().enumerate() {
        let (cx, cy) = (
            (n as u32 % cols) * cell_w + 8,
            (n as u32 / cols) * cell_h + 4,
        );
        let thumb =
            image::imageops::resize(&a.seen, tile, tile, image::imageops::FilterType::Triangle);
        image::imageops::overlay(&mut img, &thumb, cx as i64, cy as i64);
        let name = a
            .file
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        zoo_plot::boxes::draw_text(
            &mut img,
            (cx as i32, (cy + tile + 2) as i32),
            &clip(&name, 30),
            text,
            Rgb([0, 0, 0]),
        )?;
        for (j, &(i, p)) in a.top.iter().take(3).enumerate() {
            let label = format!("{:.1}% {}", 100.0 * p, categories[i]);
            zoo_plot::boxes::draw_text(
                &mut img,
                (cx as i32, (cy + tile + 2 + (j as u32 + 1) * line) as i32),
                &clip(&label, 30),
                text,
                if j == 0 {
                    Rgb([180, 20, 20])
                } else {
                    Rgb([60, 60, 60])
                },
            )?;
        }
    }
    Ok(img)
}

/// `s` cut to `n` characters (with an ellipsis when cut).
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(n - 3).collect::<String>())
    }
}
