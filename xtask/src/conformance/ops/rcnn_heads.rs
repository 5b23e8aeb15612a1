//! Two-stage detection, the second stage: zoo-detect's `rcnn` pooler, RoI
//! heads and mask branch (torchvision's `MultiScaleRoIAlign`, `RoIHeads`,
//! `fastrcnn_loss`, `maskrcnn_loss`, `maskrcnn_inference`,
//! `paste_masks_in_image`).

use burn::tensor::{Int, Tensor};
use zoo_detect::rcnn::heads::{self, RoIHeadsSettings};
use zoo_detect::rcnn::masks;
use zoo_detect::rcnn::pooler::MultiScaleRoIAlign;

use super::{Ctx, Outputs};
use crate::conformance::case::HostTensor;
use crate::conformance::value::DynTensor;

fn err(e: zoo_detect::DetectError) -> String {
    e.to_string()
}

/// `in.<name> [N, 2]` (I64) as `(height, width)` pairs.
fn sizes(ctx: &Ctx, name: &str) -> Result<Vec<[usize; 2]>, String> {
    let h = ctx.host(name)?;
    if h.shape.len() != 2 || h.shape[1] != 2 || h.ints.len() != h.shape[0] * 2 {
        return Err(format!(
            "input `in.{name}` has shape {:?} ({:?}), expected [N, 2] I64",
            h.shape, h.dtype
        ));
    }
    h.ints
        .chunks_exact(2)
        .map(|p| {
            if p[0] < 0 || p[1] < 0 {
                Err(format!(
                    "input `in.{name}` holds {p:?}: expected sizes >= 0"
                ))
            } else {
                Ok([p[0] as usize, p[1] as usize])
            }
        })
        .collect()
}

/// The per-image float inputs `in.<prefix>.0`, `in.<prefix>.1`, ... of rank `D`.
fn per_image<const D: usize>(ctx: &Ctx, prefix: &str) -> Result<Vec<Tensor<D>>, String> {
    let mut out = Vec::new();
    while ctx.has(&format!("{prefix}.{}", out.len())) {
        out.push(ctx.input_n::<D>(&format!("{prefix}.{}", out.len()))?);
    }
    Ok(out)
}

/// An integer output.
fn host_ints(t: Tensor<1, Int>) -> HostTensor {
    let v: Vec<i64> = t.into_data().iter::<i64>().collect();
    HostTensor::from_ints(vec![v.len()], v)
}

fn weights4(ctx: &Ctx, key: &str) -> Result<[f64; 4], String> {
    let w = ctx.f64_list_or(key, &[10.0, 10.0, 5.0, 5.0])?;
    w.as_slice()
        .try_into()
        .map_err(|_| format!("param `{key}` must hold 4 numbers, got {w:?}"))
}

pub fn multiscale_roi_align(ctx: &Ctx) -> Result<Outputs, String> {
    let names: Vec<String> = match ctx.param("featmap_names") {
        Some(v) => v
            .as_array()
            .and_then(|a| a.iter().map(|s| s.as_str().map(String::from)).collect())
            .ok_or_else(|| format!("param `featmap_names` must be a list of strings, got {v}"))?,
        None => return Err("missing param `featmap_names`".into()),
    };
    // Every `features.<name>` becomes a leaf (an unused one gets a zero gradient).
    let features: Vec<(String, Tensor<4>)> = ctx
        .inputs()
        .keys()
        .filter_map(|k| k.strip_prefix("features.").map(String::from))
        .map(|name| Ok((name.clone(), ctx.input_n::<4>(&format!("features.{name}"))?)))
        .collect::<Result<_, String>>()?;
    let boxes = per_image::<2>(ctx, "boxes")?;
    let image_sizes = sizes(ctx, "image_sizes")?;
    let sampling_ratio = ctx.isize_or("sampling_ratio", -1)? as i64;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let pooler = MultiScaleRoIAlign::new(&refs, ctx.pair("output_size")?, sampling_ratio)
        .with_canonical(
            ctx.f64_or("canonical_scale", 224.0)?,
            ctx.f64_or("canonical_level", 4.0)?,
        );
    let y = pooler
        .forward(&features, &boxes, &image_sizes)
        .map_err(err)?;
    Ok(Outputs::default().float("output", DynTensor::new(y)))
}

