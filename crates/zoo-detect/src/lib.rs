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
//! - [`rcnn`]: torchvision's two-stage detection parts (Faster / Mask
//!   R-CNN): the transform, anchors, box coder, matcher, sampler, RPN and
//!   the RoI heads.
//!
//! Boxes are `[N, 4]` float tensors. Bad input is a [`DetectError`] naming
//! the op and the values.
//!
//! ```
//! use burn::tensor::Tensor;
//! use zoo_detect::boxes::box_iou;
//! let device = zoo_device::from_name("flex").unwrap();
//! let a = Tensor::<2>::from_floats([[0.0, 0.0, 2.0, 2.0]], &device);
//! let b = Tensor::<2>::from_floats([[1.0, 0.0, 3.0, 2.0], [4.0, 4.0, 5.0, 5.0]], &device);
//! let iou: Vec<f32> = box_iou(a, b).unwrap().into_data().try_into_vec_as().unwrap();
//! // Overlap 2 of a union 6; no overlap.
//! assert_eq!(iou, vec![2.0 / 6.0, 0.0]);
//! ```

pub mod anchors;
pub mod boxes;
pub mod eval;
pub mod nms;
pub mod rcnn;
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

    /// Refuses `what` of shape `dims` larger than a tensor may be
    /// ([`zoo_device::budget`]) before it is allocated or looped over.
    pub(crate) fn check_size(op: &'static str, what: &str, dims: &[u128]) -> Result<(), Self> {
        zoo_device::budget::check(what, dims)
            .map(|_| ())
            .map_err(|e| Self::new(op, e.to_string()))
    }
}

/// A float tensor read back to the host, flat.
pub(crate) fn read_floats<const D: usize>(
    op: &'static str,
    t: burn::tensor::Tensor<D>,
) -> Result<Vec<f32>, DetectError> {
    t.into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| DetectError::new(op, format!("reading back: {e:?}")))
}

/// `[N, K]` rows (`what`, for the message) read back to the host; another
/// width is an error naming the shape.
pub(crate) fn read_rows<const K: usize>(
    op: &'static str,
    what: &str,
    t: burn::tensor::Tensor<2>,
) -> Result<Vec<[f32; K]>, DetectError> {
    let dims = t.dims();
    if dims[1] != K {
        return Err(DetectError::new(
            op,
            format!("{what} of shape {dims:?}, expected [N, {K}]"),
        ));
    }
    Ok(read_floats(op, t)?
        .chunks_exact(K)
        .map(|c| std::array::from_fn(|i| c[i]))
        .collect())
}
