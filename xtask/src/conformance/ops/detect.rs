//! Detection: zoo-detect.

use zoo_detect::boxes::{self as bx, BoxFormat};
use zoo_detect::{anchors, nms, roi};
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
        other => DynTensor::scalar(other.parse::<Reduction>()?.apply_or_zero(per_pair)),
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

fn err(e: zoo_detect::DetectError) -> String {
    e.to_string()
}

pub fn multibox_prior(ctx: &Ctx) -> Result<Outputs, String> {
    let (h, w) = (ctx.usize_or("height", 0)?, ctx.usize_or("width", 0)?);
    let sizes = ctx.f64_list_or("sizes", &[])?;
    let ratios = ctx.f64_list_or("ratios", &[])?;
    let a = anchors::multibox_prior(h, w, &sizes, &ratios, ctx.device()).map_err(err)?;
    Ok(Outputs::default().float("anchors", DynTensor::new(a)))
}

pub fn assign_anchor_to_bbox(ctx: &Ctx) -> Result<Outputs, String> {
    let gt = ctx.input_n::<2>("ground_truth")?;
    let a = ctx.input_n::<2>("anchors")?;
    let thr = ctx.f64_or("iou_threshold", 0.5)?;
    let map = anchors::assign_anchor_to_bbox(gt, a, thr).map_err(err)?;
    Ok(Outputs::default().host("map", HostTensor::from_ints(vec![map.len()], map)))
}

pub fn offset_boxes(ctx: &Ctx) -> Result<Outputs, String> {
    let a = ctx.input_n::<2>("anchors")?;
    let b = ctx.input_n::<2>("assigned_bb")?;
    let y = anchors::offset_boxes(a, b).map_err(err)?;
    Ok(Outputs::default().float("offset", DynTensor::new(y)))
}

pub fn offset_inverse(ctx: &Ctx) -> Result<Outputs, String> {
    let a = ctx.input_n::<2>("anchors")?;
    let o = ctx.input_n::<2>("offset_preds")?;
    let y = anchors::offset_inverse(a, o).map_err(err)?;
    Ok(Outputs::default().float("boxes", DynTensor::new(y)))
}

pub fn multibox_target(ctx: &Ctx) -> Result<Outputs, String> {
    let a = ctx.input_n::<3>("anchors")?;
    let l = ctx.input_n::<3>("labels")?;
    let t = anchors::multibox_target(a, l).map_err(err)?;
    let dims = t.class_labels.dims();
    let classes: Vec<i64> = t.class_labels.into_data().iter::<i64>().collect();
    Ok(Outputs::default()
        .float("bbox_offset", DynTensor::new(t.bbox_offset))
        .float("bbox_mask", DynTensor::new(t.bbox_mask))
        .host(
            "class_labels",
            HostTensor::from_ints(dims.to_vec(), classes),
        ))
}

pub fn multibox_detection(ctx: &Ctx) -> Result<Outputs, String> {
    let p = ctx.input_n::<3>("cls_probs")?;
    let o = ctx.input_n::<2>("offset_preds")?;
    let a = ctx.input_n::<3>("anchors")?;
    let nms_thr = ctx.f64_or("nms_threshold", 0.5)?;
    let pos = ctx.f64_or("pos_threshold", 0.009999999)?;
    let y = anchors::multibox_detection(p, o, a, nms_thr, pos).map_err(err)?;
    Ok(Outputs::default().float("detections", DynTensor::new(y)))
}

pub fn roi_pool(ctx: &Ctx) -> Result<Outputs, String> {
    let x = ctx.input_n::<4>("input")?;
    let r = ctx.input_n::<2>("rois")?;
    let size = ctx.pair("output_size")?;
    let scale = ctx.f64_or("spatial_scale", 1.0)?;
    let y = roi::roi_pool(x, r, size, scale).map_err(err)?;
    Ok(Outputs::default().float("output", DynTensor::new(y)))
}

pub fn roi_align(ctx: &Ctx) -> Result<Outputs, String> {
    let x = ctx.input_n::<4>("input")?;
    let r = ctx.input_n::<2>("rois")?;
    let options = roi::RoiAlignOptions {
        output_size: ctx.pair("output_size")?,
        spatial_scale: ctx.f64_or("spatial_scale", 1.0)?,
        sampling_ratio: ctx.isize_or("sampling_ratio", -1)? as i64,
        aligned: ctx.bool_or("aligned", false)?,
    };
    let y = roi::roi_align(x, r, options).map_err(err)?;
    Ok(Outputs::default().float("output", DynTensor::new(y)))
}
