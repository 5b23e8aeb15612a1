//! Two-stage detection, the RPN side: zoo-detect's `rcnn` (torchvision's
//! `GeneralizedRCNNTransform`, `AnchorGenerator`, `BoxCoder` and
//! `RegionProposalNetwork`).

use burn::tensor::Tensor;
use zoo_detect::DetectError;
use zoo_detect::rcnn::anchors::AnchorGenerator;
use zoo_detect::rcnn::box_coder::{BoxCoder, DEFAULT_BBOX_XFORM_CLIP};
use zoo_detect::rcnn::matcher::Matcher;
use zoo_detect::rcnn::rpn::{self, FilterOptions};
use zoo_detect::rcnn::transform::{GeneralizedRcnnTransform, resize_boxes};

use super::{Ctx, Outputs};
use crate::conformance::case::{HostTensor, Kind};
use crate::conformance::value::DynTensor;

fn err(e: DetectError) -> String {
    e.to_string()
}

/// A param that is a list of lists of numbers (`sizes`, `aspect_ratios`).
fn nested_f64(ctx: &Ctx, key: &str) -> Result<Vec<Vec<f64>>, String> {
    let v = ctx
        .param(key)
        .ok_or_else(|| format!("missing param `{key}`"))?;
    v.as_array()
        .and_then(|levels| {
            levels
                .iter()
                .map(|l| {
                    l.as_array()
                        .and_then(|xs| xs.iter().map(|x| x.as_f64()).collect::<Option<Vec<_>>>())
                })
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| format!("param `{key}` must be a list of lists of numbers, got {v}"))
}

/// A param that is a list of `[h, w]` pairs of non-negative integers.
fn pairs(ctx: &Ctx, key: &str) -> Result<Vec<[usize; 2]>, String> {
    let v = ctx
        .param(key)
        .ok_or_else(|| format!("missing param `{key}`"))?;
    v.as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|p| match p.as_array().map(|a| a.as_slice()) {
                    Some([h, w]) => Some([h.as_u64()? as usize, w.as_u64()? as usize]),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| {
            format!("param `{key}` must be a list of [h, w] non-negative integers, got {v}")
        })
}

/// An I64 input of non-negative values, with its shape.
fn counts(ctx: &Ctx, name: &str) -> Result<(Vec<usize>, Vec<usize>), String> {
    let host = ctx.host(name)?;
    if host.kind() != Kind::Int {
        return Err(format!(
            "input `in.{name}` has dtype {:?}, expected I64",
            host.dtype
        ));
    }
    let values = host
        .ints
        .iter()
        .map(|&v| {
            usize::try_from(v)
                .map_err(|_| format!("input `in.{name}` holds {v}, expected non-negative values"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((host.shape.clone(), values))
}

fn weights(ctx: &Ctx) -> Result<[f64; 4], String> {
    let w = ctx.f64_list_or("weights", &[1.0; 4])?;
    w.as_slice()
        .try_into()
        .map_err(|_| format!("param `weights` must hold 4 numbers, got {w:?}"))
}

/// `GeneralizedRCNNTransform(...).eval()` on `images.<i>`.
pub fn rcnn_transform(ctx: &Ctx) -> Result<Outputs, String> {
    let mut images = Vec::new();
    while ctx.has(&format!("images.{}", images.len())) {
        images.push(ctx.input_n::<3>(&format!("images.{}", images.len()))?);
    }
    if images.is_empty() {
        return Err("no `in.images.0`".into());
    }
    let min_size = ctx.usize_or("min_size", 800)?;
    let max_size = ctx.usize_or("max_size", 1333)?;
    let mean = ctx.f64_list_or("image_mean", &[0.485, 0.456, 0.406])?;
    let std = ctx.f64_list_or("image_std", &[0.229, 0.224, 0.225])?;
    let t = GeneralizedRcnnTransform::new(min_size, max_size, mean, std)
        .with_size_divisible(ctx.usize_or("size_divisible", 32)?);
    let list = t.forward(images).map_err(err)?;
    let n = list.image_sizes.len();
    let sizes: Vec<i64> = list
        .image_sizes
        .iter()
        .flat_map(|s| s.map(|v| v as i64))
        .collect();
    Ok(Outputs::default()
        .float("batch", DynTensor::new(list.tensors))
        .host("image_sizes", HostTensor::from_ints(vec![n, 2], sizes)))
}

/// `GeneralizedRCNNTransform.postprocess` of one image's boxes (and masks).
pub fn rcnn_postprocess(ctx: &Ctx) -> Result<Outputs, String> {
    let boxes = ctx.input_n::<2>("boxes")?;
    let image_size = ctx.pair("image_size")?;
    let original_size = ctx.pair("original_size")?;
    let resized = resize_boxes(boxes, image_size, original_size).map_err(err)?;
    let mut out = Outputs::default().float("boxes", DynTensor::new(resized.clone()));
    if let Some(masks) = ctx.opt_input_n::<4>("masks")? {
        let t = GeneralizedRcnnTransform::new(1, 1, vec![0.0; 3], vec![1.0; 3]);
        let pasted = t
            .postprocess_masks(masks, resized, original_size)
            .map_err(err)?;
        out = out.float("masks", DynTensor::new(pasted));
    }
    Ok(out)
}

/// `AnchorGenerator(sizes, aspect_ratios)` on one padded image size.
pub fn anchor_generator(ctx: &Ctx) -> Result<Outputs, String> {
    let g = AnchorGenerator::new(nested_f64(ctx, "sizes")?, nested_f64(ctx, "aspect_ratios")?)
        .map_err(err)?;
    let anchors = g
        .forward(
            ctx.pair("image_size")?,
            &pairs(ctx, "feature_shapes")?,
            ctx.device(),
        )
        .map_err(err)?;
    Ok(Outputs::default().float("anchors", DynTensor::new(anchors)))
}

/// `BoxCoder(weights).encode_single(reference_boxes, proposals)`.
pub fn box_coder_encode(ctx: &Ctx) -> Result<Outputs, String> {
    let reference = ctx.input_n::<2>("reference_boxes")?;
    let proposals = ctx.input_n::<2>("proposals")?;
    let t = BoxCoder::new(weights(ctx)?)
        .encode_single(reference, proposals)
        .map_err(err)?;
    Ok(Outputs::default().float("targets", DynTensor::new(t)))
}

/// `BoxCoder(weights, bbox_xform_clip).decode_single(rel_codes, boxes)`.
pub fn box_coder_decode(ctx: &Ctx) -> Result<Outputs, String> {
    let codes = ctx.input_n::<2>("rel_codes")?;
    let boxes = ctx.input_n::<2>("boxes")?;
    let coder = BoxCoder::new(weights(ctx)?)
        .with_clip(ctx.f64_or("bbox_xform_clip", DEFAULT_BBOX_XFORM_CLIP)?);
    let y = coder.decode_single(codes, boxes).map_err(err)?;
    Ok(Outputs::default().float("pred_boxes", DynTensor::new(y)))
}

/// `RegionProposalNetwork.filter_proposals` in evaluation mode.
pub fn rpn_filter_proposals(ctx: &Ctx) -> Result<Outputs, String> {
    let proposals = ctx.input_n::<3>("proposals")?;
    let objectness = ctx.input_n::<1>("objectness")?;
    let (shape, sizes) = counts(ctx, "image_sizes")?;
    if shape.len() != 2 || shape[1] != 2 {
        return Err(format!(
            "`in.image_sizes` has shape {shape:?}, expected [B, 2]"
        ));
    }
    let image_sizes: Vec<[usize; 2]> = sizes.chunks_exact(2).map(|s| [s[0], s[1]]).collect();
    let (_, per_level) = counts(ctx, "num_anchors_per_level")?;
    let options = FilterOptions {
        pre_nms_top_n: ctx.usize_or("pre_nms_top_n", 1000)?,
        post_nms_top_n: ctx.usize_or("post_nms_top_n", 1000)?,
        nms_thresh: ctx.f64_or("nms_thresh", 0.7)?,
        score_thresh: ctx.f64_or("score_thresh", 0.0)?,
        min_size: ctx.f64_or("min_size", 1e-3)?,
    };
    let kept = rpn::filter_proposals(proposals, objectness, &image_sizes, &per_level, options)
        .map_err(err)?;
    let mut out = Outputs::default();
    for (i, p) in kept.into_iter().enumerate() {
        out = out
            .float(&format!("boxes.{i}"), DynTensor::new(p.boxes))
            .float(&format!("scores.{i}"), DynTensor::new(p.scores));
    }
    Ok(out)
}

/// `RegionProposalNetwork.assign_targets_to_anchors` for one image.
pub fn rpn_assign_targets(ctx: &Ctx) -> Result<Outputs, String> {
    let anchors = ctx.input_n::<2>("anchors")?;
    let gt = ctx.input_n::<2>("gt_boxes")?;
    let matcher = Matcher::new(
        ctx.f64_or("fg_iou_thresh", 0.7)?,
        ctx.f64_or("bg_iou_thresh", 0.3)?,
        ctx.bool_or("allow_low_quality_matches", true)?,
    )
    .map_err(err)?;
    let t = rpn::assign_targets_to_anchors(anchors, gt, &matcher).map_err(err)?;
    Ok(Outputs::default()
        .float("labels", DynTensor::new(t.labels))
        .float("matched_gt_boxes", DynTensor::new(t.matched_gt_boxes)))
}

/// `RegionProposalNetwork.compute_loss` with the sampler's draw given.
pub fn rpn_loss(ctx: &Ctx) -> Result<Outputs, String> {
    let objectness = ctx.input_n::<1>("objectness")?;
    let deltas = ctx.input_n::<2>("pred_bbox_deltas")?;
    let labels = ctx.input_n::<1>("labels")?;
    let targets = ctx.input_n::<2>("regression_targets")?;
    let (_, pos) = counts(ctx, "sampled_pos_inds")?;
    let (_, neg) = counts(ctx, "sampled_neg_inds")?;
    let l = rpn::rpn_loss(objectness, deltas, labels, targets, &pos, &neg).map_err(err)?;
    let scalar = |t: Tensor<1>| DynTensor::scalar(t);
    Ok(Outputs::default()
        .float("loss", scalar(l.total()))
        .float("loss_objectness", scalar(l.objectness))
        .float("loss_rpn_box_reg", scalar(l.box_reg)))
}
