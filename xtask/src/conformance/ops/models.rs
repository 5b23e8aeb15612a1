//! Architectures: zoo-models' registry.

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use zoo_layers::params::num_trainable_params;
use zoo_models::registry::{self, ARG_NAMES, ModelArgs, RegistryError};
use zoo_models::weights::{StateDict, load_state_dict};

use super::{Ctx, Outputs};
use crate::conformance::case::HostTensor;
use crate::conformance::value::DynTensor;

/// Whether the registry has `arch` (`<name>_features`: a model with a
/// `features` trunk).
pub fn known(arch: &str) -> bool {
    if super::segmentation::known(arch)
        || super::generative::known(arch)
        || super::detection_models::known(arch)
    {
        return true;
    }
    match arch.strip_suffix("_features") {
        Some(base) => registry::info(base).is_some_and(|m| m.weights.is_some()),
        None => registry::info(arch).is_some(),
    }
}

pub(super) fn args(ctx: &Ctx) -> Result<ModelArgs, String> {
    model_args(ctx.params()).map_err(|e| e.to_string())
}

/// Arguments from a JSON object (`{"num_classes": 10, "input_size": [96, 96]}`),
/// as the parity cases spell a builder's arguments. `arch` (the name)
/// and torchvision's `init_weights` (the initialisation scheme, not the
/// network) are accepted and ignored; other keys outside `ARG_NAMES`
/// are errors.
pub(super) fn model_args(
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<ModelArgs, RegistryError> {
    let bad = |key: &str, expected: &str, v: &serde_json::Value| RegistryError::Arg {
        arg: key.to_string(),
        reason: format!("{v} is not {expected}"),
    };
    let mut a = ModelArgs::default();
    for (k, v) in map {
        let uint = || {
            v.as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| bad(k, "a non-negative integer", v))
        };
        let boolean = || v.as_bool().ok_or_else(|| bad(k, "true or false", v));
        match k.as_str() {
            "num_classes" => a.num_classes = Some(uint()?),
            "in_channels" => a.in_channels = Some(uint()?),
            "conv1_padding" => a.conv1_padding = Some(uint()?),
            "num_channels" => a.num_channels = Some(uint()?),
            "growth_rate" => a.growth_rate = Some(uint()?),
            "aux_logits" => a.aux_logits = Some(boolean()?),
            "transform_input" => a.transform_input = Some(boolean()?),
            "relu" => a.relu = Some(boolean()?),
            "input_size" => {
                a.input_size = Some(
                    serde_json::from_value::<[usize; 2]>(v.clone())
                        .map_err(|_| bad(k, "[height, width]", v))?,
                )
            }
            "blocks" => {
                let b: Vec<serde_json::Value> = v
                    .as_array()
                    .cloned()
                    .ok_or_else(|| bad(k, "a list of blocks", v))?;
                let blocks = b
                    .iter()
                    .map(|e| match e {
                        serde_json::Value::Array(_) => {
                            serde_json::from_value::<Vec<usize>>(e.clone()).ok()
                        }
                        _ => e.as_u64().map(|n| vec![n as usize]),
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad(k, "[[convs, channels], ...] or [convs, ...]", v))?;
                a.blocks = Some(blocks);
            }
            "arch" | "init_weights" => {}
            other => {
                return Err(RegistryError::Arg {
                    arg: other.to_string(),
                    reason: format!("unknown argument, expected one of {}", ARG_NAMES.join(", ")),
                });
            }
        }
    }
    Ok(a)
}

/// `sum(p.numel() for p in model.parameters())` of the registry's model.
pub fn model_params(ctx: &Ctx) -> Result<Outputs, String> {
    let arch = ctx.str_or("arch", "")?;
    let count = if super::segmentation::known(arch) {
        super::segmentation::model_params(ctx, arch)?
    } else if super::generative::known(arch) {
        super::generative::model_params(ctx, arch)?
    } else if super::detection_models::known(arch) {
        super::detection_models::model_params(ctx, arch)?
    } else {
        let model = registry::create(arch, &args(ctx)?, ctx.device()).map_err(|e| e.to_string())?;
        num_trainable_params(&model)
    };
    Ok(Outputs::default().host(
        "num_params",
        HostTensor::from_ints(vec![], vec![count as i64]),
    ))
}

pub(super) fn state_dict(ctx: &Ctx) -> StateDict {
    let mut sd = StateDict::new();
    for (key, t) in ctx.weights() {
        let data = if t.floats.is_empty() && !t.ints.is_empty() {
            TensorData::new(t.ints.clone(), t.shape.clone())
        } else {
            TensorData::new(t.floats.clone(), t.shape.clone())
        };
        sd.insert(key.clone(), data);
    }
    sd
}

/// torchvision's model in evaluation mode with the case's weights.
pub fn model_forward(ctx: &Ctx) -> Result<Outputs, String> {
    let arch = ctx.str_or("arch", "")?;
    let sd = state_dict(ctx);
    if super::generative::known(arch) {
        return super::generative::model_forward(ctx, arch, &sd);
    }
    let x: Tensor<4> = ctx.input_n("x")?;
    if super::segmentation::known(arch) {
        return super::segmentation::model_forward(ctx, arch, x, &sd);
    }
    let err = |e: zoo_models::weights::WeightsError| format!("loading the weights: {e}");
    let (base, trunk) = match arch.strip_suffix("_features") {
        Some(base) => (base, true),
        None => (arch, false),
    };
    let model = registry::create(base, &args(ctx)?, ctx.device()).map_err(|e| e.to_string())?;
    if trunk {
        let keys = |p: &str| {
            let k = model.torchvision_key(p);
            k.starts_with("features.").then_some(k)
        };
        let model = load_state_dict(model.clone(), &sd, &keys).map_err(err)?;
        let out = model
            .valid()
            .features(x)
            .ok_or_else(|| format!("`{base}` has no features trunk"))?;
        Ok(Outputs::default().float("features", DynTensor::new(out)))
    } else {
        let model = model.load_torchvision(&sd).map_err(err)?;
        Ok(Outputs::default().float("logits", DynTensor::new(model.valid().forward(x))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_arguments_from_json() {
        let json: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
            r#"{"num_classes": 10, "blocks": [[1, 64], [2, 128]], "arch": "x"}"#,
        )
        .unwrap();
        let a = model_args(&json).unwrap();
        assert_eq!(a.num_classes, Some(10));
        assert_eq!(a.blocks, Some(vec![vec![1, 64], vec![2, 128]]));
        let json: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"num_classes": 10, "depth": 3}"#).unwrap();
        let e = model_args(&json).unwrap_err().to_string();
        assert!(e.contains("depth") && e.contains("num_classes"), "{e}");
        let json: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"num_classes": -1}"#).unwrap();
        assert!(
            model_args(&json)
                .unwrap_err()
                .to_string()
                .contains("non-negative")
        );
    }
}
