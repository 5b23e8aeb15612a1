//! The zoo's own CPU kernels for burn's `flex` backend: convolution (any
//! stride, padding, dilation and groups), transposed convolution, max and
//! average pooling, adaptive average pooling, batch norm (training and
//! evaluation, optionally with a ReLU fused after it) and the sigmoid,
//! forward and backward; in evaluation, a convolution with its batch norm,
//! residual add and ReLU applied to each block of its output as it is
//! written ([`conv2d_bn`], the same bits as the separate ops).
//!
//! They plug into burn through its backend extension (`#[backend_extension]`):
//! [`ZooKernels`] is implemented for `Flex` (the forward kernels) and for
//! `Autodiff<Flex>` (the forward kernels plus hand-written backward steps).
//! The functions at the crate root take and return burn `Tensor`s: on a flex
//! device (plain or autodiff) with `f32` data they run these kernels; on any
//! other device or dtype they call burn's own op, so ndarray and wgpu behave
//! exactly as before. zoo-layers routes its layers through them, so every
//! model of the zoo runs on these kernels with no change to its fields.
//!
//! The kernels themselves work on plain slices ([`cpu`]): im2col / col2im
//! around the `gemm` crate (burn-flex's own matrix kernels, with AVX-512
//! chosen at run time when the CPU has it), split over images, groups and
//! column tiles on rayon's pool with per-thread buffers reused across calls.
//!
//! ```
//! use burn::tensor::{Tensor, ops::ConvOptions};
//! let device = zoo_device::from_name("flex").unwrap();
//! let x = Tensor::<4>::ones([1, 1, 3, 3], &device);
//! let w = Tensor::<4>::ones([1, 1, 2, 2], &device);
//! let y = zoo_kernels::conv2d(x, w, None, ConvOptions::new([1, 1], [0, 0], [1, 1], 1));
//! assert_eq!(y.into_data().to_vec::<f32>().unwrap(), vec![4.0; 4]);
//! ```

pub mod cpu;

mod autodiff;
mod flex;

use burn::backend::Dispatch;
use burn::backend::{
    Backend, DispatchDevice, ExtensionType, backend_extension, tensor::FloatTensor,
};
use burn::tensor::module::{self, BatchNormTrainOutput};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, ConvTransposeOptions, MaxPoolOptions};
use burn::tensor::{DType, Device, Tensor};

/// A convolution's optional bias (the extension's form of `Option`).
#[derive(ExtensionType, Debug)]
pub enum Bias<B: Backend> {
    /// A bias, `[C_out]`.
    Some(FloatTensor<B>),
    /// No bias.
    None,
}

impl Bias<Dispatch> {
    /// The extension's form of an optional bias tensor.
    pub fn from_tensor(bias: Option<Tensor<1>>) -> Self {
        bias.map_or(Bias::None, |b| Bias::Some(b.into_dispatch()))
    }

    /// The extension's form of an optional 4-d tensor (a residual).
    pub fn from_tensor4(t: Option<Tensor<4>>) -> Self {
        t.map_or(Bias::None, |t| Bias::Some(t.into_dispatch()))
    }
}

impl<B: Backend> Bias<B> {
    /// As an `Option`.
    pub fn into_option(self) -> Option<FloatTensor<B>> {
        match self {
            Bias::Some(b) => Some(b),
            Bias::None => None,
        }
    }
}

/// The kernels, as a burn backend extension. Implemented for `Flex` and
/// `Autodiff<Flex>`; the crate-root functions call it only on those (with
/// `f32` data) and burn's own ops elsewhere.
#[backend_extension(Flex, Autodiff)]
pub trait ZooKernels: Backend {
    /// `conv2d` with PyTorch's semantics (padding before and after may differ).
    fn zoo_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        #[extension_type] bias: Bias<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// Evaluation-mode `relu?(batch_norm(conv2d(x)) + residual)` (the
    /// residual, when given, has the output's shape), in one pass over the
    /// output.
    #[allow(clippy::too_many_arguments)]
    fn zoo_conv2d_bn(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        #[extension_type] bias: Bias<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        #[extension_type] residual: Bias<Self>,
        options: ConvOptions<2>,
        epsilon: f64,
        relu: bool,
    ) -> FloatTensor<Self>;

