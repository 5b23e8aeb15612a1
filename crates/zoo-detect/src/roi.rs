//! Region-of-interest pooling: Fast R-CNN's RoI max pooling and Mask
//! R-CNN's RoI align, with `torchvision.ops.roi_pool` / `roi_align`
//! semantics, differentiable with respect to the feature map (usable as
//! layers: [`RoiPool`], [`RoiAlign`]).
//!
//! `rois [K, 5]` rows are `(batch index, x1, y1, x2, y2)` in input-image
//! coordinates, scaled by `spatial_scale` onto the feature map. The bins
//! (or sampling points) depend only on the boxes, so they are computed on
//! the host; the pooling itself is tensor ops on the device:
//!
//! - RoI align is linear in the features: each RoI's output is its bilinear
//!   sampling matrix `[bins, H W]` times the features, one batched matmul;
//! - RoI pool takes, bin by bin, the maximum of the features plus a mask
//!   that is 0 inside the bin and very negative outside (empty bins give 0),
//!   so the gradient reaches the maximum of each bin, as torchvision's does.

use burn::tensor::{Int, Tensor, TensorData};

use crate::DetectError;

/// The RoIs read back: `(batch index, [x1, y1, x2, y2])`.
fn read_rois(
    op: &'static str,
    rois: Tensor<2>,
    batch: usize,
) -> Result<Vec<(usize, [f32; 4])>, DetectError> {
    crate::read_rows::<5>(op, "rois (batch index, x1, y1, x2, y2)", rois)?
        .into_iter()
        .enumerate()
        .map(|(k, r)| {
            let b = r[0];
            if !(b >= 0.0 && (b as usize) < batch && b.fract() == 0.0) {
                return Err(DetectError::new(
                    op,
                    format!("roi {k} has batch index {b}, expected an integer in [0, {batch})"),
                ));
            }
            Ok((b as usize, [r[1], r[2], r[3], r[4]]))
        })
        .collect()
}

/// The features of each RoI's image, `[K, C, H, W]`.
fn per_roi(input: &Tensor<4>, rois: &[(usize, [f32; 4])]) -> Tensor<4> {
    let idx: Vec<i64> = rois.iter().map(|r| r.0 as i64).collect();
    let k = idx.len();
    input.clone().select(
        0,
        Tensor::<1, Int>::from_data(TensorData::new(idx, [k]), &input.device()),
    )
}

fn check(op: &'static str, output_size: [usize; 2], spatial_scale: f64) -> Result<(), DetectError> {
    if output_size.contains(&0) || !(spatial_scale.is_finite() && spatial_scale > 0.0) {
        return Err(DetectError::new(
            op,
            format!(
                "output_size {output_size:?}, spatial_scale {spatial_scale}: expected positive sizes and scale"
            ),
        ));
    }
    Ok(())
}

