//! The course's language-model training (d2l's `train_epoch_ch8`): each
//! batch's mean cross-entropy over the time-major logits, backpropagation
//! through the batch's steps, the gradients clipped by their global norm
//! with d2l's rule, one optimizer step; the state fresh at every batch with
//! random sampling, carried over and detached (truncated backpropagation
//! through time) with sequential sampling.

use std::path::Path;
use std::sync::Arc;

use burn::data::dataloader::DataLoader;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use zoo_datasets::text::{SeqBatch, SeqRng, seq_data_iter_random, seq_data_iter_sequential};
use zoo_layers::recurrent::{RecurrentError, RnnState};
use zoo_losses::{CeTarget, Reduction};
use zoo_models::rnn_lm::RnnLm;
use zoo_optim::clip::{ClipRule, clip_module_grads};

use crate::error::TrainError;
use crate::loader::{IndexLoader, MakeBatch};
use crate::state::ModelState;
use crate::task::{Step, Task};

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

/// What writes the sample text shown every few epochs.
pub type Sampler = Box<dyn Fn(&RnnLm) -> String + Send>;

/// A batch of the language model: inputs and targets `[N, T]` on the
/// training device, and whether it is the first of its epoch (where the
/// sequential sampler's carried state starts from zeros).
#[derive(Clone, Debug)]
pub struct LmBatch {
    /// Inputs.
    pub x: Tensor<2, Int>,
    /// Targets (the inputs shifted by one).
    pub y: Tensor<2, Int>,
    /// The epoch's first batch.
    pub first: bool,
}

/// The course's language-model training as a [`Task`]: d2l's `train_ch8`
/// on a corpus (random or sequential sampling, d2l's clipping), validated
/// by the perplexity of a held-out stretch of text read sequentially, with
/// a sample of generated text every few epochs.
pub struct LanguageModel {
    params: ModelState<RnnLm>,
    train: Arc<Vec<usize>>,
    valid: Vec<usize>,
    batch_size: usize,
    num_steps: usize,
    random_iter: bool,
    theta: f64,
    state: Option<RnnState>,
    sample_every: usize,
    sample: Option<Sampler>,
    device: Device,
}

/// The settings of [`LanguageModel`].
#[derive(Clone, Debug, PartialEq)]
pub struct LmSettings {
    /// Sequences per batch.
    pub batch_size: usize,
    /// Tokens per sequence (the truncation of backpropagation through time).
    pub num_steps: usize,
    /// Random sampling (a fresh state per batch) instead of sequential.
    pub random_iter: bool,
    /// The clipping norm (d2l: 1).
    pub theta: f64,
    /// A sample of generated text every this many epochs (0: never).
    pub sample_every: usize,
}

impl LanguageModel {
    /// `model` (on the autodiff `device`) trained with `optim` on `train`
    /// (token indices), validated on `valid`. `sample` writes the text shown
    /// every `settings.sample_every` epochs.
    pub fn new(
        model: RnnLm,
        optim: ModuleOptimizer,
        train: Vec<usize>,
        valid: Vec<usize>,
        settings: &LmSettings,
        sample: Option<Sampler>,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let need = settings
            .batch_size
            .saturating_mul(settings.num_steps)
            .saturating_add(1);
        if settings.batch_size == 0 || settings.num_steps == 0 || train.len() < need {
            return Err(TrainError::Data(format!(
                "{} training tokens for batches of {} x {} steps: expected at least {need}",
                train.len(),
                settings.batch_size,
                settings.num_steps
            )));
        }
        if valid.len() < 2 {
            return Err(TrainError::Data(format!(
                "{} validation tokens, expected at least 2",
                valid.len()
            )));
        }
        Ok(Self {
            params: ModelState::new(model, optim),
            train: Arc::new(train),
            valid,
            batch_size: settings.batch_size,
            num_steps: settings.num_steps,
            random_iter: settings.random_iter,
            theta: settings.theta,
            state: None,
            sample_every: settings.sample_every,
            sample,
            device: device.clone(),
        })
    }

    /// The model.
    pub fn model(&self) -> &RnnLm {
        self.params.model()
    }

    /// The model, taken out.
    pub fn into_model(self) -> RnnLm {
        self.params.into_parts().0
    }

    fn batches(&self, seed: u64) -> Vec<SeqBatch> {
        let mut rng = SeqRng::new(seed);
        let made = if self.random_iter {
            seq_data_iter_random(&self.train, self.batch_size, self.num_steps, &mut rng)
        } else {
            seq_data_iter_sequential(&self.train, self.batch_size, self.num_steps, &mut rng)
        };
        made.expect("sizes checked in LanguageModel::new")
    }

