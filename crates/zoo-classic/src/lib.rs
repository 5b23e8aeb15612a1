//! Classic machine learning and vision on burn tensors (CS231n lectures 2-3
//! and the notes' edge detection), on any device:
//!
//! - [`knn`]: distances, k-nearest neighbours, cross-validation of `k`;
//! - [`linear`]: CS231n's multiclass SVM and softmax losses, logistic
//!   regression, and a linear classifier trained on them by minibatch SGD;
//! - [`edges`]: Sobel, Prewitt and Roberts gradients and their magnitude;
//! - [`canny`]: Canny's edges with scikit-image's semantics;
//! - [`hog`]: histograms of oriented gradients as scikit-image computes them;
//! - [`histogram`]: colour histograms (CS231n's hue histogram);
//! - [`segment`]: Felzenszwalb and Huttenlocher's graph segmentation as
//!   scikit-image computes it;
//! - [`selective_search`]: R-CNN's region proposals (Uijlings et al.) as
//!   OpenCV's `ximgproc` computes them.
//!
//! ```
//! use burn::tensor::Tensor;
//! use zoo_classic::knn::{KNearest, Metric};
//! let device = zoo_device::from_name("flex").unwrap();
//! let train = Tensor::<2>::from_floats([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]], &device);
//! let knn = KNearest::fit(train, &[0, 0, 1], Metric::L2).unwrap();
//! let test = Tensor::<2>::from_floats([[4.0, 4.5], [0.2, 0.1]], &device);
//! assert_eq!(knn.predict(test, 1).unwrap(), vec![1, 0]);
//! ```

#![warn(missing_docs)]

pub mod canny;
pub mod edges;
pub mod histogram;
pub mod hog;
pub mod knn;
pub mod linear;
pub mod segment;
pub mod selective_search;

/// What went wrong in a classic method: the function and the values.
#[derive(Debug, thiserror::Error)]
pub enum ClassicError {
    /// Arguments that do not fit together.
    #[error("{function}: {message}")]
    Invalid {
        /// The function that refused.
        function: &'static str,
        /// What was wrong, with the values.
        message: String,
    },
    /// A training loss that became NaN or infinite (a learning rate or
    /// regularisation too large); training stopped there.
    #[error("{function}: the loss became {loss} at step {step}")]
    NonFinite {
        /// The function that stopped.
        function: &'static str,
        /// The step (from 1) whose loss was not finite.
        step: usize,
        /// That loss.
        loss: f32,
    },
}

pub(crate) fn invalid<T>(function: &'static str, message: String) -> Result<T, ClassicError> {
    Err(ClassicError::Invalid { function, message })
}
