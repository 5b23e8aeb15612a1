//! Data augmentation with torchvision's semantics (`transforms.v2.functional`),
//! as tensor operations on any burn device.
//!
//! Images are float tensors in `[0, 1]`, `[N, C, H, W]` (a single `[C, H, W]`
//! image is a batch of one: `unsqueeze` it). Boxes are `[K, 4]` in
//! `(x1, y1, x2, y2)` continuous pixel coordinates, as torchvision's
//! `BoundingBoxes` in `XYXY` format.
//!
//! - [`functional`]: the deterministic ops — flips (with boxes), crop, pad,
//!   brightness, contrast, saturation, grayscale, normalize, erase, Gaussian noise.
//! - [`color`]: RGB <-> HSV / HSL, hue, Gaussian blur.
//! - [`resize`]: bilinear (antialiased on request) and nearest resizing, resized crop.
//! - [`smote`]: SMOTE with imbalanced-learn's neighbours, samples and sampling strategies.
//! - [`transforms`]: seeded random transforms with torchvision v2's draws, per sample, in one pass per batch: flips, RandomCrop, RandomResizedCrop (and the course's preset), ColorJitter, RandomErasing, RandomRotation, GaussianBlur, GaussianNoise, Normalize, Compose.
//! - [`joint`]: images and their label maps together (segmentation): the
//!   same flip, bilinear for images and nearest for labels.
//! - [`geometry`]: rotation of images and boxes and affine transforms
//!   (`F.rotate`'s and `F.affine`'s interpolation and fill semantics).
//! - [`photometric`]: posterize, solarize, autocontrast, equalize,
//!   sharpness, invert, gamma (the ops of AutoAugment and its kin).
//! - [`policies`]: AutoAugment (ImageNet, CIFAR-10, SVHN), RandAugment and
//!   TrivialAugmentWide with torchvision's op sets and magnitudes.
//! - [`inference`]: torchvision's inference presets (`weights.transforms()`:
//!   ImageClassification, SemanticSegmentation, ObjectDetection) on a photo
//!   as PIL holds it, with PIL's integer-exact resampling.
//! - [`presets`]: the training pipelines by name (`Compose::preset`:
//!   flip, crop, course, auto, rand, trivial).
//! - [`stage`]: a transform as a stage after any burn `Batcher`.
//! - [`mix`]: the multi-sample ops — MixUp, CutMix (partner: the batch rolled
//!   by one, as `v2.MixUp` / `v2.CutMix`), SamplePairing (Inoue 2018).
//!
//! Bad arguments are [`AugmentError`]s naming the op and the values.
//!
//! ```
//! use burn::tensor::Tensor;
//! use zoo_augment::functional::hflip;
//! let device = zoo_device::from_name("flex").unwrap();
//! let x = Tensor::<4>::from_floats([[[[1.0, 2.0, 3.0]]]], &device);
//! let v: Vec<f32> = hflip(x).into_data().try_to_vec().unwrap();
//! assert_eq!(v, [3.0, 2.0, 1.0]);
//! ```

pub mod color;
pub mod functional;
pub mod geometry;
pub mod inference;
pub mod joint;
pub mod mix;
pub mod photometric;
pub mod policies;
pub mod presets;
pub mod resize;
pub mod smote;
pub mod stage;
pub mod transforms;

/// Why an augmentation could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{op}: {reason}")]
pub struct AugmentError {
    /// The op.
    pub op: &'static str,
    /// What is wrong, with the values.
    pub reason: String,
}

impl AugmentError {
    pub(crate) fn new(op: &'static str, reason: impl Into<String>) -> Self {
        Self {
            op,
            reason: reason.into(),
        }
    }

    /// Refuses an output of shape `dims` larger than a tensor may be
    /// ([`zoo_device::budget`]) before it is allocated.
    pub(crate) fn check_size(op: &'static str, dims: &[u128]) -> Result<(), Self> {
        zoo_device::budget::check("the output", dims)
            .map(|_| ())
            .map_err(|e| Self::new(op, e.to_string()))
    }
}

/// The seeded generator every random op draws from (SplitMix64; it lives in
/// `zoo-rng`, shared with the data sets and the language model).
pub use zoo_rng::Rng;
