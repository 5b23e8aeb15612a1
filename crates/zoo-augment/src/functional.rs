//! The deterministic image ops of `torchvision.transforms.v2.functional`,
//! on `[N, C, H, W]` float images.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::{AugmentError, Rng};

/// `F.horizontal_flip`: the image mirrored left to right.
pub fn hflip(image: Tensor<4>) -> Tensor<4> {
    image.flip([3])
}

/// `F.vertical_flip`: the image mirrored top to bottom.
pub fn vflip(image: Tensor<4>) -> Tensor<4> {
    image.flip([2])
}

/// Boxes `[K, 4]` (`x1, y1, x2, y2`) of an image `width` wide, flipped
/// horizontally with it: `x1' = W - x2`, `x2' = W - x1`.
pub fn hflip_boxes(boxes: Tensor<2>, width: usize) -> Tensor<2> {
    let [k, _] = boxes.dims();
    let col = |i: usize| boxes.clone().slice([0..k, i..i + 1]);
    let w = width as f64;
    Tensor::cat(
        vec![
            col(2).neg().add_scalar(w),
            col(1),
            col(0).neg().add_scalar(w),
            col(3),
        ],
        1,
    )
}

/// Boxes `[K, 4]` of an image `height` tall, flipped vertically with it.
pub fn vflip_boxes(boxes: Tensor<2>, height: usize) -> Tensor<2> {
    let [k, _] = boxes.dims();
    let col = |i: usize| boxes.clone().slice([0..k, i..i + 1]);
    let h = height as f64;
    Tensor::cat(
        vec![
            col(0),
            col(3).neg().add_scalar(h),
            col(2),
            col(1).neg().add_scalar(h),
        ],
        1,
    )
}

/// The overlap of `[start, start + len)` with `[0, size)`: `(source range,
/// destination offset)`, or `None` when they do not meet.
fn overlap(start: isize, len: usize, size: usize) -> Option<(std::ops::Range<usize>, usize)> {
    // In i128: `start + len` of a far window does not overflow.
    let (start, len, size) = (start as i128, len as i128, size as i128);
    let lo = start.max(0);
    let hi = (start + len).min(size);
    (lo < hi).then(|| ((lo as usize)..(hi as usize), (lo - start) as usize))
}

/// `F.crop`: the `height x width` window at (`top`, `left`); the part
/// outside the image (negative offsets included) is zero.
pub fn crop(
    image: Tensor<4>,
    top: isize,
    left: isize,
    height: usize,
    width: usize,
) -> Result<Tensor<4>, AugmentError> {
    if height == 0 || width == 0 {
        return Err(AugmentError::new(
            "crop",
            format!("size {height}x{width}, expected a positive height and width"),
        ));
    }
    let [n, c, h, w] = image.dims();
    AugmentError::check_size(
        "crop",
        &[n as u128, c as u128, height as u128, width as u128],
    )?;
    let out = Tensor::<4>::zeros([n, c, height, width], &image.device());
    match (overlap(top, height, h), overlap(left, width, w)) {
        (Some((rows, dy)), Some((cols, dx))) => {
            let (rh, cw) = (rows.len(), cols.len());
            let part = image.slice([0..n, 0..c, rows, cols]);
            Ok(out.slice_assign([0..n, 0..c, dy..dy + rh, dx..dx + cw], part))
        }
        _ => Ok(out),
    }
}

/// How [`pad`] fills the border.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PadMode {
    /// A constant value.
    Constant(f64),
    /// The edge pixel repeated.
    Edge,
    /// Mirrored without repeating the edge (`2 1 | 1 2 3 | 3 2` is `3 2 | 1 2 3 | 2 1`).
    Reflect,
    /// Mirrored repeating the edge (`2 1 | 1 2 3 | 3 2`).
    Symmetric,
}

impl PadMode {
    /// The mode by torchvision's name (`constant` takes `fill`).
    pub fn from_name(name: &str, fill: f64) -> Result<Self, AugmentError> {
        match name {
            "constant" => Ok(Self::Constant(fill)),
            "edge" => Ok(Self::Edge),
            "reflect" => Ok(Self::Reflect),
            "symmetric" => Ok(Self::Symmetric),
            other => Err(AugmentError::new(
                "pad",
                format!("padding mode `{other}`, expected constant, edge, reflect or symmetric"),
            )),
        }
    }
}