fn settings(ctx: &Ctx) -> Result<RoIHeadsSettings, String> {
    let d = RoIHeadsSettings::default();
    Ok(RoIHeadsSettings {
        fg_iou_thresh: ctx.f64_or("fg_iou_thresh", d.fg_iou_thresh)?,
        bg_iou_thresh: ctx.f64_or("bg_iou_thresh", d.bg_iou_thresh)?,
        bbox_reg_weights: weights4(ctx, "bbox_reg_weights")?,
        score_thresh: ctx.f64_or("score_thresh", d.score_thresh)?,
        nms_thresh: ctx.f64_or("nms_thresh", d.nms_thresh)?,
        detections_per_img: ctx.usize_or("detections_per_img", d.detections_per_img)?,
        ..d
    })
}

pub fn roi_heads_assign_targets(ctx: &Ctx) -> Result<Outputs, String> {
    let proposals = ctx.input_n::<2>("proposals")?;
    let gt_boxes = ctx.input_n::<2>("gt_boxes")?;
    let gt_labels = ctx.int_input_n::<1>("gt_labels")?;
    let t = settings(ctx)?
        .assign_targets(proposals, gt_boxes, gt_labels)
        .map_err(err)?;
    let n = t.labels.len();
    Ok(Outputs::default()
        .host("labels", HostTensor::from_ints(vec![n], t.labels))
        .host(
            "matched_idxs",
            HostTensor::from_ints(vec![n], t.matched_idxs),
        )
        .float("regression_targets", DynTensor::new(t.regression_targets)))
}

pub fn fastrcnn_loss(ctx: &Ctx) -> Result<Outputs, String> {
    let class_logits = ctx.input_n::<2>("class_logits")?;
    let box_regression = ctx.input_n::<2>("box_regression")?;
    let labels = ctx.int_input_n::<1>("labels")?;
    let targets = ctx.input_n::<2>("regression_targets")?;
    let l =
        heads::fastrcnn_loss(class_logits, box_regression, &[labels], &[targets]).map_err(err)?;
    let total = l.loss_classifier.clone() + l.loss_box_reg.clone();
    Ok(Outputs::default()
        .float("loss", DynTensor::scalar(total))
        .float("loss_classifier", DynTensor::scalar(l.loss_classifier))
        .float("loss_box_reg", DynTensor::scalar(l.loss_box_reg)))
}

pub fn roi_heads_postprocess(ctx: &Ctx) -> Result<Outputs, String> {
    let class_logits = ctx.input_n::<2>("class_logits")?;
    let box_regression = ctx.input_n::<2>("box_regression")?;
    let proposals = per_image::<2>(ctx, "proposals")?;
    let image_sizes = sizes(ctx, "image_sizes")?;
    let dets = settings(ctx)?
        .postprocess_detections(class_logits, box_regression, &proposals, &image_sizes)
        .map_err(err)?;
    let mut out = Outputs::default();
    for (i, d) in dets.into_iter().enumerate() {
        out = out
            .float(&format!("boxes.{i}"), DynTensor::new(d.boxes))
            .float(&format!("scores.{i}"), DynTensor::new(d.scores))
            .host(&format!("labels.{i}"), host_ints(d.labels));
    }
    Ok(out)
}

pub fn maskrcnn_loss(ctx: &Ctx) -> Result<Outputs, String> {
    let mask_logits = ctx.input_n::<4>("mask_logits")?;
    let proposals = ctx.input_n::<2>("proposals")?;
    let gt_masks = ctx.input_n::<3>("gt_masks")?;
    let gt_labels = ctx.int_input_n::<1>("gt_labels")?;
    let matched = ctx.int_input_n::<1>("mask_matched_idxs")?;
    let loss = masks::maskrcnn_loss(
        mask_logits,
        &[proposals],
        &[gt_masks],
        &[gt_labels],
        &[matched],
    )
    .map_err(err)?;
    Ok(Outputs::default().float("loss", DynTensor::scalar(loss)))
}

pub fn maskrcnn_inference(ctx: &Ctx) -> Result<Outputs, String> {
    let mask_logits = ctx.input_n::<4>("mask_logits")?;
    let labels = ctx.int_input_n::<1>("labels")?;
    let probs = masks::maskrcnn_inference(mask_logits, &[labels]).map_err(err)?;
    let p = probs
        .into_iter()
        .next()
        .ok_or("maskrcnn_inference returned no image")?;
    Ok(Outputs::default().float("mask_probs", DynTensor::new(p)))
}

pub fn paste_masks_in_image(ctx: &Ctx) -> Result<Outputs, String> {
    let m = ctx.input_n::<4>("masks")?;
    let boxes = ctx.input_n::<2>("boxes")?;
    let shape = ctx.pair("img_shape")?;
    let padding = ctx.usize_or("padding", 1)?;
    let y = masks::paste_masks_in_image(m, boxes, shape, padding).map_err(err)?;
    Ok(Outputs::default().float("pasted", DynTensor::new(y)))
}