    /// `conv_transpose2d` with PyTorch's semantics.
    fn zoo_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        #[extension_type] bias: Bias<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self>;

    /// `max_pool2d` with symmetric padding.
    fn zoo_max_pool2d(x: FloatTensor<Self>, options: MaxPoolOptions<2>) -> FloatTensor<Self>;

    /// `avg_pool2d` with symmetric padding.
    fn zoo_avg_pool2d(x: FloatTensor<Self>, options: AvgPoolOptions<2>) -> FloatTensor<Self>;

    /// `adaptive_avg_pool2d`.
    fn zoo_adaptive_avg_pool2d(x: FloatTensor<Self>, output_size: [usize; 2]) -> FloatTensor<Self>;

    /// Training-mode batch norm of `[n, c, s]`: the output (ReLU'd with
    /// `relu`), the batch mean and the biased batch variance (both detached).
    fn zoo_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// The logistic sigmoid, element-wise.
    fn zoo_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// One direction of a recurrent layer over a whole sequence (see
    /// [`recurrent`]): `gi [T, N, G*H]`, `w_hh [G*H, H]`, `b_hh [G*H]`,
    /// `h0 [N, H]`, `c0 [N, H]`; outputs `[T, N, H]` in time order, with
    /// the final cell state as one more row for an LSTM. `cell`: 0 tanh,
    /// 1 ReLU, 2 GRU, 3 LSTM.
    fn zoo_recurrent(
        gi: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        b_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        cell: usize,
        reverse: bool,
    ) -> FloatTensor<Self>;

    /// Evaluation-mode batch norm of `[n, c, s]` with the given statistics.
    fn zoo_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> FloatTensor<Self>;
}

/// Whether `x` runs on the zoo's kernels: a flex device (plain or autodiff)
/// and `f32` data. `ZOO_KERNELS=burn` turns them off (to compare with burn's
/// own flex ops).
pub fn uses_zoo_kernels<const D: usize>(x: &Tensor<D>) -> bool {
    x.dtype() == DType::F32 && is_flex(&x.device()) && enabled()
}

fn enabled() -> bool {
    use std::sync::OnceLock;
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("ZOO_KERNELS").map_or(true, |v| v != "burn"))
}

/// Whether `device` is burn's flex CPU backend, with or without autodiff.
pub fn is_flex(device: &Device) -> bool {
    matches!(
        device.as_dispatch().clone().inner(),
        DispatchDevice::Flex(_)
    )
}

/// `torch.nn.functional.conv2d`: `x` `[N, C_in, H, W]`, `weight`
/// `[C_out, C_in / groups, kh, kw]`, `bias` `[C_out]`.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    if !uses_zoo_kernels(&x) {
        return module::conv2d(x, weight, bias, options);
    }
    Tensor::from_dispatch(<Dispatch as ZooKernels>::zoo_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        Bias::from_tensor(bias),
        options,
    ))
}

/// An evaluation-mode batch norm's parameters and statistics (`[C]` each)
/// and its epsilon.
#[derive(Clone, Debug)]
pub struct BnEval {
    /// Scale (`weight`).
    pub gamma: Tensor<1>,
    /// Shift (`bias`).
    pub beta: Tensor<1>,
    /// Running mean.
    pub mean: Tensor<1>,
    /// Running variance.
    pub variance: Tensor<1>,
    /// Added to the variance.
    pub epsilon: f64,
}