/// `ops.roi_pool(input [N, C, H, W], rois [K, 5], output_size, spatial_scale)`:
/// `[K, C, h, w]`, the maximum of each bin of each RoI (0 for an empty bin).
pub fn roi_pool(
    input: Tensor<4>,
    rois: Tensor<2>,
    output_size: [usize; 2],
    spatial_scale: f64,
) -> Result<Tensor<4>, DetectError> {
    check("roi_pool", output_size, spatial_scale)?;
    let [n, c, h, w] = input.dims();
    let rois = read_rois("roi_pool", rois, n)?;
    let k = rois.len();
    let [ph, pw] = output_size;
    let u = |v: usize| v as u128;
    DetectError::check_size("roi_pool", "the output", &[u(k), u(c), u(ph), u(pw)])?;
    DetectError::check_size(
        "roi_pool",
        "the bin masks",
        &[u(k), u(ph), u(pw), u(h), u(w)],
    )?;
    let device = input.device();
    if k == 0 {
        return Ok(Tensor::zeros([0, c, ph, pw], &device));
    }
    let scale = spatial_scale as f32;
    // torchvision's integer bins: the RoI rounded (half away from zero) onto
    // the map, at least 1x1, split into bins by floor / ceil.
    let bins: Vec<Vec<(usize, usize, usize, usize)>> = rois
        .iter()
        .map(|(_, r)| {
            let (x1, y1) = ((r[0] * scale).round() as i64, (r[1] * scale).round() as i64);
            let (x2, y2) = ((r[2] * scale).round() as i64, (r[3] * scale).round() as i64);
            let rw = (x2 - x1 + 1).max(1) as f32;
            let rh = (y2 - y1 + 1).max(1) as f32;
            let (bh, bw) = (rh / ph as f32, rw / pw as f32);
            let clamp = |v: i64, hi: usize| v.clamp(0, hi as i64) as usize;
            (0..ph * pw)
                .map(|p| {
                    let (i, j) = ((p / pw) as f32, (p % pw) as f32);
                    let hs = clamp((i * bh).floor() as i64 + y1, h);
                    let he = clamp(((i + 1.0) * bh).ceil() as i64 + y1, h);
                    let ws = clamp((j * bw).floor() as i64 + x1, w);
                    let we = clamp(((j + 1.0) * bw).ceil() as i64 + x1, w);
                    (hs, he, ws, we)
                })
                .collect()
        })
        .collect();
    let x = per_roi(&input, &rois).reshape([k, c, h * w]);
    let mut outputs = Vec::with_capacity(ph * pw);
    for p in 0..ph * pw {
        let mut bias = vec![f32::MIN; k * h * w];
        let mut empty = vec![0.0f32; k];
        for (r, roi_bins) in bins.iter().enumerate() {
            let (hs, he, ws, we) = roi_bins[p];
            if he <= hs || we <= ws {
                empty[r] = 1.0;
                continue;
            }
            for y in hs..he {
                bias[r * h * w + y * w + ws..r * h * w + y * w + we].fill(0.0);
            }
        }
        let bias = Tensor::<3>::from_data(TensorData::new(bias, [k, 1, h * w]), &device);
        let empty = Tensor::<3>::from_data(TensorData::new(empty, [k, 1, 1]), &device)
            .equal_elem(1.0)
            .expand([k, c, 1]);
        let m = (x.clone() + bias).max_dim(2).mask_fill(empty, 0.0);
        outputs.push(m);
    }
    Ok(Tensor::cat(outputs, 2).reshape([k, c, ph, pw]))
}

/// The options of [`roi_align`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoiAlignOptions {
    /// Output `[h, w]`.
    pub output_size: [usize; 2],
    /// Scale from image to feature-map coordinates.
    pub spatial_scale: f64,
    /// Sampling points per bin along each axis; `<= 0`: `ceil(roi / output)`.
    pub sampling_ratio: i64,
    /// Shift the boxes by half a pixel (`aligned=True`, Detectron2's fix).
    pub aligned: bool,
}

/// torchvision's `bilinear_interpolate` taps of point `(y, x)`: up to four
/// `(index, weight)` pairs, none outside `[-1, H] x [-1, W]`.
fn taps(y: f32, x: f32, h: usize, w: usize, out: &mut Vec<(usize, f32)>) {
    let (hf, wf) = (h as f32, w as f32);
    if y < -1.0 || y > hf || x < -1.0 || x > wf {
        return;
    }
    let (mut y, mut x) = (y.max(0.0), x.max(0.0));
    let (mut y_low, mut x_low) = (y as usize, x as usize);
    let y_high = if y_low >= h - 1 {
        y_low = h - 1;
        y = y_low as f32;
        y_low
    } else {
        y_low + 1
    };
    let x_high = if x_low >= w - 1 {
        x_low = w - 1;
        x = x_low as f32;
        x_low
    } else {
        x_low + 1
    };
    let (ly, lx) = (y - y_low as f32, x - x_low as f32);
    let (hy, hx) = (1.0 - ly, 1.0 - lx);
    out.extend([
        (y_low * w + x_low, hy * hx),
        (y_low * w + x_high, hy * lx),
        (y_high * w + x_low, ly * hx),
        (y_high * w + x_high, ly * lx),
    ]);
}

