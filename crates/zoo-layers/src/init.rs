//! Weight initialisation helpers: Xavier/Glorot and Kaiming/He scales (as
//! `torch.nn.init` computes them) and the FCN bilinear upsampling kernel.

use burn::tensor::{Device, Tensor, TensorData};

/// Which fan Kaiming initialisation preserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanMode {
    /// Preserve the variance of activations in the forward pass (torch default).
    FanIn,
    /// Preserve the variance of gradients in the backward pass.
    FanOut,
}

/// The gain torch recommends for ReLU, `sqrt(2)`.
pub const RELU_GAIN: f64 = std::f64::consts::SQRT_2;

/// Bound `a` of Xavier/Glorot uniform initialisation `U(-a, a)`:
/// `gain * sqrt(6 / (fan_in + fan_out))` (Glorot & Bengio 2010; `torch.nn.init.xavier_uniform_`).
pub fn xavier_uniform_bound(fan_in: usize, fan_out: usize, gain: f64) -> f64 {
    gain * (6.0 / (fan_in + fan_out) as f64).sqrt()
}

/// Standard deviation of Kaiming/He normal initialisation:
/// `gain / sqrt(fan)` with `fan` chosen by `mode` (He et al. 2015;
/// `torch.nn.init.kaiming_normal_`, whose gain for ReLU is [`RELU_GAIN`]).
pub fn kaiming_normal_std(fan_in: usize, fan_out: usize, gain: f64, mode: FanMode) -> f64 {
    let fan = match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    };
    gain / (fan as f64).sqrt()
}

/// `(fan_in, fan_out)` of a weight shaped as torch shapes it: `[out, in]` for
/// linear layers, `[out, in / groups, kh, kw]` for convolutions.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [n] => (*n, *n),
        [out, inp, rest @ ..] => {
            let field: usize = rest.iter().product();
            (inp * field, out * field)
        }
    }
}

/// The bilinear upsampling kernel FCN initialises its transposed convolution
/// with (d2l 14.11 `bilinear_kernel`): shape `[in, out, k, k]`, the filter
/// `(1 - |i - c| / f) (1 - |j - c| / f)` with `f = ceil(k / 2)` and
/// `c = f - 1` (odd `k`) or `f - 0.5` (even `k`) on the channel diagonal
/// `weight[i, i]`, zero elsewhere.
///
/// # Panics
/// When `in_channels != out_channels` (the d2l code pairs channel `i` with `i`)
/// or `kernel_size == 0`.
pub fn bilinear_kernel(
    in_channels: usize,
    out_channels: usize,
    kernel_size: usize,
    device: &Device,
) -> Tensor<4> {
    assert_eq!(
        in_channels, out_channels,
        "bilinear_kernel: in_channels ({in_channels}) must equal out_channels ({out_channels})"
    );
    assert!(
        kernel_size > 0,
        "bilinear_kernel: kernel_size must be positive"
    );
    let k = kernel_size;
    let factor = k.div_ceil(2) as f64;
    let center = if k % 2 == 1 {
        factor - 1.0
    } else {
        factor - 0.5
    };
    let tap = |i: usize| 1.0 - (i as f64 - center).abs() / factor;
    let mut data = vec![0f32; in_channels * out_channels * k * k];
    for c in 0..in_channels {
        let base = (c * out_channels + c) * k * k;
        for i in 0..k {
            for j in 0..k {
                data[base + i * k + j] = (tap(i) * tap(j)) as f32;
            }
        }
    }
    Tensor::from_data(
        TensorData::new(data, [in_channels, out_channels, k, k]),
        device,
    )
}

