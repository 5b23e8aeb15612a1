//! Every augmentation of `zoo-augment` applied to one image, as a labelled
//! PNG grid (d2l 14.1's `apply` figures, all at once):
//!
//!     cargo run -p examples --bin augment -- photo.jpg --out grid.png
//!
//! The image is read with the `image` crate (grey and RGBA are converted to
//! RGB, with a note) and resized to `--cell` pixels on its longer side. The
//! deterministic ops come first, then the seeded random transforms
//! (`--seed`: the same seed draws the same grid on every device), then the
//! multi-sample ops with the image's mirror and rotation as partners. The grid
//! is written to a temporary file and renamed when complete.

use examples::Failure;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::tensor::{Device, Int, Tensor, TensorData};
use clap::Parser;
use image::{Rgb, RgbImage};
use zoo_augment::functional::{self as f, PadMode};
use zoo_augment::photometric as ph;
use zoo_augment::policies::{AutoAugment, AutoAugmentPolicy, RandAugment, TrivialAugmentWide};
use zoo_augment::resize::{Interpolation, resize, resized_crop};
use zoo_augment::transforms::{
    ColorJitter, GaussianBlur, GaussianNoise, RandomAffine, RandomCrop, RandomErasing,
    RandomResizedCrop, RandomRotation, Transform,
};
use zoo_augment::{AugmentError, Rng, color, geometry, mix};

