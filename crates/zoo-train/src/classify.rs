//! Image classification as a [`Task`]: cross-entropy (with optional label
//! smoothing) on a model's logits, one optimizer, accuracy and the
//! validation's loss, accuracy and macro F1; and [`fit`], the loop of the
//! classification examples.
//!
//! The recipes of [`crate::recipes`] apply here: auxiliary classifiers
//! (`loss + sum of weight * aux loss`, [`fit_with_aux`]), MixUp / CutMix
//! with soft-target cross-entropy and SamplePairing (the hard labels still
//! count the training accuracy), and EMA / SWA weight averaging: validation
//! then measures the averaged weights (`valid_acc`, ...) beside the raw ones
//! (`valid_raw_acc`), and checkpoints hold the average (`average.bpk`,
//! `average.json`) so a resumed run continues it exactly.

use std::path::Path;
use std::sync::Arc;

use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor};
use zoo_augment::Rng;
use zoo_augment::mix::{CutMix, MixUp, SamplePairing};
use zoo_augment::stage::Augmented;
use zoo_augment::transforms::Transform;
use zoo_datasets::{ImageBatch, ImageBatcher, ImageDataset};
use zoo_losses::{CeTarget, Reduction};
use zoo_optim::average::WeightAverage;

use crate::evaluate::evaluate;
use crate::recipes::{Averaging, Mix, update_bn};
use crate::state::ModelState;
use crate::task::{Step, Task};
use crate::trainer::{EpochRecord, TrainConfig, TrainError, train};

/// A training forward with auxiliary classifiers: the logits and each
/// auxiliary head's `(loss weight, logits)`.
pub type AuxForward<'a, M> = &'a dyn Fn(&M, Tensor<4>) -> (Tensor<2>, Vec<(f64, Tensor<2>)>);

/// How to train a classifier: the loop's settings ([`TrainConfig`]) and
/// the recipes that only classification has (label smoothing, the batch
/// augmentation, weight averaging, batch mixing). [`fit`] takes either (a
/// `TrainConfig` is one with no recipe).
#[derive(Debug, Clone)]
pub struct ClassifyConfig {
    /// The loop's settings (epochs, batch size, schedule, seed, output, ...).
    pub train: TrainConfig,
    /// Label smoothing of the cross-entropy.
    pub label_smoothing: f64,
    /// Augmentation of the training batches (on the device, after batching),
    /// its draws seeded by the loop's seed and the epoch; `None` trains on
    /// the images as they are.
    pub augment: Option<Arc<dyn Transform + Send + Sync>>,
    /// Weight averaging (EMA / SWA); validation and checkpoints then hold
    /// the averaged weights too.
    pub average: Option<Averaging>,
    /// Mixing of the training batches (MixUp, CutMix, SamplePairing).
    pub mix: Option<Mix>,
}

impl ClassifyConfig {
    /// `train` with no recipe.
    pub fn new(train: TrainConfig) -> Self {
        Self {
            train,
            label_smoothing: 0.0,
            augment: None,
            average: None,
            mix: None,
        }
    }

    /// Checks the recipes; each error names the value.
    fn check(&self) -> Result<(), TrainError> {
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(TrainError::Config(format!(
                "label_smoothing {}, expected a value in [0, 1)",
                self.label_smoothing
            )));
        }
        if let Some(a) = &self.average {
            a.validate().map_err(TrainError::Config)?;
        }
        if let Some(x) = &self.mix {
            x.validate().map_err(TrainError::Config)?;
        }
        Ok(())
    }
}

impl From<TrainConfig> for ClassifyConfig {
    fn from(train: TrainConfig) -> Self {
        Self::new(train)
    }
}

impl From<&ClassifyConfig> for ClassifyConfig {
    fn from(config: &ClassifyConfig) -> Self {
        config.clone()
    }
}

impl From<&TrainConfig> for ClassifyConfig {
    fn from(train: &TrainConfig) -> Self {
        Self::new(train.clone())
    }
}

