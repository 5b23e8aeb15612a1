//! Batch normalisation with PyTorch's semantics.
//!
//! burn's `batch_norm_train` kernel normalises with the biased batch
//! variance, as PyTorch does, but burn-nn's `BatchNorm` then also folds the
//! *biased* variance into `running_var`. PyTorch folds the unbiased one,
//! `var * n / (n - 1)` with `n` the number of values per channel; a network
//! trained with burn-nn's layer therefore evaluates differently from the same
//! network trained in PyTorch. [`batch_norm`] is `F.batch_norm`.

use burn::config::Config;
use burn::module::{Flag, Module, Param, RunningState};
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};

/// Configuration of [`BatchNorm`], with PyTorch's defaults.
#[derive(Config, Debug)]
pub struct BatchNormConfig {
    /// Channels (`C` of `[N, C, ...]`).
    pub num_features: usize,
    /// Added to the variance.
    #[config(default = 1e-5)]
    pub eps: f64,
    /// Weight of the batch statistics in the running ones.
    #[config(default = 0.1)]
    pub momentum: f64,
}

impl BatchNormConfig {
    /// A layer with weight 1, bias 0, running mean 0 and running variance 1.
    ///
    /// # Panics
    /// When `num_features` is zero, `eps` is not positive or `momentum` is
    /// outside `[0, 1]`.
    pub fn init(&self, device: &Device) -> BatchNorm {
        assert!(
            self.num_features > 0,
            "BatchNormConfig: num_features is 0, expected > 0"
        );
        assert!(
            self.eps > 0.0 && (0.0..=1.0).contains(&self.momentum),
            "BatchNormConfig: eps {} and momentum {}, expected eps > 0 and momentum in [0, 1]",
            self.eps,
            self.momentum
        );
        let c = self.num_features;
        BatchNorm {
            weight: Param::from_tensor(Tensor::ones([c], device)),
            bias: Param::from_tensor(Tensor::zeros([c], device)),
            running_mean: RunningState::new(Tensor::zeros([c], device)),
            running_var: RunningState::new(Tensor::ones([c], device)),
            training: Param::from_bool(true),
            momentum: self.momentum,
            eps: self.eps,
        }
    }
}

/// `torch.nn.BatchNorm{1,2,3}d` as a burn module, with torchvision's
/// `state_dict` names (`weight`, `bias`, `running_mean`, `running_var`) and
/// PyTorch's running-variance update (see [`batch_norm`]). It trains (batch
/// statistics, running statistics updated) on an autodiff device unless the
/// module was made [`valid`](Module::valid); it evaluates with the running
/// statistics otherwise.
#[derive(Module, Debug)]
pub struct BatchNorm {
    /// Scale, `[C]`.
    pub weight: Param<Tensor<1>>,
    /// Shift, `[C]`.
    pub bias: Param<Tensor<1>>,
    /// Running mean, `[C]`.
    pub running_mean: RunningState<Tensor<1>>,
    /// Running (unbiased) variance, `[C]`.
    pub running_var: RunningState<Tensor<1>>,
    /// Whether the layer trains (cleared by [`Module::valid`]).
    pub training: Param<Flag>,
    /// Weight of the batch statistics in the running ones.
    pub momentum: f64,
    /// Added to the variance.
    pub eps: f64,
}