/// `relu?(batch_norm(conv2d(x, weight, bias)) + residual)` with the batch
/// norm's statistics given (evaluation mode): a ResNet's convolution, batch
/// norm, residual add and ReLU. On flex with `f32` data and no autodiff,
/// one pass: each block of the convolution's output is normalised, added
/// to and rectified as it is written ([`cpu::conv::Epilogue`]), the same
/// arithmetic as the separate ops, so the same bits. Elsewhere, those ops.
///
/// # Panics
/// When the residual's shape is not the output's.
pub fn conv2d_bn(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
    bn: BnEval,
    residual: Option<Tensor<4>>,
    relu: bool,
) -> Tensor<4> {
    if !uses_zoo_kernels(&x) || x.device().is_autodiff() {
        let y = conv2d(x, weight, bias, options);
        let norm =
            |y, relu| batch_norm(y, bn.gamma, bn.beta, bn.mean, bn.variance, bn.epsilon, relu);
        return match residual {
            None => norm(y, relu),
            Some(r) => {
                let y = norm(y, false) + r;
                if relu {
                    burn::tensor::activation::relu(y)
                } else {
                    y
                }
            }
        };
    }
    Tensor::from_dispatch(<Dispatch as ZooKernels>::zoo_conv2d_bn(
        x.into_dispatch(),
        weight.into_dispatch(),
        Bias::from_tensor(bias),
        bn.gamma.into_dispatch(),
        bn.beta.into_dispatch(),
        bn.mean.into_dispatch(),
        bn.variance.into_dispatch(),
        Bias::from_tensor4(residual),
        options,
        bn.epsilon,
        relu,
    ))
}

/// `torch.nn.functional.conv_transpose2d`: `x` `[N, C_in, H, W]`, `weight`
/// `[C_in, C_out / groups, kh, kw]`, `bias` `[C_out]`.
pub fn conv_transpose2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvTransposeOptions<2>,
) -> Tensor<4> {
    if !uses_zoo_kernels(&x) {
        return module::conv_transpose2d(x, weight, bias, options);
    }
    Tensor::from_dispatch(<Dispatch as ZooKernels>::zoo_conv_transpose2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        Bias::from_tensor(bias),
        options,
    ))
}

/// `torch.nn.functional.max_pool2d` (without indices).
pub fn max_pool2d(x: Tensor<4>, options: MaxPoolOptions<2>) -> Tensor<4> {
    if !uses_zoo_kernels(&x) || options.is_asymmetric() {
        return module::max_pool2d(x, options);
    }
    Tensor::from_dispatch(<Dispatch as ZooKernels>::zoo_max_pool2d(
        x.into_dispatch(),
        options,
    ))
}

/// `torch.nn.functional.avg_pool2d`.
pub fn avg_pool2d(x: Tensor<4>, options: AvgPoolOptions<2>) -> Tensor<4> {
    if !uses_zoo_kernels(&x) || options.is_asymmetric() {
        return module::avg_pool2d(x, options);
    }
    Tensor::from_dispatch(<Dispatch as ZooKernels>::zoo_avg_pool2d(
        x.into_dispatch(),
        options,
    ))
}

/// `torch.nn.functional.adaptive_avg_pool2d`.
pub fn adaptive_avg_pool2d(x: Tensor<4>, output_size: [usize; 2]) -> Tensor<4> {
    if !uses_zoo_kernels(&x) {
        return module::adaptive_avg_pool2d(x, output_size);
    }
    Tensor::from_dispatch(<Dispatch as ZooKernels>::zoo_adaptive_avg_pool2d(
        x.into_dispatch(),
        output_size,
    ))
}

/// `torch.sigmoid`, element-wise (in parallel chunks on flex).
pub fn sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !uses_zoo_kernels(&x) {
        return burn::tensor::activation::sigmoid(x);
    }
    Tensor::from_dispatch(<Dispatch as ZooKernels>::zoo_sigmoid(x.into_dispatch()))
}

/// The dense `[output, input]` bilinear matrix of an axis (the rows of
/// [`axis_weights`] written out): the resize of an axis is a product with
/// it, `F.interpolate(mode="bilinear", align_corners=False)` without
/// `antialias`, torchvision's antialiased resize with it.
pub fn axis_matrix(input: usize, output: usize, antialias: bool) -> Vec<f32> {
    let mut m = vec![0.0f32; output * input];
    for (i, (lo, ws)) in axis_weights(input, output, antialias).iter().enumerate() {
        for (k, w) in ws.iter().enumerate() {
            m[i * input + lo + k] = *w;
        }
    }
    m
}

