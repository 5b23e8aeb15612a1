//! torchvision's inference presets (`weights.transforms()`:
//! `transforms._presets.ImageClassification`, `SemanticSegmentation`,
//! `ObjectDetection`) on a photo as PIL holds it, the path a user's file
//! takes in torchvision: `Image.open(path).convert("RGB")`
//! ([`zoo_datasets::photo::open_rgb`]), then the preset.
//!
//! With a PIL image the preset's resize runs in PIL: `Image.resize` with
//! PIL's resampling on 8-bit samples in PIL's fixed-point arithmetic
//! (always antialiased: torchvision ignores `antialias` for PIL images),
//! then `F.center_crop` (zero padding when the crop is larger than the
//! image), then `pil_to_tensor`, `/ 255` and `F.normalize` in float32.
//! [`resize_pil`] is that resampling, integer-exact to Pillow's
//! `src/libImaging/Resample.c` (bilinear, bicubic: the filter's support
//! widened by the scale when shrinking, coefficients rounded to 22
//! fractional bits, a horizontal pass rounded to 8 bits before the
//! vertical one, each pass skipped when its side keeps its size) and to
//! `Geometry.c`'s nearest neighbour. So the presets' outputs equal
//! torchvision's to the last float32 bit on the same decoded pixels.
//!
//! ```
//! use zoo_augment::inference::{ImageClassification, Resample};
//! let img = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 128]));
//! let preset = ImageClassification::new(24, 28).with_interpolation(Resample::Bicubic);
//! let x = preset.apply(&img).unwrap();
//! assert_eq!(x.shape().to_vec(), [3, 24, 24]);
//! assert!(preset.to_string().contains("interpolation=InterpolationMode.BICUBIC"));
//! ```

use std::fmt;

use burn::tensor::TensorData;
use image::RgbImage;

use crate::AugmentError;

/// ImageNet's channel means, the presets' default.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's channel standard deviations, the presets' default.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The resampling filter, by torchvision's `InterpolationMode` name, as PIL
/// applies it to a PIL image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resample {
    /// `InterpolationMode.NEAREST`: PIL's `NEAREST` (the source pixel under
    /// each output pixel's centre).
    Nearest,
    /// `InterpolationMode.BILINEAR`: PIL's `BILINEAR` (the triangle filter,
    /// widened by the scale when shrinking).
    Bilinear,
    /// `InterpolationMode.BICUBIC`: PIL's `BICUBIC` (Keys' cubic, a = -0.5,
    /// widened by the scale when shrinking).
    Bicubic,
}

impl Resample {
    /// By torchvision's `InterpolationMode` value (`"nearest"`,
    /// `"bilinear"`, `"bicubic"`) or name (`"BILINEAR"`, ...).
    pub fn from_name(name: &str) -> Result<Self, AugmentError> {
        match name.to_ascii_lowercase().as_str() {
            "nearest" => Ok(Self::Nearest),
            "bilinear" => Ok(Self::Bilinear),
            "bicubic" => Ok(Self::Bicubic),
            _ => Err(AugmentError::new(
                "Resample",
                format!("interpolation `{name}`, expected nearest, bilinear or bicubic"),
            )),
        }
    }

    /// torchvision's name: `InterpolationMode.BILINEAR`, ...
    pub fn torchvision_name(self) -> &'static str {
        match self {
            Self::Nearest => "InterpolationMode.NEAREST",
            Self::Bilinear => "InterpolationMode.BILINEAR",
            Self::Bicubic => "InterpolationMode.BICUBIC",
        }
    }
}

impl fmt::Display for Resample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.torchvision_name())
    }
}

/// Fractional bits of PIL's fixed-point coefficients (`PRECISION_BITS`:
/// 32 - 8 - 2).
const PRECISION_BITS: u32 = 22;

/// Keys' cubic with a = -0.5, evaluated as Pillow's `bicubic_filter`.
fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// The triangle, as Pillow's `bilinear_filter`.
fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 { 1.0 - x } else { 0.0 }
}

/// The taps of one axis as Pillow's `precompute_coeffs` and
/// `normalize_coeffs_8bpc` make them: for each output position the first
/// input index, and the fixed-point weights from there.
struct Taps {
    first: Vec<usize>,
    weights: Vec<Vec<i32>>,
}

