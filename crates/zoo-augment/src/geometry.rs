//! Rotation with torchvision v2's semantics (`F.rotate`, `expand=False`,
//! about the image centre), for images and their boxes.
//!
//! Output pixel `(x', y')`, in coordinates centred on the image
//! (`x' = j - (W - 1) / 2`), samples the input at
//! `(cos t x' - sin t y', sin t x' + cos t y')` for a counter-clockwise
//! angle `t`, as torchvision's inverse affine matrix and
//! `grid_sample(align_corners=False)` do. Interpolation is nearest (rounding
//! half to even, `nearbyint`) or bilinear. Border semantics follow
//! torchvision's `fill` exactly:
//!
//! - `fill: None` — what lies outside the input is zero (`padding_mode="zeros"`),
//!   so bilinear samples near the border are blended with zero;
//! - `fill: Some(v)` — torchvision also resamples a mask of ones and returns
//!   `mask * (img - v) + v` (bilinear) or `v` where the mask is below one half
//!   (nearest). `fill = [0]` therefore differs from `None` at the border
//!   (torchvision issue 6517): `v2.RandomRotation` uses `fill = 0`.
//!
//! Everything runs on the device: per-sample angles, the sampling grid and
//! four gathers per output (bilinear), no host loop over pixels.

use burn::tensor::{Int, Tensor, TensorData};

use crate::AugmentError;
use crate::resize::Interpolation;

/// `image [N, C, H, W]` rotated counter-clockwise by `angles` degrees (one
/// angle for the batch, or one per sample) about its centre, size kept.
/// See the module docs for `fill`.
pub fn rotate(
    image: Tensor<4>,
    angles: &[f64],
    interpolation: Interpolation,
    fill: Option<&[f64]>,
) -> Result<Tensor<4>, AugmentError> {
    let n = image.dims()[0];
    if !(angles.len() == 1 || angles.len() == n) || angles.iter().any(|a| !a.is_finite()) {
        return Err(AugmentError::new(
            "rotate",
            format!(
                "{} angles {angles:?} for {n} images, expected one finite angle or one per image",
                angles.len()
            ),
        ));
    }
    // F.rotate is F.affine by the opposite angle.
    let matrices: Vec<[f64; 6]> = angles
        .iter()
        .map(|a| inverse_affine_matrix([0.0, 0.0], -a, [0.0, 0.0], 1.0, [0.0, 0.0]))
        .collect();
    warp("rotate", image, &matrices, interpolation, fill)
}

/// One affine transform of [`affine`], torchvision's `F.affine` arguments:
/// a clockwise `angle` in degrees, a `translate` of `[tx, ty]` pixels, a
/// `scale` and a `shear` of `[sx, sy]` degrees, about the image centre.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine {
    /// Rotation, degrees, clockwise (as `F.affine`; `F.rotate` turns the other way).
    pub angle: f64,
    /// Translation `[tx, ty]` in pixels.
    pub translate: [f64; 2],
    /// Scale factor (> 0).
    pub scale: f64,
    /// Shear `[x, y]` in degrees.
    pub shear: [f64; 2],
    /// The fixed point in pixel coordinates (`[x, y]`; `None`: the image
    /// centre). AutoAugment's shears turn about the top-left corner `[0, 0]`.
    pub center: Option<[f64; 2]>,
}

impl Default for Affine {
    fn default() -> Self {
        Self {
            angle: 0.0,
            translate: [0.0, 0.0],
            scale: 1.0,
            shear: [0.0, 0.0],
            center: None,
        }
    }
}

/// torchvision's `_get_inverse_affine_matrix`: the `[a, b, c, d, e, f]`
/// mapping output coordinates (centred on the image) to input ones,
/// `x_in = a x + b y + c`, `y_in = d x + e y + f`, for a transform about
/// `center` (in the same centred coordinates; `[0, 0]` is the image centre).
pub fn inverse_affine_matrix(
    center: [f64; 2],
    angle: f64,
    translate: [f64; 2],
    scale: f64,
    shear: [f64; 2],
) -> [f64; 6] {
    let rot = angle.to_radians();
    let (sx, sy) = (shear[0].to_radians(), shear[1].to_radians());
    let [tx, ty] = translate;
    let a = (rot - sy).cos() / sy.cos();
    let b = -(rot - sy).cos() * sx.tan() / sy.cos() - rot.sin();
    let c = (rot - sy).sin() / sy.cos();
    let d = -(rot - sy).sin() * sx.tan() / sy.cos() + rot.cos();
    let [cx, cy] = center;
    let mut m = [d, -b, 0.0, -c, a, 0.0].map(|x| x / scale);
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
    m[2] += cx;
    m[5] += cy;
    m
}