/// Re-draws the weights of every `Conv2d` and `Linear` of `model` from
/// Xavier's uniform distribution (`torch.nn.init.xavier_uniform_`, gain 1),
/// leaving biases and everything else as they are: the initialisation the
/// course's training function applies (`net.apply(init_weights)` in d2l's
/// `train_ch6`; `d2l.init_cnn` in the current notes). Drawn on each
/// weight's device from its RNG, so `Device::seed` makes it repeatable.
pub fn xavier_uniform_conv_linear<M: burn::module::Module>(model: M) -> M {
    struct Xavier {
        containers: Vec<String>,
    }
    impl burn::module::ModuleMapper for Xavier {
        fn enter_module(&mut self, _name: &str, container_type: &str) {
            self.containers.push(container_type.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.containers.pop();
        }
        fn map_float<const D: usize>(
            &mut self,
            param: burn::module::Param<Tensor<D>>,
        ) -> burn::module::Param<Tensor<D>> {
            // The innermost entry is the parameter's field, entered with the
            // type of the module that owns it.
            let owner = self.containers.last().map(String::as_str);
            let is_weight = D >= 2 && matches!(owner, Some("Struct:Conv2d" | "Struct:Linear"));
            if !is_weight {
                return param;
            }
            let linear = owner == Some("Struct:Linear");
            // `map` keeps the parameter's id and its training state (a
            // parameter made on a plain device stays trainable when the
            // module moves to an autodiff one).
            param.map(|value| {
                let dims = value.dims();
                // burn's Linear weight is [in, out]; torch's fans are of [out, in].
                let shape: Vec<usize> = if linear {
                    vec![dims[1], dims[0]]
                } else {
                    dims.to_vec()
                };
                let (fan_in, fan_out) = fans(&shape);
                let b = xavier_uniform_bound(fan_in, fan_out, 1.0);
                let device = value.device();
                let t =
                    Tensor::<D>::random(dims, burn::tensor::Distribution::Uniform(-b, b), &device);
                if value.is_require_grad() {
                    t.require_grad()
                } else {
                    t
                }
            })
        }
    }
    model.map(&mut Xavier {
        containers: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xavier_redraws_conv_and_linear_weights_only() {
        use burn::nn::LinearConfig;
        use burn::nn::conv::Conv2dConfig;
        let device = zoo_device::from_name("flex").unwrap();
        device.seed(3);
        let conv = Conv2dConfig::new([16, 32], [3, 3]).init(&device);
        let bias_before: Vec<f32> = conv
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .try_to_vec()
            .unwrap();
        let conv = xavier_uniform_conv_linear(conv);
        let w: Vec<f32> = conv.weight.val().into_data().try_to_vec().unwrap();
        // torch: fan_in 16*9, fan_out 32*9, bound sqrt(6 / 432) = 0.11785.
        let b = (6.0f32 / 432.0).sqrt();
        assert!(w.iter().all(|v| v.abs() <= b));
        let var = w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32;
        // Uniform(-b, b) has variance b^2 / 3; 4,608 draws.
        assert!((var / (b * b / 3.0) - 1.0).abs() < 0.08, "{var}");
        let bias_after: Vec<f32> = conv
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .try_to_vec()
            .unwrap();
        assert_eq!(bias_before, bias_after);
        let fc = xavier_uniform_conv_linear(LinearConfig::new(400, 120).init(&device));
        let w: Vec<f32> = fc.weight.val().into_data().try_to_vec().unwrap();
        let b = (6.0f32 / 520.0).sqrt();
        let max = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(max <= b && max > 0.95 * b, "{max} vs {b}");
    }

    #[test]
    fn scales_match_torch_init() {
        // torch.nn.init.calculate_gain("relu") = sqrt(2); fan_in of a 3x3x3 conv = 27.
        assert!((xavier_uniform_bound(27, 576, 1.0) - (6.0f64 / 603.0).sqrt()).abs() < 1e-12);
        assert!(
            (kaiming_normal_std(147, 3136, RELU_GAIN, FanMode::FanIn) - (2.0f64 / 147.0).sqrt())
                .abs()
                < 1e-12
        );
        assert_eq!(fans(&[64, 3, 7, 7]), (147, 3136));
        assert_eq!(fans(&[10, 784]), (784, 10));
    }

    #[test]
    fn bilinear_kernel_of_size_4() {
        // d2l: k = 4 -> factor 2, center 1.5, taps [0.25, 0.75, 0.75, 0.25].
        let device = zoo_device::from_name("flex").unwrap();
        let w: Vec<f32> = bilinear_kernel(2, 2, 4, &device)
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        assert_eq!(w.len(), 64);
        assert!((w[0] - 0.0625).abs() < 1e-7 && (w[5] - 0.5625).abs() < 1e-7);
        // Off-diagonal channel pair (0, 1) is zero.
        assert!(w[16..32].iter().all(|&v| v == 0.0));
    }
}