fn taps(in_size: usize, out_size: usize, filter: fn(f64) -> f64, support: f64) -> Taps {
    // The box is (0, in_size) in float32, as `_resize` passes it.
    let (in0, in1) = (0.0f32, in_size as f32);
    let scale = f64::from(in1 - in0) / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = support * filterscale;
    let inv_filterscale = 1.0 / filterscale;
    let mut first = Vec::with_capacity(out_size);
    let mut weights = Vec::with_capacity(out_size);
    for xx in 0..out_size {
        let center = f64::from(in0) + (xx as f64 + 0.5) * scale;
        // C's (int) casts truncate toward zero, as `as` does.
        let xmin = ((center - support + 0.5) as i64).max(0);
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64);
        let n = (xmax - xmin).max(0) as usize;
        let mut k: Vec<f64> = (0..n)
            .map(|x| filter(((x as i64 + xmin) as f64 - center + 0.5) * inv_filterscale))
            .collect();
        let ww: f64 = k.iter().sum();
        if ww != 0.0 {
            for w in &mut k {
                *w /= ww;
            }
        }
        let one = f64::from(1u32 << PRECISION_BITS);
        let fixed = k
            .iter()
            .map(|&w| {
                if w < 0.0 {
                    (-0.5 + w * one) as i32
                } else {
                    (0.5 + w * one) as i32
                }
            })
            .collect();
        first.push(xmin as usize);
        weights.push(fixed);
    }
    Taps { first, weights }
}

/// Pillow's `clip8`: the sum shifted to 8 bits and clamped.
fn clip8(ss: i32) -> u8 {
    (ss >> PRECISION_BITS).clamp(0, 255) as u8
}

/// One pass along x (`horizontal`) or y over interleaved RGB samples
/// `src` of `w x h`, to `out_w x out_h`.
fn pass(src: &[u8], w: usize, h: usize, t: &Taps, horizontal: bool) -> Vec<u8> {
    let half = 1i32 << (PRECISION_BITS - 1);
    let (out_w, out_h) = if horizontal {
        (t.first.len(), h)
    } else {
        (w, t.first.len())
    };
    let mut out = vec![0u8; out_w * out_h * 3];
    for y in 0..out_h {
        for x in 0..out_w {
            let (i, along) = if horizontal { (x, y) } else { (y, x) };
            let (first, k) = (t.first[i], &t.weights[i]);
            let mut ss = [half; 3];
            for (j, &kj) in k.iter().enumerate() {
                let at = if horizontal {
                    (along * w + first + j) * 3
                } else {
                    ((first + j) * w + along) * 3
                };
                for c in 0..3 {
                    ss[c] += i32::from(src[at + c]) * kj;
                }
            }
            let o = (y * out_w + x) * 3;
            for c in 0..3 {
                out[o + c] = clip8(ss[c]);
            }
        }
    }
    out
}

/// PIL's `NEAREST` scaling (`ImagingScaleAffine`): the source coordinate
/// of each output pixel's centre, accumulated in double as Pillow does.
fn nearest(img: &RgbImage, out_w: usize, out_h: usize) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let index = |in_size: usize, out_size: usize| -> Vec<Option<usize>> {
        let a = f64::from(in_size as f32) / out_size as f64;
        let mut o = a * 0.5;
        (0..out_size)
            .map(|_| {
                let i = if o < 0.0 { None } else { Some(o as usize) };
                o += a;
                i.filter(|&i| i < in_size)
            })
            .collect()
    };
    let (xs, ys) = (index(w, out_w), index(h, out_h));
    RgbImage::from_fn(out_w as u32, out_h as u32, |x, y| {
        match (xs[x as usize], ys[y as usize]) {
            (Some(sx), Some(sy)) => *img.get_pixel(sx as u32, sy as u32),
            // Outside the source: PIL's fill, black.
            _ => image::Rgb([0, 0, 0]),
        }
    })
}

/// `img.resize((width, height), filter)` in PIL, to the byte: Pillow's
/// fixed-point two-pass resampling for bilinear and bicubic (each pass
/// skipped when its side keeps its size), its nearest-neighbour scaling for
/// nearest. The same size gives a copy, as PIL's.
pub fn resize_pil(img: &RgbImage, width: u32, height: u32, filter: Resample) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (out_w, out_h) = (width as usize, height as usize);
    if (out_w, out_h) == (w, h) {
        return img.clone();
    }
    let (f, support): (fn(f64) -> f64, f64) = match filter {
        Resample::Nearest => return nearest(img, out_w, out_h),
        Resample::Bilinear => (triangle, 1.0),
        Resample::Bicubic => (bicubic, 2.0),
    };
    let mut data = img.as_raw().clone();
    let mut cur_w = w;
    if out_w != w {
        data = pass(&data, w, h, &taps(w, out_w, f, support), true);
        cur_w = out_w;
    }
    if out_h != h {
        data = pass(&data, cur_w, h, &taps(h, out_h, f, support), false);
    }
    RgbImage::from_raw(out_w as u32, out_h as u32, data)
        .expect("the passes make out_w x out_h pixels")
}