#[derive(Parser)]
#[command(about = "Write a labelled PNG grid of every augmentation applied to one image")]
struct Args {
    /// The image (PNG or JPEG).
    image: PathBuf,
    /// Where the grid goes.
    #[arg(long, default_value = "runs/augment/augment_grid.png")]
    out: PathBuf,
    /// Longer side of each cell, in pixels.
    #[arg(long, default_value_t = 160)]
    cell: usize,
    /// Images per row (1 to 64).
    #[arg(long, default_value_t = 6)]
    columns: usize,
    /// Seed of the random transforms.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

/// The most images per row `--columns` takes (the grid holds about 70).
const MAX_COLUMNS: usize = 64;

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

/// The image as `[1, 3, H, W]` in `[0, 1]`, its longer side `cell`.
fn load(path: &Path, cell: usize, device: &Device) -> Result<Tensor<4>, String> {
    let x = examples::images::load_rgb(path, None, device)?;
    let [_, _, h, w] = x.dims();
    let scale = cell as f64 / h.max(w) as f64;
    let size = [
        ((h as f64 * scale).round() as usize).max(8),
        ((w as f64 * scale).round() as usize).max(8),
    ];
    resize(x, size, Interpolation::Bilinear, true).map_err(|e| e.to_string())
}

/// Every augmentation of `x [1, 3, H, W]`, labelled.
fn gallery(x: Tensor<4>, seed: u64) -> Result<Vec<(String, Tensor<4>)>, AugmentError> {
    let [_, _, h, w] = x.dims();
    let mut rng = Rng::new(seed);
    let grey3 = |t: Tensor<4>| -> Result<Tensor<4>, AugmentError> {
        Ok(f::rgb_to_grayscale(t)?.repeat_dim(1, 3))
    };
    let mut out: Vec<(String, Tensor<4>)> = vec![("original".into(), x.clone())];
    let mut push = |label: &str, t: Tensor<4>| out.push((label.to_string(), t));
    push("hflip", f::hflip(x.clone()));
    push("vflip", f::vflip(x.clone()));
    push(
        "crop centre 60%",
        f::crop(
            x.clone(),
            (h / 5) as isize,
            (w / 5) as isize,
            h * 3 / 5,
            w * 3 / 5,
        )?,
    );
    push(
        "crop past edge",
        f::crop(x.clone(), -((h / 4) as isize), (w / 4) as isize, h, w)?,
    );
    push(
        "resize 1/6 nearest",
        resize(
            resize(x.clone(), [h / 6, w / 6], Interpolation::Bilinear, true)?,
            [h, w],
            Interpolation::Nearest,
            false,
        )?,
    );
    push(
        "resized_crop",
        resized_crop(
            x.clone(),
            [(h / 4) as isize, (w / 4) as isize],
            [h / 2, w / 3],
            [h, w],
            Interpolation::Bilinear,
            true,
        )?,
    );
    let p = [w / 5, h / 5, w / 5, h / 5];
    for (label, mode) in [
        ("pad constant", PadMode::Constant(0.5)),
        ("pad edge", PadMode::Edge),
        ("pad reflect", PadMode::Reflect),
        ("pad symmetric", PadMode::Symmetric),
    ] {
        push(
            label,
            resize(
                f::pad(x.clone(), p, mode)?,
                [h, w],
                Interpolation::Bilinear,
                true,
            )?,
        );
    }
    push("brightness 1.6", f::adjust_brightness(x.clone(), 1.6)?);
    push("brightness 0.5", f::adjust_brightness(x.clone(), 0.5)?);
    push("contrast 0.4", f::adjust_contrast(x.clone(), 0.4)?);
    push("contrast 2", f::adjust_contrast(x.clone(), 2.0)?);
    push("saturation 0", f::adjust_saturation(x.clone(), 0.0)?);
    push("saturation 2.5", f::adjust_saturation(x.clone(), 2.5)?);
    push("hue +0.25", color::adjust_hue(x.clone(), 0.25)?);
    push("hue -0.4", color::adjust_hue(x.clone(), -0.4)?);
    push("grayscale", grey3(x.clone())?);
    // HSL lightness halved: through the course's HSL and back.
    let hsl = color::rgb_to_hsl(x.clone())?;
    let [n, _, hh, ww] = hsl.dims();
    let part = |i: usize| hsl.clone().slice([0..n, i..i + 1, 0..hh, 0..ww]);
    push(
        "HSL lightness x0.6",
        color::hsl_to_rgb(Tensor::cat(
            vec![part(0), part(1), part(2).mul_scalar(0.6)],
            1,
        ))?,
    );
    push(
        "gaussian_blur 9 s3",
        color::gaussian_blur(x.clone(), [9, 9], [3.0, 3.0])?,
    );
    let noise = f::standard_normal(x.dims(), &mut rng, &x.device());
    push(
        "gaussian_noise 0.1",
        f::gaussian_noise(x.clone(), noise, 0.0, 0.1, true)?,
    );
    push(
        "erase",
        f::erase(x.clone(), h / 3, w / 3, h / 3, w / 3, &[0.0, 0.0, 0.0])?,
    );
    push(
        "normalize (+-2 sd)",
        f::normalize(x.clone(), &[0.485, 0.456, 0.406], &[0.229, 0.224, 0.225])?
            .add_scalar(2.0)
            .div_scalar(4.0),
    );
    push(
        "rotate 30 bilinear",
        geometry::rotate(x.clone(), &[30.0], Interpolation::Bilinear, Some(&[0.0]))?,
    );
    push(
        "rotate -90 nearest",
        geometry::rotate(x.clone(), &[-90.0], Interpolation::Nearest, None)?,
    );
    // The ops of AutoAugment, RandAugment and TrivialAugment.
    push(
        "affine 15,(8,4),0.9,sh10",
        geometry::affine(
            x.clone(),
            &[geometry::Affine {
                angle: 15.0,
                translate: [(w / 12) as f64, (h / 24) as f64],
                scale: 0.9,
                shear: [10.0, 0.0],
                center: None,
            }],
            Interpolation::Bilinear,
            Some(&[0.0]),
        )?,
    );
    push("posterize 2", ph::posterize(x.clone(), 2)?);
    push("solarize 0.6", ph::solarize(x.clone(), 0.6)?);
    push("autocontrast", ph::autocontrast(x.clone())?);
    push("equalize", ph::equalize(x.clone())?);
    push("sharpness 4", ph::adjust_sharpness(x.clone(), 4.0)?);
    push("invert", ph::invert(x.clone()));
    push("gamma 2.2", ph::adjust_gamma(x.clone(), 2.2, 1.0)?);
    let random: Vec<(&str, Box<dyn Transform>)> = vec![
        (
            "AutoAugment",
            Box::new(AutoAugment::new(AutoAugmentPolicy::ImageNet)),
        ),
        ("RandAugment", Box::new(RandAugment::default())),
        ("TrivialAugment", Box::new(TrivialAugmentWide::default())),
        (
            "RandomAffine",
            Box::new(RandomAffine {
                translate: Some([0.1, 0.1]),
                scale: Some([0.8, 1.1]),
                shear: vec![-10.0, 10.0],
                ..RandomAffine::new(20.0)
            }),
        ),
        (
            "RandomResizedCrop",
            Box::new(RandomResizedCrop::new([h, w])),
        ),
        ("RRC course", Box::new(RandomResizedCrop::course([h, w]))),
        (
            "RandomCrop pad16",
            Box::new(RandomCrop {
                size: [h, w],
                padding: [16; 4],
                pad_if_needed: false,
                padding_mode: PadMode::Reflect,
            }),
        ),
        (
            "ColorJitter",
            Box::new(ColorJitter {
                brightness: 0.5,
                contrast: 0.5,
                saturation: 0.5,
                hue: 0.3,
            }),
        ),
        (
            "RandomErasing",
            Box::new(RandomErasing {
                p: 1.0,
                ..RandomErasing::default()
            }),
        ),
        ("RandomRotation45", Box::new(RandomRotation::new(45.0))),
        (
            "GaussianBlur 11",
            Box::new(GaussianBlur {
                kernel_size: [11, 11],
                sigma: [0.1, 5.0],
            }),
        ),
        (
            "GaussianNoise.2",
            Box::new(GaussianNoise {
                sigma: 0.2,
                ..GaussianNoise::default()
            }),
        ),
    ];
    for (label, t) in random {
        // Four draws of each policy (they pick among many ops), two of the rest.
        let draws = if label.ends_with("Augment") { 4 } else { 2 };
        for k in 1..=draws {
            let y = t.apply(x.clone(), &mut rng)?;
            push(&format!("{label}#{k}"), y);
        }
    }
    // Multi-sample ops: the image with its mirror, or with a rotation of it.
    let partner = geometry::rotate(f::vflip(x.clone()), &[20.0], Interpolation::Bilinear, None)?;
    let pair = Tensor::cat(vec![partner.clone(), x.clone()], 0);
    let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1], [2]), &x.device());
    let second = |t: Tensor<4>| t.narrow(0, 1, 1);
    let (m, _) = mix::mixup(pair.clone(), labels.clone(), 0.6, 2)?;
    push("mixup 0.6", second(m));
    let (c, _) = mix::cutmix(
        pair.clone(),
        labels.clone(),
        [w / 4, h / 4, w * 3 / 4, h * 3 / 4],
        2,
    )?;
    push("cutmix", second(c));
    let (s, _) = mix::sample_pairing(x.clone(), partner, labels.narrow(0, 0, 1))?;
    push("sample_pairing", s);
    Ok(out)
}

