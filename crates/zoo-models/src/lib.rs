//! The classic architectures of the course, one file per family, each with
//! an `XConfig` and `init(&Device)`:
//!
//! - [`lenet`]: the course's LeNet-5.
//! - [`alexnet`]: the course's and torchvision's AlexNet.
//! - [`vgg`]: the course's block notation and torchvision's vgg11/13/16/19 (+ `_bn`).
//! - [`nin`]: the course's NiN.
//! - [`googlenet`]: the course's and torchvision's GoogLeNet.
//! - [`resnet`]: the course's ResNet-18 and torchvision's resnet18..152,
//!   ResNeXt and Wide ResNet.
//! - [`densenet`]: the course's DenseNet and torchvision's densenet121/161/169/201.
//! - [`inception`]: torchvision's Inception v3.
//! - [`ssd`]: the course's TinySSD.
//! - [`rnn_lm`]: the course's recurrent language model (`RNNModel`) and
//!   generation (greedy, temperature, top-k).
//! - [`fcn`]: semantic segmentation, the course's FCN and torchvision's
//!   `fcn_resnet50` / `fcn_resnet101`.
//! - [`fpn`]: torchvision's feature pyramid network and ResNet-FPN
//!   detection backbone (`FrozenBatchNorm2d`, `trainable_layers`).
//! - [`gan`]: the course's 2-D GAN and DCGAN generator / discriminator.
//! - [`vae`]: PyTorch's example VAE.
//!
//! [`registry`] builds any of them by name with its metadata; [`weights`]
//! loads torchvision `state_dict`s (`.safetensors`, `.pth`) through each
//! family's `torchvision_key`; [`pretrained`] is torchvision's multi-weight
//! API: every published weights entry (URL, checksum, preset, categories,
//! metrics), a cache as torch.hub's, and a model ready with its weights in
//! one call (`pretrained::load_classifier("resnet50", &device)`).
//!
//! Parameter counts are torch's (`zoo_layers::params::num_trainable_params`;
//! burn's `num_params` also counts batch-norm running statistics).
//!
//! ```
//! use burn::module::Module;
//! use zoo_models::lenet::LeNetConfig;
//! let device = zoo_device::from_name("flex").unwrap();
//! let model = LeNetConfig::new().init(&device);
//! // LeNet has no running statistics, so burn's count is PyTorch's.
//! assert_eq!(model.num_params(), 61_706);
//! ```

pub mod alexnet;
pub mod densenet;
pub mod fcn;
pub mod fpn;
pub mod gan;
pub mod googlenet;
pub mod inception;
pub mod lenet;
pub mod nin;
mod parts;
pub mod pretrained;
pub mod registry;
pub mod resnet;
pub mod rnn_lm;
pub mod ssd;
pub mod vae;
pub mod vgg;
pub mod weights;
