//! Optimizers with PyTorch's update rules and defaults, learning-rate
//! schedules, global-norm gradient clipping and early stopping.
//!
//! burn has SGD, AdaGrad, RMSProp, Adam and AdamW, but its defaults are not
//! PyTorch's (momentum dampening 0.1, RMSProp momentum 0.9 and eps 1e-5,
//! Adam eps 1e-5) and some update rules differ in detail (burn's momentum
//! applies dampening on the first step; PyTorch does not). The optimizers
//! here follow `torch.optim` line by line, take PyTorch's defaults through
//! `XConfig::new()` (the `torch_default()` constructors say so explicitly),
//! and implement burn's [`Optimizer`](burn::optim::Optimizer) trait, so they
//! plug into burn's [`ModuleOptimizer`](burn::optim::ModuleOptimizer) like
//! burn's own:
//!
//! ```
//! use burn::module::{Module, Param};
//! use burn::optim::GradientsParams;
//! use burn::tensor::Tensor;
//!
//! #[derive(Module, Debug)]
//! struct Model {
//!     w: Param<Tensor<1>>,
//! }
//!
//! let device = zoo_device::from_name("flex").unwrap().autodiff();
//! let mut model = Model { w: Param::from_tensor(Tensor::from_floats([1.0, -2.0], &device)) };
//! let mut optim = zoo_optim::AdamConfig::torch_default().init();
//! let loss = model.w.val().square().sum();
//! let grads = GradientsParams::from_grads(loss.backward(), &model);
//! model = optim.step(1e-3, model, grads);
//! ```
//!
//! AdaDelta, which burn lacks, is here too; [`schedule`] has the
//! `torch.optim.lr_scheduler` schedules in closed form; [`clip`] clips by
//! one global norm over all gradients as `clip_grad_norm_` does (burn's
//! `GradientClipping::Norm` clips each tensor by its own norm); [`groups`]
//! gives parameter groups (a module path prefix each) their own learning
//! rate and options, as torch's parameter groups; [`average`] is
//! `AveragedModel`'s EMA and SWA.

pub mod average;
pub mod clip;
pub mod early_stopping;
pub mod gd;
pub mod groups;
pub mod optimizers;
pub mod schedule;

pub use early_stopping::{EarlyStopping, Mode};
pub use optimizers::{
    AdaDelta, AdaDeltaConfig, AdaGrad, AdaGradConfig, Adam, AdamConfig, ConfigError, RmsProp,
    RmsPropConfig, Sgd, SgdConfig, check_lr,
};

// `#[derive(RecordState)]` refers to these through `crate::`.
#[doc(hidden)]
pub use burn::optim::{RecordState, StateSink, StateSource, join_index, join_path};
