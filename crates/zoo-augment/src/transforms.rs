//! Random transforms that draw their parameters as torchvision v2 does, one
//! draw per sample, applied to a whole `[N, C, H, W]` batch in one pass
//! (per-sample masks, factors and resampling matrices on the device, no
//! per-pixel host loop), from an explicit seeded [`Rng`]: the same seed
//! replays the same pipeline on every device. [`Compose`] chains them.

use burn::tensor::{Tensor, TensorData};

use crate::AugmentError;
pub use crate::Rng;
use crate::functional::{blend, contrast_mean, hflip, rgb_to_grayscale, vflip};
use crate::resize::{Interpolation, axis_weights};

/// A random transform of a batch.
pub trait Transform: std::fmt::Debug {
    /// The batch transformed, drawing from `rng`.
    fn apply(&self, images: Tensor<4>, rng: &mut Rng) -> Result<Tensor<4>, AugmentError>;
}

fn check_p(op: &'static str, p: f64) -> Result<(), AugmentError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(AugmentError::new(
            op,
            format!("probability {p}, expected a value in [0, 1]"),
        ))
    }
}

fn uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.unit() as f64
}

/// A `[N, 1, 1, 1]` per-sample factor.
fn sample_factor(values: Vec<f64>, images: &Tensor<4>) -> Tensor<4> {
    let n = values.len();
    let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
    Tensor::<4>::from_data(TensorData::new(v, [n, 1, 1, 1]), &images.device())
}

/// `v2.RandomHorizontalFlip(p)`: each sample flipped with probability `p`.
#[derive(Clone, Debug)]
pub struct RandomHorizontalFlip {
    /// The probability of a flip.
    pub p: f64,
}

/// Each sample replaced by `flip(sample)` with probability `p`.
fn random_flip(
    op: &'static str,
    p: f64,
    flip: fn(Tensor<4>) -> Tensor<4>,
    images: Tensor<4>,
    rng: &mut Rng,
) -> Result<Tensor<4>, AugmentError> {
    check_p(op, p)?;
    let draws: Vec<bool> = (0..images.dims()[0])
        .map(|_| (rng.unit() as f64) < p)
        .collect();
    if draws.iter().all(|d| !d) {
        return Ok(images);
    }
    // On flex: one pass, each image copied or mirrored.
    let horizontal = op == "RandomHorizontalFlip";
    if let Some(y) = zoo_kernels::flip_where(&images, &draws, horizontal) {
        return Ok(y);
    }
    // Elsewhere: runs of samples with the same draw, flipped or kept as
    // slices and concatenated (a masked select of the flipped batch was 2-3x
    // slower).
    if draws.iter().all(|d| *d) {
        return Ok(flip(images));
    }
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..=draws.len() {
        if i == draws.len() || draws[i] != draws[start] {
            let [_, c, h, w] = images.dims();
            let run = images.clone().slice([start..i, 0..c, 0..h, 0..w]);
            parts.push(if draws[start] { flip(run) } else { run });
            start = i;
        }
    }
    Ok(Tensor::cat(parts, 0))
}

impl Transform for RandomHorizontalFlip {
    fn apply(&self, images: Tensor<4>, rng: &mut Rng) -> Result<Tensor<4>, AugmentError> {
        random_flip("RandomHorizontalFlip", self.p, hflip, images, rng)
    }
}

/// `v2.RandomVerticalFlip(p)`.
#[derive(Clone, Debug)]
pub struct RandomVerticalFlip {
    /// The probability of a flip.
    pub p: f64,
}

impl Transform for RandomVerticalFlip {
    fn apply(&self, images: Tensor<4>, rng: &mut Rng) -> Result<Tensor<4>, AugmentError> {
        random_flip("RandomVerticalFlip", self.p, vflip, images, rng)
    }
}

/// `v2.RandomResizedCrop(size, scale, ratio)` with antialiased bilinear
/// resizing (v2's default).
#[derive(Clone, Debug)]
pub struct RandomResizedCrop {
    /// Output `[height, width]`.
    pub size: [usize; 2],
    /// Range of the crop's area as a fraction of the image's.
    pub scale: [f64; 2],
    /// Range of the crop's aspect ratio (width / height), drawn log-uniformly.
    pub ratio: [f64; 2],
}

