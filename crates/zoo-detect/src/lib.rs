//! Detection utilities with `torchvision.ops` and the course's (d2l 14.3-14.7)
//! semantics, on any burn device.
//!
//! - [`boxes`]: format conversion (`xyxy`, `xywh`, `cxcywh`), area,
//!   clipping, pairwise IoU / GIoU / DIoU / CIoU and the paired GIoU / DIoU /
//!   CIoU losses, differentiable through burn's autodiff.
//! - [`nms`]: non-maximum suppression and batched (per-class) NMS, on the
//!   host from the boxes read back, so it runs the same on every device.
//! - [`roi`]: RoI pooling and RoI align (with gradients; also as layers).
//! - [`anchors`]: the course's SSD anchors, targets and detection.
//! - [`eval`]: mAP at one IoU (VOC all-point) and COCO-style mAP@[.5:.95].
//! - [`draw`]: boxes and labels drawn onto an image, saved as PNG.
//!
//! Boxes are `[N, 4]` float tensors. Bad input is a [`DetectError`] naming
//! the op and the values.

pub mod anchors;
pub mod boxes;
pub mod draw;
pub mod eval;
pub mod nms;
pub mod roi;

/// Why a detection op could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{op}: {reason}")]
pub struct DetectError {
    /// The op.
    pub op: &'static str,
    /// What is wrong, with the values.
    pub reason: String,
}

impl DetectError {
    pub(crate) fn new(op: &'static str, reason: impl Into<String>) -> Self {
        Self {
            op,
            reason: reason.into(),
        }
    }
}