/// For each output position along an axis of `input` pixels resized to
/// `output`: the first input index and the normalised weights of the inputs
/// from there. Bilinear: a triangle filter at the half-pixel source centre,
/// of radius 1, or of radius `input / output` when shrinking with
/// `antialias` (taps outside the image dropped and the rest renormalised,
/// which reproduces torch's clamping at the borders).
pub fn axis_weights(input: usize, output: usize, antialias: bool) -> Vec<(usize, Vec<f32>)> {
    let scale = input as f64 / output as f64;
    let support = if antialias { scale.max(1.0) } else { 1.0 };
    (0..output)
        .map(|i| {
            let center = (i as f64 + 0.5) * scale;
            let lo = ((center - support + 0.5).floor().max(0.0)) as usize;
            let hi = ((center + support + 0.5).floor() as usize).min(input);
            let mut w: Vec<f64> = (lo..hi)
                .map(|j| (1.0 - ((j as f64 + 0.5 - center) / support).abs()).max(0.0))
                .collect();
            let total: f64 = w.iter().sum();
            w.iter_mut().for_each(|x| *x /= total);
            (lo, w.into_iter().map(|x| x as f32).collect())
        })
        .collect()
}

/// One direction of a recurrent layer over a whole sequence on flex, with
/// gradients for every input (forward and backward through time in one
/// op): `gi [T, N, G*H]` (the input projections `x W_ih^T + b_ih`, time
/// order), `w_hh [G*H, H]`, `b_hh [G*H]`, `h0 [N, H]`, `c0 [N, H]` (LSTM;
/// ignored otherwise). `cell`: 0 tanh, 1 ReLU, 2 GRU, 3 LSTM (torch's gate
/// orders). Returns the outputs `[T, N, H]` in time order (`reverse`
/// processes time backwards) and, for an LSTM, the final cell state as one
/// more row (`[T + 1, N, H]`). `None` off flex (the caller composes the
/// same recurrence from tensor ops).
pub fn recurrent(
    gi: Tensor<3>,
    w_hh: Tensor<2>,
    b_hh: Tensor<1>,
    h0: Tensor<2>,
    c0: Tensor<2>,
    cell: usize,
    reverse: bool,
) -> Option<Tensor<3>> {
    if !uses_zoo_kernels(&gi) {
        return None;
    }
    Some(Tensor::from_dispatch(
        <Dispatch as ZooKernels>::zoo_recurrent(
            gi.into_dispatch(),
            w_hh.into_dispatch(),
            b_hh.into_dispatch(),
            h0.into_dispatch(),
            c0.into_dispatch(),
            cell,
            reverse,
        ),
    ))
}

/// Separable resampling of each image `i` of `x` (`[N, C, H, W]`, no
/// gradient) to `[N, C, oh, ow]`: output `(oy, ox)` is
/// `sum_a sum_b rows[i][oy].1[a] * cols[i][ox].1[b] * x[i, c, rows[i][oy].0 + a, cols[i][ox].0 + b]`.
/// On flex with `f32` data and no autodiff it gathers the taps
/// ([`cpu::resample`]); elsewhere it returns `None`, for the caller's dense
/// form of the same sums.
///
/// # Panics
/// When `rows` or `cols` do not hold one list of taps per image, or a tap
/// falls outside the image.
pub fn resample_separable(
    x: &Tensor<4>,
    rows: &[Vec<(usize, Vec<f32>)>],
    cols: &[Vec<(usize, Vec<f32>)>],
) -> Option<Tensor<4>> {
    if !uses_zoo_kernels(x) || x.device().is_autodiff() {
        return None;
    }
    let [n, c, h, w] = x.dims();
    assert!(
        rows.len() == n && cols.len() == n,
        "resample_separable: {} row and {} column tap lists for {n} images",
        rows.len(),
        cols.len()
    );
    let (oh, ow) = (
        rows.first().map_or(0, Vec::len),
        cols.first().map_or(0, Vec::len),
    );
    let prim = flex::dense(x.clone().try_into_primitive::<burn::backend::Flex>().ok()?);
    let mut out = vec![0.0f32; n * c * oh * ow];
    cpu::resample::separable(flex::data(&prim), h, w, &mut out, oh, ow, |p| {
        (rows[p / c].as_slice(), cols[p / c].as_slice())
    });
    Some(Tensor::from_primitive::<burn::backend::Flex>(flex::tensor(
        out,
        &[n, c, oh, ow],
    )))
}

