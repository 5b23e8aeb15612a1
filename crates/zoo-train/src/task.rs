//! What a task supplies to the training loop ([`crate::trainer::train`]):
//! its batches, its step and its measures. The loop owns the rest (epochs,
//! seeds, the device RNG, progress, validation, checkpoints, resumption,
//! the metrics log and the curves), so a classifier, a detector, a language
//! model, a segmenter, a GAN with two optimizers or a VAE each write only
//! what differs.

use std::path::Path;
use std::sync::Arc;

use burn::data::dataloader::DataLoader;
use burn::tensor::Tensor;

use crate::error::TrainError;

/// What one training step measured: sums over the batch's `count` items
/// (the loss times the batch size, the number right, ...), as detached
/// one-value tensors on the plain (non-autodiff) device, so the loop adds
/// them up without reading them back each step. The epoch's mean of each
/// is `train_<name>` in the [`crate::record::EpochRecord`].
pub struct Step {
    /// Items in the batch (images, sequences, tokens: what throughput counts).
    pub count: usize,
    /// `(name, sum over the batch)`, e.g. `("loss", ...)`, `("acc", ...)`.
    pub sums: Vec<(&'static str, Tensor<1>)>,
}

/// A training task: the model(s), optimizer(s) and data of one run, and
/// what one step of it is.
pub trait Task {
    /// A training batch, as the task's loader yields it.
    type Batch: Send + 'static;

    /// The training batches of epoch `epoch` (from 1), shuffled with `seed`
    /// (the loop's seed plus the epoch) and made on the training (autodiff)
    /// device. A task whose data is in memory can return an
    /// [`crate::loader::IndexLoader`].
    fn train_loader(&self, epoch: usize, seed: u64) -> Arc<dyn DataLoader<Self::Batch>>;

    /// Batches trained per epoch (the loader's first ones; it may yield more,
    /// such as a last batch of one item that batch norm cannot train on).
    fn batches_per_epoch(&self) -> usize;

    /// One optimisation step on `batch` at learning rate `lr`: forward,
    /// loss, backward, update.
    fn step(&mut self, batch: Self::Batch, lr: f64) -> Step;

    /// The validation measures of the current model, `(name, value)`:
    /// `valid_<name>` in the record.
    fn validate(&mut self) -> Vec<(&'static str, f64)>;

    /// Measures derived from the epoch's training means (`(name, mean)`),
    /// recorded as `train_<name>`: a language model's perplexity,
    /// `exp(loss)`, which is not a mean of per-batch values.
    fn derived(&self, train_means: &[(&'static str, f64)]) -> Vec<(&'static str, f64)> {
        let _ = train_means;
        Vec::new()
    }

    /// What to show after an epoch's line (a language model's sample text
    /// every few epochs); `None` shows nothing.
    fn report(&mut self, epoch: usize) -> Option<String> {
        let _ = epoch;
        None
    }

    /// The validation measure early stopping watches, and whether higher is better.
    fn monitor(&self) -> (&'static str, bool) {
        ("acc", true)
    }

    /// What throughput counts, plural (`images`, `tokens`).
    fn unit(&self) -> &'static str {
        "images"
    }

    /// The task's settings that shape the trajectory, recorded in every
    /// checkpoint beside the loop's (a resume with other values is refused).
    fn recorded(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Writes the model(s) and optimizer state(s) into `dir` (a fresh
    /// temporary directory) and returns the names of the files written; the
    /// loop records their SHA-256 and renames the directory when complete.
    fn save(&self, dir: &Path) -> Result<Vec<String>, TrainError>;

    /// Loads what [`Task::save`] wrote (the files already verified), all or
    /// nothing: on an error the task is as it was.
    fn load(&mut self, dir: &Path) -> Result<(), String>;

    /// Whether every weight is finite.
    fn weights_finite(&self) -> bool;
}