impl RandomResizedCrop {
    /// torchvision's defaults: scale 0.08-1, ratio 3/4-4/3.
    pub fn new(size: [usize; 2]) -> Self {
        Self {
            size,
            scale: [0.08, 1.0],
            ratio: [3.0 / 4.0, 4.0 / 3.0],
        }
    }

    /// The course's preset (d2l 14.1): 10%-100% of the area, aspect 0.5-2.
    pub fn course(size: [usize; 2]) -> Self {
        Self {
            size,
            scale: [0.1, 1.0],
            ratio: [0.5, 2.0],
        }
    }

    /// One crop window `(top, left, height, width)` of a `height x width`
    /// image, as `RandomResizedCrop.get_params`: ten tries, then the centre.
    pub fn params(
        &self,
        height: usize,
        width: usize,
        rng: &mut Rng,
    ) -> (usize, usize, usize, usize) {
        let area = (height * width) as f64;
        let (lr0, lr1) = (self.ratio[0].ln(), self.ratio[1].ln());
        for _ in 0..10 {
            let target = area * uniform(rng, self.scale[0], self.scale[1]);
            let aspect = uniform(rng, lr0, lr1).exp();
            let w = (target * aspect).sqrt().round() as usize;
            let h = (target / aspect).sqrt().round() as usize;
            if 0 < w && w <= width && 0 < h && h <= height {
                let i = rng.below(height - h + 1);
                let j = rng.below(width - w + 1);
                return (i, j, h, w);
            }
        }
        let in_ratio = width as f64 / height as f64;
        let (min_r, max_r) = (
            self.ratio[0].min(self.ratio[1]),
            self.ratio[0].max(self.ratio[1]),
        );
        let (h, w) = if in_ratio < min_r {
            (((width as f64) / min_r).round() as usize, width)
        } else if in_ratio > max_r {
            (height, ((height as f64) * max_r).round() as usize)
        } else {
            (height, width)
        };
        ((height - h) / 2, (width - w) / 2, h, w)
    }
}

/// Per window `(start, len)` of an axis resized to `out`: each output's
/// first input index and its antialiased bilinear weights.
fn window_taps(windows: &[(usize, usize)], out: usize) -> Vec<Vec<(usize, Vec<f32>)>> {
    windows
        .iter()
        .map(|&(start, len)| {
            axis_weights(len, out, true)
                .into_iter()
                .map(|(lo, ws)| (start + lo, ws))
                .collect()
        })
        .collect()
}

/// The taps of [`window_taps`] as dense `[windows, out, input]` matrices.
fn dense_taps(taps: &[Vec<(usize, Vec<f32>)>], input: usize, out: usize) -> Vec<f32> {
    let mut m = vec![0.0f32; taps.len() * out * input];
    for (s, per) in taps.iter().enumerate() {
        for (o, (lo, ws)) in per.iter().enumerate() {
            m[(s * out + o) * input + lo..][..ws.len()].copy_from_slice(ws);
        }
    }
    m
}

impl Transform for RandomResizedCrop {
    fn apply(&self, images: Tensor<4>, rng: &mut Rng) -> Result<Tensor<4>, AugmentError> {
        let [n, c, h, w] = images.dims();
        let [oh, ow] = self.size;
        if oh == 0
            || ow == 0
            || !(0.0 < self.scale[0] && self.scale[0] <= self.scale[1])
            || !(0.0 < self.ratio[0] && self.ratio[0] <= self.ratio[1])
        {
            return Err(AugmentError::new(
                "RandomResizedCrop",
                format!(
                    "size {:?}, scale {:?}, ratio {:?}: expected a positive size and positive, ordered ranges",
                    self.size, self.scale, self.ratio
                ),
            ));
        }
        if n == 0 {
            return Err(AugmentError::new("RandomResizedCrop", "an empty batch"));
        }
        let windows: Vec<_> = (0..n).map(|_| self.params(h, w, rng)).collect();
        let rows: Vec<_> = windows.iter().map(|&(i, _, hh, _)| (i, hh)).collect();
        let cols: Vec<_> = windows.iter().map(|&(_, j, _, ww)| (j, ww)).collect();
        let (rows, cols) = (window_taps(&rows, oh), window_taps(&cols, ow));
        // On flex: the taps gathered; elsewhere the same sums as dense matrices.
        if let Some(y) = zoo_kernels::resample_separable(&images, &rows, &cols) {
            return Ok(y);
        }
        let device = images.device();
        let a = Tensor::<3>::from_data(
            TensorData::new(dense_taps(&rows, h, oh), [n, oh, h]),
            &device,
        );
        let b = Tensor::<3>::from_data(
            TensorData::new(dense_taps(&cols, w, ow), [n, ow, w]),
            &device,
        );
        // Per sample: A [oh, h] x X [c, h, w] x B^T [w, ow]: the rows with A
        // broadcast over the channels, then the columns with the channels and
        // rows folded into one matrix.
        let y = a.reshape([n, 1, oh, h]).matmul(images);
        let y = y.reshape([n, c * oh, w]).matmul(b.swap_dims(1, 2));
        Ok(y.reshape([n, c, oh, ow]))
    }
}