/// `F.affine(image, angle, translate, scale, shear, interpolation, fill)`
/// with torchvision v2's semantics (about the centre, output the input's
/// size; one transform for the batch or one per sample). `fill` as for
/// [`rotate`] (see the module docs).
pub fn affine(
    image: Tensor<4>,
    transforms: &[Affine],
    interpolation: Interpolation,
    fill: Option<&[f64]>,
) -> Result<Tensor<4>, AugmentError> {
    let [_, _, h, w] = image.dims();
    let mut matrices = Vec::with_capacity(transforms.len());
    for t in transforms {
        let finite = [
            t.angle,
            t.scale,
            t.translate[0],
            t.translate[1],
            t.shear[0],
            t.shear[1],
        ]
        .iter()
        .all(|v| v.is_finite());
        if !finite || t.scale <= 0.0 {
            return Err(AugmentError::new(
                "affine",
                format!("{t:?}, expected finite values and a positive scale"),
            ));
        }
        let center = t.center.map_or([0.0, 0.0], |[x, y]| {
            [x - 0.5 * w as f64, y - 0.5 * h as f64]
        });
        let m = inverse_affine_matrix(center, t.angle, t.translate, t.scale, t.shear);
        if m.iter().any(|v| !v.is_finite()) {
            return Err(AugmentError::new(
                "affine",
                format!(
                    "shear {:?} degrees makes the transform singular (a shear of +-90)",
                    t.shear
                ),
            ));
        }
        matrices.push(m);
    }
    warp("affine", image, &matrices, interpolation, fill)
}

/// Samples `image` at the inverse affine `matrices` (one, or one per
/// sample), as torchvision's `_affine_grid` and `_apply_grid_transform`.
fn warp(
    op: &'static str,
    image: Tensor<4>,
    matrices: &[[f64; 6]],
    interpolation: Interpolation,
    fill: Option<&[f64]>,
) -> Result<Tensor<4>, AugmentError> {
    let [n, c, h, w] = image.dims();
    if n == 0 || c == 0 || h == 0 || w == 0 {
        return Err(AugmentError::new(
            op,
            format!("an empty batch {:?}", image.dims()),
        ));
    }
    if !(matrices.len() == 1 || matrices.len() == n) {
        return Err(AugmentError::new(
            op,
            format!(
                "{} transforms for {n} images, expected one or one per image",
                matrices.len()
            ),
        ));
    }
    if let Some(v) = fill
        && !(v.len() == 1 || v.len() == c)
    {
        return Err(AugmentError::new(
            op,
            format!("fill {v:?} for {c} channels, expected one value or one per channel"),
        ));
    }
    let device = image.device();
    let m = matrices.len();
    // torchvision's float32 path, so that nearest picks the same pixel at
    // exact ties: theta in f32, divided by (W/2, H/2); grid = x' a + y' b + c;
    // source index (g + 1) W/2 - 1/2.
    let (hw, hh) = (0.5 * w as f32, 0.5 * h as f32);
    let mut coef: Vec<Vec<f32>> = (0..6).map(|_| Vec::with_capacity(m)).collect();
    for mat in matrices {
        for k in 0..6 {
            let half = if k < 3 { hw } else { hh };
            coef[k].push(mat[k] as f32 / half);
        }
    }
    let coef: Vec<Tensor<3>> = coef
        .into_iter()
        .map(|v| Tensor::<3>::from_data(TensorData::new(v, [m, 1, 1]), &device))
        .collect();
    let xs = Tensor::<1, Int>::arange(0..w as i64, &device)
        .float()
        .sub_scalar((w as f64 - 1.0) / 2.0)
        .reshape([1, 1, w]);
    let ys = Tensor::<1, Int>::arange(0..h as i64, &device)
        .float()
        .sub_scalar((h as f64 - 1.0) / 2.0)
        .reshape([1, h, 1]);
    let gx = coef[0].clone() * xs.clone() + coef[1].clone() * ys.clone() + coef[2].clone();
    let gy = coef[3].clone() * xs + coef[4].clone() * ys + coef[5].clone();
    // Source coordinates in pixel indices, [m, h, w].
    let sx = gx.add_scalar(1.0).mul_scalar(hw).sub_scalar(0.5);
    let sy = gy.add_scalar(1.0).mul_scalar(hh).sub_scalar(0.5);
    let sx = sx.expand([n, h, w]).reshape([n, 1, h * w]);
    let sy = sy.expand([n, h, w]).reshape([n, 1, h * w]);
    let flat = image.reshape([n, c, h * w]);
    // The input at integer (x, y), zero outside, and the in-image mask.
    let sample = |x: Tensor<3>, y: Tensor<3>| -> (Tensor<3>, Tensor<3>) {
        let inside = x
            .clone()
            .greater_equal_elem(0.0)
            .bool_and(x.clone().lower_equal_elem(w as f64 - 1.0))
            .bool_and(y.clone().greater_equal_elem(0.0))
            .bool_and(y.clone().lower_equal_elem(h as f64 - 1.0))
            .float();
        let xi = x.clamp(0.0, w as f64 - 1.0).int();
        let yi = y.clamp(0.0, h as f64 - 1.0).int();
        let index = (yi.mul_scalar(w as i64) + xi).expand([n, c, h * w]);
        (flat.clone().gather(2, index) * inside.clone(), inside)
    };
    let (out, mask) = match interpolation {
        Interpolation::Nearest => sample(sx.round(), sy.round()),
        Interpolation::Bilinear => {
            let x0 = sx.clone().floor();
            let y0 = sy.clone().floor();
            let fx = sx - x0.clone();
            let fy = sy - y0.clone();
            let mut out = Tensor::<3>::zeros([n, c, h * w], &device);
            let mut mask = Tensor::<3>::zeros([n, 1, h * w], &device);
            for (dx, dy) in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)] {
                let wx = if dx == 0.0 {
                    fx.clone().neg().add_scalar(1.0)
                } else {
                    fx.clone()
                };
                let wy = if dy == 0.0 {
                    fy.clone().neg().add_scalar(1.0)
                } else {
                    fy.clone()
                };
                let weight = wx * wy;
                let (v, inside) = sample(x0.clone().add_scalar(dx), y0.clone().add_scalar(dy));
                out = out + v * weight.clone();
                mask = mask + inside * weight;
            }
            (out, mask)
        }
    };
    let out = match fill {
        None => out,
        Some(v) => {
            let values: Vec<f32> = (0..c).map(|k| v[k.min(v.len() - 1)] as f32).collect();
            let fill = Tensor::<3>::from_data(TensorData::new(values, [1, c, 1]), &device);
            match interpolation {
                Interpolation::Nearest => {
                    let outside = mask.lower_elem(0.5).expand([n, c, h * w]);
                    out.mask_where(outside, fill.expand([n, c, h * w]))
                }
                Interpolation::Bilinear => (out - fill.clone()) * mask + fill,
            }
        }
    };
    Ok(out.reshape([n, c, h, w]))
}

