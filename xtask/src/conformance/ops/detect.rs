//! Detection: zoo-detect.

use zoo_detect::boxes::{self as bx, BoxFormat};
use zoo_detect::nms;
use zoo_losses::Reduction;

use super::{Ctx, Outputs};
use crate::conformance::case::HostTensor;
use crate::conformance::value::DynTensor;

fn pairwise(
    ctx: &Ctx,
    out: &str,
    f: impl FnOnce(
        burn::tensor::Tensor<2>,
        burn::tensor::Tensor<2>,
        f64,
    ) -> Result<burn::tensor::Tensor<2>, zoo_detect::DetectError>,
) -> Result<Outputs, String> {
    let a = ctx.input_n::<2>("boxes1")?;
    let b = ctx.input_n::<2>("boxes2")?;
    let eps = ctx.f64_or("eps", 1e-7)?;
    let y = f(a, b, eps).map_err(|e| e.to_string())?;
    Ok(Outputs::default().float(out, DynTensor::new(y)))
}

pub fn box_iou(ctx: &Ctx) -> Result<Outputs, String> {
    pairwise(ctx, "iou", |a, b, _| bx::box_iou(a, b))
}

pub fn generalized_box_iou(ctx: &Ctx) -> Result<Outputs, String> {
    pairwise(ctx, "giou", |a, b, _| bx::generalized_box_iou(a, b))
}

pub fn distance_box_iou(ctx: &Ctx) -> Result<Outputs, String> {
    pairwise(ctx, "diou", bx::distance_box_iou)
}

pub fn complete_box_iou(ctx: &Ctx) -> Result<Outputs, String> {
    pairwise(ctx, "ciou", bx::complete_box_iou)
}

fn loss(
    ctx: &Ctx,
    f: impl FnOnce(
        burn::tensor::Tensor<2>,
        burn::tensor::Tensor<2>,
        f64,
    ) -> Result<burn::tensor::Tensor<1>, zoo_detect::DetectError>,
) -> Result<Outputs, String> {
    let a = ctx.input_n::<2>("boxes1")?;
    let b = ctx.input_n::<2>("boxes2")?;
    let eps = ctx.f64_or("eps", 1e-7)?;
    let per_pair = f(a, b, eps).map_err(|e| e.to_string())?;
    let out = match ctx.str_or("reduction", "none")? {
        "none" => DynTensor::new(per_pair),
        other => DynTensor::scalar(other.parse::<Reduction>()?.apply(per_pair)),
    };
    Ok(Outputs::default().float("loss", out))
}

pub fn giou_loss(ctx: &Ctx) -> Result<Outputs, String> {
    loss(ctx, bx::giou_loss)
}

pub fn diou_loss(ctx: &Ctx) -> Result<Outputs, String> {
    loss(ctx, bx::diou_loss)
}

pub fn ciou_loss(ctx: &Ctx) -> Result<Outputs, String> {
    loss(ctx, bx::ciou_loss)
}

pub fn box_convert(ctx: &Ctx) -> Result<Outputs, String> {
    let fmt = |k: &str| -> Result<BoxFormat, String> {
        BoxFormat::from_name(ctx.str_or(k, "xyxy")?).map_err(|e| e.to_string())
    };
    let (from, to) = (fmt("in_fmt")?, fmt("out_fmt")?);
    let boxes = ctx.input_n::<2>("boxes")?;
    let y = bx::box_convert(boxes, from, to).map_err(|e| e.to_string())?;
    Ok(Outputs::default().float("boxes", DynTensor::new(y)))
}

fn keep(v: burn::tensor::Tensor<1, burn::tensor::Int>) -> Outputs {
    let ints: Vec<i64> = v.into_data().iter::<i64>().collect();
    Outputs::default().host("keep", HostTensor::from_ints(vec![ints.len()], ints))
}

pub fn nms(ctx: &Ctx) -> Result<Outputs, String> {
    let boxes = ctx.input_n::<2>("boxes")?;
    let scores = ctx.input_n::<1>("scores")?;
    let thr = ctx.f64_or("iou_threshold", 0.5)?;
    Ok(keep(
        nms::nms(boxes, scores, thr).map_err(|e| e.to_string())?,
    ))
}

pub fn batched_nms(ctx: &Ctx) -> Result<Outputs, String> {
    let boxes = ctx.input_n::<2>("boxes")?;
    let scores = ctx.input_n::<1>("scores")?;
    let idxs = ctx.int_input_n::<1>("idxs")?;
    let thr = ctx.f64_or("iou_threshold", 0.5)?;
    Ok(keep(
        nms::batched_nms(boxes, scores, idxs, thr).map_err(|e| e.to_string())?,
    ))
}