/// `v2.ColorJitter`: brightness, contrast, saturation factors drawn from
/// `[max(0, 1 - v), 1 + v]` and hue from `[-h, h]`, per sample; the four
/// applied in an order drawn per batch (v2 draws one permutation per call).
#[derive(Clone, Debug, Default)]
pub struct ColorJitter {
    /// Brightness spread.
    pub brightness: f64,
    /// Contrast spread.
    pub contrast: f64,
    /// Saturation spread.
    pub saturation: f64,
    /// Hue spread, at most 0.5.
    pub hue: f64,
}

impl Transform for ColorJitter {
    fn apply(&self, images: Tensor<4>, rng: &mut Rng) -> Result<Tensor<4>, AugmentError> {
        let spreads = [self.brightness, self.contrast, self.saturation];
        if spreads.iter().any(|v| !(v.is_finite() && *v >= 0.0)) || !(0.0..=0.5).contains(&self.hue)
        {
            return Err(AugmentError::new(
                "ColorJitter",
                format!(
                    "brightness {}, contrast {}, saturation {}, hue {}: expected non-negative spreads and hue in [0, 0.5]",
                    self.brightness, self.contrast, self.saturation, self.hue
                ),
            ));
        }
        let [n, c, _, _] = images.dims();
        let mut order = [0usize, 1, 2, 3];
        for i in (1..4).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let mut x = images;
        for op in order {
            let draw = |rng: &mut Rng, v: f64| -> Vec<f64> {
                (0..n)
                    .map(|_| uniform(rng, (1.0 - v).max(0.0), 1.0 + v))
                    .collect()
            };
            x = match op {
                0 if self.brightness > 0.0 => {
                    let f = sample_factor(draw(rng, self.brightness), &x);
                    (x * f).clamp(0.0, 1.0)
                }
                1 if self.contrast > 0.0 => {
                    let f = sample_factor(draw(rng, self.contrast), &x);
                    let mean = contrast_mean("ColorJitter", &x)?;
                    blend(x, mean, f)
                }
                2 if self.saturation > 0.0 && c == 3 => {
                    let f = sample_factor(draw(rng, self.saturation), &x);
                    let grey = rgb_to_grayscale(x.clone())?;
                    blend(x, grey, f)
                }
                3 if self.hue > 0.0 && c == 3 => {
                    let shifts: Vec<f64> =
                        (0..n).map(|_| uniform(rng, -self.hue, self.hue)).collect();
                    let shifts = sample_factor(shifts, &x);
                    crate::color::shift_hue(x, shifts)?
                }
                _ => x,
            };
        }
        Ok(x)
    }
}

/// `v2.RandomCrop(size, padding, pad_if_needed, padding_mode)`: each
/// sample padded as asked (and, with `pad_if_needed`, up to `size`), then a
/// `size` window drawn uniformly.
#[derive(Clone, Debug)]
pub struct RandomCrop {
    /// Output `[height, width]`.
    pub size: [usize; 2],
    /// `[left, top, right, bottom]` padding applied first.
    pub padding: [usize; 4],
    /// Pad an image smaller than `size` up to it.
    pub pad_if_needed: bool,
    /// How the padding is filled.
    pub padding_mode: crate::functional::PadMode,
}

