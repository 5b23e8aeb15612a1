//! The course's language-model training (d2l's `train_epoch_ch8`): each
//! batch's mean cross-entropy over the time-major logits, backpropagation
//! through the batch's steps, the gradients clipped by their global norm
//! with d2l's rule, one optimizer step; the state fresh at every batch with
//! random sampling, carried over and detached (truncated backpropagation
//! through time) with sequential sampling.

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Int, Tensor};
use zoo_layers::recurrent::{RecurrentError, RnnState};
use zoo_losses::{CeTarget, Reduction};
use zoo_models::rnn_lm::RnnLm;
use zoo_optim::clip::{ClipRule, clip_module_grads};

/// What [`lm_step`] returns.
pub struct LmStep {
    /// The model after the step.
    pub model: RnnLm,
    /// The batch's mean cross-entropy before the step (detached, `[1]`).
    pub loss: Tensor<1>,
    /// The final state, detached (to carry into the next batch).
    pub state: RnnState,
    /// The gradients' global norm before clipping.
    pub grad_norm: f64,
}

/// One step of `train_epoch_ch8` on `x`, `y` (`[N, T]` token indices):
/// `state` is the previous batch's (already detached) or `None` for a zero
/// state; the gradients are clipped to the global norm `theta` with d2l's
/// rule (scaled by `theta / norm` only above `theta`) before `optim` steps
/// at `lr`.
pub fn lm_step(
    model: RnnLm,
    optim: &mut ModuleOptimizer,
    x: Tensor<2, Int>,
    y: Tensor<2, Int>,
    state: Option<RnnState>,
    lr: f64,
    theta: f64,
) -> Result<LmStep, RecurrentError> {
    if x.dims() != y.dims() {
        return Err(RecurrentError::Shape {
            what: "targets y".into(),
            got: y.dims().to_vec(),
            expected: format!("{:?}, the inputs' shape", x.dims()),
        });
    }
    let [n, t] = y.dims();
    let (logits, state) = model.forward(x, state.map(RnnState::detach))?;
    // d2l: y = Y.T.reshape(-1), the time-major order of the logits.
    let targets = y.transpose().reshape([t * n]);
    let loss = zoo_losses::cross_entropy(logits, CeTarget::Classes(targets), 0.0, Reduction::Mean);
    let mean = loss.clone().detach();
    let mut grads = GradientsParams::from_grads(loss.backward(), &model);
    let grad_norm = clip_module_grads(&model, &mut grads, theta, ClipRule::D2l);
    let model = optim.step(lr, model, grads);
    Ok(LmStep {
        model,
        loss: mean,
        state: state.detach(),
        grad_norm,
    })
}
