//! Augmentation: zoo-augment. Images come as `[C, H, W]` or `[N, C, H, W]`;
//! the ops work on batches, so a single image is a batch of one.

use burn::tensor::Tensor;
use zoo_augment::functional::{self as f, PadMode};
use zoo_augment::resize::{self as rs, Interpolation};
use zoo_augment::smote as sm;
use zoo_augment::{color, geometry, mix, photometric as ph};

use super::{Ctx, Outputs};
use crate::conformance::case::HostTensor;
use crate::conformance::value::DynTensor;

/// The input as a batch, and the shape to give results of the same layout.
fn batch(ctx: &Ctx, name: &str) -> Result<(Tensor<4>, bool), String> {
    let t = ctx.input(name)?;
    let shape = t.shape().to_vec();
    match shape.len() {
        3 => Ok((t.with_shape([vec![1], shape].concat()).to::<4>(name)?, true)),
        4 => Ok((t.to::<4>(name)?, false)),
        _ => Err(format!(
            "`in.{name}` has shape {shape:?}, expected [C, H, W] or [N, C, H, W]"
        )),
    }
}

/// A batch result back in the input's layout.
fn unbatch(t: Tensor<4>, single: bool) -> DynTensor {
    let d = DynTensor::new(t);
    if single {
        let shape = d.shape()[1..].to_vec();
        d.with_shape(shape)
    } else {
        d
    }
}

fn image_op(
    ctx: &Ctx,
    op: impl FnOnce(Tensor<4>) -> Result<Tensor<4>, zoo_augment::AugmentError>,
) -> Result<Outputs, String> {
    let (x, single) = batch(ctx, "image")?;
    let y = op(x).map_err(|e| e.to_string())?;
    Ok(Outputs::default().float("image", unbatch(y, single)))
}

fn flip(ctx: &Ctx, horizontal: bool) -> Result<Outputs, String> {
    let (x, single) = batch(ctx, "image")?;
    let [_, _, h, w] = x.dims();
    let image = if horizontal { f::hflip(x) } else { f::vflip(x) };
    let mut out = Outputs::default().float("image", unbatch(image, single));
    if let Some(boxes) = ctx.opt_input_n::<2>("boxes")? {
        let boxes = if horizontal {
            f::hflip_boxes(boxes, w)
        } else {
            f::vflip_boxes(boxes, h)
        };
        out = out.float("boxes", DynTensor::new(boxes));
    }
    Ok(out)
}

pub fn hflip(ctx: &Ctx) -> Result<Outputs, String> {
    flip(ctx, true)
}

pub fn vflip(ctx: &Ctx) -> Result<Outputs, String> {
    flip(ctx, false)
}

pub fn crop(ctx: &Ctx) -> Result<Outputs, String> {
    let (top, left) = (ctx.isize_or("top", 0)?, ctx.isize_or("left", 0)?);
    let (h, w) = (ctx.usize_or("height", 0)?, ctx.usize_or("width", 0)?);
    image_op(ctx, |x| f::crop(x, top, left, h, w))
}

pub fn pad(ctx: &Ctx) -> Result<Outputs, String> {
    let p = ctx.usize_list("padding")?;
    let padding: [usize; 4] = p
        .as_slice()
        .try_into()
        .map_err(|_| format!("params.padding {p:?}, expected [left, top, right, bottom]"))?;
    let mode = PadMode::from_name(ctx.str_or("mode", "constant")?, ctx.f64_or("fill", 0.0)?)
        .map_err(|e| e.to_string())?;
    image_op(ctx, |x| f::pad(x, padding, mode))
}

pub fn adjust_brightness(ctx: &Ctx) -> Result<Outputs, String> {
    let factor = ctx.f64("factor")?;
    image_op(ctx, |x| f::adjust_brightness(x, factor))
}

pub fn adjust_contrast(ctx: &Ctx) -> Result<Outputs, String> {
    let factor = ctx.f64("factor")?;
    image_op(ctx, |x| f::adjust_contrast(x, factor))
}

