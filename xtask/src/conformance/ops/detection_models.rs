//! Two-stage detectors: torchvision's Faster R-CNN in evaluation
//! (`detection_forward`) on zoo-models' ResNet-FPN backbone, and the
//! builders' trainable parameter counts (`model_params` of
//! `fasterrcnn_resnet50_fpn`, `fasterrcnn_resnet50_fpn_v2`,
//! `maskrcnn_resnet50_fpn`).

use burn::tensor::{Int, Tensor};
use serde_json::Value;
use zoo_detect::rcnn::heads::RoIHeadsSettings;
use zoo_detect::rcnn::models::{
    FasterRcnnConfig, fasterrcnn_resnet50_fpn, fasterrcnn_resnet50_fpn_v2, maskrcnn_resnet50_fpn,
};
use zoo_detect::rcnn::pooler::MultiScaleRoIAlign;
use zoo_detect::rcnn::rpn::RpnSettings;
use zoo_detect::rcnn::transform::GeneralizedRcnnTransform;
use zoo_layers::params::num_trainable_params;
use zoo_models::fpn::{ExtraBlocks, NormKind, ResNetFpnConfig};

use super::{Ctx, Outputs};
use crate::conformance::case::HostTensor;
use crate::conformance::value::DynTensor;

/// The detection builders `model_params` knows.
pub fn known(arch: &str) -> bool {
    matches!(
        arch,
        "fasterrcnn_resnet50_fpn" | "fasterrcnn_resnet50_fpn_v2" | "maskrcnn_resnet50_fpn"
    )
}

/// `weights` / `weights_backbone`: `null`, or a member of the enum the
/// builder takes (`COCO_V1` / `DEFAULT`, `IMAGENET1K_V1` / `IMAGENET1K_V2`
/// / `DEFAULT`); whether one is given.
fn given(ctx: &Ctx, key: &str, members: &[&str]) -> Result<bool, String> {
    match ctx.param(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::String(s)) => {
            let name = s.rsplit('.').next().unwrap_or(s);
            if members.contains(&name) {
                Ok(true)
            } else {
                Err(format!(
                    "param `{key}` is {s:?}, expected null or one of {members:?}"
                ))
            }
        }
        Some(v) => Err(format!("param `{key}` is {v}, expected null or a string")),
    }
}

/// `sum(p.numel() for p in model.parameters() if p.requires_grad)` of
/// torchvision's builder: with pretrained weights (the detector's or the
/// backbone's) frozen norm layers and the first stages frozen, without
/// them batch norm and everything trains.
pub fn model_params(ctx: &Ctx, arch: &str) -> Result<usize, String> {
    let weights = given(ctx, "weights", &["COCO_V1", "DEFAULT"])?;
    let backbone = given(
        ctx,
        "weights_backbone",
        &["IMAGENET1K_V1", "IMAGENET1K_V2", "DEFAULT"],
    )?;
    let num_classes = match ctx.param("num_classes") {
        None | Some(Value::Null) => 91,
        Some(_) => ctx.usize_or("num_classes", 91)?,
    };
    if weights && num_classes != 91 {
        return Err(format!(
            "num_classes {num_classes} with COCO weights, which have 91 (torchvision refuses it)"
        ));
    }
    let trainable = match ctx.param("trainable_backbone_layers") {
        None | Some(Value::Null) => None,
        Some(_) => Some(ctx.usize_or("trainable_backbone_layers", 3)?),
    };
    let pretrained = weights || backbone;
    let device = ctx.device();
    let err = |e: zoo_detect::DetectError| e.to_string();
    Ok(match arch {
        "fasterrcnn_resnet50_fpn" => num_trainable_params(
            &fasterrcnn_resnet50_fpn(num_classes, trainable, pretrained, device).map_err(err)?,
        ),
        "fasterrcnn_resnet50_fpn_v2" => num_trainable_params(
            &fasterrcnn_resnet50_fpn_v2(num_classes, trainable, pretrained, device).map_err(err)?,
        ),
        "maskrcnn_resnet50_fpn" => num_trainable_params(
            &maskrcnn_resnet50_fpn(num_classes, trainable, pretrained, device).map_err(err)?,
        ),
        other => return Err(format!("no detection builder `{other}`")),
    })
}