/// The images of `x` (`[N, C, H, W]`, no gradient) whose `flip` is set,
/// mirrored left to right (`horizontal`) or top to bottom, in one pass on
/// flex with `f32` data and no autodiff; elsewhere `None`, for the caller's
/// own form.
///
/// # Panics
/// When `flip` does not hold one flag per image.
pub fn flip_where(x: &Tensor<4>, flip: &[bool], horizontal: bool) -> Option<Tensor<4>> {
    if !uses_zoo_kernels(x) || x.device().is_autodiff() {
        return None;
    }
    let [n, c, h, w] = x.dims();
    assert_eq!(
        flip.len(),
        n,
        "flip_where: {} flags for {n} images",
        flip.len()
    );
    let prim = flex::dense(x.clone().try_into_primitive::<burn::backend::Flex>().ok()?);
    let mut out = vec![0.0f32; n * c * h * w];
    cpu::resample::flip_where(flex::data(&prim), c, h, w, flip, horizontal, &mut out);
    Some(Tensor::from_primitive::<burn::backend::Flex>(flex::tensor(
        out,
        &[n, c, h, w],
    )))
}

/// The RGB images of `x` (`[N, 3, H, W]`, no gradient) with their hue
/// turned by `shift` turns of the circle (one value, or one per image), as
/// torchvision's `adjust_hue` computes it through HSV, in one pass on flex
/// with `f32` data and no autodiff; elsewhere `None`, for the caller's own
/// form.
///
/// # Panics
/// When `x` has other than 3 channels, or `shift` holds neither 1 nor `N` values.
pub fn shift_hue(x: &Tensor<4>, shift: &[f32]) -> Option<Tensor<4>> {
    if !uses_zoo_kernels(x) || x.device().is_autodiff() {
        return None;
    }
    let [n, c, h, w] = x.dims();
    assert_eq!(c, 3, "shift_hue: {c} channels, expected RGB");
    let prim = flex::dense(x.clone().try_into_primitive::<burn::backend::Flex>().ok()?);
    let mut out = vec![0.0f32; n * c * h * w];
    cpu::color::shift_hue(flex::data(&prim), h * w, shift, &mut out);
    Some(Tensor::from_primitive::<burn::backend::Flex>(flex::tensor(
        out,
        &[n, c, h, w],
    )))
}

/// `[N, C, ...]` as `[N, C, S]`.
fn as_3d<const D: usize>(x: Tensor<D>) -> (Tensor<3>, [usize; D]) {
    let dims = x.dims();
    let s: usize = dims[2..].iter().product();
    (x.reshape([dims[0], dims[1], s]), dims)
}

/// Batch norm with the batch's statistics (burn's `batch_norm_train`), with
/// a ReLU after it when `relu`: the output and the detached batch mean and
/// biased variance.
pub fn batch_norm_train<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
    relu: bool,
) -> BatchNormTrainOutput<D> {
    if !uses_zoo_kernels(&x) {
        let mut out = module::batch_norm_train(x, gamma, beta, epsilon);
        if relu {
            out.output = burn::tensor::activation::relu(out.output);
        }
        return out;
    }
    let (x, dims) = as_3d(x);
    let (y, mean, var) = <Dispatch as ZooKernels>::zoo_batch_norm_train(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
        relu,
    );
    BatchNormTrainOutput {
        output: Tensor::<3>::from_dispatch(y).reshape(dims),
        mean: Tensor::from_dispatch(mean),
        variance: Tensor::from_dispatch(var),
    }
}

