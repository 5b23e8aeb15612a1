//! torchvision's inference presets on an encoded photo, and PIL's decoding
//! to RGB (`scripts/make_preset_cases.py`): `in.file` (U8, the file's
//! bytes) is decoded as `Image.open(f).convert("RGB")`
//! (`zoo_datasets::photo`), then the preset runs (`zoo_augment::inference`).
//! Outputs: `image` (float `[3, H, W]`, on the device) and `pixels` (the
//! 8-bit `[3, H, W]` image the preset normalises, compared exactly).

use std::path::Path;

use burn::tensor::{Tensor, TensorData};
use image::RgbImage;
use zoo_augment::inference::{
    ImageClassification, ObjectDetection, Preset, Resample, SemanticSegmentation,
};

use super::{Ctx, Outputs};
use crate::conformance::case::{HostTensor, Kind};
use crate::conformance::value::DynTensor;

/// The decoded RGB image of `in.file`.
fn photo(ctx: &Ctx) -> Result<RgbImage, String> {
    let host = ctx.host("file")?;
    if host.kind() != Kind::Int || host.shape.len() != 1 {
        return Err(format!(
            "`in.file` has dtype {:?} and shape {:?}, expected the file's bytes as U8 [n]",
            host.dtype, host.shape
        ));
    }
    let bytes = host
        .ints
        .iter()
        .map(|&b| u8::try_from(b).map_err(|_| format!("`in.file` holds {b}, not a byte")))
        .collect::<Result<Vec<u8>, _>>()?;
    zoo_datasets::photo::decode_rgb(&bytes, Path::new("in.file")).map_err(|e| e.to_string())
}

/// `img` as `[3, H, W]` integers (`pil_to_tensor`).
fn pixels(img: &RgbImage) -> HostTensor {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut v = vec![0i64; 3 * h * w];
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            v[c * h * w + i] = i64::from(p[c]);
        }
    }
    HostTensor::from_ints(vec![3, h, w], v)
}

fn three(ctx: &Ctx, key: &str, default: [f32; 3]) -> Result<[f32; 3], String> {
    let v = ctx.f64_list_or(key, &default.map(f64::from))?;
    match v.as_slice() {
        [a, b, c] => Ok([*a as f32, *b as f32, *c as f32]),
        _ => Err(format!("param `{key}` {v:?}, expected 3 numbers")),
    }
}

fn resample(ctx: &Ctx) -> Result<Resample, String> {
    Resample::from_name(ctx.str_or("interpolation", "bilinear")?).map_err(|e| e.to_string())
}

fn run(ctx: &Ctx, preset: Preset) -> Result<Outputs, String> {
    let img = photo(ctx)?;
    let px = preset.pixels(&img).map_err(|e| e.to_string())?;
    let data: TensorData = preset.normalize(&px).map_err(|e| e.to_string())?;
    let image = Tensor::<3>::from_data(data, ctx.device());
    Ok(Outputs::default()
        .float("image", DynTensor::new(image))
        .host("pixels", pixels(&px)))
}

pub fn preset_classification(ctx: &Ctx) -> Result<Outputs, String> {
    if ctx.param("crop_size").is_none() {
        return Err("missing param `crop_size`".into());
    }
    let crop = ctx.usize_or("crop_size", 0)?;
    let resize = ctx.usize_or("resize_size", 256)?;
    let preset = ImageClassification::new(crop, resize)
        .with_interpolation(resample(ctx)?)
        .with_mean_std(
            three(ctx, "mean", zoo_augment::inference::IMAGENET_MEAN)?,
            three(ctx, "std", zoo_augment::inference::IMAGENET_STD)?,
        )
        .with_antialias(ctx.bool_or("antialias", true)?);
    run(ctx, Preset::Classification(preset))
}

pub fn preset_segmentation(ctx: &Ctx) -> Result<Outputs, String> {
    let resize = match ctx.param("resize_size") {
        None => None,
        Some(_) => Some(ctx.usize_or("resize_size", 0)?),
    };
    let preset = SemanticSegmentation::new(resize)
        .with_interpolation(resample(ctx)?)
        .with_mean_std(
            three(ctx, "mean", zoo_augment::inference::IMAGENET_MEAN)?,
            three(ctx, "std", zoo_augment::inference::IMAGENET_STD)?,
        )
        .with_antialias(ctx.bool_or("antialias", true)?);
    run(ctx, Preset::Segmentation(preset))
}

pub fn preset_detection(ctx: &Ctx) -> Result<Outputs, String> {
    run(ctx, Preset::Detection(ObjectDetection))
}

pub fn decode_rgb(ctx: &Ctx) -> Result<Outputs, String> {
    run(ctx, Preset::Detection(ObjectDetection))
}
