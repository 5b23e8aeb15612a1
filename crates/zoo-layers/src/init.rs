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

#[cfg(test)]
mod tests {
    use super::*;

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