impl Transform for RandomCrop {
    fn apply(&self, images: Tensor<4>, rng: &mut Rng) -> Result<Tensor<4>, AugmentError> {
        let mut x = images;
        if self.padding != [0; 4] {
            x = crate::functional::pad(x, self.padding, self.padding_mode)?;
        }
        let [n, c, h, w] = x.dims();
        let [th, tw] = self.size;
        if self.pad_if_needed && (h < th || w < tw) {
            let (dh, dw) = (th.saturating_sub(h), tw.saturating_sub(w));
            x = crate::functional::pad(x, [dw, dh, dw, dh], self.padding_mode)?;
        }
        let [_, _, h, w] = x.dims();
        if th == 0 || tw == 0 || th > h || tw > w {
            return Err(AugmentError::new(
                "RandomCrop",
                format!(
                    "crop {th}x{tw} of a {h}x{w} (padded) image, expected a positive size no larger than it"
                ),
            ));
        }
        let windows: Vec<(usize, usize)> = (0..n)
            .map(|_| (rng.below(h - th + 1), rng.below(w - tw + 1)))
            .collect();
        let crops: Vec<Tensor<4>> = windows
            .iter()
            .enumerate()
            .map(|(s, &(i, j))| x.clone().slice([s..s + 1, 0..c, i..i + th, j..j + tw]))
            .collect();
        Ok(Tensor::cat(crops, 0))
    }
}

/// `v2.RandomErasing(p, scale, ratio, value)`: with probability `p` a
/// rectangle of `scale` of the area and aspect `ratio` (log-uniform) set to
/// `value`, drawn as torchvision draws it (ten tries, else nothing erased).
#[derive(Clone, Debug)]
pub struct RandomErasing {
    /// Probability of erasing.
    pub p: f64,
    /// Area fraction range.
    pub scale: [f64; 2],
    /// Aspect ratio range.
    pub ratio: [f64; 2],
    /// The fill.
    pub value: f64,
}

impl Default for RandomErasing {
    /// torchvision's defaults: p 0.5, scale 0.02-0.33, ratio 0.3-3.3, value 0.
    fn default() -> Self {
        Self {
            p: 0.5,
            scale: [0.02, 0.33],
            ratio: [0.3, 3.3],
            value: 0.0,
        }
    }
}

impl Transform for RandomErasing {
    fn apply(&self, images: Tensor<4>, rng: &mut Rng) -> Result<Tensor<4>, AugmentError> {
        check_p("RandomErasing", self.p)?;
        let [n, c, h, w] = images.dims();
        let area = (h * w) as f64;
        let (lr0, lr1) = (self.ratio[0].ln(), self.ratio[1].ln());
        // A per-sample mask of the erased pixels, built on the host (N x H x W bits).
        let mut mask = vec![0.0f32; n * h * w];
        for s in 0..n {
            if (rng.unit() as f64) >= self.p {
                continue;
            }
            for _ in 0..10 {
                let target = area * uniform(rng, self.scale[0], self.scale[1]);
                let aspect = uniform(rng, lr0, lr1).exp();
                let eh = (target * aspect).sqrt().round() as usize;
                let ew = (target / aspect).sqrt().round() as usize;
                if eh == 0 || ew == 0 || eh >= h || ew >= w {
                    continue;
                }
                let i = rng.below(h - eh + 1);
                let j = rng.below(w - ew + 1);
                for y in i..i + eh {
                    mask[s * h * w + y * w + j..s * h * w + y * w + j + ew].fill(1.0);
                }
                break;
            }
        }
        let device = images.device();
        let m = Tensor::<4>::from_data(TensorData::new(mask, [n, 1, h, w]), &device)
            .equal_elem(1.0)
            .expand([n, c, h, w]);
        Ok(images.mask_fill(m, self.value))
    }
}

/// `v2.RandomRotation(degrees)`: each sample rotated about its centre by an
/// angle drawn uniformly from `degrees` (counter-clockwise), size kept, the
/// corners filled with `fill` (v2's default `0`; see
/// [`crate::geometry`] for the border semantics).
#[derive(Clone, Debug)]
pub struct RandomRotation {
    /// `[min, max]` degrees.
    pub degrees: [f64; 2],
    /// Nearest (v2's default) or bilinear.
    pub interpolation: Interpolation,
    /// The fill value (one, or one per channel); `None` samples zeros
    /// outside without torchvision's fill mask.
    pub fill: Option<Vec<f64>>,
}