/// The size `F.resize(img, [size])` gives a `w x h` image: the smaller
/// side becomes `size`, the other `int(size * long / short)` (float64, as
/// torchvision's `_compute_resized_output_size`). `(width, height)`.
pub fn resized_size(w: usize, h: usize, size: usize) -> (usize, usize) {
    let (short, long) = if w <= h { (w, h) } else { (h, w) };
    let new_long = ((size as u128 * long as u128) as f64 / short as f64) as usize;
    if w <= h {
        (size, new_long)
    } else {
        (new_long, size)
    }
}

/// Python's `round` (half to even) of `d / 2` for `d >= 0`: the offset
/// `F.center_crop` takes.
fn half_to_even(d: usize) -> usize {
    let lo = d / 2;
    if d % 2 == 1 && lo % 2 == 1 {
        lo + 1
    } else {
        lo
    }
}

/// `F.center_crop(img, [height, width])` of a PIL image: zero padding
/// (left and top `(crop - side) // 2`, the rest right and bottom) where the
/// crop is larger than the image, then the crop at
/// `int(round((side - crop) / 2.0))` (Python's round: half to even).
pub fn center_crop_pil(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    // The padded image's offset of the original and its size.
    let (pad_left, pad_top) = (width.saturating_sub(w) / 2, height.saturating_sub(h) / 2);
    let (pw, ph) = (w.max(width), h.max(height));
    let left = half_to_even((pw - width) as usize) as u32;
    let top = half_to_even((ph - height) as usize) as u32;
    RgbImage::from_fn(width, height, |x, y| {
        // Position in the padded image, then in the original.
        let (px, py) = (x + left, y + top);
        match (px.checked_sub(pad_left), py.checked_sub(pad_top)) {
            (Some(ix), Some(iy)) if ix < w && iy < h => *img.get_pixel(ix, iy),
            _ => image::Rgb([0, 0, 0]),
        }
    })
}

/// `pil_to_tensor`, `convert_image_dtype(float)` (`/ 255`) and, given
/// `mean` and `std`, `F.normalize`, in float32 as torch computes them:
/// `[3, H, W]`.
fn to_tensor(img: &RgbImage, norm: Option<([f32; 3], [f32; 3])>) -> TensorData {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut v = vec![0f32; 3 * h * w];
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            let x = f32::from(p[c]) / 255.0;
            v[c * h * w + i] = match norm {
                Some((mean, std)) => (x - mean[c]) / std[c],
                None => x,
            };
        }
    }
    TensorData::new(v, [3, h, w])
}

/// [`to_tensor`] with `mean` and `std`, a zero in `std` refused as
/// `F.normalize` refuses it.
fn normalized(
    op: &'static str,
    pixels: &RgbImage,
    mean: [f32; 3],
    std: [f32; 3],
) -> Result<TensorData, AugmentError> {
    if std.contains(&0.0) {
        return Err(AugmentError::new(
            op,
            format!("std {std:?} has a zero, which would divide by zero"),
        ));
    }
    AugmentError::check_size(op, &[3, pixels.height() as u128, pixels.width() as u128])?;
    Ok(to_tensor(pixels, Some((mean, std))))
}

/// Refuses an empty image, a zero size, a zero standard deviation (as
/// `F.normalize` does) and an output beyond the tensor budget.
fn check(
    op: &'static str,
    img: &RgbImage,
    sizes: &[(&str, usize)],
    std: [f32; 3],
    out: (usize, usize),
) -> Result<(), AugmentError> {
    if img.width() == 0 || img.height() == 0 {
        return Err(AugmentError::new(
            op,
            format!(
                "an image of {}x{} pixels, expected at least 1x1",
                img.width(),
                img.height()
            ),
        ));
    }
    for (name, size) in sizes {
        if *size == 0 {
            return Err(AugmentError::new(
                op,
                format!("{name} 0, expected at least 1"),
            ));
        }
    }
    if std.contains(&0.0) {
        return Err(AugmentError::new(
            op,
            format!("std {std:?} has a zero, which would divide by zero"),
        ));
    }
    AugmentError::check_size(op, &[3, out.1 as u128, out.0 as u128])
}

/// A list of floats as Python prints one: `[0.485, 0.456, 0.406]`.
fn py_floats(v: &[f32; 3]) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
    format!("[{}]", items.join(", "))
}