impl BatchNorm {
    /// Normalises `[N, C, ...]`.
    ///
    /// # Panics
    /// As [`batch_norm`].
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        let kind = match D {
            2 | 3 => "BatchNorm1d",
            5 => "BatchNorm3d",
            _ => "BatchNorm2d",
        };
        let params = || 2 * self.weight.lazy_shape().num_elements();
        crate::trace::layer(
            kind,
            params,
            |_| 0,
            input,
            |x| self.forward_untraced(x, false),
        )
    }

    /// `relu(self.forward(input))`, fused into one pass on flex (traced as
    /// the two layers it is).
    pub fn forward_relu<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        if crate::trace::recording() {
            return crate::trace::relu(self.forward(input));
        }
        self.forward_untraced(input, true)
    }

    /// `self.forward(conv(x))`, then `+ residual` when given, then a ReLU
    /// when `relu`: a ResNet's convolution, batch norm, residual add and
    /// ReLU. In evaluation mode on flex (no autodiff, not tracing) one pass
    /// over the convolution's output ([`zoo_kernels::conv2d_bn`], the same
    /// bits as the separate layers); otherwise the layers one by one.
    ///
    /// # Panics
    /// As the convolution and [`batch_norm`]; when the residual's shape is
    /// not the output's.
    pub fn forward_conv(
        &self,
        conv: &Conv2d,
        x: Tensor<4>,
        residual: Option<Tensor<4>>,
        relu: bool,
    ) -> Tensor<4> {
        let device = x.device();
        let training = device.is_autodiff() && self.training.is_enabled();
        if training || device.is_autodiff() || crate::trace::recording() {
            let y = crate::trace::conv2d(conv, x);
            return match residual {
                None if relu => self.forward_relu(y),
                None => self.forward(y),
                Some(r) => {
                    let y = self.forward(y) + r;
                    if relu { crate::trace::relu(y) } else { y }
                }
            };
        }
        let dims = x.dims();
        crate::trace::check_conv(conv, dims);
        let channels = self.weight.lazy_shape().num_elements();
        let [cout, ..] = conv.weight.dims();
        assert_eq!(
            cout, channels,
            "BatchNorm::forward_conv: the convolution has {cout} output channels, the batch norm {channels}"
        );
        zoo_kernels::conv2d_bn(
            x,
            conv.weight.val(),
            conv.bias.as_ref().map(|b| b.val()),
            crate::trace::conv_options(conv, dims),
            zoo_kernels::BnEval {
                gamma: self.weight.val(),
                beta: self.bias.val(),
                mean: self.running_mean.value().to_device(&device),
                variance: self.running_var.value().to_device(&device),
                epsilon: self.eps,
            },
            residual,
            relu,
        )
    }

    fn forward_untraced<const D: usize>(&self, input: Tensor<D>, relu: bool) -> Tensor<D> {
        let device = input.device();
        let training = device.is_autodiff() && self.training.is_enabled();
        let (mean, var) = if training {
            (
                self.running_mean.value_sync(),
                self.running_var.value_sync(),
            )
        } else {
            (self.running_mean.value(), self.running_var.value())
        };
        let out = batch_norm_fused(
            input,
            mean.to_device(&device),
            var.to_device(&device),
            Some(self.weight.val()),
            Some(self.bias.val()),
            training,
            self.momentum,
            self.eps,
            relu,
        );
        if training {
            self.running_mean.update(out.running_mean);
            self.running_var.update(out.running_var);
        }
        out.output
    }
}

/// What [`batch_norm`] returns: the output and the running statistics after the call.
#[derive(Debug, Clone)]
pub struct BatchNormOutput<const D: usize> {
    /// The normalised input, same shape as the input.
    pub output: Tensor<D>,
    /// The running mean after the call (unchanged in evaluation mode), detached.
    pub running_mean: Tensor<1>,
    /// The running variance after the call (unchanged in evaluation mode), detached.
    pub running_var: Tensor<1>,
}

/// Batch normalisation over `[N, C, ...]` as `torch.nn.functional.batch_norm`.
///
/// In training mode the batch mean and biased variance normalise the input
/// (`(x - mean) / sqrt(var + eps) * weight + bias`, gradients flowing through
/// the statistics) and the running statistics become
/// `(1 - momentum) * running + momentum * batch`, with the *unbiased* batch
/// variance for `running_var`. In evaluation mode the running statistics
/// normalise and are returned unchanged. A missing `weight` is 1, a missing
/// `bias` 0. Reference: Ioffe & Szegedy 2015; `torch.nn.functional.batch_norm`.
///
/// # Panics
/// When the input has rank < 2, when the statistics or affine parameters are
/// not `[C]`, or in training mode when there is only one value per channel
/// (as PyTorch refuses).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm<const D: usize>(
    input: Tensor<D>,
    running_mean: Tensor<1>,
    running_var: Tensor<1>,
    weight: Option<Tensor<1>>,
    bias: Option<Tensor<1>>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> BatchNormOutput<D> {
    batch_norm_fused(
        input,
        running_mean,
        running_var,
        weight,
        bias,
        training,
        momentum,
        eps,
        false,
    )
}

/// [`batch_norm`] with a ReLU applied to its output when `relu`.
#[allow(clippy::too_many_arguments)]
fn batch_norm_fused<const D: usize>(
    input: Tensor<D>,
    running_mean: Tensor<1>,
    running_var: Tensor<1>,
    weight: Option<Tensor<1>>,
    bias: Option<Tensor<1>>,
    training: bool,
    momentum: f64,
    eps: f64,
    relu: bool,
) -> BatchNormOutput<D> {
    assert!(
        D >= 2,
        "batch_norm: input must be [N, C, ...], got rank {D}"
    );
    let dims = input.dims();
    let channels = dims[1];
    for (name, t) in [
        ("running_mean", &running_mean),
        ("running_var", &running_var),
    ] {
        assert_eq!(
            t.dims(),
            [channels],
            "batch_norm: {name} must be [C] = [{channels}] for input {dims:?}, got {:?}",
            t.dims()
        );
    }
    let device = input.device();
    let weight = weight.unwrap_or_else(|| Tensor::ones([channels], &device));
    let bias = bias.unwrap_or_else(|| Tensor::zeros([channels], &device));
    assert_eq!(
        weight.dims(),
        [channels],
        "batch_norm: weight must be [{channels}]"
    );
    assert_eq!(
        bias.dims(),
        [channels],
        "batch_norm: bias must be [{channels}]"
    );

    if !training {
        let output = zoo_kernels::batch_norm(
            input,
            weight,
            bias,
            running_mean.clone().detach(),
            running_var.clone().detach(),
            eps,
            relu,
        );
        return BatchNormOutput {
            output,
            running_mean: running_mean.detach(),
            running_var: running_var.detach(),
        };
    }

    let per_channel: usize = dims
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, d)| d)
        .product();
    assert!(
        per_channel > 1,
        "batch_norm: training needs more than one value per channel, got input {dims:?}"
    );
    let result = zoo_kernels::batch_norm_train(input, weight, bias, eps, relu);
    let unbiased = result
        .variance
        .detach()
        .mul_scalar(per_channel as f64 / (per_channel - 1) as f64);
    let running_mean = running_mean
        .detach()
        .mul_scalar(1.0 - momentum)
        .add(result.mean.detach().mul_scalar(momentum));
    let running_var = running_var
        .detach()
        .mul_scalar(1.0 - momentum)
        .add(unbiased.mul_scalar(momentum));
    BatchNormOutput {
        output: result.output,
        running_mean,
        running_var,
    }
}