impl RandomRotation {
    /// `v2.RandomRotation(degrees)`: angles in `[-degrees, degrees]`,
    /// nearest, fill 0.
    pub fn new(degrees: f64) -> Self {
        Self {
            degrees: [-degrees, degrees],
            interpolation: Interpolation::Nearest,
            fill: Some(vec![0.0]),
        }
    }

    /// The angles drawn for `n` samples.
    pub fn angles(&self, n: usize, rng: &mut Rng) -> Vec<f64> {
        (0..n)
            .map(|_| uniform(rng, self.degrees[0], self.degrees[1]))
            .collect()
    }
}

impl Transform for RandomRotation {
    fn apply(&self, images: Tensor<4>, rng: &mut Rng) -> Result<Tensor<4>, AugmentError> {
        let [lo, hi] = self.degrees;
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(AugmentError::new(
                "RandomRotation",
                format!(
                    "degrees {:?}, expected finite [min, max] with min <= max",
                    self.degrees
                ),
            ));
        }
        let angles = self.angles(images.dims()[0], rng);
        crate::geometry::rotate(images, &angles, self.interpolation, self.fill.as_deref())
    }
}

/// `v2.RandomAffine(degrees, translate, scale, shear)`: per sample, an
/// angle uniform in `degrees`, a shift of `round(uniform(-t W, t W))`
/// pixels (and the same for y), a scale uniform in `scale` and x (and y)
/// shears uniform in `shear`, applied about the centre with
/// [`crate::geometry::affine`] (nearest and fill 0 by default, as v2).
#[derive(Clone, Debug)]
pub struct RandomAffine {
    /// `[min, max]` degrees (clockwise, as `F.affine`).
    pub degrees: [f64; 2],
    /// Maximum shift as a fraction of the width and height (`None`: none).
    pub translate: Option<[f64; 2]>,
    /// `[min, max]` scale (`None`: 1).
    pub scale: Option<[f64; 2]>,
    /// `[x_min, x_max]` or `[x_min, x_max, y_min, y_max]` shear degrees.
    pub shear: Vec<f64>,
    /// Nearest (default) or bilinear.
    pub interpolation: Interpolation,
    /// The fill (v2's default 0).
    pub fill: Option<Vec<f64>>,
}

impl RandomAffine {
    /// `v2.RandomAffine(degrees)`: angles in `[-degrees, degrees]`, nothing else.
    pub fn new(degrees: f64) -> Self {
        Self {
            degrees: [-degrees, degrees],
            translate: None,
            scale: None,
            shear: Vec::new(),
            interpolation: Interpolation::Nearest,
            fill: Some(vec![0.0]),
        }
    }

    /// The transforms drawn for `n` samples of size `h x w`, in v2's order
    /// (angle, translation, scale, shear).
    pub fn params(
        &self,
        n: usize,
        h: usize,
        w: usize,
        rng: &mut Rng,
    ) -> Result<Vec<crate::geometry::Affine>, AugmentError> {
        let bad = |what: String| Err(AugmentError::new("RandomAffine", what));
        let ordered = |r: &[f64]| {
            r.iter().all(|v| v.is_finite()) && r.windows(2).step_by(2).all(|p| p[0] <= p[1])
        };
        if !ordered(&self.degrees) {
            return bad(format!("degrees {:?}, expected [min, max]", self.degrees));
        }
        if let Some(t) = self.translate
            && !t.iter().all(|v| (0.0..=1.0).contains(v))
        {
            return bad(format!("translate {t:?}, expected fractions in [0, 1]"));
        }
        if let Some(s) = self.scale
            && !(ordered(&s) && s[0] > 0.0)
        {
            return bad(format!("scale {s:?}, expected 0 < min <= max"));
        }
        if !(matches!(self.shear.len(), 0 | 2 | 4) && ordered(&self.shear)) {
            return bad(format!(
                "shear {:?}, expected [] or [min, max] or [x_min, x_max, y_min, y_max]",
                self.shear
            ));
        }
        Ok((0..n)
            .map(|_| {
                let angle = uniform(rng, self.degrees[0], self.degrees[1]);
                let translate = self.translate.map_or([0.0, 0.0], |[tx, ty]| {
                    let (dx, dy) = (tx * w as f64, ty * h as f64);
                    let x = uniform(rng, -dx, dx).round_ties_even();
                    let y = uniform(rng, -dy, dy).round_ties_even();
                    [x, y]
                });
                let scale = self.scale.map_or(1.0, |[a, b]| uniform(rng, a, b));
                let mut shear = [0.0, 0.0];
                if self.shear.len() >= 2 {
                    shear[0] = uniform(rng, self.shear[0], self.shear[1]);
                }
                if self.shear.len() == 4 {
                    shear[1] = uniform(rng, self.shear[2], self.shear[3]);
                }
                crate::geometry::Affine {
                    angle,
                    translate,
                    scale,
                    shear,
                    center: None,
                }
            })
            .collect())
    }
}