/// torchvision's `ImageClassification` preset: resize the smaller side to
/// `resize_size`, crop the centre `crop_size x crop_size`, scale to
/// `[0, 1]`, normalise. `ImageClassification::new(224, 256)` is ResNet-50
/// V1's; V2's is `new(224, 232)`, Inception v3's `new(299, 342)`,
/// EfficientNet-B0's `new(224, 256).with_interpolation(Resample::Bicubic)`.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageClassification {
    /// The side of the square centre crop.
    pub crop_size: usize,
    /// The smaller side after the resize.
    pub resize_size: usize,
    /// The channel means subtracted.
    pub mean: [f32; 3],
    /// The channel standard deviations divided by.
    pub std: [f32; 3],
    /// The resize's filter.
    pub interpolation: Resample,
    /// torchvision's `antialias` (default true). PIL always antialiases,
    /// so it changes nothing here (torchvision warns when it is false).
    pub antialias: bool,
}

impl ImageClassification {
    /// `ImageClassification(crop_size=crop_size, resize_size=resize_size)`:
    /// ImageNet's mean and std, bilinear, antialiased.
    pub fn new(crop_size: usize, resize_size: usize) -> Self {
        Self {
            crop_size,
            resize_size,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
            interpolation: Resample::Bilinear,
            antialias: true,
        }
    }

    /// With the resize's filter `interpolation`.
    pub fn with_interpolation(mut self, interpolation: Resample) -> Self {
        self.interpolation = interpolation;
        self
    }

    /// With the normalisation's `mean` and `std`.
    pub fn with_mean_std(mut self, mean: [f32; 3], std: [f32; 3]) -> Self {
        self.mean = mean;
        self.std = std;
        self
    }

    /// With torchvision's `antialias` flag (no effect on the PIL path).
    pub fn with_antialias(mut self, antialias: bool) -> Self {
        self.antialias = antialias;
        self
    }

    /// The 8-bit image the preset normalises: `img` resized and cropped
    /// in PIL (what `pil_to_tensor` sees).
    pub fn pixels(&self, img: &RgbImage) -> Result<RgbImage, AugmentError> {
        let op = "ImageClassification";
        let c = self.crop_size;
        check(
            op,
            img,
            &[("resize_size", self.resize_size), ("crop_size", c)],
            self.std,
            (c, c),
        )?;
        let (w, h) = resized_size(
            img.width() as usize,
            img.height() as usize,
            self.resize_size,
        );
        AugmentError::check_size(op, &[3, h as u128, w as u128])?;
        let resized = resize_pil(img, w as u32, h as u32, self.interpolation);
        Ok(center_crop_pil(&resized, c as u32, c as u32))
    }

    /// The preset's last steps on `pixels`, the image [`Self::pixels`]
    /// made: `pil_to_tensor`, `/ 255`, `F.normalize`: `[3, H, W]` float32.
    pub fn normalize(&self, pixels: &RgbImage) -> Result<TensorData, AugmentError> {
        normalized("ImageClassification", pixels, self.mean, self.std)
    }

    /// The preset's output for `img`: `[3, crop_size, crop_size]` float32.
    pub fn apply(&self, img: &RgbImage) -> Result<TensorData, AugmentError> {
        self.normalize(&self.pixels(img)?)
    }

    /// torchvision's `describe()`.
    pub fn describe(&self) -> String {
        format!(
            "Accepts ``PIL.Image``, batched ``(B, C, H, W)`` and single ``(C, H, W)`` image ``torch.Tensor`` objects. \
             The images are resized to ``resize_size=[{}]`` using ``interpolation={}``, followed by a central crop of \
             ``crop_size=[{}]``. Finally the values are first rescaled to ``[0.0, 1.0]`` and then normalized using \
             ``mean={}`` and ``std={}``.",
            self.resize_size,
            self.interpolation,
            self.crop_size,
            py_floats(&self.mean),
            py_floats(&self.std)
        )
    }
}

/// torchvision's `__repr__`.
impl fmt::Display for ImageClassification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ImageClassification(\n    crop_size=[{}]\n    resize_size=[{}]\n    mean={}\n    std={}\n    interpolation={}\n)",
            self.crop_size,
            self.resize_size,
            py_floats(&self.mean),
            py_floats(&self.std),
            self.interpolation
        )
    }
}

/// torchvision's `SemanticSegmentation` preset: resize the smaller side to
/// `resize_size` (none: keep the size), scale to `[0, 1]`, normalise; no
/// crop. The segmentation weights' is `new(Some(520))`.
#[derive(Clone, Debug, PartialEq)]
pub struct SemanticSegmentation {
    /// The smaller side after the resize; `None` keeps the size.
    pub resize_size: Option<usize>,
    /// The channel means subtracted.
    pub mean: [f32; 3],
    /// The channel standard deviations divided by.
    pub std: [f32; 3],
    /// The resize's filter.
    pub interpolation: Resample,
    /// torchvision's `antialias` (default true; no effect on the PIL path).
    pub antialias: bool,
}

