//! Segment photos with a pretrained FCN, as torchvision's weights API does
//! it (`FCN_ResNet50_Weights.DEFAULT`, `weights.transforms()`, the model's
//! `"out"`, its argmax per pixel):
//!
//! ```text
//! cargo run -p examples --bin segment -- [--model fcn_resnet50] photo.jpg [more files or folders] \
//!     [--weights FILE] [--json] [--masks DIR] [--out runs/segment/segment.png] [--offline] [--device D]
//! ```
//!
//! Each image is decoded and made RGB as PIL's `convert("RGB")` does, goes
//! through the weights' `SemanticSegmentation` preset (shorter side resized
//! to 520 with antialias, rescaled, normalised), the network in evaluation
//! mode; each pixel gets the class of its largest score. Printed per image:
//! the share of the pixels of each class present (with `--json` one object
//! per line, `{"file": ..., "classes": {"person": 0.31, ...}}`, the classes
//! by decreasing share). `--out` gets, per image, the image beside its
//! classes in VOC's palette over it, with a legend of the classes present;
//! `--masks DIR` each image's class map as an 8-bit PNG of class indices.
//!
//! The weights: `--model fcn_resnet50` / `fcn_resnet101` (or `NAME.TAG`,
//! `Enum_Weights.TAG`) fetches torchvision's published file into the cache
//! (`$ZOO_HOME/weights`, else `~/.cache/zoo/weights`) on first use;
//! `--weights FILE` takes a torchvision `state_dict` (`.pth`,
//! `.safetensors`) for the model, with the preset and categories of its
//! default weights when its class count is theirs.

use std::path::PathBuf;
use std::process::ExitCode;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use clap::Parser;
use examples::{Failure, check_png_out};
use image::{Rgb, RgbImage};
use zoo_augment::inference::{Preset, SemanticSegmentation};
use zoo_datasets::photo;
use zoo_datasets::segmentation::voc_colour;
use zoo_models::fcn::Fcn;
use zoo_models::pretrained::{self, FetchOptions, Pretrained};