/// `boxes [K, 4]` (x1, y1, x2, y2) of an `height x width` image rotated
/// by `angle` degrees with [`rotate`]: the box enclosing the four rotated
/// corners, clamped to the image, as `F.rotate` on `BoundingBoxes`.
pub fn rotate_boxes(
    boxes: Tensor<2>,
    angle: f64,
    height: usize,
    width: usize,
) -> Result<Tensor<2>, AugmentError> {
    let [k, four] = boxes.dims();
    if four != 4 || !angle.is_finite() {
        return Err(AugmentError::new(
            "rotate_boxes",
            format!(
                "boxes {:?} and angle {angle}, expected [K, 4] and a finite angle",
                boxes.dims()
            ),
        ));
    }
    if k == 0 {
        return Ok(boxes);
    }
    let (cx, cy) = (width as f64 / 2.0, height as f64 / 2.0);
    let t = angle.to_radians();
    let (c, s) = (t.cos(), t.sin());
    let col = |i: usize| boxes.clone().slice([0..k, i..i + 1]);
    let (x1, y1, x2, y2) = (
        col(0).sub_scalar(cx),
        col(1).sub_scalar(cy),
        col(2).sub_scalar(cx),
        col(3).sub_scalar(cy),
    );
    // A point (x, y) relative to the centre goes to (c x + s y, -s x + c y).
    let corners = [(&x1, &y1), (&x2, &y1), (&x2, &y2), (&x1, &y2)];
    let px: Vec<Tensor<2>> = corners
        .iter()
        .map(|(x, y)| (*x).clone().mul_scalar(c) + (*y).clone().mul_scalar(s))
        .collect();
    let py: Vec<Tensor<2>> = corners
        .iter()
        .map(|(x, y)| (*x).clone().mul_scalar(-s) + (*y).clone().mul_scalar(c))
        .collect();
    let px = Tensor::cat(px, 1);
    let py = Tensor::cat(py, 1);
    Ok(Tensor::cat(
        vec![
            px.clone()
                .min_dim(1)
                .add_scalar(cx)
                .clamp(0.0, width as f64),
            py.clone()
                .min_dim(1)
                .add_scalar(cy)
                .clamp(0.0, height as f64),
            px.max_dim(1).add_scalar(cx).clamp(0.0, width as f64),
            py.max_dim(1).add_scalar(cy).clamp(0.0, height as f64),
        ],
        1,
    ))
}
