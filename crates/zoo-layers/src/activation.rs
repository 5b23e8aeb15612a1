//! Activations by name, with `torch.nn.functional`'s semantics (burn's kernels).

use std::fmt;

use burn::tensor::Tensor;
use burn::tensor::activation as act;

/// An activation function of `torch.nn.functional`, with its arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `max(0, x)`.
    Relu,
    /// `x` for `x >= 0`, else `negative_slope * x` (torch default 0.01).
    LeakyRelu {
        /// Slope for negative inputs.
        negative_slope: f64,
    },
    /// `x` for `x > 0`, else `alpha * (exp(x) - 1)` (torch default 1.0).
    Elu {
        /// Scale of the negative part.
        alpha: f64,
    },
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// `exp(x_i) / sum_j exp(x_j)` along `dim` (negative counts from the end).
    Softmax {
        /// The dimension normalised over.
        dim: isize,
    },
    /// `log(softmax(x))` along `dim`, computed stably.
    LogSoftmax {
        /// The dimension normalised over.
        dim: isize,
    },
    /// `x * Phi(x)`; with `tanh` the tanh approximation (torch `approximate="tanh"`).
    Gelu {
        /// Use the tanh approximation instead of the exact erf form.
        tanh: bool,
    },
    /// `x * sigmoid(x)` (swish).
    Silu,
    /// `log(1 + exp(beta x)) / beta`, and `x` where `beta x > threshold` (torch defaults 1, 20).
    Softplus {
        /// Sharpness.
        beta: f64,
        /// Above `beta * x > threshold` the function is the identity.
        threshold: f64,
    },
}