/// Local response normalisation across channels (Krizhevsky et al. 2012),
/// as `F.local_response_norm`: `x / (k + alpha / size * sum x^2)^beta`, the
/// sum over a window of `size` channels holding `size / 2` channels before
/// and `(size - 1) / 2` after (zeros beyond the ends, counted in the mean).
///
/// burn-nn's `LocalResponseNorm` puts the window the other way round
/// (`(size - 1) / 2` before), which differs from PyTorch for even sizes.
///
/// # Panics
/// When the rank is below 3 or `size` is zero.
pub fn local_response_norm<const D: usize>(
    x: Tensor<D>,
    size: usize,
    alpha: f64,
    beta: f64,
    k: f64,
) -> Tensor<D> {
    assert!(
        D >= 3,
        "local_response_norm: input must be [N, C, H, ...], got rank {D}"
    );
    assert!(size > 0, "local_response_norm: size must be positive");
    let dims = x.dims();
    let (n, c) = (dims[0], dims[1]);
    let rest: usize = dims[2..].iter().product();
    let sq = x.clone().reshape([n, c, rest]).square();
    let (before, after) = (size / 2, (size - 1) / 2);
    let device = sq.device();
    let padded = Tensor::cat(
        vec![
            Tensor::zeros([n, before, rest], &device),
            sq,
            Tensor::zeros([n, after, rest], &device),
        ],
        1,
    );
    let mut sum = padded.clone().narrow(1, 0, c);
    for offset in 1..size {
        sum = sum + padded.clone().narrow(1, offset, c);
    }
    let div = sum
        .mul_scalar(alpha / size as f64)
        .add_scalar(k)
        .powf_scalar(beta);
    x / div.reshape(dims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_variance_is_unbiased_as_in_torch() {
        let device = zoo_device::from_name("flex").unwrap();
        // One channel, values 1..4: batch mean 2.5, biased var 1.25, unbiased 5/3.
        let x = Tensor::<2>::from_floats([[1.0], [2.0], [3.0], [4.0]], &device);
        let out = batch_norm(
            x,
            Tensor::zeros([1], &device),
            Tensor::ones([1], &device),
            None,
            None,
            true,
            0.1,
            1e-5,
        );
        let mean: Vec<f32> = out
            .running_mean
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        let var: Vec<f32> = out
            .running_var
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        assert!((mean[0] - 0.25).abs() < 1e-6, "{mean:?}");
        assert!((var[0] - (0.9 + 0.1 * 5.0 / 3.0)).abs() < 1e-6, "{var:?}");
        let y: Vec<f32> = out.output.into_data().try_into_vec_as::<f32>().unwrap();
        // (1 - 2.5) / sqrt(1.25 + 1e-5)
        assert!(
            (y[0] - (-1.5 / (1.25f32 + 1e-5).sqrt())).abs() < 1e-5,
            "{y:?}"
        );
    }

    #[test]
    fn lrn_window_sits_before_the_channel_for_even_sizes() {
        // x = [1, 2] over two channels, size 2, alpha 1, beta 1, k 1. torch's window
        // for channel c is channels c-1..=c: div = [1 + 1/2, 1 + 5/2].
        let device = zoo_device::from_name("flex").unwrap();
        let x = Tensor::<3>::from_floats([[[1.0], [2.0]]], &device);
        let y: Vec<f32> = local_response_norm(x, 2, 1.0, 1.0, 1.0)
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        assert!(
            (y[0] - 1.0 / 1.5).abs() < 1e-6 && (y[1] - 2.0 / 3.5).abs() < 1e-6,
            "{y:?}"
        );
    }
}