/// A classifier `M` trained with cross-entropy on an [`ImageDataset`].
pub struct Classification<'a, M> {
    /// `None` only inside a step (the optimizer takes the model by value).
    /// The model and its optimizer.
    params: ModelState<M>,
    forward: &'a dyn Fn(&M, Tensor<4>) -> Tensor<2>,
    aux: Option<AuxForward<'a, M>>,
    average: Option<WeightAverage<M>>,
    /// The epoch being trained (from 1) and the draws of the batch mixing.
    /// (Set by `train_loader`, which takes `&self`.)
    epoch: std::cell::Cell<usize>,
    mix_rng: std::cell::RefCell<Rng>,
    train: Arc<ImageDataset>,
    valid: &'a ImageDataset,
    batcher: ImageBatcher,
    config: ClassifyConfig,
    /// The training device (autodiff) and the plain one under it.
    device: Device,
    plain: Device,
}

impl<'a, M: Module + Clone + 'static> Classification<'a, M> {
    /// `model` (on the autodiff form of `device`) trained with `optim` on
    /// `train`, validated on `valid`; `forward` maps images `[N, C, H, W]`
    /// to logits `[N, classes]`. Reads the loop's `batch_size` and `seed`
    /// and the classification recipes from `config`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        model: M,
        optim: ModuleOptimizer,
        forward: &'a dyn Fn(&M, Tensor<4>) -> Tensor<2>,
        train: Arc<ImageDataset>,
        valid: &'a ImageDataset,
        batcher: &ImageBatcher,
        config: &ClassifyConfig,
        device: &Device,
    ) -> Result<Self, TrainError> {
        config.check()?;
        let n = train.len();
        if n == 0 || valid.is_empty() {
            return Err(TrainError::Config(format!(
                "{n} training and {} validation images, expected at least one of each",
                valid.len()
            )));
        }
        if matches!(config.mix, Some(Mix::Pairing(_))) && config.train.batch_size.min(n) < 2 {
            return Err(TrainError::Config(format!(
                "SamplePairing pairs images within a batch: batch size {}, expected at least 2",
                config.train.batch_size.min(n)
            )));
        }
        let average = match &config.average {
            None => None,
            Some(a) => {
                Some(WeightAverage::new(a.kind()).map_err(|e| TrainError::Config(e.to_string()))?)
            }
        };
        let device = device.clone().autodiff();
        let plain = device.clone().inner();
        Ok(Self {
            params: ModelState::new(model, optim),
            forward,
            aux: None,
            average,
            epoch: std::cell::Cell::new(0),
            mix_rng: std::cell::RefCell::new(Rng::new(config.train.seed)),
            train,
            valid,
            batcher: batcher.clone(),
            config: config.clone(),
            device,
            plain,
        })
    }

    /// Trains with auxiliary classifiers: `aux` replaces the forward in
    /// training steps (validation uses the plain forward).
    pub fn with_aux(mut self, aux: AuxForward<'a, M>) -> Self {
        self.aux = Some(aux);
        self
    }

    /// The model and the optimizer.
    pub fn into_parts(self) -> (M, ModuleOptimizer) {
        self.params.into_parts()
    }

    /// The averaged model, when averaging and after its first update.
    pub fn averaged(&self) -> Option<&M> {
        self.average.as_ref().and_then(|a| a.averaged())
    }

    /// The batch's images and cross-entropy target after the mixing recipe.
    fn mixed(&mut self, batch: &ImageBatch) -> (Tensor<4>, CeTarget) {
        let classes = self.valid.classes().len();
        let images = batch.images.clone();
        let labels = batch.targets.clone();
        let mut rng = self.mix_rng.borrow_mut();
        let rng = &mut *rng;
        // The configuration was checked (alpha > 0, pairs of at least 2).
        let soft = |r: Result<(Tensor<4>, Tensor<2>), _>| {
            let (x, y) = r.expect("a checked mix on a batch of the task's classes");
            (x, CeTarget::Probs(y))
        };
        match &self.config.mix {
            None => (images, CeTarget::Classes(labels)),
            Some(Mix::MixUp { alpha }) => soft(
                MixUp {
                    alpha: *alpha,
                    num_classes: classes,
                }
                .apply(images, labels, rng),
            ),
            Some(Mix::CutMix { alpha }) => soft(
                CutMix {
                    alpha: *alpha,
                    num_classes: classes,
                }
                .apply(images, labels, rng),
            ),
            Some(Mix::Pairing(schedule)) => {
                if images.dims()[0] < 2 {
                    return (images, CeTarget::Classes(labels));
                }
                let (x, y) = SamplePairing {
                    schedule: schedule.clone(),
                }
                .apply(images, labels, self.epoch.get().saturating_sub(1), rng)
                .expect("a batch of at least two images");
                (x, CeTarget::Classes(y))
            }
        }
    }

    fn model(&self) -> &M {
        self.params.model()
    }

    /// A batch larger than the set is the whole set (as torch's DataLoader
    /// makes it), never an allocation of the size asked for.
    fn batch_size(&self) -> usize {
        self.config.train.batch_size.min(self.train.len())
    }

    /// Whether the last batch holds one image: it cannot train batch norm
    /// (one value per channel has no variance), so it is dropped, as
    /// `DataLoader(drop_last=True)` drops it.
    fn drops_single(&self) -> bool {
        let n = self.train.len();
        n > 1 && n % self.batch_size() == 1
    }
}