#[derive(Parser)]
#[command(about = "Segment photos with a pretrained FCN (the class of each pixel)")]
struct Args {
    /// Image files, or folders (their images, sorted by name).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The model with torchvision's weights: fcn_resnet50, fcn_resnet101
    /// (their default weights), or `NAME.TAG` / `Enum_Weights.TAG`.
    #[arg(long, default_value = "fcn_resnet50")]
    model: String,
    /// A torchvision `state_dict` (`.pth`, `.safetensors`) for --model
    /// instead of the published file.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// One JSON object per image on stdout, nothing else there.
    #[arg(long)]
    json: bool,
    /// The picture: each image beside its classes over it.
    #[arg(long, default_value = "runs/segment/segment.png")]
    out: PathBuf,
    /// Also write each image's class map to this folder: `<image stem>.png`,
    /// 8-bit grey, the class index of each pixel (at the preset's size).
    #[arg(long)]
    masks: Option<PathBuf>,
    /// Do not download: a missing weights file is an error naming the URL
    /// and the path to put it at.
    #[arg(long)]
    offline: bool,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

/// The most images the picture shows.
const MAX_SHOWN: usize = 8;

/// One image's answer.
struct Answer {
    file: PathBuf,
    /// The image as the network saw it (after the preset's resize).
    seen: RgbImage,
    /// The class of each pixel of `seen`, row-major.
    classes: Vec<usize>,
}

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Failure> {
    let usage = Failure::Usage;
    check_png_out(&args.out)?;
    let files = examples::images::image_files(&args.inputs)?;
    let (_, device) = examples::device(args.device.as_deref())?;
    let entry = pretrained::resolve(&args.model).map_err(|e| usage(e.to_string()))?;
    let Preset::Segmentation(preset) = entry.transforms() else {
        return Err(usage(format!(
            "`{}` are not a segmentation model's weights (`classify` takes classifiers)",
            entry.name()
        )));
    };
    let Pretrained {
        model, categories, ..
    } = match &args.weights {
        Some(path) => pretrained::load_fcn_file(entry.model, path, &device),
        None => {
            let options = FetchOptions {
                offline: args.offline,
                progress: !args.json,
                ..FetchOptions::default()
            };
            pretrained::load_fcn_with(&entry.name(), &device, &options)
        }
    }
    .map_err(|e| usage(e.to_string()))?;
    let model = model.valid();
    // A user's file has no categories of its own: its weights' when it has
    // their number of classes.
    let categories: Vec<String> = if !categories.is_empty() {
        categories.iter().map(|c| c.to_string()).collect()
    } else if entry.num_classes() == Some(model.classifier.out.weight.dims()[0]) {
        entry
            .category_names()
            .iter()
            .map(|c| c.to_string())
            .collect()
    } else {
        Vec::new()
    };
    if !args.json {
        match &args.weights {
            Some(path) => println!("{} with {}; preset {preset}", entry.model, path.display()),
            None => println!("{}; preset {preset}", entry.name()),
        }
    }
    let mut answers = Vec::new();
    for file in &files {
        let answer = segment(&model, &preset, file, &device)?;
        let classes = answer.classes.iter().copied().max().map_or(0, |m| m + 1);
        let names: Vec<String> = (0..classes)
            .map(|k| match categories.get(k) {
                Some(c) => c.to_string(),
                None => format!("class {k}"),
            })
            .collect();
        print_answer(&answer, &names, args.json);
        if let Some(dir) = &args.masks {
            write_mask(&answer, dir)?;
        }
        if answers.len() < MAX_SHOWN {
            answers.push((answer, names));
        }
    }
    let picture = picture(&answers).map_err(Failure::run)?;
    zoo_plot::png::save(&picture, &args.out).map_err(Failure::run)?;
    if !args.json {
        println!("{}", args.out.display());
    }
    Ok(())
}

/// One image through the preset and the network: the class of each pixel.
fn segment(
    model: &Fcn,
    preset: &SemanticSegmentation,
    file: &std::path::Path,
    device: &Device,
) -> Result<Answer, Failure> {
    let img = photo::open_rgb(file).map_err(|e| Failure::Usage(e.to_string()))?;
    let seen = preset
        .pixels(&img)
        .map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?;
    let x = preset
        .normalize(&seen)
        .map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?;
    let shape = x.shape().to_vec();
    let x = Tensor::<4>::from_data(
        TensorData::new(
            x.try_into_vec::<f32>()
                .map_err(|e| Failure::run(format!("{e:?}")))?,
            [1, shape[0], shape[1], shape[2]],
        ),
        device,
    );
    let out = model.forward(x).out;
    let classes: Vec<usize> = out
        .argmax(1)
        .into_data()
        .try_into_vec_as::<i64>()
        .map_err(|e| Failure::run(format!("{e:?}")))?
        .into_iter()
        .map(|k| k as usize)
        .collect();
    Ok(Answer {
        file: file.to_path_buf(),
        seen,
        classes,
    })
}

/// Writes `a`'s class map into `dir` as `<image stem>.png` (atomically).
fn write_mask(a: &Answer, dir: &std::path::Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::Usage(format!("--masks {}: {e}", dir.display())))?;
    let stem = a
        .file
        .file_stem()
        .map_or("image".into(), |s| s.to_string_lossy().into_owned());
    let (w, h) = (a.seen.width(), a.seen.height());
    let map = image::GrayImage::from_fn(w, h, |x, y| {
        image::Luma([a.classes[(y * w + x) as usize].min(255) as u8])
    });
    let mut bytes = Vec::new();
    map.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(Failure::run)?;
    zoo_plot::png::write_bytes(&bytes, &dir.join(format!("{stem}.png"))).map_err(Failure::run)
}

/// The share of the pixels of each class present, largest first.
fn shares(classes: &[usize], names: &[String]) -> Vec<(usize, f64)> {
    let mut count = vec![0usize; names.len()];
    for &k in classes {
        count[k] += 1;
    }
    let n = classes.len().max(1) as f64;
    let mut out: Vec<(usize, f64)> = count
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c > 0)
        .map(|(k, &c)| (k, c as f64 / n))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

