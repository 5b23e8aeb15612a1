//! The classic architectures of the course, one file per family.
//!
//! So far: [`lenet`] (d2l's LeNet-5). Each model has a `XConfig` with
//! `init(&Device)`.
//!
//! ```
//! use burn::module::Module;
//! use zoo_models::lenet::LeNetConfig;
//! let device = zoo_device::from_name("flex").unwrap();
//! let model = LeNetConfig::new().init(&device);
//! // LeNet has no running statistics, so burn's count is PyTorch's.
//! assert_eq!(model.num_params(), 61_706);
//! ```

pub mod lenet;