impl<M: Module + Clone + 'static> Task for Classification<'_, M> {
    type Batch = ImageBatch;

    fn train_loader(&self, epoch: usize, seed: u64) -> Arc<dyn DataLoader<ImageBatch>> {
        self.device.seed(seed);
        self.epoch.set(epoch);
        *self.mix_rng.borrow_mut() = Rng::new(seed ^ 0x6d69_785f_6261_7463);
        let builder = match &self.config.augment {
            Some(t) => DataLoaderBuilder::<_, ImageBatch>::new(Augmented::new(
                self.batcher.clone(),
                t.clone(),
                seed,
            )),
            None => DataLoaderBuilder::<_, ImageBatch>::new(self.batcher.clone()),
        };
        builder
            .batch_size(self.batch_size())
            .shuffle(seed)
            .set_device(self.device.clone())
            .build(self.train.clone())
    }

    fn batches_per_epoch(&self) -> usize {
        self.train.len().div_ceil(self.batch_size()) - usize::from(self.drops_single())
    }

    fn step(&mut self, batch: ImageBatch, lr: f64) -> Step {
        let count = batch.targets.dims()[0];
        let (images, target) = self.mixed(&batch);
        let model = self.params.model();
        let (logits, aux) = match self.aux {
            Some(f) => f(model, images),
            None => ((self.forward)(model, images), Vec::new()),
        };
        let smoothing = self.config.label_smoothing;
        let ce = |logits: Tensor<2>| {
            zoo_losses::cross_entropy(logits, target.clone(), smoothing, Reduction::Mean)
        };
        let mut loss = ce(logits.clone());
        for (weight, aux_logits) in aux {
            loss = loss + ce(aux_logits).mul_scalar(weight);
        }
        let right = correct(logits.detach(), batch.targets).inner().float();
        let loss_sum = loss.clone().detach().inner().mul_scalar(count as f64);
        let grads = GradientsParams::from_grads(loss.backward(), model);
        self.params.step(lr, grads);
        if let (Some(avg), Some(Averaging::Ema { .. })) = (&mut self.average, &self.config.average)
        {
            avg.update(self.params.model());
        }
        Step {
            count,
            sums: vec![("loss", loss_sum), ("acc", right)],
        }
    }