impl Activation {
    /// The torch name of this activation (`relu`, `leaky_relu`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Elu { .. } => "elu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax { .. } => "softmax",
            Activation::LogSoftmax { .. } => "log_softmax",
            Activation::Gelu { .. } => "gelu",
            Activation::Silu => "silu",
            Activation::Softplus { .. } => "softplus",
        }
    }

    /// The activation named `kind` with torch's default arguments.
    ///
    /// `softmax` and `log_softmax` default to the last dimension.
    pub fn with_defaults(kind: &str) -> Result<Activation, String> {
        Ok(match kind {
            "relu" => Activation::Relu,
            "leaky_relu" => Activation::LeakyRelu {
                negative_slope: 0.01,
            },
            "elu" => Activation::Elu { alpha: 1.0 },
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "softmax" => Activation::Softmax { dim: -1 },
            "log_softmax" => Activation::LogSoftmax { dim: -1 },
            "gelu" => Activation::Gelu { tanh: false },
            "silu" => Activation::Silu,
            "softplus" => Activation::Softplus {
                beta: 1.0,
                threshold: 20.0,
            },
            other => {
                return Err(format!(
                    "unknown activation `{other}`: expected one of relu, leaky_relu, elu, \
                     sigmoid, tanh, softmax, log_softmax, gelu, silu, softplus"
                ));
            }
        })
    }

    /// Applies the activation element-wise (or along `dim` for the softmaxes).
    ///
    /// # Panics
    /// When a softmax `dim` is outside `[-D, D)`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        crate::trace::op(self.torch_name(), x, |x| self.apply(x))
    }

    /// The name of torch's module for this activation (`ReLU`, `Sigmoid`, ...).
    pub fn torch_name(&self) -> &'static str {
        match self {
            Activation::Relu => "ReLU",
            Activation::LeakyRelu { .. } => "LeakyReLU",
            Activation::Elu { .. } => "ELU",
            Activation::Sigmoid => "Sigmoid",
            Activation::Tanh => "Tanh",
            Activation::Softmax { .. } => "Softmax",
            Activation::LogSoftmax { .. } => "LogSoftmax",
            Activation::Gelu { .. } => "GELU",
            Activation::Silu => "SiLU",
            Activation::Softplus { .. } => "Softplus",
        }
    }

    fn apply<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match *self {
            Activation::Relu => act::relu(x),
            Activation::LeakyRelu { negative_slope } => act::leaky_relu(x, negative_slope),
            Activation::Elu { alpha } => act::elu(x, alpha),
            Activation::Sigmoid => zoo_kernels::sigmoid(x),
            Activation::Tanh => act::tanh(x),
            Activation::Softmax { dim } => act::softmax(x, resolve_dim::<D>(dim, "softmax")),
            Activation::LogSoftmax { dim } => {
                act::log_softmax(x, resolve_dim::<D>(dim, "log_softmax"))
            }
            // Composed from erf rather than burn's fused `gelu`: burn's default
            // `gelu_backward` (used by ndarray and wgpu) is the derivative of the
            // tanh approximation, 1e-3 off the exact GELU's gradient.
            Activation::Gelu { tanh: false } => {
                let cdf = x
                    .clone()
                    .div_scalar(std::f64::consts::SQRT_2)
                    .erf()
                    .add_scalar(1.0)
                    .mul_scalar(0.5);
                x * cdf
            }
            // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), with x^3 as a product
            // (a float power of a negative base is NaN on some backends).
            Activation::Gelu { tanh: true } => {
                let cube = x.clone() * x.clone() * x.clone();
                let inner = (x.clone() + cube.mul_scalar(0.044_715))
                    .mul_scalar((2.0 / std::f64::consts::PI).sqrt());
                x * inner.tanh().add_scalar(1.0).mul_scalar(0.5)
            }
            Activation::Silu => act::silu(x),
            Activation::Softplus { beta, threshold } => {
                act::softplus_with_threshold(x, beta, threshold)
            }
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn resolve_dim<const D: usize>(dim: isize, what: &str) -> usize {
    let d = D as isize;
    assert!(
        (-d..d).contains(&dim),
        "{what}: dim {dim} is out of range for a tensor of rank {D}"
    );
    if dim < 0 {
        (dim + d) as usize
    } else {
        dim as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gelu_and_softplus_match_torch() {
        let device = zoo_device::from_name("flex").unwrap();
        let x = Tensor::<1>::from_floats([-1.0, 0.5, 30.0], &device);
        // torch.nn.functional.gelu([-1, 0.5, 30]) = [-0.15865526, 0.34573123, 30]
        let g: Vec<f32> = Activation::Gelu { tanh: false }
            .forward(x.clone())
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        for (a, b) in g.iter().zip([-0.158_655_26_f32, 0.345_731_23, 30.0]) {
            assert!((a - b).abs() < 1e-5, "{g:?}");
        }
        // F.softplus(x, beta=1, threshold=20) = [0.31326169, 0.97407698, 30]
        let s: Vec<f32> = Activation::with_defaults("softplus")
            .unwrap()
            .forward(x)
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        for (a, b) in s.iter().zip([0.313_261_7_f32, 0.974_077, 30.0]) {
            assert!((a - b).abs() < 1e-5, "{s:?}");
        }
    }

    #[test]
    fn gelu_gradients_are_exact() {
        // d/dx [x Phi(x)] = Phi(x) + x phi(x); at x = 1: 0.8413447 + 0.2419707 = 1.0833155.
        // tanh form at x = 1 (torch approximate="tanh"): 1.0829641.
        let device = zoo_device::from_name("flex").unwrap().autodiff();
        for (tanh, want) in [(false, 1.083_315_5_f32), (true, 1.082_964_1)] {
            let x = Tensor::<1>::from_floats([1.0], &device).require_grad();
            let y = Activation::Gelu { tanh }.forward(x.clone()).sum();
            let g: Vec<f32> = x
                .grad(&y.backward())
                .unwrap()
                .into_data()
                .try_into_vec_as::<f32>()
                .unwrap();
            assert!((g[0] - want).abs() < 1e-5, "tanh={tanh}: {g:?} vs {want}");
        }
    }

    #[test]
    fn unknown_kind_is_an_error() {
        let err = Activation::with_defaults("swishy").unwrap_err();
        assert!(err.contains("swishy") && err.contains("relu"), "{err}");
    }
}

/// `torch.nn.PReLU(num_parameters, init)`: `max(0, x) + weight * min(0, x)`
/// with a learned slope, one for all channels or one per channel (dim 1).
/// The field is torch's `weight`, so a torch `state_dict` loads.
/// (burn's `PRelu` names it `alpha`; the [`Activation`] enum holds the
/// parameter-free activations only.)
#[derive(burn::module::Module, Debug)]
pub struct PRelu {
    /// The slopes, `[num_parameters]`.
    pub weight: burn::module::Param<Tensor<1>>,
}

/// Configuration of [`PRelu`].
#[derive(burn::config::Config, Debug)]
pub struct PReluConfig {
    /// 1 (one slope) or the number of channels.
    #[config(default = 1)]
    pub num_parameters: usize,
    /// The initial slope (torch's default 0.25).
    #[config(default = 0.25)]
    pub init: f64,
}

impl PReluConfig {
    /// The layer on `device`.
    pub fn init(&self, device: &burn::tensor::Device) -> PRelu {
        PRelu {
            weight: burn::module::Param::from_tensor(Tensor::full(
                [self.num_parameters.max(1)],
                self.init,
                device,
            )),
        }
    }
}

impl PRelu {
    /// `x [N, C, ...]` (or `[N]`) with the slopes applied along dim 1.
    ///
    /// # Panics
    /// When the layer has several slopes and `x` has another number of channels.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let w = self.weight.val();
        let k = w.dims()[0];
        if k > 1 {
            let c = if D >= 2 { x.dims()[1] } else { 1 };
            assert_eq!(c, k, "PReLU with {k} slopes on an input with {c} channels");
        }
        act::prelu(x, w)
    }
}

#[cfg(test)]
mod prelu_tests {
    use super::*;

    #[test]
    fn prelu_matches_torch_by_hand_and_learns_its_slope() {
        // torch.nn.PReLU(2) with weight [0.25, 0.5] on [[-2, 4], [-1, -3]]
        // ([N=2, C=2]): [[-0.5, 4], [-0.25, -1.5]].
        let device = zoo_device::from_name("flex").unwrap().autodiff();
        let mut layer = PReluConfig::new().with_num_parameters(2).init(&device);
        layer.weight = burn::module::Param::from_tensor(Tensor::from_floats([0.25, 0.5], &device));
        let x = Tensor::<2>::from_floats([[-2.0, 4.0], [-1.0, -3.0]], &device);
        let y = layer.forward(x);
        let v: Vec<f32> = y.clone().into_data().try_into_vec_as().unwrap();
        assert_eq!(v, [-0.5, 4.0, -0.25, -1.5]);
        // d sum(y) / d weight_c = sum of the channel's negative inputs: [-3, -3].
        let grads = y.sum().backward();
        let g: Vec<f32> = layer
            .weight
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_into_vec_as()
            .unwrap();
        assert_eq!(g, [-3.0, -3.0]);
    }
}
