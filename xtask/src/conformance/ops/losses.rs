//! Losses: zoo-losses.

use burn::tensor::{Int, Tensor};
use zoo_losses::{CeTarget, Reduction};

use super::{Ctx, Outputs};
use crate::conformance::case::Kind;
use crate::conformance::value::DynTensor;

/// torch's `reduction`: `None` for `"none"`.
fn reduction(ctx: &Ctx) -> Result<Option<Reduction>, String> {
    match ctx.str_or("reduction", "mean")? {
        "none" => Ok(None),
        other => other.parse().map(Some),
    }
}

/// The `loss` output: `per_element` itself for `reduction="none"` (with
/// `shape`), else its mean or sum as a 0-d tensor.
fn reduced(ctx: &Ctx, per_element: Tensor<1>, shape: Vec<usize>) -> Result<Outputs, String> {
    let out = match reduction(ctx)? {
        None => DynTensor::new(per_element).with_shape(shape),
        Some(r) => DynTensor::scalar(r.apply(per_element)),
    };
    Ok(Outputs::default().float("loss", out))
}

/// Runs an element-wise loss on `input`/`target` (any rank, same shape) and reduces it.
fn pointwise(
    ctx: &Ctx,
    input: &str,
    f: impl Fn(Tensor<1>, Tensor<1>) -> Tensor<1>,
) -> Result<Outputs, String> {
    let x = ctx.input(input)?;
    let t = ctx.input("target")?;
    if x.shape() != t.shape() {
        return Err(format!(
            "`in.{input}` has shape {:?} but `in.target` has {:?}",
            x.shape(),
            t.shape()
        ));
    }
    let shape = x.shape().to_vec();
    reduced(ctx, f(x.flat(), t.flat()), shape)
}

pub fn mse_loss(ctx: &Ctx) -> Result<Outputs, String> {
    pointwise(ctx, "input", zoo_losses::mse_loss_elementwise)
}

pub fn l1_loss(ctx: &Ctx) -> Result<Outputs, String> {
    pointwise(ctx, "input", zoo_losses::l1_loss_elementwise)
}

pub fn smooth_l1_loss(ctx: &Ctx) -> Result<Outputs, String> {
    let beta = ctx.f64_or("beta", 1.0)?;
    if beta < 0.0 {
        return Err(format!("beta must be >= 0, got {beta}"));
    }
    pointwise(ctx, "input", |x, t| {
        zoo_losses::smooth_l1_loss_elementwise(x, t, beta)
    })
}

pub fn huber_loss(ctx: &Ctx) -> Result<Outputs, String> {
    let delta = ctx.f64_or("delta", 1.0)?;
    if delta <= 0.0 {
        return Err(format!("delta must be > 0, got {delta}"));
    }
    pointwise(ctx, "input", |x, t| {
        zoo_losses::huber_loss_elementwise(x, t, delta)
    })
}

pub fn bce_with_logits(ctx: &Ctx) -> Result<Outputs, String> {
    pointwise(ctx, "logits", zoo_losses::bce_with_logits_elementwise)
}

pub fn cross_entropy(ctx: &Ctx) -> Result<Outputs, String> {
    let smoothing = ctx.f64_or("label_smoothing", 0.0)?;
    if !(0.0..=1.0).contains(&smoothing) {
        return Err(format!(
            "label_smoothing must be in [0, 1], got {smoothing}"
        ));
    }
    let ignore = match ctx.param("ignore_index") {
        None => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| format!("ignore_index {v}: expected an integer"))?,
        ),
    };
    if ctx.input("logits")?.shape().len() == 4 {
        return cross_entropy_pixels(ctx, smoothing, ignore);
    }
    if ignore.is_some() {
        return Err("ignore_index is implemented for [N, C, H, W] logits".into());
    }
    let logits = ctx.input_n::<2>("logits")?;
    let [n, c] = logits.dims();
    let target = match ctx.host("target")?.kind() {
        Kind::Int => CeTarget::Classes(classes(ctx, n, c)?),
        Kind::Float => {
            let probs = ctx.input_n::<2>("target")?;
            if probs.dims() != [n, c] {
                return Err(format!(
                    "probability targets must be [{n}, {c}], got {:?}",
                    probs.dims()
                ));
            }
            CeTarget::Probs(probs)
        }
    };
    let loss = zoo_losses::cross_entropy_elementwise(logits, target, smoothing);
    reduced(ctx, loss, vec![n])
}

