//! Layers and functional forms of the classic layers, with PyTorch's semantics.
//!
//! burn already has most layers; this crate wraps them where they match
//! PyTorch and writes what is missing or different:
//!
//! - [`activation::Activation`]: the activations of `torch.nn.functional`,
//!   selected by name (as configs and the parity cases name them).
//! - [`norm::batch_norm`]: batch normalisation as `F.batch_norm` computes it,
//!   including PyTorch's update of the running variance with the *unbiased*
//!   batch variance (burn-nn's `BatchNorm` uses the biased one), and
//!   [`norm::local_response_norm`] with PyTorch's channel window.
//! - [`pool`]: adaptive max pooling, spatial pyramid pooling, maxout.
//! - [`conv_size`]: the conv / transposed-conv / pooling size arithmetic and
//!   parameter counts of the course notes.
//! - [`init`]: Xavier and Kaiming scales, the FCN bilinear kernel.
//! - [`gradcheck`]: the finite-difference gradient checker the tests use.
//! - [`norm::BatchNorm`]: the module form of PyTorch's batch norm.
//! - [`blocks`]: NiN, Inception, residual (basic, bottleneck), dense block
//!   and transition layer.
//! - [`recurrent`]: RNN (tanh, ReLU), GRU and LSTM with torch's semantics
//!   and parameter layout: multi-layer, bidirectional, `batch_first`,
//!   dropout between layers, states in and out, single-step cells.
//! - [`activation::PRelu`]: the learned-slope ReLU with torch's `weight` key;
//!   [`stochastic_depth`]: torchvision's stochastic depth for residual branches.
//!
//! ```
//! use burn::tensor::Tensor;
//! use zoo_layers::activation::Activation;
//! let device = zoo_device::from_name("flex").unwrap();
//! let x = Tensor::<1>::from_floats([-1.0, 2.0], &device);
//! let y: Vec<f32> = Activation::LeakyRelu { negative_slope: 0.1 }
//!     .forward(x)
//!     .into_data()
//!     .try_into_vec_as::<f32>()
//!     .unwrap();
//! assert_eq!(y, vec![-0.1, 2.0]);
//! ```

pub mod activation;
pub mod blocks;
pub mod conv_size;
pub mod gradcheck;
pub mod init;
pub mod norm;
pub mod params;
pub mod pool;
pub mod recurrent;
pub mod stochastic_depth;
pub mod trace;
