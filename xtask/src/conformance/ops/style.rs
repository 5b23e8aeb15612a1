//! Style transfer: zoo-style.

use zoo_style::losses;

use super::{Ctx, Outputs};
use crate::conformance::value::DynTensor;

pub fn gram_matrix(ctx: &Ctx) -> Result<Outputs, String> {
    let x = ctx.input_n::<4>("features")?;
    Ok(Outputs::default().float("gram", DynTensor::new(losses::gram_matrix(x))))
}

pub fn style_loss(ctx: &Ctx) -> Result<Outputs, String> {
    let x = ctx.input_n::<4>("features")?;
    let g = ctx.input_n::<3>("target_gram")?;
    Ok(Outputs::default().float("loss", DynTensor::scalar(losses::style_loss(x, g))))
}

pub fn content_loss(ctx: &Ctx) -> Result<Outputs, String> {
    let x = ctx.input_n::<4>("features")?;
    let t = ctx.input_n::<4>("target")?;
    Ok(Outputs::default().float("loss", DynTensor::scalar(losses::content_loss(x, t))))
}

pub fn tv_loss(ctx: &Ctx) -> Result<Outputs, String> {
    let x = ctx.input_n::<4>("image")?;
    Ok(Outputs::default().float("loss", DynTensor::scalar(losses::tv_loss(x))))
}