impl Transform for RandomAffine {
    fn apply(&self, images: Tensor<4>, rng: &mut Rng) -> Result<Tensor<4>, AugmentError> {
        let [n, _, h, w] = images.dims();
        let params = self.params(n, h, w, rng)?;
        crate::geometry::affine(images, &params, self.interpolation, self.fill.as_deref())
    }
}

/// `v2.GaussianBlur(kernel_size, sigma)`: each sample blurred with a sigma
/// drawn uniformly from `sigma` (the same along x and y), all samples in
/// one grouped convolution.
#[derive(Clone, Debug)]
pub struct GaussianBlur {
    /// `[kx, ky]`, odd.
    pub kernel_size: [usize; 2],
    /// `[min, max]` sigma; v2's default is `[0.1, 2.0]`.
    pub sigma: [f64; 2],
}

impl Transform for GaussianBlur {
    fn apply(&self, images: Tensor<4>, rng: &mut Rng) -> Result<Tensor<4>, AugmentError> {
        let [lo, hi] = self.sigma;
        if !(lo > 0.0 && lo <= hi && hi.is_finite()) {
            return Err(AugmentError::new(
                "GaussianBlur",
                format!("sigma {:?}, expected 0 < min <= max", self.sigma),
            ));
        }
        let sigmas: Vec<[f64; 2]> = (0..images.dims()[0])
            .map(|_| {
                let s = uniform(rng, lo, hi);
                [s, s]
            })
            .collect();
        if sigmas.is_empty() {
            return Err(AugmentError::new("GaussianBlur", "an empty batch"));
        }
        crate::color::gaussian_blur_each(images, self.kernel_size, &sigmas)
    }
}

/// `v2.GaussianNoise(mean, sigma, clip)`: `image + mean + sigma * N(0, 1)`,
/// clamped to `[0, 1]` when `clip`. The normal draws come from the seeded
/// [`Rng`] on the host (the same noise on every device), one per element.
#[derive(Clone, Debug)]
pub struct GaussianNoise {
    /// Mean of the noise.
    pub mean: f64,
    /// Standard deviation of the noise (v2's default 0.1).
    pub sigma: f64,
    /// Clamp the result to `[0, 1]`.
    pub clip: bool,
}

impl Default for GaussianNoise {
    fn default() -> Self {
        Self {
            mean: 0.0,
            sigma: 0.1,
            clip: true,
        }
    }
}

impl Transform for GaussianNoise {
    fn apply(&self, images: Tensor<4>, rng: &mut Rng) -> Result<Tensor<4>, AugmentError> {
        if images.dims()[0] == 0 {
            return Err(AugmentError::new("GaussianNoise", "an empty batch"));
        }
        let noise = crate::functional::standard_normal(images.dims(), rng, &images.device());
        crate::functional::gaussian_noise(images, noise, self.mean, self.sigma, self.clip)
    }
}

/// `v2.Normalize(mean, std)`.
#[derive(Clone, Debug)]
pub struct Normalize {
    /// Per-channel means.
    pub mean: Vec<f64>,
    /// Per-channel standard deviations.
    pub std: Vec<f64>,
}

