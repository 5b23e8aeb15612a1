//! What a trained network looks at (CS231n lecture 12), on any device:
//!
//! - [`features`]: first-layer filters as images, nearest neighbours in a
//!   feature space;
//! - [`saliency`]: the saliency map (Simonyan et al. 2014 as CS231n
//!   computes it);
//! - [`occlusion`]: occlusion sensitivity (Zeiler & Fergus 2014);
//! - [`tsne`]: exact t-SNE with scikit-learn's affinities, gradient and
//!   optimiser;
//! - [`visualize`]: class visualisation and DeepDream by gradient ascent on
//!   the image.
//!
//! Models are passed as forward functions `Fn(Tensor<4>) -> Tensor<2>`
//! (images to class scores), so any network can be explained.

#![warn(missing_docs)]

pub mod features;
pub mod occlusion;
pub mod saliency;
pub mod tsne;
pub mod visualize;

/// What went wrong: the function and the values.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// Arguments that do not fit together.
    #[error("{function}: {message}")]
    Invalid {
        /// The function that refused.
        function: &'static str,
        /// What was wrong, with the values.
        message: String,
    },
}

pub(crate) fn invalid<T>(function: &'static str, message: String) -> Result<T, ExplainError> {
    Err(ExplainError::Invalid { function, message })
}

/// Checks one class per image and each below the model's `classes`.
pub(crate) fn check_classes(
    function: &'static str,
    images: usize,
    y: &[usize],
    classes: usize,
) -> Result<(), ExplainError> {
    if y.len() != images {
        return invalid(
            function,
            format!(
                "{images} images and {} classes; expected one class per image",
                y.len()
            ),
        );
    }
    if let Some(&bad) = y.iter().find(|&&c| c >= classes) {
        return invalid(
            function,
            format!("class {bad} outside the model's {classes} outputs"),
        );
    }
    Ok(())
}
