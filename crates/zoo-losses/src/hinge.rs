//! The CS231n multiclass SVM (hinge) loss.

use burn::tensor::{Int, Tensor};

use crate::reduction::Reduction;

/// The CS231n multiclass SVM (hinge) loss per sample, shape `[N]`:
/// `L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + margin)`.
///
/// Unlike `torch.nn.functional.multi_margin_loss`, the sum is not divided by
/// the number of classes. The CS231n worked example (scores
/// `[[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]]`, classes
/// `[0, 1, 2]`) gives `[2.9, 0, 12.9]`.
///
/// # Panics
/// When `target` is not `[N]` for scores `[N, C]`.
pub fn multiclass_svm_loss_elementwise(
    scores: Tensor<2>,
    target: Tensor<1, Int>,
    margin: f64,
) -> Tensor<1> {
    let [n, c] = scores.dims();
    assert_eq!(
        target.dims(),
        [n],
        "multiclass_svm_loss: scores {:?} need targets [{n}], got {:?}",
        [n, c],
        target.dims()
    );
    let target = target.reshape([n, 1]);
    let correct = scores.clone().gather(1, target.clone()); // [n, 1]
    let margins = (scores - correct).add_scalar(margin).clamp_min(0.0);
    // Drop the j = y_i term.
    let classes = Tensor::<1, Int>::arange(0..c as i64, &margins.device()).reshape([1, c]);
    let is_target = classes.equal(target);
    margins.mask_fill(is_target, 0.0).sum_dim(1).reshape([n])
}

/// Mean (over samples) or summed CS231n hinge loss; see [`multiclass_svm_loss_elementwise`].
pub fn multiclass_svm_loss(
    scores: Tensor<2>,
    target: Tensor<1, Int>,
    margin: f64,
    reduction: Reduction,
) -> Tensor<1> {
    reduction.apply(multiclass_svm_loss_elementwise(scores, target, margin))
}
