//! Image classification as a [`Task`]: cross-entropy (with optional label
//! smoothing) on a model's logits, one optimizer, accuracy and the
//! validation's loss, accuracy and macro F1; and [`fit`], the loop of the
//! classification examples.

use std::path::Path;
use std::sync::Arc;

use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor};
use zoo_augment::stage::Augmented;
use zoo_datasets::{ImageBatch, ImageBatcher, ImageDataset};
use zoo_losses::{CeTarget, Reduction};

use crate::metrics::ConfusionMatrix;
use crate::task::{Step, Task};
use crate::trainer::{EpochRecord, TrainConfig, TrainError, train, weights_finite};

/// A classifier `M` trained with cross-entropy on an [`ImageDataset`].
pub struct Classification<'a, M> {
    /// `None` only inside a step (the optimizer takes the model by value).
    model: Option<M>,
    optim: ModuleOptimizer,
    forward: &'a dyn Fn(&M, Tensor<4>) -> Tensor<2>,
    train: Arc<ImageDataset>,
    valid: &'a ImageDataset,
    batcher: ImageBatcher,
    config: TrainConfig,
    /// The training device (autodiff) and the plain one under it.
    device: Device,
    plain: Device,
}

impl<'a, M: Module + Clone + 'static> Classification<'a, M> {
    /// `model` (on the autodiff form of `device`) trained with `optim` on
    /// `train`, validated on `valid`; `forward` maps images `[N, C, H, W]`
    /// to logits `[N, classes]`. Reads `batch_size`, `label_smoothing` and
    /// `augment` from `config`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        model: M,
        optim: ModuleOptimizer,
        forward: &'a dyn Fn(&M, Tensor<4>) -> Tensor<2>,
        train: Arc<ImageDataset>,
        valid: &'a ImageDataset,
        batcher: &ImageBatcher,
        config: &TrainConfig,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let n = train.len();
        if n == 0 || valid.is_empty() {
            return Err(TrainError::Config(format!(
                "{n} training and {} validation images, expected at least one of each",
                valid.len()
            )));
        }
        let device = device.clone().autodiff();
        let plain = device.clone().inner();
        Ok(Self {
            model: Some(model),
            optim,
            forward,
            train,
            valid,
            batcher: batcher.clone(),
            config: config.clone(),
            device,
            plain,
        })
    }

    /// The model and the optimizer.
    pub fn into_parts(self) -> (M, ModuleOptimizer) {
        (self.model.expect("between steps"), self.optim)
    }

    fn model(&self) -> &M {
        self.model.as_ref().expect("between steps")
    }

    /// A batch larger than the set is the whole set (as torch's DataLoader
    /// makes it), never an allocation of the size asked for.
    fn batch_size(&self) -> usize {
        self.config.batch_size.min(self.train.len())
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

    fn train_loader(&self, _epoch: usize, seed: u64) -> Arc<dyn DataLoader<ImageBatch>> {
        self.device.seed(seed);
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
        let model = self.model.take().expect("between steps");
        let logits = (self.forward)(&model, batch.images);
        let loss = zoo_losses::cross_entropy(
            logits.clone(),
            CeTarget::Classes(batch.targets.clone()),
            self.config.label_smoothing,
            Reduction::Mean,
        );
        let right = correct(logits.detach(), batch.targets).inner().float();
        let loss_sum = loss.clone().detach().inner().mul_scalar(count as f64);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optim.step(lr, model, grads));
        Step {
            count,
            sums: vec![("loss", loss_sum), ("acc", right)],
        }
    }

    fn validate(&mut self) -> Vec<(&'static str, f64)> {
        let eval = self.model().valid();
        let (loss, cm) = evaluate(
            &eval,
            self.forward,
            self.valid,
            &self.batcher,
            1000,
            &self.plain,
        );
        vec![
            ("loss", loss),
            ("acc", cm.accuracy()),
            ("macro_f1", cm.macro_prf().2),
        ]
    }

    fn recorded(&self) -> Vec<(String, String)> {
        vec![
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
        ]
    }

    fn save(&self, dir: &Path) -> Result<Vec<String>, TrainError> {
        save_model_and_optim(dir, self.model(), &self.optim)
    }

    fn load(&mut self, dir: &Path) -> Result<(), String> {
        let (model, optim) = load_model_and_optim(dir, self.model().clone(), self.optim.clone())?;
        self.model = Some(model);
        self.optim = optim;
        Ok(())
    }

    fn weights_finite(&self) -> bool {
        weights_finite(self.model())
    }
}

