//! Architectures: zoo-models' registry.

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use zoo_layers::params::num_trainable_params;
use zoo_models::registry::{self, ModelArgs};
use zoo_models::weights::{StateDict, load_state_dict};

use super::{Ctx, Outputs};
use crate::conformance::case::HostTensor;
use crate::conformance::value::DynTensor;

/// Whether the registry has `arch` (`<name>_features`: a model with a
/// `features` trunk).
pub fn known(arch: &str) -> bool {
    match arch.strip_suffix("_features") {
        Some(base) => registry::info(base).is_some_and(|m| m.weights.is_some()),
        None => registry::info(arch).is_some(),
    }
}

fn args(ctx: &Ctx) -> Result<ModelArgs, String> {
    ModelArgs::from_json(ctx.params()).map_err(|e| e.to_string())
}

/// `sum(p.numel() for p in model.parameters())` of the registry's model.
pub fn model_params(ctx: &Ctx) -> Result<Outputs, String> {
    let arch = ctx.str_or("arch", "")?;
    let model = registry::create(arch, &args(ctx)?, ctx.device()).map_err(|e| e.to_string())?;
    let count = num_trainable_params(&model);
    Ok(Outputs::default().host(
        "num_params",
        HostTensor::from_ints(vec![], vec![count as i64]),
    ))
}

fn state_dict(ctx: &Ctx) -> StateDict {
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
    let x: Tensor<4> = ctx.input_n("x")?;
    let sd = state_dict(ctx);
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
