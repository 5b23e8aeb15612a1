//! What the per-architecture examples share: the course's Fashion-MNIST
//! classification run (d2l chapters 7-8) for any registered model, with the
//! fine-tuning recipe of d2l 14.2 (`--weights`, `--freeze-features`).
//!
//! Each binary (`alexnet`, `vgg`, `nin`, `googlenet`, `resnet`, `densenet`)
//! runs a [`Plan`] with the course's setting for its family as the defaults
//! (its steps, in its `main.rs`: the plan, the data, the model, the loop),
//! including its initialisation: the course's models start from
//! Xavier-uniform convolution and linear weights, as d2l's `train_ch6` /
//! `init_cnn` draw them (PyTorch's default initialisation leaves the deep
//! sigmoid/ReLU networks without batch norm at chance for hundreds of steps).
//!
//! The crate's files, one job each: [`cli`] (errors, exit codes, the
//! common flags' checks, the data sets), [`classifier`] (the classification
//! run and its flags), [`recipes`] (the recipe flags and ensembles),
//! [`trained`] (the one loader of the examples' checkpoints into the
//! registry's model, the LeNet the explaining examples read, the classic
//! examples' data), [`images`] (reading, resizing and saving
//! pictures).

pub mod classifier;
pub mod cli;
pub mod images;
pub mod recipes;
pub mod trained;

pub use classifier::{Course, Data, Flags, Plan, inference_rate, model_input, sample};
pub use cli::{
    Failure, Sign, augmentation, check_batch_size, check_count, check_f32_flag, check_lr_flag,
    check_not_empty, check_png_out, check_training_flags, device, exit, fashion_mnist,
};
pub use recipes::{RecipeFlags, checkpoint_dir, evaluate_ensemble};