impl SemanticSegmentation {
    /// `SemanticSegmentation(resize_size=resize_size)`: ImageNet's mean and
    /// std, bilinear, antialiased.
    pub fn new(resize_size: Option<usize>) -> Self {
        Self {
            resize_size,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
            interpolation: Resample::Bilinear,
            antialias: true,
        }
    }

    /// With the resize's filter `interpolation`.
    pub fn with_interpolation(mut self, interpolation: Resample) -> Self {
        self.interpolation = interpolation;
        self
    }

    /// With the normalisation's `mean` and `std`.
    pub fn with_mean_std(mut self, mean: [f32; 3], std: [f32; 3]) -> Self {
        self.mean = mean;
        self.std = std;
        self
    }

    /// With torchvision's `antialias` flag (no effect on the PIL path).
    pub fn with_antialias(mut self, antialias: bool) -> Self {
        self.antialias = antialias;
        self
    }

    /// The 8-bit image the preset normalises: `img` resized in PIL.
    pub fn pixels(&self, img: &RgbImage) -> Result<RgbImage, AugmentError> {
        let op = "SemanticSegmentation";
        let (w, h) = (img.width() as usize, img.height() as usize);
        let out = match self.resize_size {
            Some(size) if w > 0 && h > 0 => resized_size(w, h, size),
            _ => (w, h),
        };
        let sizes: &[(&str, usize)] = match self.resize_size {
            Some(size) => &[("resize_size", size)],
            None => &[],
        };
        check(op, img, sizes, self.std, out)?;
        Ok(resize_pil(
            img,
            out.0 as u32,
            out.1 as u32,
            self.interpolation,
        ))
    }

    /// The preset's last steps on `pixels`, the image [`Self::pixels`]
    /// made: `pil_to_tensor`, `/ 255`, `F.normalize`: `[3, H, W]` float32.
    pub fn normalize(&self, pixels: &RgbImage) -> Result<TensorData, AugmentError> {
        normalized("SemanticSegmentation", pixels, self.mean, self.std)
    }

    /// The preset's output for `img`: `[3, H, W]` float32.
    pub fn apply(&self, img: &RgbImage) -> Result<TensorData, AugmentError> {
        self.normalize(&self.pixels(img)?)
    }

    /// torchvision's `describe()`.
    pub fn describe(&self) -> String {
        format!(
            "Accepts ``PIL.Image``, batched ``(B, C, H, W)`` and single ``(C, H, W)`` image ``torch.Tensor`` objects. \
             The images are resized to ``resize_size={}`` using ``interpolation={}``. Finally the values are first \
             rescaled to ``[0.0, 1.0]`` and then normalized using ``mean={}`` and ``std={}``.",
            self.resize_repr(),
            self.interpolation,
            py_floats(&self.mean),
            py_floats(&self.std)
        )
    }

    fn resize_repr(&self) -> String {
        match self.resize_size {
            Some(s) => format!("[{s}]"),
            None => "None".into(),
        }
    }
}

/// torchvision's `__repr__`.
impl fmt::Display for SemanticSegmentation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SemanticSegmentation(\n    resize_size={}\n    mean={}\n    std={}\n    interpolation={}\n)",
            self.resize_repr(),
            py_floats(&self.mean),
            py_floats(&self.std),
            self.interpolation
        )
    }
}

/// torchvision's `ObjectDetection` preset: the image as float in `[0, 1]`
/// (the detection models resize and normalise inside).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObjectDetection;

impl ObjectDetection {
    /// The preset's output for `img`: `[3, H, W]` float32 in `[0, 1]`.
    pub fn apply(&self, img: &RgbImage) -> Result<TensorData, AugmentError> {
        let (w, h) = (img.width() as usize, img.height() as usize);
        AugmentError::check_size("ObjectDetection", &[3, h as u128, w as u128])?;
        Ok(to_tensor(img, None))
    }

    /// torchvision's `describe()`.
    pub fn describe(&self) -> String {
        "Accepts ``PIL.Image``, batched ``(B, C, H, W)`` and single ``(C, H, W)`` image ``torch.Tensor`` objects. \
         The images are rescaled to ``[0.0, 1.0]``."
            .into()
    }
}

/// torchvision's `__repr__`.
impl fmt::Display for ObjectDetection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ObjectDetection()")
    }
}

/// One of the presets, as a weights entry names its `transforms`.
#[derive(Clone, Debug, PartialEq)]
pub enum Preset {
    /// `ImageClassification`.
    Classification(ImageClassification),
    /// `SemanticSegmentation`.
    Segmentation(SemanticSegmentation),
    /// `ObjectDetection`.
    Detection(ObjectDetection),
}

