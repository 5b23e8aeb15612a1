//! R-CNN's region proposals: Felzenszwalb's graph segmentation
//! (zoo-classic's `segment`, scikit-image's semantics).

use zoo_classic::segment;

use super::super::case::HostTensor;
use super::{Ctx, Outputs};

/// `skimage.segmentation.felzenszwalb` of one image `[3, H, W]`, labels
/// renumbered by first appearance.
pub fn felzenszwalb(ctx: &Ctx) -> Result<Outputs, String> {
    let scale = ctx.f64_or("scale", 1.0)?;
    let sigma = ctx.f64_or("sigma", 0.8)?;
    let min_size = ctx.usize_or("min_size", 20)?;
    let image = ctx.input_n::<3>("image")?;
    let [_, h, w] = image.dims();
    let pixels = image
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    let labels =
        segment::felzenszwalb(&pixels, h, w, scale, sigma, min_size).map_err(|e| e.to_string())?;
    Ok(Outputs::default().host(
        "labels",
        HostTensor::from_ints(vec![h, w], labels.into_iter().map(|l| l as i64).collect()),
    ))
}