pub fn adjust_saturation(ctx: &Ctx) -> Result<Outputs, String> {
    let factor = ctx.f64("factor")?;
    image_op(ctx, |x| f::adjust_saturation(x, factor))
}

pub fn rgb_to_grayscale(ctx: &Ctx) -> Result<Outputs, String> {
    image_op(ctx, f::rgb_to_grayscale)
}

pub fn normalize(ctx: &Ctx) -> Result<Outputs, String> {
    let mean = ctx.f64_list_or("mean", &[])?;
    let std = ctx.f64_list_or("std", &[])?;
    image_op(ctx, |x| f::normalize(x, &mean, &std))
}

pub fn erase(ctx: &Ctx) -> Result<Outputs, String> {
    let (i, j) = (ctx.usize_or("i", 0)?, ctx.usize_or("j", 0)?);
    let (h, w) = (ctx.usize_or("h", 0)?, ctx.usize_or("w", 0)?);
    let value = match ctx.param("value") {
        Some(v) if v.is_array() => ctx.f64_list_or("value", &[])?,
        _ => vec![ctx.f64_or("value", 0.0)?],
    };
    image_op(ctx, |x| f::erase(x, i, j, h, w, &value))
}

fn mixed(images: Tensor<4>, labels: Tensor<2>) -> Outputs {
    Outputs::default()
        .float("images", DynTensor::new(images))
        .float("labels", DynTensor::new(labels))
}

pub fn mixup(ctx: &Ctx) -> Result<Outputs, String> {
    let (x, y) = mix::mixup(
        ctx.input_n("images")?,
        ctx.int_input_n("labels")?,
        ctx.f64("lam")?,
        ctx.usize_or("num_classes", 0)?,
    )
    .map_err(|e| e.to_string())?;
    Ok(mixed(x, y))
}

pub fn cutmix(ctx: &Ctx) -> Result<Outputs, String> {
    let b = ctx.usize_list("box")?;
    let bbox: [usize; 4] = b
        .as_slice()
        .try_into()
        .map_err(|_| format!("params.box {b:?}, expected [x1, y1, x2, y2]"))?;
    let (x, y) = mix::cutmix(
        ctx.input_n("images")?,
        ctx.int_input_n("labels")?,
        bbox,
        ctx.usize_or("num_classes", 0)?,
    )
    .map_err(|e| e.to_string())?;
    Ok(mixed(x, y))
}

pub fn sample_pairing(ctx: &Ctx) -> Result<Outputs, String> {
    let (x, labels) = mix::sample_pairing(
        ctx.input_n("images_a")?,
        ctx.input_n("images_b")?,
        ctx.int_input_n("labels_a")?,
    )
    .map_err(|e| e.to_string())?;
    let n = labels.dims()[0];
    let ints = labels
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .map_err(|e| format!("labels: {e:?}"))?;
    Ok(Outputs::default()
        .float("images", DynTensor::new(x))
        .host("labels", HostTensor::from_ints(vec![n], ints)))
}

pub fn rgb_to_hsv(ctx: &Ctx) -> Result<Outputs, String> {
    image_op(ctx, color::rgb_to_hsv)
}

pub fn hsv_to_rgb(ctx: &Ctx) -> Result<Outputs, String> {
    image_op(ctx, color::hsv_to_rgb)
}

pub fn rgb_to_hsl(ctx: &Ctx) -> Result<Outputs, String> {
    image_op(ctx, color::rgb_to_hsl)
}

pub fn hsl_to_rgb(ctx: &Ctx) -> Result<Outputs, String> {
    image_op(ctx, color::hsl_to_rgb)
}

pub fn adjust_hue(ctx: &Ctx) -> Result<Outputs, String> {
    let factor = ctx.f64("factor")?;
    image_op(ctx, |x| color::adjust_hue(x, factor))
}

pub fn gaussian_blur(ctx: &Ctx) -> Result<Outputs, String> {
    let k = ctx.pair("kernel_size")?;
    let s = ctx.f64_list_or("sigma", &[])?;
    let sigma: [f64; 2] = s
        .as_slice()
        .try_into()
        .map_err(|_| format!("params.sigma {s:?}, expected [sigma_x, sigma_y]"))?;
    image_op(ctx, |x| color::gaussian_blur(x, k, sigma))
}