impl Transform for Normalize {
    fn apply(&self, images: Tensor<4>, _rng: &mut Rng) -> Result<Tensor<4>, AugmentError> {
        crate::functional::normalize(images, &self.mean, &self.std)
    }
}

/// `v2.Compose`: the transforms in order.
#[derive(Default, Debug)]
pub struct Compose {
    /// The transforms.
    pub transforms: Vec<Box<dyn Transform + Send + Sync>>,
}

impl Compose {
    /// A pipeline of `transforms`.
    pub fn new(transforms: Vec<Box<dyn Transform + Send + Sync>>) -> Self {
        Self { transforms }
    }

    /// The standard ImageNet training pipeline: RandomResizedCrop(size),
    /// horizontal flip, ColorJitter(0.4, 0.4, 0.4), Normalize (ImageNet).
    pub fn imagenet_train(size: usize) -> Self {
        Self::new(vec![
            Box::new(RandomResizedCrop::new([size, size])),
            Box::new(RandomHorizontalFlip { p: 0.5 }),
            Box::new(ColorJitter {
                brightness: 0.4,
                contrast: 0.4,
                saturation: 0.4,
                hue: 0.0,
            }),
            Box::new(Normalize {
                mean: vec![0.485, 0.456, 0.406],
                std: vec![0.229, 0.224, 0.225],
            }),
        ])
    }
}