    fn validate(&mut self) -> Vec<(&'static str, f64)> {
        if let (Some(avg), Some(Averaging::Swa { start_epoch })) =
            (&mut self.average, &self.config.average)
            && self.epoch.get() >= *start_epoch
        {
            avg.update(self.params.model());
            // torch's SWA recipe: the averaged weights' batch-norm statistics
            // recomputed over the training images (`update_bn`).
            if let Some(averaged) = avg.averaged() {
                let n = self.train.len();
                let size = self.config.train.batch_size.min(n).max(1);
                let indices: Vec<usize> = (0..n).collect();
                let batches = indices
                    .chunks(size)
                    .filter(|c| c.len() > 1 || n == 1)
                    .map(|c| {
                        self.batcher
                            .batch_indices(&self.train, c, &self.plain)
                            .images
                    });
                let updated = update_bn(averaged, batches, self.forward, &self.plain);
                let count = avg.n_averaged();
                avg.restore(updated, count);
            }
        }
        let measure = |m: &M| {
            let eval = m.valid();
            evaluate(
                &eval,
                self.forward,
                self.valid,
                &self.batcher,
                1000,
                &self.plain,
            )
        };
        let (loss, cm) = measure(self.model());
        let mut out = Vec::new();
        if let Some(avg) = self.averaged() {
            // The averaged weights are the run's result; the raw ones beside them.
            let (avg_loss, avg_cm) = measure(avg);
            out.extend([
                ("loss", avg_loss),
                ("acc", avg_cm.accuracy()),
                ("macro_f1", avg_cm.macro_prf().2),
            ]);
            out.extend([("raw_loss", loss), ("raw_acc", cm.accuracy())]);
        } else {
            out.extend([
                ("loss", loss),
                ("acc", cm.accuracy()),
                ("macro_f1", cm.macro_prf().2),
            ]);
        }
        out
    }

    fn recorded(&self) -> Vec<(String, String)> {
        let mut out = vec![
            (
                "label_smoothing".into(),
                self.config.label_smoothing.to_string(),
            ),
            ("train_images".into(), self.train.len().to_string()),
            (
                "augment".into(),
                self.config
                    .augment
                    .as_ref()
                    .map_or("none".into(), |a| format!("{a:?}")),
            ),
        ];
        if let Some(a) = &self.config.average {
            out.push(("average".into(), format!("{a:?}")));
        }
        if let Some(x) = &self.config.mix {
            out.push(("mix".into(), format!("{x:?}")));
        }
        out
    }

    fn save(&self, dir: &Path) -> Result<Vec<String>, TrainError> {
        let mut files = self.params.save(dir)?;
        if let Some(avg) = &self.average {
            files.extend(save_average(dir, avg)?);
        }
        Ok(files)
    }

    fn load(&mut self, dir: &Path) -> Result<(), String> {
        // All or nothing: the model and optimizer are loaded into a copy,
        // kept only when the average loads too.
        let mut params = self.params.clone();
        params.load(dir)?;
        let average = match &self.average {
            None => None,
            Some(avg) => Some(load_average(dir, avg.clone(), self.model().valid())?),
        };
        self.params = params;
        self.average = average;
        Ok(())
    }

    fn weights_finite(&self) -> bool {
        self.params.weights_finite()
    }
}

