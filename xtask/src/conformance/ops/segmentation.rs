//! Semantic segmentation: torchvision's confusion-matrix metrics, d2l's VOC
//! colour map, and the FCN architectures.

use burn::module::Module;
use burn::tensor::Tensor;
use zoo_layers::params::num_trainable_params;
use zoo_models::fcn::{D2lFcnConfig, FcnConfig};
use zoo_train::metrics::ConfusionMatrix;

use super::{Ctx, Outputs};
use crate::conformance::case::HostTensor;
use crate::conformance::value::DynTensor;

/// torchvision's `ConfusionMatrix` (rows target, columns prediction) and
/// the measures computed from it.
pub fn segmentation_metrics(ctx: &Ctx) -> Result<Outputs, String> {
    let k = ctx.usize_or("num_classes", 0)?;
    if k == 0 {
        return Err("num_classes 0, expected at least 1".into());
    }
    let pred = ctx.host("pred")?;
    let target = ctx.host("target")?;
    if pred.shape != target.shape {
        return Err(format!(
            "pred {:?} and target {:?} differ in shape",
            pred.shape, target.shape
        ));
    }
    // Targets outside [0, k) are ignored (ignore_index, usually 255, is one of them).
    let mut cm = ConfusionMatrix::new(k);
    cm.add_pixels(&pred.ints, &target.ints)?;
    let confusion: Vec<i64> = (0..k)
        .flat_map(|t| (0..k).map(move |p| (t, p)))
        .map(|(t, p)| cm.count(t, p) as i64)
        .collect();
    let per_class = |f: &dyn Fn(usize) -> f64| (0..k).map(|c| f(c) as f32).collect::<Vec<_>>();
    Ok(Outputs::default()
        .host("confusion", HostTensor::from_ints(vec![k, k], confusion))
        .host(
            "pixel_accuracy",
            HostTensor::from_floats(vec![], vec![cm.pixel_accuracy() as f32]),
        )
        .host(
            "class_accuracy",
            HostTensor::from_floats(vec![k], per_class(&|c| cm.class_accuracy(c))),
        )
        .host(
            "iou",
            HostTensor::from_floats(vec![k], per_class(&|c| cm.iou(c))),
        )
        .host(
            "mean_iou",
            HostTensor::from_floats(vec![], vec![cm.mean_iou() as f32]),
        ))
}

/// d2l's `voc_label_indices` of an RGB label image `[3, H, W]`.
pub fn voc_label_indices(ctx: &Ctx) -> Result<Outputs, String> {
    let map = ctx.host("colormap")?;
    let [c, h, w] = <[usize; 3]>::try_from(map.shape.clone())
        .map_err(|_| format!("colormap of shape {:?}, expected [3, H, W]", map.shape))?;
    if c != 3 {
        return Err(format!("colormap of {c} channels, expected 3 (RGB)"));
    }
    let byte = |v: i64| u8::try_from(v).map_err(|_| format!("colour value {v} outside 0..=255"));
    let mut rgb = Vec::with_capacity(3 * h * w);
    for i in 0..h * w {
        for ch in 0..3 {
            rgb.push(byte(map.ints[ch * h * w + i])?);
        }
    }
    let labels = zoo_datasets::segmentation::voc_label_indices(&rgb)
        .into_iter()
        .map(i64::from)
        .collect();
    Ok(Outputs::default().host("labels", HostTensor::from_ints(vec![h, w], labels)))
}

/// The segmentation architectures the runner knows.
pub fn known(arch: &str) -> bool {
    matches!(arch, "d2l_fcn" | "fcn_resnet50" | "fcn_resnet101")
}

fn fcn_config(ctx: &Ctx, arch: &str) -> Result<FcnConfig, String> {
    let depth = match arch {
        "fcn_resnet50" => 50,
        _ => 101,
    };
    Ok(FcnConfig::new(depth)
        .with_num_classes(ctx.usize_or("num_classes", 21)?)
        .with_aux_loss(ctx.bool_or("aux_loss", false)?))
}

fn d2l_config(ctx: &Ctx) -> Result<D2lFcnConfig, String> {
    let c = ctx.usize_or("num_classes", 21)?;
    if c == 0 {
        return Err("num_classes 0, expected at least 1".into());
    }
    Ok(D2lFcnConfig::new(c))
}

/// `sum(p.numel())` of a segmentation network.
pub fn model_params(ctx: &Ctx, arch: &str) -> Result<usize, String> {
    Ok(match arch {
        "d2l_fcn" => num_trainable_params(&d2l_config(ctx)?.init(ctx.device())),
        _ => num_trainable_params(&fcn_config(ctx, arch)?.init(ctx.device())),
    })
}

/// A segmentation network in evaluation mode with the case's weights.
pub fn model_forward(
    ctx: &Ctx,
    arch: &str,
    x: Tensor<4>,
    sd: &zoo_models::weights::StateDict,
) -> Result<Outputs, String> {
    let err = |e: zoo_models::weights::WeightsError| format!("loading the weights: {e}");
    match arch {
        "d2l_fcn" => {
            let net = d2l_config(ctx)?
                .init(ctx.device())
                .load_torch(sd)
                .map_err(err)?
                .valid();
            Ok(Outputs::default().float("logits", DynTensor::new(net.forward(x))))
        }
        _ => {
            let net = fcn_config(ctx, arch)?
                .init(ctx.device())
                .load_torch(sd)
                .map_err(err)?
                .valid();
            let out = net.forward(x);
            let mut o = Outputs::default().float("out", DynTensor::new(out.out));
            if let Some(aux) = out.aux {
                o = o.float("aux", DynTensor::new(aux));
            }
            Ok(o)
        }
    }
}