impl Transform for Compose {
    fn apply(&self, images: Tensor<4>, rng: &mut Rng) -> Result<Tensor<4>, AugmentError> {
        self.transforms
            .iter()
            .try_fold(images, |x, t| t.apply(x, rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_affine_draws_in_range_and_replays() {
        let t = RandomAffine {
            degrees: [-10.0, 20.0],
            translate: Some([0.1, 0.2]),
            scale: Some([0.9, 1.1]),
            shear: vec![-5.0, 5.0, 0.0, 3.0],
            ..RandomAffine::new(0.0)
        };
        let p = t.params(2000, 20, 30, &mut Rng::new(4)).unwrap();
        for a in &p {
            assert!((-10.0..=20.0).contains(&a.angle));
            // Whole pixels within 10% of the width and 20% of the height.
            assert!(a.translate[0].fract() == 0.0 && a.translate[0].abs() <= 3.0);
            assert!(a.translate[1].fract() == 0.0 && a.translate[1].abs() <= 4.0);
            assert!((0.9..=1.1).contains(&a.scale));
            assert!((-5.0..=5.0).contains(&a.shear[0]) && (0.0..=3.0).contains(&a.shear[1]));
        }
        let mean = p.iter().map(|a| a.angle).sum::<f64>() / p.len() as f64;
        assert!((mean - 5.0).abs() < 0.6, "{mean}");
        assert_eq!(p, t.params(2000, 20, 30, &mut Rng::new(4)).unwrap());
        let bad = RandomAffine {
            scale: Some([0.0, 1.0]),
            ..RandomAffine::new(5.0)
        };
        let e = bad
            .params(1, 4, 4, &mut Rng::new(0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("scale [0.0, 1.0]"), "{e}");
    }

    #[test]
    fn random_crop_windows_come_from_the_padded_image_and_erasing_frequency_follows_p() {
        let device = zoo_device::from_name("flex").unwrap();
        let v: Vec<f32> = (0..16).map(|i| i as f32 + 1.0).collect();
        let x =
            Tensor::<4>::from_data(TensorData::new(v, [1, 1, 4, 4]), &device).expand([50, 1, 4, 4]);
        let t = RandomCrop {
            size: [4, 4],
            padding: [1, 1, 1, 1],
            pad_if_needed: false,
            padding_mode: crate::functional::PadMode::Constant(0.0),
        };
        let y: Vec<f32> = t
            .apply(x.clone(), &mut Rng::new(4))
            .unwrap()
            .into_data()
            .try_to_vec()
            .unwrap();
        for s in y.chunks(16) {
            // A 4x4 window of the 6x6 zero-padded image keeps 9 to 16 of the values.
            let kept = s.iter().filter(|p| **p > 0.0).count();
            assert!((9..=16).contains(&kept), "{s:?}");
        }
        let e = RandomCrop {
            size: [7, 7],
            ..t.clone()
        }
        .apply(x.clone(), &mut Rng::new(4))
        .unwrap_err();
        assert!(e.to_string().contains("crop 7x7 of a 6x6"), "{e}");
        let ones = Tensor::<4>::ones([1000, 1, 8, 8], &device);
        let erased: Vec<f32> = RandomErasing {
            p: 0.25,
            ..RandomErasing::default()
        }
        .apply(ones, &mut Rng::new(6))
        .unwrap()
        .into_data()
        .try_to_vec()
        .unwrap();
        let hit = erased.chunks(64).filter(|s| s.contains(&0.0)).count() as f64 / 1000.0;
        // Some draws of an 8x8 image find no fitting box in ten tries, so slightly below p.
        assert!((0.17..=0.29).contains(&hit), "{hit}");
    }

    #[test]
    fn flip_frequency_follows_p() {
        let device = zoo_device::from_name("flex").unwrap();
        // Row [0, 1]: flipped rows start with 1.
        let x = Tensor::<4>::from_floats([[[[0.0, 1.0]]]], &device).expand([2000, 1, 1, 2]);
        let y = RandomHorizontalFlip { p: 0.3 }
            .apply(x, &mut Rng::new(1))
            .unwrap();
        let v: Vec<f32> = y.into_data().try_to_vec().unwrap();
        let flipped = v.chunks(2).filter(|r| r[0] == 1.0).count() as f64 / 2000.0;
        // Binomial(2000, 0.3): sd 0.010.
        assert!((flipped - 0.3).abs() < 0.04, "{flipped}");
        let e = RandomHorizontalFlip { p: 1.5 }
            .apply(Tensor::zeros([1, 1, 1, 1], &device), &mut Rng::new(1));
        assert!(e.unwrap_err().to_string().contains("probability 1.5"));
    }

    #[test]
    fn crop_areas_and_ratios_stay_in_range_and_replay_by_seed() {
        let t = RandomResizedCrop::course([32, 32]);
        let mut rng = Rng::new(5);
        let mut areas = Vec::new();
        for _ in 0..3000 {
            let (i, j, h, w) = t.params(100, 120, &mut rng);
            assert!(i + h <= 100 && j + w <= 120);
            let area = (h * w) as f64 / 12000.0;
            let ratio = w as f64 / h as f64;
            // Rounding to whole pixels moves both a little.
            assert!((0.09..=1.0).contains(&area), "{area}");
            assert!((0.48..=2.05).contains(&ratio), "{ratio}");
            areas.push(area);
        }
        // Draws that fit are uniform in area over [0.1, 1] but tall or wide
        // ones are rejected more often at large areas, so the mean is below 0.55.
        let mean = areas.iter().sum::<f64>() / areas.len() as f64;
        assert!((0.3..0.55).contains(&mean), "{mean}");
        let mut a = Rng::new(9);
        let mut b = Rng::new(9);
        assert_eq!(t.params(50, 60, &mut a), t.params(50, 60, &mut b));
    }

    #[test]
    fn resized_crop_of_a_constant_image_is_constant_and_jitter_factors_stay_in_range() {
        let device = zoo_device::from_name("flex").unwrap();
        let x = Tensor::<4>::full([4, 3, 20, 24], 0.5, &device);
        let y = RandomResizedCrop::new([8, 8])
            .apply(x.clone(), &mut Rng::new(2))
            .unwrap();
        assert_eq!(y.dims(), [4, 3, 8, 8]);
        let v: Vec<f32> = y.into_data().try_to_vec().unwrap();
        assert!(v.iter().all(|p| (p - 0.5).abs() < 1e-5));
        // Brightness only: each sample scaled by a factor in [0.6, 1.4].
        let j = ColorJitter {
            brightness: 0.4,
            ..ColorJitter::default()
        };
        let v: Vec<f32> = j
            .apply(x, &mut Rng::new(3))
            .unwrap()
            .into_data()
            .try_to_vec()
            .unwrap();
        for s in v.chunks(3 * 20 * 24) {
            assert!(s.iter().all(|p| (p - s[0]).abs() < 1e-6));
            assert!((0.3..=0.7).contains(&s[0]), "{}", s[0]);
        }
    }
}