/// The source index of each output position along an axis of `size`
/// padded by `before` and `after`.
fn pad_indices(size: usize, before: usize, after: usize, mode: PadMode) -> Vec<i64> {
    let n = size as i64;
    (-(before as i64)..n + after as i64)
        .map(|i| match mode {
            PadMode::Edge | PadMode::Constant(_) => i.clamp(0, n - 1),
            PadMode::Reflect => {
                // Period 2(n-1); n == 1 reflects onto itself.
                if n == 1 {
                    return 0;
                }
                let p = 2 * (n - 1);
                let m = i.rem_euclid(p);
                if m < n { m } else { p - m }
            }
            PadMode::Symmetric => {
                let p = 2 * n;
                let m = i.rem_euclid(p);
                if m < n { m } else { p - 1 - m }
            }
        })
        .collect()
}

/// `F.pad` with `padding = [left, top, right, bottom]`.
pub fn pad(
    image: Tensor<4>,
    padding: [usize; 4],
    mode: PadMode,
) -> Result<Tensor<4>, AugmentError> {
    let [n, c, h, w] = image.dims();
    let [l, t, r, b] = padding;
    let (hp, wp) = (
        h as u128 + t as u128 + b as u128,
        w as u128 + l as u128 + r as u128,
    );
    AugmentError::check_size("pad", &[n as u128, c as u128, hp, wp])?;
    if mode == PadMode::Reflect && (t >= h || b >= h || l >= w || r >= w) {
        return Err(AugmentError::new(
            "pad",
            format!(
                "reflect padding {padding:?} needs each side smaller than the image's {h}x{w} (height x width)"
            ),
        ));
    }
    let device = image.device();
    if let PadMode::Constant(fill) = mode {
        let out = Tensor::<4>::full([n, c, h + t + b, w + l + r], fill, &device);
        return Ok(out.slice_assign([0..n, 0..c, t..t + h, l..l + w], image));
    }
    let index = |v: Vec<i64>| {
        let len = v.len();
        Tensor::<1, Int>::from_data(TensorData::new(v, [len]), &device)
    };
    let rows = index(pad_indices(h, t, b, mode));
    let cols = index(pad_indices(w, l, r, mode));
    Ok(image.select(2, rows).select(3, cols))
}

/// `ratio * image + (1 - ratio) * other`, clamped to `[0, 1]` (torchvision's
/// `_blend`); `ratio` broadcasts (`[N, 1, 1, 1]`: one per sample), as does
/// `other` (a grey `[N, 1, H, W]` or a mean `[N, 1, 1, 1]`).
pub(crate) fn blend(image: Tensor<4>, other: Tensor<4>, ratio: Tensor<4>) -> Tensor<4> {
    // Broadcast, not expanded: `other` and `ratio` stay their own size.
    (image * ratio.clone() + other * ratio.neg().add_scalar(1.0)).clamp(0.0, 1.0)
}

/// A scalar blend ratio as a broadcastable tensor.
fn ratio(image: &Tensor<4>, factor: f64) -> Tensor<4> {
    Tensor::<4>::full([1, 1, 1, 1], factor, &image.device())
}

/// The mean of each image's grey version, `[N, 1, 1, 1]`: what contrast blends toward.
pub(crate) fn contrast_mean(
    op: &'static str,
    image: &Tensor<4>,
) -> Result<Tensor<4>, AugmentError> {
    let n = image.dims()[0];
    let g = grey(op, image)?;
    Ok(g.reshape([n as i32, -1]).mean_dim(1).reshape([n, 1, 1, 1]))
}

fn check_factor(op: &'static str, factor: f64) -> Result<(), AugmentError> {
    if factor.is_finite() && factor >= 0.0 {
        Ok(())
    } else {
        Err(AugmentError::new(
            op,
            format!("factor {factor}, expected a non-negative number"),
        ))
    }
}