/// Writes `model.bpk` and `optim.bpk` into `dir`: a task's [`Task::save`]
/// for one model and one optimizer.
pub fn save_model_and_optim<M: Module + Clone>(
    dir: &Path,
    model: &M,
    optim: &ModuleOptimizer,
) -> Result<Vec<String>, TrainError> {
    save_named(dir, "model", "optim", model, optim)
}

/// Writes `<model>.bpk` and `<optim>.bpk` into `dir` (a task with several
/// models, such as a GAN's generator and discriminator, names each pair).
pub fn save_named<M: Module + Clone>(
    dir: &Path,
    model_name: &str,
    optim_name: &str,
    model: &M,
    optim: &ModuleOptimizer,
) -> Result<Vec<String>, TrainError> {
    let err = |path: &Path, e: String| TrainError::Save {
        path: path.to_path_buf(),
        reason: e,
    };
    let model_file = format!("{model_name}.bpk");
    let model_path = dir.join(&model_file);
    model
        .clone()
        .save_file(&model_path)
        .map_err(|e| err(&model_path, e.to_string()))?;
    let optim_file = format!("{optim_name}.bpk");
    let optim_path = dir.join(&optim_file);
    optim
        .save(&optim_path)
        .map_err(|e| err(&optim_path, e.to_string()))?;
    Ok(vec![model_file, optim_file])
}

/// Loads what [`save_model_and_optim`] wrote into `model` and `optim`.
pub fn load_model_and_optim<M: Module>(
    dir: &Path,
    model: M,
    optim: ModuleOptimizer,
) -> Result<(M, ModuleOptimizer), String> {
    load_named(dir, "model", "optim", model, optim)
}

/// Loads what [`save_named`] wrote under these names.
pub fn load_named<M: Module>(
    dir: &Path,
    model_name: &str,
    optim_name: &str,
    model: M,
    optim: ModuleOptimizer,
) -> Result<(M, ModuleOptimizer), String> {
    let model = model
        .try_load_file(dir.join(format!("{model_name}.bpk")))
        .map_err(|e| format!("{model_name}.bpk: {e}"))?;
    let optim = optim
        .load(dir.join(format!("{optim_name}.bpk")))
        .map_err(|e| format!("{optim_name}.bpk: {e}"))?;
    Ok((model, optim))
}

/// The result of [`fit`].
pub struct Outcome<M> {
    /// The trained model (on the training device).
    pub model: M,
    /// The optimizer, with its state.
    pub optim: ModuleOptimizer,
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
    config: &TrainConfig,
    device: &Device,
) -> Result<Outcome<M>, TrainError> {
    let mut task = Classification::new(
        model, optim, forward, train_set, valid, batcher, config, device,
    )?;
    if task.drops_single() && config.progress {
        eprintln!(
            "note: {} training images in batches of {} leave a last batch of one image; it is dropped each epoch (batch norm cannot train on one value per channel)",
            task.train.len(),
            task.batch_size()
        );
    }
    let run = train(&mut task, config)?;
    let (model, optim) = task.into_parts();
    Ok(Outcome {
        model,
        optim,
        history: run.history,
        resumed_from: run.resumed_from,
    })
}

/// Validation loss and confusion matrix of `model` (already in evaluation mode).
pub fn evaluate<M>(
    model: &M,
    forward: &dyn Fn(&M, Tensor<4>) -> Tensor<2>,
    data: &ImageDataset,
    batcher: &ImageBatcher,
    batch_size: usize,
    device: &Device,
) -> (f64, ConfusionMatrix) {
    let mut cm = ConfusionMatrix::new(data.classes().len());
    let mut loss_sum = Tensor::<1>::zeros([1], device);
    let indices: Vec<usize> = (0..data.len()).collect();
    for chunk in indices.chunks(batch_size) {
        let b = batcher.batch_indices(data, chunk, device);
        let logits = forward(model, b.images);
        let loss = zoo_losses::cross_entropy(
            logits.clone(),
            CeTarget::Classes(b.targets.clone()),
            0.0,
            Reduction::Sum,
        );
        loss_sum = loss_sum + loss.reshape([1]);
        cm.add_logits(logits, b.targets);
    }
    let loss = loss_sum.into_scalar::<f32>() as f64 / data.len().max(1) as f64;
    (loss, cm)
}

fn correct(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1, Int> {
    logits
        .argmax(1)
        .flatten::<1>(0, 1)
        .equal(targets)
        .int()
        .sum()
}