impl Preset {
    /// The preset's output for `img`: `[3, H, W]` float32.
    pub fn apply(&self, img: &RgbImage) -> Result<TensorData, AugmentError> {
        match self {
            Self::Classification(p) => p.apply(img),
            Self::Segmentation(p) => p.apply(img),
            Self::Detection(p) => p.apply(img),
        }
    }

    /// The 8-bit image the preset turns into its output (resized and
    /// cropped as the preset does; detection's is `img` itself).
    pub fn pixels(&self, img: &RgbImage) -> Result<RgbImage, AugmentError> {
        match self {
            Self::Classification(p) => p.pixels(img),
            Self::Segmentation(p) => p.pixels(img),
            Self::Detection(_) => Ok(img.clone()),
        }
    }

    /// The preset's last steps on `pixels`, the image [`Self::pixels`]
    /// made: `[3, H, W]` float32 (normalised, or in `[0, 1]` for detection).
    pub fn normalize(&self, pixels: &RgbImage) -> Result<TensorData, AugmentError> {
        match self {
            Self::Classification(p) => p.normalize(pixels),
            Self::Segmentation(p) => p.normalize(pixels),
            Self::Detection(p) => p.apply(pixels),
        }
    }

    /// torchvision's `describe()`.
    pub fn describe(&self) -> String {
        match self {
            Self::Classification(p) => p.describe(),
            Self::Segmentation(p) => p.describe(),
            Self::Detection(p) => p.describe(),
        }
    }
}

