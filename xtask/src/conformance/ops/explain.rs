//! Understanding networks: saliency and occlusion maps of a registry model
//! with the case's weights, t-SNE's affinities and gradient (zoo-explain).

use burn::module::Module;
use burn::tensor::Tensor;
use zoo_explain::{occlusion, saliency, tsne};
use zoo_models::registry;

use super::super::case::HostTensor;
use super::super::value::DynTensor;
use super::{Ctx, Outputs};

fn classes(ctx: &Ctx) -> Result<Vec<usize>, String> {
    ctx.host("y")?
        .ints
        .iter()
        .map(|&v| usize::try_from(v).map_err(|_| format!("in.y: class {v} is negative")))
        .collect()
}

/// The registry's `arch` with the case's weights, on `device`.
fn model(ctx: &Ctx, device: &burn::tensor::Device) -> Result<registry::Model, String> {
    let arch = ctx.str_or("arch", "")?;
    // The builder's arguments: the params less the map's own.
    let mut params = ctx.params().clone();
    for own in ["patch", "stride", "fill"] {
        params.remove(own);
    }
    let args = super::models::model_args(&params).map_err(|e| e.to_string())?;
    let m = registry::create(arch, &args, device).map_err(|e| e.to_string())?;
    m.load_torchvision(&super::models::state_dict(ctx))
        .map_err(|e| format!("loading the weights: {e}"))
}

/// CS231n's `compute_saliency_maps` (the model frozen on the autodiff device).
pub fn saliency_map(ctx: &Ctx) -> Result<Outputs, String> {
    let ad = ctx.device().clone().autodiff();
    let net = model(ctx, &ad)?.freeze();
    let x: Tensor<4> = Tensor::from_data(ctx.input_n::<4>("x")?.into_data(), &ad);
    let y = classes(ctx)?;
    let s = saliency::saliency_map(|x| net.forward(x), x, &y).map_err(|e| e.to_string())?;
    Ok(Outputs::default().float(
        "saliency",
        DynTensor::new(s.inner().to_device(ctx.device())),
    ))
}

/// Zeiler & Fergus' occlusion map (the model in evaluation mode).
pub fn occlusion_map(ctx: &Ctx) -> Result<Outputs, String> {
    let net = model(ctx, ctx.device())?.valid();
    let x: Tensor<4> = ctx.input_n("x")?;
    let y = classes(ctx)?;
    let patch = ctx.usize_or("patch", 0)?;
    let stride = ctx.usize_or("stride", 1)?;
    let fill = ctx.f64_or("fill", 0.0)?;
    let m = occlusion::occlusion_map(|x| net.forward(x), x, &y, patch, stride, fill)
        .map_err(|e| e.to_string())?;
    Ok(Outputs::default().float("map", DynTensor::new(m)))
}

fn host_f64(ctx: &Ctx, name: &str) -> Result<(Vec<f64>, Vec<usize>), String> {
    let t = ctx.host(name)?;
    Ok((
        t.floats.iter().map(|&v| v as f64).collect(),
        t.shape.clone(),
    ))
}

/// scikit-learn's `_joint_probabilities` as a square matrix.
pub fn tsne_affinities(ctx: &Ctx) -> Result<Outputs, String> {
    let (x, shape) = host_f64(ctx, "x")?;
    let [n, d] = <[usize; 2]>::try_from(shape.clone())
        .map_err(|_| format!("in.x of shape {shape:?}, expected [n, d]"))?;
    let p =
        tsne::joint_probabilities(&x, n, d, ctx.f64("perplexity")?).map_err(|e| e.to_string())?;
    Ok(Outputs::default().host(
        "p",
        HostTensor::from_floats(vec![n, n], p.into_iter().map(|v| v as f32).collect()),
    ))
}

/// scikit-learn's `_kl_divergence` (exact).
pub fn tsne_gradient(ctx: &Ctx) -> Result<Outputs, String> {
    let (p, _) = host_f64(ctx, "p")?;
    let (y, shape) = host_f64(ctx, "y")?;
    let [n, k] = <[usize; 2]>::try_from(shape.clone())
        .map_err(|_| format!("in.y of shape {shape:?}, expected [n, k]"))?;
    let dof = ctx.f64_or("degrees_of_freedom", 1.0)?;
    let (kl, grad) = tsne::kl_divergence(&p, &y, n, k, dof).map_err(|e| e.to_string())?;
    Ok(Outputs::default()
        .host("kl", HostTensor::from_floats(vec![], vec![kl as f32]))
        .host(
            "grad",
            HostTensor::from_floats(vec![n, k], grad.into_iter().map(|v| v as f32).collect()),
        ))
}
