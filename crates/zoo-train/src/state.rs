//! [`ModelState`]: one model and its optimizer, the whole state of a
//! one-model task (a detector, a segmenter, a VAE, a language model). It
//! gives the task's [`crate::task::Task::save`], `load` and
//! `weights_finite` in one line each, and its optimizer step, so a new
//! task writes only its loader, its step and its measures.

use std::path::Path;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};

use crate::checkpoint::{load_model_and_optim, save_model_and_optim};
use crate::error::TrainError;
use crate::trainer::weights_finite;

/// One model (on the training device) and its optimizer.
#[derive(Clone)]
pub struct ModelState<M> {
    /// `None` only inside [`ModelState::step`].
    model: Option<M>,
    optim: ModuleOptimizer,
}

impl<M: Module + Clone> ModelState<M> {
    /// `model` to be trained by `optim`.
    pub fn new(model: M, optim: ModuleOptimizer) -> Self {
        Self {
            model: Some(model),
            optim,
        }
    }

    /// The model.
    pub fn model(&self) -> &M {
        self.model.as_ref().expect("a model between steps")
    }

    /// One optimizer step at `lr` with `grads` (computed from
    /// [`ModelState::model`]'s forward pass).
    pub fn step(&mut self, lr: f64, grads: GradientsParams) {
        let model = self.model.take().expect("a model between steps");
        self.model = Some(self.optim.step(lr, model, grads));
    }

    /// A step that needs the model by value and the optimizer (a step
    /// function of a library, such as the language model's `lm_step`):
    /// `f` returns the updated model and what else it measured.
    pub fn update<R>(&mut self, f: impl FnOnce(M, &mut ModuleOptimizer) -> (M, R)) -> R {
        let model = self.model.take().expect("a model between steps");
        let (model, r) = f(model, &mut self.optim);
        self.model = Some(model);
        r
    }

    /// Writes `model.bpk` and `optim.bpk` into `dir`: the task's `save`.
    pub fn save(&self, dir: &Path) -> Result<Vec<String>, TrainError> {
        save_model_and_optim(dir, self.model(), &self.optim)
    }

    /// Loads what [`ModelState::save`] wrote, all or nothing: the task's `load`.
    pub fn load(&mut self, dir: &Path) -> Result<(), String> {
        let (model, optim) = load_model_and_optim(dir, self.model().clone(), self.optim.clone())?;
        self.model = Some(model);
        self.optim = optim;
        Ok(())
    }

    /// Whether every weight is finite: the task's `weights_finite`.
    pub fn weights_finite(&self) -> bool {
        weights_finite(self.model())
    }

    /// The model and the optimizer, after training.
    pub fn into_parts(self) -> (M, ModuleOptimizer) {
        (self.model.expect("a model between steps"), self.optim)
    }
}
