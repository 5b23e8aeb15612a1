//! Stochastic depth (Huang et al. 2016) as `torchvision.ops.stochastic_depth`:
//! during training, a residual branch is dropped with probability `p`, per
//! sample (`row`) or for the whole batch (`batch`), and kept branches are
//! scaled by `1 / (1 - p)`; at evaluation the branch passes unchanged.

use burn::module::{Flag, Module, Param};
use burn::tensor::{Distribution, Tensor};

/// Whether one draw drops the branch of every sample or each sample has its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One draw per sample (torchvision's `"row"`).
    Row,
    /// One draw for the batch (`"batch"`).
    Batch,
}

impl Mode {
    /// `row` or `batch`; another name is an error listing them.
    pub fn from_name(name: &str) -> Result<Self, String> {
        match name {
            "row" => Ok(Self::Row),
            "batch" => Ok(Self::Batch),
            other => Err(format!(
                "stochastic depth mode `{other}`, expected row or batch"
            )),
        }
    }
}

/// `torchvision.ops.stochastic_depth(input, p, mode, training)`: `input`
/// (a residual branch, `[N, ...]`) times a Bernoulli(`1 - p`) mask of shape
/// `[N, 1, ...]` (row) or `[1, ...]` (batch), divided by `1 - p`; the
/// input itself when not training or `p` is 0. The mask is drawn from the
/// device's generator (seeded by the training loop).
///
/// # Panics
/// When `p` is outside `[0, 1]` (torchvision raises the same).
pub fn stochastic_depth<const D: usize>(
    input: Tensor<D>,
    p: f64,
    mode: Mode,
    training: bool,
) -> Tensor<D> {
    assert!(
        (0.0..=1.0).contains(&p),
        "drop probability has to be between 0 and 1, but got {p}"
    );
    if !training || p == 0.0 {
        return input;
    }
    let dims = input.dims();
    let mut shape = [1usize; D];
    if mode == Mode::Row {
        shape[0] = dims[0];
    }
    let survival = 1.0 - p;
    let noise = Tensor::<D>::random(shape, Distribution::Bernoulli(survival), &input.device());
    let noise = if survival > 0.0 {
        noise.div_scalar(survival)
    } else {
        noise
    };
    input * noise
}

/// `torchvision.ops.StochasticDepth(p, mode)` as a module: active while its
/// `training` flag is set and the input is on an autodiff device (as burn's
/// dropout).
#[derive(Module, Debug)]
pub struct StochasticDepth {
    /// The drop probability.
    pub p: f64,
    /// Row (per sample) or batch.
    #[module(skip)]
    pub mode: Mode,
    /// Whether to behave as during training (cleared by `Module::valid`
    /// and evaluation).
    pub training: Param<Flag>,
}

impl StochasticDepth {
    /// A layer dropping with probability `p` (in `[0, 1]`) per `mode`.
    pub fn new(p: f64, mode: Mode) -> Result<Self, String> {
        if !(0.0..=1.0).contains(&p) {
            return Err(format!(
                "stochastic depth p {p}, expected a value in [0, 1]"
            ));
        }
        Ok(Self {
            p,
            mode,
            training: Param::from_bool(true),
        })
    }

    /// The branch, dropped or scaled while training.
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        let training = self.training.is_enabled() && input.device().is_autodiff();
        stochastic_depth(input, self.p, self.mode, training)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_dropped_with_frequency_p_and_kept_ones_scaled() {
        let device = zoo_device::from_name("flex").unwrap();
        device.seed(3);
        let n = 20_000;
        let x = Tensor::<2>::ones([n, 3], &device);
        let y: Vec<f32> = stochastic_depth(x.clone(), 0.2, Mode::Row, true)
            .into_data()
            .try_into_vec_as()
            .unwrap();
        let mut dropped = 0;
        for row in y.chunks(3) {
            // A whole row is dropped or kept, kept rows scaled by 1 / 0.8.
            assert!(row.iter().all(|v| *v == row[0]));
            if row[0] == 0.0 {
                dropped += 1;
            } else {
                assert!((row[0] - 1.25).abs() < 1e-6);
            }
        }
        // 4,000 expected; 5 standard deviations (283).
        assert!((3717..=4283).contains(&dropped), "{dropped}");
        let same: Vec<f32> = stochastic_depth(x, 0.2, Mode::Row, false)
            .into_data()
            .try_into_vec_as()
            .unwrap();
        assert!(same.iter().all(|v| *v == 1.0));
        let b: Vec<f32> =
            stochastic_depth(Tensor::<2>::ones([50, 2], &device), 0.5, Mode::Batch, true)
                .into_data()
                .try_into_vec_as()
                .unwrap();
        assert!(b.iter().all(|v| *v == b[0]) && (b[0] == 0.0 || b[0] == 2.0));
        assert!(StochasticDepth::new(1.5, Mode::Row).is_err());
    }
}
