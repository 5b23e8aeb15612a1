//! Architectures: zoo-models.

use burn::module::Module;
use zoo_models::lenet::LeNetConfig;

use super::{Ctx, Outputs};
use crate::conformance::case::HostTensor;

/// The `arch` names of `model_params` the project implements.
pub const PARAM_ARCHS: [&str; 1] = ["d2l_lenet"];

pub fn model_params(ctx: &Ctx) -> Result<Outputs, String> {
    let arch = ctx.str_or("arch", "")?;
    let count = match arch {
        "d2l_lenet" => {
            let size = ctx.pair_or("input_size", [28, 28])?;
            let config = LeNetConfig::new()
                .with_in_channels(ctx.usize_or("in_channels", 1)?)
                .with_num_classes(ctx.usize_or("num_classes", 10)?)
                .with_input_size(size)
                .with_conv1_padding(ctx.usize_or("conv1_padding", 2)?);
            config.flat_features()?;
            // No running statistics in LeNet: burn's count equals torch's parameters().
            config.init(ctx.device()).num_params()
        }
        other => return Err(format!("arch `{other}` is not implemented")),
    };
    Ok(Outputs::default().host(
        "num_params",
        HostTensor::from_ints(vec![], vec![count as i64]),
    ))
}
