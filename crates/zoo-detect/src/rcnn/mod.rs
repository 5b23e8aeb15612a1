//! torchvision's two-stage detection machinery (`torchvision.models.detection`:
//! Faster R-CNN and Mask R-CNN), part by part, on any burn device.
//!
//! - [`transform`]: `GeneralizedRCNNTransform` (normalise, resize by the
//!   shorter side, pad into an [`ImageList`]; boxes back to the original size).
//! - [`anchors`]: the multi-level `AnchorGenerator`.
//! - [`box_coder`]: `BoxCoder`, boxes as offsets from reference boxes.
//! - [`matcher`]: `Matcher`, IoU matching with low-quality matches.
//! - [`sampler`]: `BalancedPositiveNegativeSampler`, seeded.
//! - [`rpn`]: the region proposal network (head, proposals, targets, loss).
//! - [`pooler`], [`heads`], [`masks`]: the second stage (multi-scale RoI
//!   align, the box head and its loss and post-processing, the mask head).
//! - [`models`]: the detectors assembled (`FasterRcnn`, `MaskRcnn`) and
//!   torchvision's builders (`fasterrcnn_resnet50_fpn`, `_v2`,
//!   `maskrcnn_resnet50_fpn`) on zoo-models' ResNet-FPN backbone.
//!
//! The tensor arithmetic stays on the device and differentiable; the
//! discrete decisions (top-k, thresholds, NMS, matching, sampling) run on
//! the host from the values read back, as [`crate::nms`] does.

pub mod anchors;
pub mod box_coder;
pub mod heads;
pub mod masks;
pub mod matcher;
pub mod models;
pub mod pooler;
pub mod rpn;
pub mod sampler;
pub mod transform;

pub use anchors::AnchorGenerator;
pub use box_coder::BoxCoder;
pub use matcher::Matcher;
pub use rpn::{RegionProposalNetwork, RpnHead, RpnHeadConfig, RpnSettings};
pub use sampler::BalancedPositiveNegativeSampler;
pub use transform::{GeneralizedRcnnTransform, ImageList, Target};