fn print_answer(a: &Answer, names: &[String], json: bool) {
    let shares = shares(&a.classes, names);
    if json {
        let string = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        let classes: Vec<String> = shares
            .iter()
            .map(|&(k, s)| format!("{}: {s}", string(&names[k])))
            .collect();
        println!(
            "{{\"file\": {}, \"classes\": {{{}}}}}",
            string(&a.file.display().to_string()),
            classes.join(", ")
        );
    } else {
        println!(
            "{} ({}x{})",
            a.file.display(),
            a.seen.width(),
            a.seen.height()
        );
        for (k, s) in shares {
            println!("  {:>6.2}%  {}", 100.0 * s, names[k]);
        }
    }
}

/// Per image a row: the image, its classes over it (half and half), and
/// the legend of the classes present.
fn picture(answers: &[(Answer, Vec<String>)]) -> Result<RgbImage, zoo_plot::PlotError> {
    let side = 320u32;
    let legend_w = 200u32;
    let text = 14.0;
    let line = 18u32;
    let rows: Vec<(RgbImage, RgbImage)> = answers
        .iter()
        .map(|(a, _)| {
            let (w, h) = (a.seen.width(), a.seen.height());
            let overlay = RgbImage::from_fn(w, h, |x, y| {
                let k = a.classes[(y * w + x) as usize];
                let p = a.seen.get_pixel(x, y).0;
                if k == 0 {
                    Rgb(p)
                } else {
                    let c = voc_colour(k);
                    Rgb([0, 1, 2].map(|i| ((p[i] as u16 + c[i] as u16) / 2) as u8))
                }
            });
            let scale = side as f64 / w.max(h) as f64;
            let (tw, th) = (
                ((w as f64 * scale).round() as u32).max(1),
                ((h as f64 * scale).round() as u32).max(1),
            );
            let filter = image::imageops::FilterType::Triangle;
            (
                image::imageops::resize(&a.seen, tw, th, filter),
                image::imageops::resize(&overlay, tw, th, image::imageops::FilterType::Nearest),
            )
        })
        .collect();
    // Each row as tall as its thumbnails (and at least its legend).
    let heights: Vec<u32> = rows
        .iter()
        .zip(answers)
        .map(|((thumb, _), (a, names))| {
            let legend = line * (shares(&a.classes, names).len() as u32 + 1);
            (thumb.height() + line).max(legend) + 8
        })
        .collect();
    let width = 2 * (side + 8) + legend_w + 8;
    let mut img = RgbImage::from_pixel(
        width,
        heights.iter().sum::<u32>().max(1),
        Rgb([255, 255, 255]),
    );
    let mut y = 4u32;
    for (r, ((thumb, overlay), (a, names))) in rows.iter().zip(answers).enumerate() {
        let row_h = heights[r];
        image::imageops::overlay(&mut img, thumb, 4, y as i64 + line as i64);
        image::imageops::overlay(&mut img, overlay, side as i64 + 12, y as i64 + line as i64);
        let name = a
            .file
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        zoo_plot::boxes::draw_text(&mut img, (4, y as i32), &name, text, Rgb([0, 0, 0]))?;
        let lx = 2 * (side + 8) + 8;
        for (j, (k, s)) in shares(&a.classes, names).into_iter().enumerate() {
            let ly = y + line * (j as u32 + 1);
            if ly + line > y + row_h {
                break;
            }
            let c = voc_colour(k);
            for dy in 2..14 {
                for dx in 0..14 {
                    img.put_pixel(lx + dx, ly + dy, Rgb(c));
                }
            }
            zoo_plot::boxes::draw_text(
                &mut img,
                (lx as i32 + 20, ly as i32),
                &format!("{} {:.1}%", names[k], 100.0 * s),
                text,
                Rgb([0, 0, 0]),
            )?;
        }
        y += row_h;
    }
    Ok(img)
}
