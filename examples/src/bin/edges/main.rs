//! Classic vision on a photograph (the notes' edge detection and HOG):
//!
//! ```text
//! cargo run -p examples --bin edges -- [IMAGE] [--sigma 2] [--low 0.05] [--high 0.15] \
//!     [--cell 8] [--orientations 9] [--out runs/edges/edges.png] [--device D]
//! ```
//!
//! Reads an image (default `assets/images/chelsea.jpg`), turns it grey
//! (torchvision's weights), and draws it beside its Sobel magnitude
//! `|Gx| + |Gy|` (OpenCV's kernels and border, clamped), its Canny edges
//! (scikit-image's algorithm) and its HOG picture (scikit-image's
//! `visualize=True`: one line per cell and orientation, as bright as the
//! cell's votes), in one PNG; prints each step's time and the HOG feature
//! length.

use std::path::PathBuf;
use std::process::ExitCode;

use burn::tensor::Tensor;
use clap::Parser;
use examples::Failure;
use image::{GrayImage, Luma, RgbImage};
use zoo_classic::canny::{CannyConfig, canny};
use zoo_classic::edges::{Magnitude, sobel};
use zoo_classic::hog::{BlockNorm, HogConfig};

#[derive(Parser)]
#[command(about = "Sobel, Canny and HOG of a photograph")]
struct Args {
    /// The image (PNG or JPEG).
    #[arg(default_value = "assets/images/chelsea.jpg")]
    image: PathBuf,
    /// Canny's Gaussian sigma (positive; its radius 4 sigma no wider than the image).
    #[arg(long, default_value_t = 2.0)]
    sigma: f64,
    /// Canny's low threshold (grey levels in [0, 1]).
    #[arg(long, default_value_t = 0.05)]
    low: f64,
    /// Canny's high threshold (grey levels in [0, 1], at least --low).
    #[arg(long, default_value_t = 0.15)]
    high: f64,
    /// HOG's cell size in pixels.
    #[arg(long, default_value_t = 8)]
    cell: usize,
    /// HOG's orientation bins.
    #[arg(long, default_value_t = 9)]
    orientations: usize,
    /// The picture (PNG).
    #[arg(long, default_value = "runs/edges/edges.png")]
    out: PathBuf,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

/// `values [h, w]` as a grey image, `lo..hi` to black..white.
fn grey(values: &[f32], h: usize, w: usize, lo: f32, hi: f32) -> GrayImage {
    GrayImage::from_fn(w as u32, h as u32, |x, y| {
        let v = (values[y as usize * w + x as usize] - lo) / (hi - lo).max(1e-12);
        Luma([(v.clamp(0.0, 1.0) * 255.0).round() as u8])
    })
}

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Failure> {
    examples::check_png_out(&args.out)?;
    if !(1..=64).contains(&args.cell) || !(1..=36).contains(&args.orientations) {
        return Err(Failure::Usage(format!(
            "--cell {} / --orientations {}: expected 1 to 64 pixels and 1 to 36 bins",
            args.cell, args.orientations
        )));
    }
    for (flag, v) in [("--low", args.low), ("--high", args.high)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(Failure::Usage(format!(
                "{flag} {v}: expected a grey level in [0, 1]"
            )));
        }
    }
    if args.low > args.high {
        return Err(Failure::Usage(format!(
            "--low {} above --high {}: expected low <= high",
            args.low, args.high
        )));
    }
    if !(args.sigma.is_finite() && args.sigma > 0.0) {
        return Err(Failure::Usage(format!(
            "--sigma {}: expected a positive number",
            args.sigma
        )));
    }
    let (backend, device) = examples::device(args.device.as_deref())?;
    let rgb = examples::images::load_rgb(&args.image, None, &device).map_err(Failure::Usage)?;
    let [_, _, h, w] = rgb.dims();
    // Canny's Gaussian has radius int(4 sigma + 0.5): no wider than the image.
    let max_sigma = (h.max(w) as f64 - 0.5) / 4.0;
    if args.sigma > max_sigma {
        return Err(Failure::Usage(format!(
            "--sigma {}: a Gaussian of radius 4 sigma wider than the {w}x{h} image {}; expected at most {max_sigma}",
            args.sigma,
            args.image.display()
        )));
    }
    // torchvision's rgb_to_grayscale weights.
    let weights =
        Tensor::<1>::from_floats([0.2989f32, 0.587, 0.114], &device).reshape([1, 3, 1, 1]);
    let gray = (rgb * weights).sum_dim(1); // [1, 1, H, W]
    let pixels: Vec<f32> = gray
        .clone()
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| Failure::run(format!("{e:?}")))?;
    println!("{} ({w}x{h}) on {backend}", args.image.display());

    let t = std::time::Instant::now();
    // On 0..255 grey levels, as the notes apply it.
    let g = sobel(gray * 255.0, Magnitude::L1, true).map_err(Failure::run)?;
    let mag: Vec<f32> = g
        .magnitude
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| Failure::run(format!("{e:?}")))?;
    println!(
        "sobel |Gx| + |Gy| clamped to [0, 255]: {:.1} ms, mean {:.1}",
        t.elapsed().as_secs_f64() * 1e3,
        mag.iter().sum::<f32>() / mag.len() as f32
    );

    let t = std::time::Instant::now();
    let config = CannyConfig {
        sigma: args.sigma,
        low_threshold: args.low,
        high_threshold: args.high,
    };
    let edges = canny(&pixels, h, w, &config).map_err(|e| Failure::Usage(e.to_string()))?;
    let on = edges.iter().filter(|&&e| e).count();
    println!(
        "canny (sigma {}, thresholds {} / {}): {:.1} ms, {on} edge pixels ({:.1}%)",
        args.sigma,
        args.low,
        args.high,
        t.elapsed().as_secs_f64() * 1e3,
        100.0 * on as f64 / (h * w) as f64
    );

    let t = std::time::Instant::now();
    let hog = HogConfig {
        orientations: args.orientations,
        pixels_per_cell: [args.cell, args.cell],
        cells_per_block: [2, 2],
        block_norm: BlockNorm::L2Hys,
    };
    let features = hog
        .features(&pixels, h, w)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let secs = t.elapsed().as_secs_f64();
    let picture = hog
        .picture(&pixels, h, w)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    println!(
        "hog ({} orientations, {}x{} cells, 2x2 blocks, L2-Hys): {:.1} ms, {} features",
        args.orientations,
        args.cell,
        args.cell,
        secs * 1e3,
        features.len()
    );

    // One picture: grey | Sobel / Canny | HOG.
    let edge_values: Vec<f32> = edges.iter().map(|&e| if e { 1.0 } else { 0.0 }).collect();
    let hog_max = picture.iter().copied().fold(0.0f32, f32::max);
    let panels = [
        grey(&pixels, h, w, 0.0, 1.0),
        grey(&mag, h, w, 0.0, 255.0),
        grey(&edge_values, h, w, 0.0, 1.0),
        grey(&picture, h, w, 0.0, hog_max * 0.6),
    ];
    let gap = 4;
    let mut out = RgbImage::from_pixel(
        (2 * w + gap) as u32,
        (2 * h + gap) as u32,
        image::Rgb([255, 255, 255]),
    );
    for (k, p) in panels.iter().enumerate() {
        let (ox, oy) = ((k % 2) * (w + gap), (k / 2) * (h + gap));
        for (x, y, px) in p.enumerate_pixels() {
            out.put_pixel(ox as u32 + x, oy as u32 + y, image::Rgb([px[0]; 3]));
        }
    }
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::run(format!("cannot create {}: {e}", dir.display())))?;
    }
    zoo_plot::png::save(&out, &args.out).map_err(Failure::run)?;
    println!("wrote {} (grey, Sobel | Canny, HOG)", args.out.display());
    Ok(())
}