pub fn rotate(ctx: &Ctx) -> Result<Outputs, String> {
    let angle = ctx.f64("angle")?;
    let mode = Interpolation::from_name(ctx.str_or("interpolation", "nearest")?)
        .map_err(|e| e.to_string())?;
    let fill = fill(ctx)?;
    let (x, single) = batch(ctx, "image")?;
    let [_, _, h, w] = x.dims();
    let image = geometry::rotate(x, &[angle], mode, fill.as_deref()).map_err(|e| e.to_string())?;
    let mut out = Outputs::default().float("image", unbatch(image, single));
    if let Some(boxes) = ctx.opt_input_n::<2>("boxes")? {
        let boxes = geometry::rotate_boxes(boxes, angle, h, w).map_err(|e| e.to_string())?;
        out = out.float("boxes", DynTensor::new(boxes));
    }
    Ok(out)
}

/// The `fill` param: absent or `null` (zeros outside), one number, or one per channel.
fn fill(ctx: &Ctx) -> Result<Option<Vec<f64>>, String> {
    Ok(match ctx.param("fill") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) if v.is_array() => Some(ctx.f64_list_or("fill", &[])?),
        Some(_) => Some(vec![ctx.f64("fill")?]),
    })
}

/// Two numbers; `shear` may also be one number (`[s, 0]`) or a one-item
/// list (`[s, s]`), as torchvision's `_affine_parse_args` reads it.
fn pair_or(ctx: &Ctx, name: &str, default: [f64; 2]) -> Result<[f64; 2], String> {
    if name == "shear"
        && let Some(s) = ctx.param(name).and_then(|v| v.as_f64())
    {
        return Ok([s, 0.0]);
    }
    let v = ctx.f64_list_or(name, &default)?;
    match v[..] {
        [a, b] => Ok([a, b]),
        [a] if name == "shear" => Ok([a, a]),
        _ => Err(format!("params.{name} {v:?}, expected two numbers")),
    }
}

pub fn affine(ctx: &Ctx) -> Result<Outputs, String> {
    let t = geometry::Affine {
        angle: ctx.f64_or("angle", 0.0)?,
        translate: pair_or(ctx, "translate", [0.0, 0.0])?,
        scale: ctx.f64_or("scale", 1.0)?,
        shear: pair_or(ctx, "shear", [0.0, 0.0])?,
        center: match ctx.param("center") {
            None | Some(serde_json::Value::Null) => None,
            Some(_) => Some(pair_or(ctx, "center", [0.0, 0.0])?),
        },
    };
    let mode = Interpolation::from_name(ctx.str_or("interpolation", "nearest")?)
        .map_err(|e| e.to_string())?;
    let fill = fill(ctx)?;
    image_op(ctx, |x| geometry::affine(x, &[t], mode, fill.as_deref()))
}

pub fn posterize(ctx: &Ctx) -> Result<Outputs, String> {
    let bits = ctx.usize_or("bits", 8)?;
    let bits = u32::try_from(bits).map_err(|_| format!("params.bits {bits}, expected 0 to 8"))?;
    image_op(ctx, |x| ph::posterize(x, bits))
}

pub fn solarize(ctx: &Ctx) -> Result<Outputs, String> {
    let threshold = ctx.f64("threshold")?;
    image_op(ctx, |x| ph::solarize(x, threshold))
}

pub fn autocontrast(ctx: &Ctx) -> Result<Outputs, String> {
    image_op(ctx, ph::autocontrast)
}

pub fn equalize(ctx: &Ctx) -> Result<Outputs, String> {
    image_op(ctx, ph::equalize)
}

pub fn adjust_sharpness(ctx: &Ctx) -> Result<Outputs, String> {
    let factor = ctx.f64("factor")?;
    image_op(ctx, |x| ph::adjust_sharpness(x, factor))
}

pub fn invert(ctx: &Ctx) -> Result<Outputs, String> {
    image_op(ctx, |x| Ok(ph::invert(x)))
}

