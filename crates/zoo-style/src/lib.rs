//! Neural style transfer (Gatys, Ecker & Bethge 2016; d2l 14.12 "Neural
//! Style Transfer") on any burn device:
//!
//! - [`features`]: a VGG-19 trunk that loads torchvision's `vgg19` weights
//!   (`features.*`) and returns the activations of named layers (`conv1_1`
//!   .. `conv5_4`, before or after their ReLU), with ImageNet normalisation
//!   in and out and optional average pooling (Gatys et al.);
//! - [`losses`]: the Gram matrix, content, style and total-variation losses
//!   as the course defines them;
//! - [`transfer`]: the loop: the synthesised image as the only parameter,
//!   Adam (the course's schedule) or L-BFGS (burn's), clamped to the valid
//!   pixel range, each loss term reported as it goes.
//!
//! ```
//! use burn::tensor::Tensor;
//! use zoo_style::losses::gram_matrix;
//! let device = zoo_device::from_name("flex").unwrap();
//! // Two channels of two pixels: X = [[1, 2], [3, 4]], X X^T / (C H W) = X X^T / 4.
//! let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.0], &device).reshape([1, 2, 1, 2]);
//! let g: Vec<f32> = gram_matrix(x).into_data().try_into_vec_as().unwrap();
//! assert_eq!(g, vec![5.0 / 4.0, 11.0 / 4.0, 11.0 / 4.0, 25.0 / 4.0]);
//! ```

pub mod features;
pub mod losses;
pub mod transfer;

use std::path::PathBuf;

/// Why style transfer could not run.
#[derive(Debug, thiserror::Error)]
pub enum StyleError {
    /// A layer name that VGG-19 does not have.
    #[error(
        "unknown layer `{name}`: expected conv1_1 .. conv5_4 (conv<block>_<index>: blocks 1-2 have 2 convolutions, 3-5 have 4)"
    )]
    UnknownLayer {
        /// The name.
        name: String,
    },
    /// The weight file could not be read.
    #[error(transparent)]
    Weights(#[from] zoo_models::weights::WeightsError),
    /// The weights do not fit VGG-19.
    #[error("{}{reason}", path.as_ref().map_or(String::new(), |p| format!("{}: ", p.display())))]
    NotVgg19 {
        /// The weight file (none for a state dict given in memory).
        path: Option<PathBuf>,
        /// What does not fit.
        reason: String,
    },
    /// An image or setting that cannot be used.
    #[error("{0}")]
    Invalid(String),
}
