//! The classic architectures of the course, one file per family.
//!
//! So far: [`lenet`] (d2l's LeNet-5). Each model has a `XConfig` with
//! `init(&Device)` and counts its trainable parameters as PyTorch does.
//!
//! ```
//! use zoo_models::lenet::LeNetConfig;
//! let device = zoo_device::from_name("flex").unwrap();
//! let model = LeNetConfig::new().init(&device);
//! assert_eq!(zoo_models::num_trainable_params(&model), 61_706);
//! ```

pub mod lenet;

use burn::module::Module;

/// Trainable parameters, counted as `sum(p.numel() for p in model.parameters())`.
///
/// burn's `num_params()` also counts batch-norm running statistics, which
/// PyTorch keeps as buffers; models with batch norm will subtract them here.
pub fn num_trainable_params<M: Module>(model: &M) -> usize {
    model.num_params()
}