pub(crate) fn check_channels(op: &'static str, image: &Tensor<4>) -> Result<usize, AugmentError> {
    match image.dims()[1] {
        c @ (1 | 3) => Ok(c),
        c => Err(AugmentError::new(
            op,
            format!("an image with {c} channels, expected 1 or 3"),
        )),
    }
}

/// `F.adjust_brightness`: the image times `factor`, clamped.
pub fn adjust_brightness(image: Tensor<4>, factor: f64) -> Result<Tensor<4>, AugmentError> {
    check_factor("adjust_brightness", factor)?;
    Ok(image.mul_scalar(factor).clamp(0.0, 1.0))
}

/// `F.rgb_to_grayscale` of `[N, 3, H, W]`: `0.2989 R + 0.587 G + 0.114 B`, `[N, 1, H, W]`.
pub fn rgb_to_grayscale(image: Tensor<4>) -> Result<Tensor<4>, AugmentError> {
    let [n, c, h, w] = image.dims();
    if c != 3 {
        return Err(AugmentError::new(
            "rgb_to_grayscale",
            format!("an image with {c} channels, expected 3 (RGB)"),
        ));
    }
    // One batched [1, 3] x [3, H W] product per image: a single pass over the pixels.
    let weights = Tensor::<3>::from_data(
        TensorData::new(vec![0.2989f32, 0.587, 0.114], [1, 1, 3]),
        &image.device(),
    );
    Ok(weights
        .expand([n, 1, 3])
        .matmul(image.reshape([n, 3, h * w]))
        .reshape([n, 1, h, w]))
}

/// The grey version of a 1- or 3-channel image, `[N, 1, H, W]`.
fn grey(op: &'static str, image: &Tensor<4>) -> Result<Tensor<4>, AugmentError> {
    match check_channels(op, image)? {
        3 => rgb_to_grayscale(image.clone()),
        _ => Ok(image.clone()),
    }
}

/// `F.adjust_contrast`: blended with the mean of its grey version (per image).
pub fn adjust_contrast(image: Tensor<4>, factor: f64) -> Result<Tensor<4>, AugmentError> {
    check_factor("adjust_contrast", factor)?;
    let mean = contrast_mean("adjust_contrast", &image)?;
    let r = ratio(&image, factor);
    Ok(blend(image, mean, r))
}

/// `F.adjust_saturation`: blended with its grey version (a grey image is unchanged).
pub fn adjust_saturation(image: Tensor<4>, factor: f64) -> Result<Tensor<4>, AugmentError> {
    check_factor("adjust_saturation", factor)?;
    if check_channels("adjust_saturation", &image)? == 1 {
        return Ok(image);
    }
    let g = rgb_to_grayscale(image.clone())?;
    let r = ratio(&image, factor);
    Ok(blend(image, g, r))
}

/// `F.normalize`: `(image - mean) / std` per channel.
pub fn normalize(image: Tensor<4>, mean: &[f64], std: &[f64]) -> Result<Tensor<4>, AugmentError> {
    let c = image.dims()[1];
    if mean.len() != c || std.len() != c {
        return Err(AugmentError::new(
            "normalize",
            format!(
                "{} means and {} stds for {c} channels, expected one per channel",
                mean.len(),
                std.len()
            ),
        ));
    }
    if let Some(s) = std.iter().find(|s| **s == 0.0) {
        return Err(AugmentError::new(
            "normalize",
            format!("std {s}, expected non-zero"),
        ));
    }
    let device = image.device();
    let column = |v: &[f64]| {
        let v: Vec<f32> = v.iter().map(|x| *x as f32).collect();
        Tensor::<4>::from_data(TensorData::new(v, [1, c, 1, 1]), &device)
    };
    Ok((image - column(mean)) / column(std))
}