pub fn adjust_gamma(ctx: &Ctx) -> Result<Outputs, String> {
    let (gamma, gain) = (ctx.f64("gamma")?, ctx.f64_or("gain", 1.0)?);
    image_op(ctx, |x| ph::adjust_gamma(x, gamma, gain))
}

pub fn gaussian_noise(ctx: &Ctx) -> Result<Outputs, String> {
    let (mean, sigma) = (ctx.f64_or("mean", 0.0)?, ctx.f64_or("sigma", 0.1)?);
    let clip = ctx.bool_or("clip", true)?;
    let (noise, _) = batch(ctx, "noise")?;
    image_op(ctx, |x| f::gaussian_noise(x, noise, mean, sigma, clip))
}

fn interpolation(ctx: &Ctx) -> Result<(Interpolation, bool), String> {
    let mode = Interpolation::from_name(ctx.str_or("interpolation", "bilinear")?)
        .map_err(|e| e.to_string())?;
    Ok((mode, ctx.bool_or("antialias", true)?))
}

pub fn resize(ctx: &Ctx) -> Result<Outputs, String> {
    let size = ctx.pair("size")?;
    let (mode, aa) = interpolation(ctx)?;
    image_op(ctx, |x| rs::resize(x, size, mode, aa))
}

pub fn resized_crop(ctx: &Ctx) -> Result<Outputs, String> {
    let window = [ctx.isize_or("top", 0)?, ctx.isize_or("left", 0)?];
    let crop_size = [ctx.usize_or("height", 0)?, ctx.usize_or("width", 0)?];
    let size = ctx.pair("size")?;
    let (mode, aa) = interpolation(ctx)?;
    image_op(ctx, |x| {
        rs::resized_crop(x, window, crop_size, size, mode, aa)
    })
}

/// Integer input `in.<name>` as non-negative indices on the host.
fn indices(ctx: &Ctx, name: &str) -> Result<Vec<usize>, String> {
    ctx.host(name)?
        .ints
        .iter()
        .map(|&i| usize::try_from(i).map_err(|_| format!("in.{name}: {i} is negative")))
        .collect()
}

pub fn smote(ctx: &Ctx) -> Result<Outputs, String> {
    let x: Tensor<2> = ctx.input_n("x")?;
    let k = ctx.usize_or("k_neighbors", 5)?;
    let nn = sm::nearest_neighbors(x.clone(), k).map_err(|e| e.to_string())?;
    let synthetic = sm::synthesize(
        x,
        &nn,
        &indices(ctx, "rows")?,
        &indices(ctx, "cols")?,
        ctx.input_n("steps")?,
    )
    .map_err(|e| e.to_string())?;
    let n = nn.len();
    let flat: Vec<i64> = nn.iter().flatten().map(|&j| j as i64).collect();
    Ok(Outputs::default()
        .host("neighbors", HostTensor::from_ints(vec![n, k], flat))
        .float("synthetic", DynTensor::new(synthetic)))
}

pub fn smote_counts(ctx: &Ctx) -> Result<Outputs, String> {
    let labels = indices(ctx, "labels")?;
    let strategy = match ctx.param("sampling_strategy") {
        Some(serde_json::Value::Object(m)) => {
            let mut targets = std::collections::BTreeMap::new();
            for (k, v) in m {
                let class = k
                    .parse::<usize>()
                    .map_err(|_| format!("sampling_strategy key `{k}`, expected a class index"))?;
                let n = v
                    .as_u64()
                    .ok_or_else(|| format!("sampling_strategy[{k}] = {v}, expected a count"))?;
                targets.insert(class, n as usize);
            }
            sm::SamplingStrategy::Targets(targets)
        }
        _ => sm::SamplingStrategy::from_name(ctx.str_or("sampling_strategy", "auto")?)
            .map_err(|e| e.to_string())?,
    };
    let counts = sm::sampling_counts(&labels, &strategy).map_err(|e| e.to_string())?;
    Ok(Outputs::default().host(
        "counts",
        HostTensor::from_ints(
            vec![counts.len()],
            counts.iter().map(|&c| c as i64).collect(),
        ),
    ))
}