fn run(args: &Args) -> Result<(), Failure> {
    let usage = Failure::Usage;
    if args.cell < 16 {
        return Err(usage(format!(
            "--cell {}: expected a cell of at least 16 pixels",
            args.cell
        )));
    }
    examples::check_count("--columns", args.columns, MAX_COLUMNS)?;
    examples::check_png_out(&args.out)?;
    // About 60 cells of cell x cell RGB pixels, each computed as f32.
    zoo_device::budget::check("the grid of cells", &[64, 3, args.cell, args.cell])
        .map_err(|e| usage(format!("--cell {}: {e}", args.cell)))?;
    let (backend, device) = examples::device(args.device.as_deref())?;
    let x = load(&args.image, args.cell, &device).map_err(usage)?;
    let cells = gallery(x, args.seed).map_err(Failure::run)?;
    let [_, _, h, w] = cells[0].1.dims();
    const LABEL_PX: f64 = 12.0;
    let label_h = 15;
    let (cw, ch) = (w.max(160) + 4, h + label_h + 4);
    let rows = cells.len().div_ceil(args.columns);
    let mut grid = RgbImage::from_pixel(
        (cw * args.columns) as u32,
        (ch * rows) as u32,
        Rgb([255, 255, 255]),
    );
    for (k, (label, t)) in cells.iter().enumerate() {
        let img = examples::images::to_rgb_image(t.clone()).map_err(Failure::run)?;
        let (ox, oy) = (
            (k % args.columns * cw + 2) as u32,
            (k / args.columns * ch + 2) as u32,
        );
        // The longest prefix of the label that fits the cell.
        let mut fits: String = label.clone();
        while !fits.is_empty()
            && zoo_plot::boxes::text_size(&fits, LABEL_PX)
                .map_err(Failure::run)?
                .0
                + 4
                > cw as u32
        {
            fits.pop();
        }
        zoo_plot::boxes::draw_text(
            &mut grid,
            (ox as i32, oy as i32),
            &fits,
            LABEL_PX,
            Rgb([0, 0, 0]),
        )
        .map_err(Failure::run)?;
        // At most the original's size, so no cell spills into the next.
        let img = image::imageops::crop_imm(&img, 0, 0, w as u32, h as u32).to_image();
        image::imageops::replace(&mut grid, &img, ox as i64, (oy as usize + label_h) as i64);
    }
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::run(format!("cannot create {}: {e}", dir.display())))?;
    }
    zoo_plot::png::save(&grid, &args.out).map_err(Failure::run)?;
    println!(
        "{} augmentations of {} ({h}x{w}) on {backend} written to {}",
        cells.len() - 1,
        args.image.display(),
        args.out.display()
    );
    Ok(())
}