/// Batch norm with given statistics (burn's `batch_norm`), with a ReLU after
/// it when `relu`.
pub fn batch_norm<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    mean: Tensor<1>,
    variance: Tensor<1>,
    epsilon: f64,
    relu: bool,
) -> Tensor<D> {
    // Under autodiff, burn's composed op carries the gradients of every input.
    if !uses_zoo_kernels(&x) || x.device().is_autodiff() {
        let y = module::batch_norm(x, gamma, beta, mean, variance, epsilon);
        return if relu {
            burn::tensor::activation::relu(y)
        } else {
            y
        };
    }
    let (x, dims) = as_3d(x);
    Tensor::<3>::from_dispatch(<Dispatch as ZooKernels>::zoo_batch_norm(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        mean.into_dispatch(),
        variance.into_dispatch(),
        epsilon,
        relu,
    ))
    .reshape(dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    /// Deterministic values in [-1, 1).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    fn t<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
        let n = shape.iter().product();
        Tensor::from_data(TensorData::new(values(n, seed), shape), device)
    }

    #[test]
    fn fused_conv_bn_is_the_separate_ops_to_the_bit() {
        let device = zoo_device::from_name("flex").unwrap();
        // (n, cin, hw, cout, k, stride, pad, dilation, groups, bias): one
        // image in column tiles, several small images per block, the
        // identity (1x1) path, trimmed taps (3x3 on 1x1 maps), dilation, groups.
        let cases = [
            (2, 8, 20, 16, 3, 1, 1, 1, 1, false),
            (64, 16, 4, 32, 3, 1, 1, 1, 1, false),
            (32, 16, 2, 16, 3, 2, 1, 1, 1, true),
            (8, 32, 1, 16, 3, 1, 1, 1, 1, false),
            (3, 16, 9, 24, 1, 1, 0, 1, 1, false),
            (40, 16, 3, 8, 1, 1, 0, 1, 1, true),
            (2, 16, 12, 16, 1, 2, 0, 1, 1, false),
            (1, 8, 17, 8, 3, 1, 2, 2, 1, false),
            (2, 8, 10, 8, 3, 2, 1, 1, 4, true),
            (1, 3, 23, 8, 7, 2, 3, 1, 1, false),
        ];
        for (i, &(n, cin, hw, cout, k, s, p, d, g, with_bias)) in cases.iter().enumerate() {
            let seed = 100 * i as u64;
            let x = t([n, cin, hw, hw], seed, &device);
            let w = t([cout, cin / g, k, k], seed + 1, &device);
            let b = with_bias.then(|| t([cout], seed + 2, &device));
            let opts = ConvOptions::new([s, s], [p, p], [d, d], g);
            let bn = BnEval {
                gamma: t([cout], seed + 3, &device),
                beta: t([cout], seed + 4, &device),
                mean: t([cout], seed + 5, &device).mul_scalar(0.1),
                variance: t([cout], seed + 6, &device).abs().add_scalar(0.5),
                epsilon: 1e-5,
            };
            let y = conv2d(x.clone(), w.clone(), b.clone(), opts.clone());
            let r = t(y.dims(), seed + 7, &device);
            let norm = |y: Tensor<4>, relu| {
                batch_norm(
                    y,
                    bn.gamma.clone(),
                    bn.beta.clone(),
                    bn.mean.clone(),
                    bn.variance.clone(),
                    bn.epsilon,
                    relu,
                )
            };
            for (residual, relu) in [(false, false), (false, true), (true, false), (true, true)] {
                let want = match residual {
                    false => norm(y.clone(), relu),
                    true => {
                        let v = norm(y.clone(), false) + r.clone();
                        if relu {
                            burn::tensor::activation::relu(v)
                        } else {
                            v
                        }
                    }
                };
                let got = conv2d_bn(
                    x.clone(),
                    w.clone(),
                    b.clone(),
                    opts.clone(),
                    bn.clone(),
                    residual.then(|| r.clone()),
                    relu,
                );
                assert_eq!(got.dims(), want.dims());
                let (got, want) = (
                    got.into_data().try_into_vec::<f32>().unwrap(),
                    want.into_data().try_into_vec::<f32>().unwrap(),
                );
                for (j, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        a.to_bits() == b.to_bits() || (*a == 0.0 && *b == 0.0),
                        "case {i} residual {residual} relu {relu}: element {j}: {a} vs {b}"
                    );
                }
            }
        }
    }
}