pub fn half_mse_loss(ctx: &Ctx) -> Result<Outputs, String> {
    let x = ctx.input("input")?;
    let t = ctx.input("target")?;
    if x.shape() != t.shape() || x.shape().is_empty() {
        return Err(format!(
            "`in.input` {:?} and `in.target` {:?} must have the same shape [N, ...]",
            x.shape(),
            t.shape()
        ));
    }
    let n = x.shape()[0];
    let rest = x.shape().iter().skip(1).product::<usize>();
    let loss = zoo_losses::half_mse_loss(x.flat().reshape([n, rest]), t.flat().reshape([n, rest]));
    Ok(Outputs::default().float("loss", DynTensor::scalar(loss)))
}

/// `F.cross_entropy` over the pixels of `[N, C, H, W]` logits.
fn cross_entropy_pixels(ctx: &Ctx, smoothing: f64, ignore: Option<i64>) -> Result<Outputs, String> {
    let logits = ctx.input_n::<4>("logits")?;
    let [n, c, h, w] = logits.dims();
    let target = ctx.int_input_n::<3>("target")?;
    if target.dims() != [n, h, w] {
        return Err(format!(
            "pixel targets must be [{n}, {h}, {w}], got {:?}",
            target.dims()
        ));
    }
    if let Some(bad) = ctx
        .host("target")?
        .ints
        .iter()
        .find(|&&k| Some(k) != ignore && (k < 0 || k as usize >= c))
    {
        return Err(format!("class target {bad} is outside 0..{c}"));
    }
    let out = match reduction(ctx)? {
        None => DynTensor::new(zoo_losses::cross_entropy_pixels_elementwise(
            logits, target, smoothing, ignore,
        )),
        Some(r) => DynTensor::scalar(zoo_losses::cross_entropy_pixels(
            logits, target, smoothing, ignore, r,
        )),
    };
    Ok(Outputs::default().float("loss", out))
}

fn classes(ctx: &Ctx, n: usize, c: usize) -> Result<Tensor<1, Int>, String> {
    let target = ctx.int_input_n::<1>("target")?;
    if target.dims() != [n] {
        return Err(format!(
            "class targets must be [{n}], got {:?}",
            target.dims()
        ));
    }
    if let Some(bad) = ctx
        .host("target")?
        .ints
        .iter()
        .find(|&&k| k < 0 || k as usize >= c)
    {
        return Err(format!("class target {bad} is outside 0..{c}"));
    }
    Ok(target)
}

pub fn multiclass_svm_loss(ctx: &Ctx) -> Result<Outputs, String> {
    let scores = ctx.input_n::<2>("scores")?;
    let [n, c] = scores.dims();
    let target = classes(ctx, n, c)?;
    let loss =
        zoo_losses::multiclass_svm_loss_elementwise(scores, target, ctx.f64_or("margin", 1.0)?);
    reduced(ctx, loss, vec![n])
}

pub fn perplexity(ctx: &Ctx) -> Result<Outputs, String> {
    let logits = ctx.input_n::<2>("logits")?;
    let [n, c] = logits.dims();
    let target = classes(ctx, n, c)?;
    let p = zoo_losses::perplexity(logits, target);
    Ok(Outputs::default().float("perplexity", DynTensor::scalar(p)))
}

pub fn l2_penalty(ctx: &Ctx) -> Result<Outputs, String> {
    let w = ctx.input("weight")?;
    let p = zoo_losses::l2_penalty(w.flat(), ctx.f64("lambda")?);
    Ok(Outputs::default().float("penalty", DynTensor::scalar(p)))
}

pub fn l1_penalty(ctx: &Ctx) -> Result<Outputs, String> {
    let w = ctx.input("weight")?;
    let p = zoo_losses::l1_penalty(w.flat(), ctx.f64("lambda")?);
    Ok(Outputs::default().float("penalty", DynTensor::scalar(p)))
}