/// A list of lists of numbers (`anchor_sizes`, `aspect_ratios`).
fn nested(ctx: &Ctx, key: &str, default: Vec<Vec<f64>>) -> Result<Vec<Vec<f64>>, String> {
    match ctx.param(key) {
        None => Ok(default),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| format!("param `{key}` must be a list of lists of numbers, got {v}")),
    }
}

fn four(ctx: &Ctx, key: &str, default: [f64; 4]) -> Result<[f64; 4], String> {
    let w = ctx.f64_list_or(key, &default)?;
    w.as_slice()
        .try_into()
        .map_err(|_| format!("param `{key}` must hold 4 numbers, got {w:?}"))
}

/// The `box_roi_pool` object: `featmap_names`, `output_size`, `sampling_ratio`.
fn roi_pool(ctx: &Ctx) -> Result<MultiScaleRoIAlign, String> {
    let Some(v) = ctx.param("box_roi_pool") else {
        return Ok(MultiScaleRoIAlign::new(&["0", "1", "2", "3"], [7, 7], 2));
    };
    let bad = || {
        format!(
            "param `box_roi_pool` must be {{\"featmap_names\": [..], \"output_size\": [h, w], \"sampling_ratio\": n}}, got {v}"
        )
    };
    let names: Vec<String> = v
        .get("featmap_names")
        .and_then(|n| serde_json::from_value(n.clone()).ok())
        .ok_or_else(bad)?;
    let size: [usize; 2] = match v.get("output_size") {
        Some(Value::Number(n)) => {
            let s = n.as_u64().ok_or_else(bad)? as usize;
            [s, s]
        }
        Some(s) => serde_json::from_value(s.clone()).map_err(|_| bad())?,
        None => return Err(bad()),
    };
    let ratio = v
        .get("sampling_ratio")
        .and_then(Value::as_i64)
        .ok_or_else(bad)?;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    Ok(MultiScaleRoIAlign::new(&refs, size, ratio))
}

