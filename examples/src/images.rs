//! Image files to and from `[1, 3, H, W]` tensors in `[0, 1]`, for the
//! image examples (`augment`, `style-transfer`, `classify`, `segment`), and
//! the image files a list of files and folders names ([`image_files`]).

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use zoo_augment::resize::{Interpolation, resize};

pub use zoo_datasets::photo::{MAX_DECODE_BYTES, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, image_limits};

/// Decodes `bytes` (read from `path`, PNG or JPEG) within the budget of
/// [`image_limits`] and [`MAX_IMAGE_PIXELS`]: the size declared in the
/// header is checked before any pixel is decoded. Errors name `path`
/// ([`zoo_datasets::photo::decode`]).
pub fn decode_image(bytes: &[u8], path: &Path) -> Result<image::DynamicImage, String> {
    zoo_datasets::photo::decode(bytes, path).map_err(|e| e.to_string())
}

/// Reads `path` (PNG or JPEG) as RGB as PIL's `convert("RGB")` does
/// ([`zoo_datasets::photo::decode_rgb`]); grey or RGBA images are converted
/// (with a note on stderr); an unreadable file is an error naming the path
/// and the reason, an image beyond the budget of [`decode_image`] one
/// naming its size and the limit. Resized (bilinear, antialiased) to
/// `size` `[h, w]` when given.
pub fn load_rgb(
    path: &Path,
    size: Option<[usize; 2]>,
    device: &Device,
) -> Result<Tensor<4>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let rgb = zoo_datasets::photo::decode_rgb(&bytes, path).map_err(|e| e.to_string())?;
    if let Ok(color) = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(image::ImageError::from)
        .and_then(|r| r.into_decoder())
        .map(|d| image::ImageDecoder::color_type(&d))
        && color != image::ColorType::Rgb8
    {
        eprintln!(
            "note: {} is {color:?}; converted to 8-bit RGB",
            path.display()
        );
    }
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let mut v = vec![0f32; 3 * h * w];
    for (i, p) in rgb.pixels().enumerate() {
        for c in 0..3 {
            v[c * h * w + i] = p[c] as f32 / 255.0;
        }
    }
    let x = Tensor::<4>::from_data(TensorData::new(v, [1, 3, h, w]), device);
    match size {
        Some(s) if s != [h, w] => {
            resize(x, s, Interpolation::Bilinear, true).map_err(|e| e.to_string())
        }
        _ => Ok(x),
    }
}

/// `image [1, 3, H, W]` (clamped to `[0, 1]`) as an RGB image.
pub fn to_rgb_image(image: Tensor<4>) -> Result<RgbImage, String> {
    let [_, c, h, w] = image.dims();
    if c != 3 {
        return Err(format!("an image with {c} channels, expected 3"));
    }
    let v: Vec<f32> = image
        .clamp(0.0, 1.0)
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    Ok(RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let at = y as usize * w + x as usize;
        image::Rgb(std::array::from_fn(|k| {
            (v[k * h * w + at] * 255.0).round() as u8
        }))
    }))
}

/// Writes `image [1, 3, H, W]` as PNG to `path` (temporary file, renamed when complete).
pub fn save_rgb(image: Tensor<4>, path: &Path) -> Result<(), String> {
    let img = to_rgb_image(image)?;
    zoo_plot::png::save(&img, path).map_err(|e| e.to_string())
}

/// Images `[N, C, H, W]` (one or three channels, values in `lo..hi`, e.g.
/// `-1..1` for a GAN's tanh) tiled `columns` to a row with a one-pixel white
/// gap, as torchvision's `make_grid`; grey images are drawn grey.
pub fn grid(images: Tensor<4>, columns: usize, lo: f32, hi: f32) -> Result<RgbImage, String> {
    let [n, c, h, w] = images.dims();
    if !(c == 1 || c == 3) || n == 0 || columns == 0 {
        return Err(format!(
            "a grid of {n} images of {c} channels in {columns} columns: expected 1 or 3 channels and at least one image and column"
        ));
    }
    let v: Vec<f32> = images
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    let rows = n.div_ceil(columns);
    let (gw, gh) = (columns * (w + 1) + 1, rows * (h + 1) + 1);
    let mut img = RgbImage::from_pixel(gw as u32, gh as u32, image::Rgb([255, 255, 255]));
    let byte = |x: f32| (((x - lo) / (hi - lo)).clamp(0.0, 1.0) * 255.0).round() as u8;
    for k in 0..n {
        let (ox, oy) = (1 + (k % columns) * (w + 1), 1 + (k / columns) * (h + 1));
        for y in 0..h {
            for x in 0..w {
                let px = |ch: usize| v[((k * c + ch) * h + y) * w + x];
                let rgb = if c == 1 {
                    [byte(px(0)); 3]
                } else {
                    [byte(px(0)), byte(px(1)), byte(px(2))]
                };
                img.put_pixel((ox + x) as u32, (oy + y) as u32, image::Rgb(rgb));
            }
        }
    }
    Ok(img)
}

/// `tiles [N, C, H, W]` (values in `0..1`) as a [`grid`] of `columns`, each
/// pixel drawn `scale` times wider and taller, written as PNG to `path`
/// (its directory created; the file written atomically).
pub fn save_grid(tiles: Tensor<4>, columns: usize, scale: u32, path: &Path) -> Result<(), String> {
    let grid = grid(tiles, columns, 0.0, 1.0)?;
    let big = image::imageops::resize(
        &grid,
        grid.width() * scale,
        grid.height() * scale,
        image::imageops::FilterType::Nearest,
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    zoo_plot::png::save(&big, path).map_err(|e| e.to_string())
}

/// The image extensions a folder is searched for.
pub const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "bmp", "gif", "tif", "tiff", "webp"];

/// The image files named: files as given, folders' images sorted by name.
pub fn image_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, crate::Failure> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let entries = std::fs::read_dir(input)
                .map_err(|e| crate::Failure::Usage(format!("{}: {e}", input.display())))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.extension()
                            .and_then(|e| e.to_str())
                            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&&*e.to_ascii_lowercase()))
                })
                .collect();
            if found.is_empty() {
                return Err(crate::Failure::Usage(format!(
                    "{}: no images in the folder (expected files ending in .{})",
                    input.display(),
                    IMAGE_EXTENSIONS.join(", .")
                )));
            }
            found.sort();
            files.extend(found);
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            return Err(crate::Failure::Usage(format!(
                "{}: no such file or folder (expected an image or a folder of images)",
                input.display()
            )));
        }
    }
    Ok(files)
}