/// torchvision's `__repr__` of the preset.
impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Classification(p) => p.fmt(f),
            Self::Segmentation(p) => p.fmt(f),
            Self::Detection(p) => p.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Expected values from Pillow 13.0 and torchvision 0.29.2:
    //!
    //! ```python
    //! import numpy as np
    //! from PIL import Image
    //! from torchvision.transforms._presets import ImageClassification
    //! from torchvision.transforms import InterpolationMode as IM
    //! a = np.zeros((5, 7, 3), np.uint8)
    //! for y in range(5):
    //!     for x in range(7):
    //!         a[y, x] = [(x * 37 + y * 11) % 256, (x * x * 13 + y * 71) % 256, (x * y * 29 + 200) % 256]
    //! img = Image.fromarray(a, 'RGB')
    //! flat = lambda im, rows=None: np.array(im)[:rows].reshape(-1).tolist()
    //! flat(img.resize((4, 3), Image.BILINEAR)); flat(img.resize((4, 3), Image.BICUBIC))
    //! flat(img.resize((4, 3), Image.NEAREST)); flat(img.resize((7, 3), Image.BILINEAR))
    //! flat(img.resize((3, 5), Image.BICUBIC))
    //! flat(img.resize((11, 8), Image.BICUBIC), 2); flat(img.resize((11, 8), Image.NEAREST), 2)
    //! y = ImageClassification(crop_size=4, resize_size=5)(img); y.reshape(-1)[:8], y.sum()
    //! ImageClassification(crop_size=6, resize_size=4, interpolation=IM.BICUBIC)(img)[0]
    //! ```
    use super::*;

    fn sample() -> RgbImage {
        RgbImage::from_fn(7, 5, |x, y| {
            let (x, y) = (x as usize, y as usize);
            image::Rgb([
                ((x * 37 + y * 11) % 256) as u8,
                ((x * x * 13 + y * 71) % 256) as u8,
                ((x * y * 29 + 200) % 256) as u8,
            ])
        })
    }

    fn resized(w: u32, h: u32, f: Resample) -> Vec<u8> {
        resize_pil(&sample(), w, h, f).into_raw()
    }

    #[test]
    fn downscaling_is_pils_to_the_byte() {
        assert_eq!(
            resized(4, 3, Resample::Bilinear),
            [
                24, 38, 201, 82, 92, 138, 150, 128, 139, 208, 118, 158, 41, 147, 133, 99, 119, 76,
                167, 97, 130, 225, 122, 130, 58, 110, 133, 116, 82, 119, 184, 153, 96, 166, 149,
                115
            ]
        );
        assert_eq!(
            resized(4, 3, Resample::Bicubic),
            [
                19, 28, 209, 81, 97, 134, 149, 132, 137, 211, 117, 159, 37, 161, 132, 99, 119, 63,
                167, 88, 132, 234, 121, 131, 55, 114, 129, 117, 77, 120, 191, 154, 95, 165, 150,
                117
            ]
        );
        assert_eq!(
            resized(4, 3, Resample::Nearest),
            [
                0, 0, 200, 74, 52, 200, 148, 208, 200, 222, 212, 200, 22, 142, 200, 96, 194, 60,
                170, 94, 176, 244, 98, 36, 44, 28, 200, 118, 80, 176, 192, 236, 152, 10, 240, 128
            ]
        );
    }

    #[test]
    fn one_pass_when_one_side_keeps_its_size() {
        assert_eq!(
            resized(7, 3, Resample::Bilinear),
            [
                5, 30, 200, 42, 43, 212, 79, 82, 115, 116, 147, 128, 153, 129, 140, 190, 99, 152,
                227, 133, 165, 22, 142, 200, 59, 155, 59, 96, 137, 60, 133, 60, 118, 170, 94, 119,
                207, 154, 177, 244, 98, 93, 39, 107, 200, 76, 120, 48, 113, 50, 151, 150, 115, 108,
                187, 206, 102, 224, 67, 60, 115, 210, 163
            ]
        );
        assert_eq!(
            resized(3, 5, Resample::Bicubic),
            [
                27, 10, 200, 111, 118, 200, 195, 154, 200, 38, 89, 175, 122, 126, 35, 206, 72, 96,
                49, 160, 84, 133, 90, 118, 217, 143, 152, 60, 177, 114, 144, 79, 123, 228, 110,
                138, 71, 38, 136, 163, 146, 99, 141, 182, 81
            ]
        );
        assert_eq!(resized(7, 5, Resample::Bicubic), sample().into_raw());
    }

    #[test]
    fn upscaling_clips_the_cubic_overshoot_as_pil() {
        let rows = |v: Vec<u8>| v[..2 * 11 * 3].to_vec();
        assert_eq!(
            rows(resized(11, 8, Resample::Bicubic)),
            [
                0, 0, 200, 12, 0, 198, 39, 10, 199, 63, 34, 211, 86, 67, 214, 110, 112, 212, 134,
                200, 211, 157, 189, 209, 181, 67, 208, 208, 150, 207, 224, 237, 206, 3, 24, 198,
                17, 27, 215, 44, 39, 218, 68, 63, 142, 91, 106, 117, 115, 154, 129, 139, 145, 135,
                162, 120, 141, 186, 94, 147, 213, 116, 163, 229, 138, 173
            ]
        );
        assert_eq!(
            rows(resized(11, 8, Resample::Nearest)),
            [
                0, 0, 200, 0, 0, 200, 37, 13, 200, 74, 52, 200, 74, 52, 200, 111, 117, 200, 148,
                208, 200, 148, 208, 200, 185, 69, 200, 222, 212, 200, 222, 212, 200, 0, 0, 200, 0,
                0, 200, 37, 13, 200, 74, 52, 200, 74, 52, 200, 111, 117, 200, 148, 208, 200, 148,
                208, 200, 185, 69, 200, 222, 212, 200, 222, 212, 200
            ]
        );
    }

    #[test]
    fn classification_is_torchvisions_to_the_bit() {
        let y = ImageClassification::new(4, 5).apply(&sample()).unwrap();
        assert_eq!(y.shape().to_vec(), [3, 4, 4]);
        let v: Vec<f32> = y.try_to_vec::<f32>().unwrap();
        assert_eq!(
            v[..8],
            [
                -0.8506721,
                -0.2170563,
                0.41655967,
                1.0501755,
                -0.6622999,
                -0.02868402,
                0.60493195,
                1.2385478
            ]
        );
        let sum: f64 = v.iter().map(|&x| f64::from(x)).sum();
        assert!((sum - 10.131_006).abs() < 1e-4, "{sum}");
    }

    #[test]
    fn a_crop_larger_than_the_image_pads_with_black() {
        // 7x5 -> 5x4 (bicubic), then a 6x6 crop: padding 0 left / 1 right,
        // 1 top / 1 bottom; black is -mean / std.
        let y = ImageClassification::new(6, 4)
            .with_interpolation(Resample::Bicubic)
            .apply(&sample())
            .unwrap();
        let v: Vec<f32> = y.try_to_vec::<f32>().unwrap();
        let black = -2.117904;
        let want: [[f32; 6]; 6] = [
            [black; 6],
            [
                -1.9295317,
                -1.0904187,
                -0.18280679,
                0.72480524,
                1.5639181,
                black,
            ],
            [
                -1.7069099, -0.8677969, 0.03981499, 0.94742703, 1.7865399, black,
            ],
            [
                -1.4671633, -0.6280504, 0.27956167, 1.1871736, 2.129035, black,
            ],
            [
                -1.2445416,
                -0.4054286,
                0.50218344,
                1.5639181,
                -0.25130582,
                black,
            ],
            [black; 6],
        ];
        assert_eq!(v[..36], *want.as_flattened());
    }

    #[test]
    fn sizes_and_offsets_follow_torchvision() {
        // The smaller side becomes the size, the other int(size * long / short).
        assert_eq!(resized_size(451, 300, 256), (384, 256));
        assert_eq!(resized_size(500, 436, 232), (266, 232));
        assert_eq!(resized_size(300, 451, 342), (342, 514));
        // int(round(x / 2.0)): half to even.
        assert_eq!(
            (0..8).map(half_to_even).collect::<Vec<_>>(),
            [0, 0, 1, 2, 2, 2, 3, 4]
        );
    }

    #[test]
    fn presets_print_as_torchvision() {
        assert_eq!(
            ImageClassification::new(224, 256).to_string(),
            "ImageClassification(\n    crop_size=[224]\n    resize_size=[256]\n    mean=[0.485, 0.456, 0.406]\n    std=[0.229, 0.224, 0.225]\n    interpolation=InterpolationMode.BILINEAR\n)"
        );
        assert_eq!(
            ImageClassification::new(224, 256).describe(),
            "Accepts ``PIL.Image``, batched ``(B, C, H, W)`` and single ``(C, H, W)`` image ``torch.Tensor`` objects. The images are resized to ``resize_size=[256]`` using ``interpolation=InterpolationMode.BILINEAR``, followed by a central crop of ``crop_size=[224]``. Finally the values are first rescaled to ``[0.0, 1.0]`` and then normalized using ``mean=[0.485, 0.456, 0.406]`` and ``std=[0.229, 0.224, 0.225]``."
        );
        assert_eq!(
            Preset::Classification(
                ImageClassification::new(299, 342)
                    .with_interpolation(Resample::Bicubic)
                    .with_mean_std([0.5; 3], [0.5; 3])
            )
            .to_string(),
            "ImageClassification(\n    crop_size=[299]\n    resize_size=[342]\n    mean=[0.5, 0.5, 0.5]\n    std=[0.5, 0.5, 0.5]\n    interpolation=InterpolationMode.BICUBIC\n)"
        );
        assert_eq!(
            SemanticSegmentation::new(Some(520)).to_string(),
            "SemanticSegmentation(\n    resize_size=[520]\n    mean=[0.485, 0.456, 0.406]\n    std=[0.229, 0.224, 0.225]\n    interpolation=InterpolationMode.BILINEAR\n)"
        );
        assert!(
            SemanticSegmentation::new(None)
                .to_string()
                .contains("resize_size=None\n")
        );
        assert_eq!(
            SemanticSegmentation::new(Some(520)).describe(),
            "Accepts ``PIL.Image``, batched ``(B, C, H, W)`` and single ``(C, H, W)`` image ``torch.Tensor`` objects. The images are resized to ``resize_size=[520]`` using ``interpolation=InterpolationMode.BILINEAR``. Finally the values are first rescaled to ``[0.0, 1.0]`` and then normalized using ``mean=[0.485, 0.456, 0.406]`` and ``std=[0.229, 0.224, 0.225]``."
        );
        assert_eq!(
            Preset::Detection(ObjectDetection).to_string(),
            "ObjectDetection()"
        );
        assert_eq!(
            ObjectDetection.describe(),
            "Accepts ``PIL.Image``, batched ``(B, C, H, W)`` and single ``(C, H, W)`` image ``torch.Tensor`` objects. The images are rescaled to ``[0.0, 1.0]``."
        );
    }

    #[test]
    fn bad_arguments_are_errors_naming_the_value() {
        let img = sample();
        let err = ImageClassification::new(0, 256).apply(&img).unwrap_err();
        assert!(err.to_string().contains("crop_size 0"), "{err}");
        let err = ImageClassification::new(224, 256)
            .with_mean_std([0.5; 3], [0.5, 0.0, 0.5])
            .apply(&img)
            .unwrap_err();
        assert!(err.to_string().contains("zero"), "{err}");
        let err = SemanticSegmentation::new(Some(1 << 40))
            .apply(&img)
            .unwrap_err();
        assert!(err.to_string().contains("SemanticSegmentation"), "{err}");
        let err = ObjectDetection.apply(&RgbImage::new(0, 3));
        assert!(err.is_ok(), "an empty image is an empty tensor");
        let err = SemanticSegmentation::new(None)
            .apply(&RgbImage::new(0, 3))
            .unwrap_err();
        assert!(err.to_string().contains("0x3"), "{err}");
        assert!(Resample::from_name("lanczos").is_err());
        assert_eq!(Resample::from_name("BICUBIC").unwrap(), Resample::Bicubic);
    }

    #[test]
    fn detection_scales_to_unit_range() {
        let img = RgbImage::from_raw(2, 1, vec![0, 51, 255, 1, 2, 3]).unwrap();
        let v: Vec<f32> = ObjectDetection
            .apply(&img)
            .unwrap()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(v, [0.0, 1.0 / 255.0, 0.2, 2.0 / 255.0, 1.0, 3.0 / 255.0]);
    }
}