/// torchvision's `FasterRCNN(BackboneWithFPN(resnet, ...), ...)` in
/// evaluation with the case's weights: each image's boxes (original
/// pixels), scores and labels.
pub fn detection_forward(ctx: &Ctx) -> Result<Outputs, String> {
    let arch = ctx.str_or("arch", "fasterrcnn")?;
    if arch != "fasterrcnn" && arch != "maskrcnn" {
        return Err(format!(
            "arch `{arch}`, expected `fasterrcnn` or `maskrcnn`"
        ));
    }
    let backbone_name = ctx.str_or("backbone", "resnet50_fpn")?;
    let resnet = backbone_name.strip_suffix("_fpn").ok_or_else(|| {
        format!("backbone `{backbone_name}`, expected a ResNet with FPN (`resnet18_fpn`, ...)")
    })?;
    let norm = match ctx.str_or("norm_layer", "FrozenBatchNorm2d")? {
        "FrozenBatchNorm2d" => NormKind::Frozen,
        "BatchNorm2d" => NormKind::BatchNorm,
        other => {
            return Err(format!(
                "norm_layer `{other}`, expected FrozenBatchNorm2d or BatchNorm2d"
            ));
        }
    };
    let extra = match ctx.param("extra_blocks") {
        None | Some(Value::Null) => ExtraBlocks::None,
        Some(Value::String(s)) if s == "LastLevelMaxPool" => ExtraBlocks::LastLevelMaxPool,
        Some(v) => {
            return Err(format!(
                "extra_blocks {v}, expected LastLevelMaxPool or null"
            ));
        }
    };
    let returned = match ctx.param("returned_layers") {
        None | Some(Value::Null) => vec![1, 2, 3, 4],
        Some(_) => ctx.usize_list("returned_layers")?,
    };
    let backbone = ResNetFpnConfig::new(resnet.to_string())
        .with_norm(norm)
        .with_frozen_bn_eps(ctx.f64_or("frozen_bn_eps", 1e-5)?)
        .with_trainable_layers(ctx.usize_or("trainable_layers", 3)?)
        .with_returned_layers(returned)
        .with_out_channels(ctx.usize_or("fpn_out_channels", 256)?)
        .with_extra_blocks(extra)
        .init(ctx.device())
        .map_err(|e| e.to_string())?;

    let d = FasterRcnnConfig::default();
    let rd = RpnSettings::default();
    let hd = RoIHeadsSettings::default();
    let transform = GeneralizedRcnnTransform::new(
        ctx.usize_or("min_size", 800)?,
        ctx.usize_or("max_size", 1333)?,
        ctx.f64_list_or("image_mean", &d.transform.image_mean)?,
        ctx.f64_list_or("image_std", &d.transform.image_std)?,
    )
    .with_size_divisible(ctx.usize_or("size_divisible", 32)?);
    let config = FasterRcnnConfig {
        num_classes: ctx.usize_or("num_classes", 91)?,
        transform,
        anchor_sizes: nested(ctx, "anchor_sizes", d.anchor_sizes.clone())?,
        aspect_ratios: nested(ctx, "aspect_ratios", d.aspect_ratios.clone())?,
        rpn: RpnSettings {
            pre_nms_top_n_test: ctx.usize_or("rpn_pre_nms_top_n_test", rd.pre_nms_top_n_test)?,
            post_nms_top_n_test: ctx.usize_or("rpn_post_nms_top_n_test", rd.post_nms_top_n_test)?,
            nms_thresh: ctx.f64_or("rpn_nms_thresh", rd.nms_thresh)?,
            score_thresh: ctx.f64_or("rpn_score_thresh", rd.score_thresh)?,
            min_size: ctx.f64_or("rpn_min_size", rd.min_size)?,
            ..rd
        },
        box_roi_pool: roi_pool(ctx)?,
        representation_size: ctx.usize_or("representation_size", d.representation_size)?,
        roi_heads: RoIHeadsSettings {
            score_thresh: ctx.f64_or("box_score_thresh", hd.score_thresh)?,
            nms_thresh: ctx.f64_or("box_nms_thresh", hd.nms_thresh)?,
            detections_per_img: ctx.usize_or("box_detections_per_img", hd.detections_per_img)?,
            bbox_reg_weights: four(ctx, "bbox_reg_weights", hd.bbox_reg_weights)?,
            ..hd
        },
        ..d
    };
    let device = ctx.device();
    let err = |e: zoo_detect::DetectError| e.to_string();
    let model = if arch == "maskrcnn" {
        config.init_mask(backbone, device).map_err(err)?
    } else {
        config.init(backbone, device).map_err(err)?
    };
    let model = model
        .load_torch(&super::models::state_dict(ctx))
        .map_err(|e| format!("loading the weights: {e}"))?;

    let mut images = Vec::new();
    while ctx.has(&format!("images.{}", images.len())) {
        images.push(ctx.input_n::<3>(&format!("images.{}", images.len()))?);
    }
    if images.is_empty() {
        return Err("no `in.images.0`".into());
    }
    let detections = model.forward(images).map_err(err)?;
    let mut out = Outputs::default();
    for (i, det) in detections.into_iter().enumerate() {
        out = out
            .float(&format!("boxes.{i}"), DynTensor::new(det.boxes))
            .float(&format!("scores.{i}"), DynTensor::new(det.scores))
            .host(&format!("labels.{i}"), host_ints(det.labels));
        if let Some(m) = det.masks {
            out = out.float(&format!("masks.{i}"), DynTensor::new(m));
        }
    }
    Ok(out)
}

/// An integer output.
fn host_ints(t: Tensor<1, Int>) -> HostTensor {
    let v: Vec<i64> = t.into_data().iter::<i64>().collect();
    HostTensor::from_ints(vec![v.len()], v)
}
