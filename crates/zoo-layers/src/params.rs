//! Counting trainable parameters as PyTorch does
//! (`sum(p.numel() for p in m.parameters())`).
//!
//! burn's [`Module::num_params`] also counts running statistics (batch
//! norm's running mean and variance are visited like parameters), which
//! PyTorch keeps as buffers: for a ResNet the two counts differ.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

struct Trainable(usize);

impl ModuleVisitor for Trainable {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        if t.is_require_grad() {
            self.0 += t.shape().num_elements();
        }
    }
}

/// The number of trainable values of `module`: the float parameters that
/// take gradients, without running statistics or other buffers.
pub fn num_trainable_params<M: Module + Clone>(module: &M) -> usize {
    let Some(device) = module.devices().into_iter().next() else {
        return 0;
    };
    // On an autodiff device parameters require gradients and running
    // statistics do not; fork there to tell them apart.
    let forked = module.clone().fork(&device.autodiff()).train();
    let mut v = Trainable(0);
    forked.visit(&mut v);
    v.0
}