/// Writes the average into `dir`: `average.json` (the update count) and,
/// after the first update, `average.bpk`.
fn save_average<M: Module + Clone>(
    dir: &Path,
    avg: &WeightAverage<M>,
) -> Result<Vec<String>, TrainError> {
    let json = dir.join("average.json");
    std::fs::write(&json, format!("{{\"n_averaged\": {}}}\n", avg.n_averaged())).map_err(|e| {
        TrainError::Save {
            path: json.clone(),
            reason: e.to_string(),
        }
    })?;
    let mut files = vec!["average.json".to_string()];
    if let Some(m) = avg.averaged() {
        let path = dir.join("average.bpk");
        m.clone().save_file(&path).map_err(|e| TrainError::Save {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        files.push("average.bpk".into());
    }
    Ok(files)
}

/// Reads what [`save_average`] wrote into `avg` (`like`: a module of the
/// model's structure to load the averaged weights into).
fn load_average<M: Module + Clone>(
    dir: &Path,
    mut avg: WeightAverage<M>,
    like: M,
) -> Result<WeightAverage<M>, String> {
    let text = std::fs::read_to_string(dir.join("average.json"))
        .map_err(|e| format!("average.json (the run averages its weights): {e}"))?;
    let n = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("n_averaged").and_then(|n| n.as_u64()))
        .ok_or_else(|| {
            format!(
                "average.json is `{}`, expected {{\"n_averaged\": N}}",
                text.trim()
            )
        })? as usize;
    if n == 0 {
        avg.restore(like, 0);
    } else {
        let m = like
            .try_load_file(dir.join("average.bpk"))
            .map_err(|e| format!("average.bpk: {e}"))?;
        avg.restore(m, n);
    }
    Ok(avg)
}

/// The result of [`fit`].
pub struct Outcome<M> {
    /// The trained model (on the training device).
    pub model: M,
    /// The optimizer, with its state.
    pub optim: ModuleOptimizer,
    /// The averaged model (evaluation form), when the run averages its weights.
    pub averaged: Option<M>,
    /// Every epoch's record, the resumed ones included.
    pub history: Vec<EpochRecord>,
    /// The epoch a resumed run started after.
    pub resumed_from: Option<usize>,
}

/// Trains `model` (on an autodiff device) with `optim` on `train`,
/// validating on `valid` each epoch: the [`Classification`] task on the
/// shared loop ([`train`]); `forward` maps images `[N, C, H, W]` to logits
/// `[N, classes]`.
#[allow(clippy::too_many_arguments)]
pub fn fit<M: Module + Clone + 'static>(
    model: M,
    optim: ModuleOptimizer,
    forward: &dyn Fn(&M, Tensor<4>) -> Tensor<2>,
    train_set: Arc<ImageDataset>,
    valid: &ImageDataset,
    batcher: &ImageBatcher,
    config: impl Into<ClassifyConfig>,
    device: &Device,
) -> Result<Outcome<M>, TrainError> {
    fit_with_aux(
        model, optim, forward, None, train_set, valid, batcher, config, device,
    )
}

/// [`fit`] with auxiliary classifiers trained beside the main one
/// (`aux`: the training forward returning the logits and each auxiliary
/// head's `(loss weight, logits)`, e.g. `registry::Model::forward_with_aux`);
/// `None` is [`fit`]. With averaging, the outcome's `averaged` holds the
/// averaged model.
#[allow(clippy::too_many_arguments)]
pub fn fit_with_aux<M: Module + Clone + 'static>(
    model: M,
    optim: ModuleOptimizer,
    forward: &dyn Fn(&M, Tensor<4>) -> Tensor<2>,
    aux: Option<AuxForward<'_, M>>,
    train_set: Arc<ImageDataset>,
    valid: &ImageDataset,
    batcher: &ImageBatcher,
    config: impl Into<ClassifyConfig>,
    device: &Device,
) -> Result<Outcome<M>, TrainError> {
    let config = config.into();
    let mut task = Classification::new(
        model, optim, forward, train_set, valid, batcher, &config, device,
    )?;
    if let Some(aux) = aux {
        task = task.with_aux(aux);
    }
    if task.drops_single() && config.train.progress {
        eprintln!(
            "note: {} training images in batches of {} leave a last batch of one image; it is dropped each epoch (batch norm cannot train on one value per channel)",
            task.train.len(),
            task.batch_size()
        );
    }
    let run = train(&mut task, &config.train)?;
    let averaged = task.averaged().cloned();
    let (model, optim) = task.into_parts();
    Ok(Outcome {
        model,
        optim,
        averaged,
        history: run.history,
        resumed_from: run.resumed_from,
    })
}

fn correct(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1, Int> {
    logits
        .argmax(1)
        .flatten::<1>(0, 1)
        .equal(targets)
        .int()
        .sum()
}
