//! The course's SSD loss.

use burn::tensor::Tensor;
use zoo_detect::anchors::MultiboxTargets;

use crate::cross_entropy::{CeTarget, cross_entropy};
use crate::reduction::Reduction;

/// The course's SSD loss (d2l 14.7): the cross-entropy of the class scores
/// `cls_preds [B, A, C + 1]` (logits, class 0 the background) over every
/// anchor plus the L1 error of the masked box offsets `bbox_preds [B, A * 4]`,
/// each averaged (the course's per-image means, then the batch mean).
pub fn multibox_loss(
    cls_preds: Tensor<3>,
    bbox_preds: Tensor<2>,
    targets: &MultiboxTargets,
) -> Tensor<1> {
    let [b, a, c] = cls_preds.dims();
    let cls = cross_entropy(
        cls_preds.reshape([b * a, c]),
        CeTarget::Classes(targets.class_labels.clone().reshape([b * a])),
        0.0,
        Reduction::Mean,
    );
    let bbox = ((bbox_preds - targets.bbox_offset.clone()) * targets.bbox_mask.clone())
        .abs()
        .mean();
    cls + bbox
}
