//! Training glue of the zoo. So far: classification metrics.
//!
//! ```
//! use zoo_train::metrics::ConfusionMatrix;
//! let mut cm = ConfusionMatrix::new(3);
//! cm.add(&[0, 1, 2, 2], &[0, 2, 2, 1]); // predictions, targets
//! assert_eq!(cm.accuracy(), 0.5);
//! ```

pub mod metrics;
