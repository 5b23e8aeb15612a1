//! Measuring a trained classifier on a data set: the validation loss and
//! confusion matrix of one model ([`evaluate`], what the classification
//! task's validation reports), and an ensemble's accuracy
//! ([`evaluate_ensemble`]: the mean of its members' softmax outputs).

use burn::tensor::{Device, Tensor};
use zoo_datasets::{ImageBatcher, ImageDataset};
use zoo_losses::{CeTarget, Reduction};

use crate::metrics::ConfusionMatrix;

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

/// Each model's test accuracy on `data`, and the accuracy of their
/// ensemble: the mean of their softmax outputs (snapshot ensembles of one
/// run or several runs; models in evaluation mode on `device`).
pub fn evaluate_ensemble<M>(
    models: &[M],
    forward: &dyn Fn(&M, Tensor<4>) -> Tensor<2>,
    data: &ImageDataset,
    batcher: &ImageBatcher,
    device: &Device,
) -> (Vec<f64>, f64) {
    let classes = data.classes().len();
    let mut each: Vec<ConfusionMatrix> = models
        .iter()
        .map(|_| ConfusionMatrix::new(classes))
        .collect();
    let mut together = ConfusionMatrix::new(classes);
    let indices: Vec<usize> = (0..data.len()).collect();
    for chunk in indices.chunks(500) {
        let b = batcher.batch_indices(data, chunk, device);
        let mut sum: Option<Tensor<2>> = None;
        for (m, cm) in models.iter().zip(&mut each) {
            let logits = forward(m, b.images.clone());
            cm.add_logits(logits.clone(), b.targets.clone());
            let p = burn::tensor::activation::softmax(logits, 1);
            sum = Some(match sum {
                None => p,
                Some(s) => s + p,
            });
        }
        if let Some(s) = sum {
            together.add_logits(s, b.targets);
        }
    }
    (
        each.iter().map(|c| c.accuracy()).collect(),
        together.accuracy(),
    )
}