/// `ops.roi_align(input, rois, output_size, spatial_scale, sampling_ratio,
/// aligned)`: `[K, C, h, w]`, each bin the mean of bilinear samples on a
/// regular grid inside it.
pub fn roi_align(
    input: Tensor<4>,
    rois: Tensor<2>,
    options: RoiAlignOptions,
) -> Result<Tensor<4>, DetectError> {
    let RoiAlignOptions {
        output_size,
        spatial_scale,
        sampling_ratio,
        aligned,
    } = options;
    check("roi_align", output_size, spatial_scale)?;
    let [n, c, h, w] = input.dims();
    let rois = read_rois("roi_align", rois, n)?;
    let k = rois.len();
    let [ph, pw] = output_size;
    let u = |v: usize| v as u128;
    DetectError::check_size("roi_align", "the output", &[u(k), u(c), u(ph), u(pw)])?;
    DetectError::check_size(
        "roi_align",
        "the sampling matrix",
        &[u(k), u(ph), u(pw), u(h), u(w)],
    )?;
    let device = input.device();
    if k == 0 {
        return Ok(Tensor::zeros([0, c, ph, pw], &device));
    }
    let scale = spatial_scale as f32;
    let offset = if aligned { 0.5 } else { 0.0 };
    let bins = ph * pw;
    let mut m = vec![0f32; k * bins * h * w];
    let mut points = Vec::new();
    for (r, (_, b)) in rois.iter().enumerate() {
        let (x1, y1) = (b[0] * scale - offset, b[1] * scale - offset);
        let (mut rw, mut rh) = (b[2] * scale - offset - x1, b[3] * scale - offset - y1);
        if !aligned {
            rw = rw.max(1.0);
            rh = rh.max(1.0);
        }
        let (bh, bw) = (rh / ph as f32, rw / pw as f32);
        let grid = |v: f32, bins: usize| -> usize {
            if sampling_ratio > 0 {
                sampling_ratio as usize
            } else {
                (v / bins as f32).ceil().max(0.0) as usize
            }
        };
        let (gh, gw) = (grid(rh, ph), grid(rw, pw));
        // Every bin of every RoI takes gh x gw bilinear samples: refuse a
        // sampling ratio (or an adaptive grid of a huge RoI) that would not end.
        DetectError::check_size(
            "roi_align",
            &format!("the sampling grid of RoI {r} (sampling_ratio {sampling_ratio})"),
            &[u(k), u(ph), u(pw), u(gh), u(gw)],
        )?;
        let count = (gh * gw).max(1) as f32;
        for p in 0..bins {
            let (i, j) = ((p / pw) as f32, (p % pw) as f32);
            let row = &mut m[(r * bins + p) * h * w..(r * bins + p + 1) * h * w];
            for iy in 0..gh {
                let y = y1 + i * bh + (iy as f32 + 0.5) * bh / gh as f32;
                for ix in 0..gw {
                    let x = x1 + j * bw + (ix as f32 + 0.5) * bw / gw as f32;
                    points.clear();
                    taps(y, x, h, w, &mut points);
                    for &(idx, wt) in &points {
                        row[idx] += wt / count;
                    }
                }
            }
        }
    }
    let m = Tensor::<3>::from_data(TensorData::new(m, [k, bins, h * w]), &device);
    let x = per_roi(&input, &rois).reshape([k, c, h * w]);
    Ok(x.matmul(m.swap_dims(1, 2)).reshape([k, c, ph, pw]))
}

/// Fast R-CNN's RoI max-pooling layer (no parameters): [`roi_pool`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoiPool {
    /// Output `[h, w]`.
    pub output_size: [usize; 2],
    /// Scale from image to feature-map coordinates.
    pub spatial_scale: f64,
}

impl RoiPool {
    /// Pools `rois` of `features`.
    pub fn forward(&self, features: Tensor<4>, rois: Tensor<2>) -> Result<Tensor<4>, DetectError> {
        roi_pool(features, rois, self.output_size, self.spatial_scale)
    }
}

/// The RoI-align layer (no parameters): [`roi_align`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoiAlign(pub RoiAlignOptions);

impl RoiAlign {
    /// Pools `rois` of `features`.
    pub fn forward(&self, features: Tensor<4>, rois: Tensor<2>) -> Result<Tensor<4>, DetectError> {
        roi_align(features, rois, self.0)
    }
}