/// `F.erase`: rows `i..i+h`, columns `j..j+w` set to `value` (one value, or
/// one per channel).
pub fn erase(
    image: Tensor<4>,
    i: usize,
    j: usize,
    h: usize,
    w: usize,
    value: &[f64],
) -> Result<Tensor<4>, AugmentError> {
    let [n, c, height, width] = image.dims();
    if h == 0 || w == 0 || i + h > height || j + w > width {
        return Err(AugmentError::new(
            "erase",
            format!(
                "region rows {i}..{} columns {j}..{} of a {height}x{width} image, expected a non-empty region inside it",
                i + h,
                j + w
            ),
        ));
    }
    let device = image.device();
    let patch = match value {
        [v] => Tensor::<4>::full([n, c, h, w], *v, &device),
        vs if vs.len() == c => {
            let v: Vec<f32> = vs.iter().map(|x| *x as f32).collect();
            Tensor::<4>::from_data(TensorData::new(v, [1, c, 1, 1]), &device).expand([n, c, h, w])
        }
        vs => {
            return Err(AugmentError::new(
                "erase",
                format!("{} values for {c} channels, expected 1 or {c}", vs.len()),
            ));
        }
    };
    Ok(image.slice_assign([0..n, 0..c, i..i + h, j..j + w], patch))
}

/// `F.gaussian_noise` with the standard-normal draws given: `image + mean +
/// sigma * noise`, clamped to `[0, 1]` when `clip`. `noise` has the image's
/// shape (see [`standard_normal`]).
pub fn gaussian_noise(
    image: Tensor<4>,
    noise: Tensor<4>,
    mean: f64,
    sigma: f64,
    clip: bool,
) -> Result<Tensor<4>, AugmentError> {
    if !(sigma.is_finite() && sigma >= 0.0 && mean.is_finite()) {
        return Err(AugmentError::new(
            "gaussian_noise",
            format!("mean {mean}, sigma {sigma}: expected a finite mean and sigma >= 0"),
        ));
    }
    if noise.dims() != image.dims() {
        return Err(AugmentError::new(
            "gaussian_noise",
            format!(
                "noise {:?} for an image {:?}, expected the same shape",
                noise.dims(),
                image.dims()
            ),
        ));
    }
    let out = image + noise.mul_scalar(sigma).add_scalar(mean);
    Ok(if clip { out.clamp(0.0, 1.0) } else { out })
}

/// Standard-normal draws of `shape` from `rng`, on `device`: drawn on the
/// host so that a seed gives the same noise on every device.
pub fn standard_normal(shape: [usize; 4], rng: &mut Rng, device: &Device) -> Tensor<4> {
    let count = shape.iter().product::<usize>();
    // Box-Muller, both values of each pair.
    let mut v = Vec::with_capacity(count + 1);
    while v.len() < count {
        let (a, b) = rng.normal_pair();
        v.extend([a as f32, b as f32]);
    }
    v.truncate(count);
    Tensor::from_data(TensorData::new(v, shape), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec().unwrap()
    }

    #[test]
    fn pad_modes_follow_numpy_on_a_row() {
        // numpy.pad([1, 2, 3], (2, 2), mode): reflect [3 2 1 2 3 2 1], symmetric [2 1 1 2 3 3 2], edge [1 1 1 2 3 3 3].
        assert_eq!(
            pad_indices(3, 2, 2, PadMode::Reflect),
            [2, 1, 0, 1, 2, 1, 0]
        );
        assert_eq!(
            pad_indices(3, 2, 2, PadMode::Symmetric),
            [1, 0, 0, 1, 2, 2, 1]
        );
        assert_eq!(pad_indices(3, 2, 2, PadMode::Edge), [0, 0, 0, 1, 2, 2, 2]);
    }

    #[test]
    fn crop_outside_is_zero_and_bad_sizes_are_errors() {
        let device = zoo_device::from_name("flex").unwrap();
        let x = Tensor::<4>::from_floats([[[[1.0, 2.0], [3.0, 4.0]]]], &device);
        let y = crop(x.clone(), -1, 1, 2, 2).unwrap();
        assert_eq!(values(y), [0.0, 0.0, 2.0, 0.0]);
        let e = crop(x.clone(), 0, 0, 0, 2).unwrap_err();
        assert!(e.to_string().starts_with("crop: size 0x2"), "{e}");
        let e = erase(x.clone(), 1, 1, 2, 1, &[0.0]).unwrap_err();
        assert!(e.to_string().contains("rows 1..3"), "{e}");
        let e = rgb_to_grayscale(x).unwrap_err();
        assert!(e.to_string().contains("1 channels, expected 3"), "{e}");
    }
}