    /// Mean cross-entropy per token of `tokens` read sequentially in rows
    /// of `num_steps` (one sequence, the state carried), without gradients.
    pub fn evaluate(model: &RnnLm, tokens: &[usize], num_steps: usize, device: &Device) -> f64 {
        let mut state = None;
        let (mut total, mut count) = (0.0, 0usize);
        let n = tokens.len() - 1;
        let mut start = 0;
        while start < n {
            let t = num_steps.min(n - start);
            let x: Vec<i64> = tokens[start..start + t].iter().map(|&v| v as i64).collect();
            let y: Vec<i64> = tokens[start + 1..start + 1 + t]
                .iter()
                .map(|&v| v as i64)
                .collect();
            let x = Tensor::<2, Int>::from_data(TensorData::new(x, [1, t]), device);
            let y = Tensor::<1, Int>::from_data(TensorData::new(y, [t]), device);
            let (logits, s) = model.forward(x, state).expect("valid tokens");
            state = Some(s);
            let loss = zoo_losses::cross_entropy(logits, CeTarget::Classes(y), 0.0, Reduction::Sum);
            total += loss.into_scalar::<f64>();
            count += t;
            start += t;
        }
        total / count as f64
    }
}

fn to_tensor(rows: &[Vec<usize>], device: &Device) -> Tensor<2, Int> {
    let (n, t) = (rows.len(), rows[0].len());
    let flat: Vec<i64> = rows.iter().flatten().map(|&v| v as i64).collect();
    Tensor::from_data(TensorData::new(flat, [n, t]), device)
}

impl Task for LanguageModel {
    type Batch = LmBatch;

    fn train_loader(&self, _epoch: usize, seed: u64) -> Arc<dyn DataLoader<LmBatch>> {
        let batches = Arc::new(self.batches(seed));
        let batches_len = batches.len();
        let device = self.device.clone();
        let make: MakeBatch<LmBatch> = Arc::new(move |idx: &[usize]| {
            let b = &batches[idx[0]];
            LmBatch {
                x: to_tensor(&b.x, &device),
                y: to_tensor(&b.y, &device),
                first: idx[0] == 0,
            }
        });
        let n = batches_len;
        Arc::new(IndexLoader::new((0..n).collect(), 1, make))
    }

    fn batches_per_epoch(&self) -> usize {
        // The most an epoch can have (offset 0); with another offset the
        // sampler may yield one fewer, and the epoch ends with it, as in d2l.
        let len = self.train.len() - 1;
        if self.random_iter {
            len / self.num_steps / self.batch_size
        } else {
            len / self.batch_size / self.num_steps
        }
    }

    fn step(&mut self, batch: LmBatch, lr: f64) -> Step {
        if batch.first || self.random_iter {
            self.state = None;
        }
        let [n, t] = batch.x.dims();
        let (state, theta) = (self.state.take(), self.theta);
        let (state, loss) = self.params.update(|model, optim| {
            let out = lm_step(model, optim, batch.x, batch.y, state, lr, theta)
                .expect("batches of the task's own corpus");
            (out.model, (out.state, out.loss))
        });
        self.state = Some(state);
        let count = n * t;
        Step {
            count,
            sums: vec![("loss", loss.inner().mul_scalar(count as f64))],
        }
    }

    fn validate(&mut self) -> Vec<(&'static str, f64)> {
        let device = self.device.clone().inner();
        let model = self.model().clone().valid();
        let ce = Self::evaluate(&model, &self.valid, self.num_steps, &device);
        vec![("loss", ce), ("ppl", ce.exp())]
    }

    fn derived(&self, train_means: &[(&'static str, f64)]) -> Vec<(&'static str, f64)> {
        train_means
            .iter()
            .filter(|(k, _)| *k == "loss")
            .map(|(_, v)| ("ppl", v.exp()))
            .collect()
    }

    fn report(&mut self, epoch: usize) -> Option<String> {
        if self.sample_every == 0 || !epoch.is_multiple_of(self.sample_every) {
            return None;
        }
        let sample = self.sample.as_ref()?;
        Some(sample(&self.model().clone().valid()))
    }

    fn monitor(&self) -> (&'static str, bool) {
        ("ppl", false)
    }

    fn unit(&self) -> &'static str {
        "tokens"
    }

    fn recorded(&self) -> Vec<(String, String)> {
        vec![
            ("batch_size".into(), self.batch_size.to_string()),
            ("num_steps".into(), self.num_steps.to_string()),
            ("random_iter".into(), self.random_iter.to_string()),
            ("theta".into(), self.theta.to_string()),
            ("train_tokens".into(), self.train.len().to_string()),
        ]
    }

    fn save(&self, dir: &Path) -> Result<Vec<String>, TrainError> {
        self.params.save(dir)
    }

    fn load(&mut self, dir: &Path) -> Result<(), String> {
        self.params.load(dir)?;
        self.state = None;
        Ok(())
    }

    fn weights_finite(&self) -> bool {
        self.params.weights_finite()
    }
}
