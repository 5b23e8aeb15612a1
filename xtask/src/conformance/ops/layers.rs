//! Activations and layers: zoo-layers, and the zoo's kernels (zoo-kernels:
//! its own on flex, burn's elsewhere) for convolutions and pooling.

use burn::tensor::ops::{AvgPoolOptions, ConvOptions, ConvTransposeOptions, MaxPoolOptions};
use zoo_layers::activation::Activation;

use super::{Ctx, Outputs};
use crate::conformance::case::HostTensor;
use crate::conformance::value::DynTensor;

pub fn activation(ctx: &Ctx) -> Result<Outputs, String> {
    let kind = ctx.str_or("kind", "")?;
    let x = ctx.input("x")?;
    let rank = x.shape().len() as isize;
    let act = match kind {
        "leaky_relu" => Activation::LeakyRelu {
            negative_slope: ctx.f64_or("negative_slope", 0.01)?,
        },
        "elu" => Activation::Elu {
            alpha: ctx.f64_or("alpha", 1.0)?,
        },
        "gelu" => Activation::Gelu {
            tanh: match ctx.str_or("approximate", "none")? {
                "none" => false,
                "tanh" => true,
                other => {
                    return Err(format!(
                        "gelu `approximate` must be none or tanh, got {other}"
                    ));
                }
            },
        },
        "softplus" => Activation::Softplus {
            beta: ctx.f64_or("beta", 1.0)?,
            threshold: ctx.f64_or("threshold", 20.0)?,
        },
        "softmax" | "log_softmax" => {
            let dim = ctx.isize_or("dim", -1)?;
            if !(-rank..rank).contains(&dim) {
                return Err(format!(
                    "dim {dim} is out of range for shape {:?}",
                    x.shape()
                ));
            }
            let dim = if dim < 0 { dim + rank } else { dim } as usize;
            // Any rank: view as [before, n, after] and normalise along 1.
            let act = if kind == "softmax" {
                Activation::Softmax { dim: 1 }
            } else {
                Activation::LogSoftmax { dim: 1 }
            };
            let shape = x.shape().to_vec();
            let y = DynTensor::new(act.forward(x.around_dim(dim))).with_shape(shape);
            return Ok(Outputs::default().float("y", y));
        }
        other => Activation::with_defaults(other)?,
    };
    let shape = x.shape().to_vec();
    let y = DynTensor::new(act.forward(x.flat())).with_shape(shape);
    Ok(Outputs::default().float("y", y))
}

pub fn conv2d(ctx: &Ctx) -> Result<Outputs, String> {
    let input = ctx.input_n::<4>("input")?;
    let weight = ctx.input_n::<4>("weight")?;
    let bias = ctx.opt_input_n::<1>("bias")?;
    let options = ConvOptions::new(
        ctx.pair_or("stride", [1, 1])?,
        ctx.pair_or("padding", [0, 0])?,
        ctx.pair_or("dilation", [1, 1])?,
        ctx.usize_or("groups", 1)?,
    );
    let [_, c, _, _] = input.dims();
    let [_, _, kh, kw] = weight.dims();
    check_sliding(
        input.dims(),
        [kh, kw],
        options.padding,
        options.stride,
        ("the im2col columns", (c * kh * kw) as u128),
    )?;
    let out = zoo_kernels::conv2d(input, weight, bias, options);
    Ok(Outputs::default().float("output", DynTensor::new(out)))
}

/// Refuses a tensor of shape `dims` (sizes from a case's params) larger
/// than a tensor may be, before burn allocates it.
fn budget(what: &str, dims: &[u128]) -> Result<(), String> {
    zoo_device::budget::check(what, dims)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Refuses a sliding window (a convolution or pooling) whose padded input,
/// or whose `[N, per_position, H_out, W_out]` result (im2col columns for a
/// convolution, the output for a pooling), would be larger than a tensor may
/// be (a padding of 10^9), before burn allocates them.
fn check_sliding(
    input: [usize; 4],
    kernel: [usize; 2],
    padding: [(usize, usize); 2],
    stride: [usize; 2],
    per_position: (&str, u128),
) -> Result<(), String> {
    let u = |v: usize| v as u128;
    let [n, c, h, w] = input.map(u);
    let (hp, wp) = (
        h + u(padding[0].0) + u(padding[0].1),
        w + u(padding[1].0) + u(padding[1].1),
    );
    let out =
        |padded: u128, a: usize| padded.saturating_sub(u(kernel[a])) / u(stride[a].max(1)) + 1;
    budget("the padded input", &[n, c, hp, wp])?;
    budget(per_position.0, &[n, per_position.1, out(hp, 0), out(wp, 1)])
}

pub fn conv_transpose2d(ctx: &Ctx) -> Result<Outputs, String> {
    let input = ctx.input_n::<4>("input")?;
    let weight = ctx.input_n::<4>("weight")?;
    let bias = ctx.opt_input_n::<1>("bias")?;
    let options = ConvTransposeOptions::new(
        ctx.pair_or("stride", [1, 1])?,
        ctx.pair_or("padding", [0, 0])?,
        ctx.pair_or("output_padding", [0, 0])?,
        ctx.pair_or("dilation", [1, 1])?,
        ctx.usize_or("groups", 1)?,
    );
    // (in - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1, in u128.
    let u = |v: usize| v as u128;
    let [n, _, h, w] = input.dims().map(u);
    let [_, cout, kh, kw] = weight.dims().map(u);
    let grown = |i: u128, k: u128, a: usize| {
        i.saturating_sub(1) * u(options.stride[a])
            + u(options.dilation[a]) * k.saturating_sub(1)
            + u(options.padding_out[a])
            + 1
    };
    budget(
        "the output",
        &[
            n,
            cout * u(options.groups),
            grown(h, kh, 0),
            grown(w, kw, 1),
        ],
    )?;
    let out = zoo_kernels::conv_transpose2d(input, weight, bias, options);
    Ok(Outputs::default().float("output", DynTensor::new(out)))
}

pub fn max_pool2d(ctx: &Ctx) -> Result<Outputs, String> {
    let input = ctx.input_n::<4>("input")?;
    let kernel = ctx.pair("kernel_size")?;
    let options = MaxPoolOptions::new(kernel)
        .with_stride(ctx.pair_or("stride", kernel)?)
        .with_padding(ctx.pair_or("padding", [0, 0])?)
        .with_dilation(ctx.pair_or("dilation", [1, 1])?)
        .with_ceil_mode(ctx.bool_or("ceil_mode", false)?);
    check_sliding(
        input.dims(),
        options.kernel_size,
        options.padding,
        options.stride,
        ("the output", input.dims()[1] as u128),
    )?;
    let out = zoo_kernels::max_pool2d(input, options);
    Ok(Outputs::default().float("output", DynTensor::new(out)))
}

pub fn avg_pool2d(ctx: &Ctx) -> Result<Outputs, String> {
    let input = ctx.input_n::<4>("input")?;
    let kernel = ctx.pair("kernel_size")?;
    let options = AvgPoolOptions::new(kernel)
        .with_stride(ctx.pair_or("stride", kernel)?)
        .with_padding(ctx.pair_or("padding", [0, 0])?)
        .with_count_include_pad(ctx.bool_or("count_include_pad", true)?)
        .with_ceil_mode(ctx.bool_or("ceil_mode", false)?);
    check_sliding(
        input.dims(),
        options.kernel_size,
        options.padding,
        options.stride,
        ("the output", input.dims()[1] as u128),
    )?;
    let out = zoo_kernels::avg_pool2d(input, options);
    Ok(Outputs::default().float("output", DynTensor::new(out)))
}

pub fn adaptive_avg_pool2d(ctx: &Ctx) -> Result<Outputs, String> {
    let input = ctx.input_n::<4>("input")?;
    let size = ctx.pair("output_size")?;
    let [n, c, _, _] = input.dims();
    budget(
        "the output",
        &[n as u128, c as u128, size[0] as u128, size[1] as u128],
    )?;
    let out = zoo_kernels::adaptive_avg_pool2d(input, size);
    Ok(Outputs::default().float("output", DynTensor::new(out)))
}

pub fn batch_norm(ctx: &Ctx) -> Result<Outputs, String> {
    let x = ctx.input("input")?;
    let mean = ctx.input_n::<1>("running_mean")?;
    let var = ctx.input_n::<1>("running_var")?;
    let weight = ctx.opt_input_n::<1>("weight")?;
    let bias = ctx.opt_input_n::<1>("bias")?;
    let training = ctx.bool_or("training", false)?;
    let momentum = ctx.f64_or("momentum", 0.1)?;
    let eps = ctx.f64_or("eps", 1e-5)?;
    // Any rank >= 2: view as [N, C, rest].
    let shape = x.shape().to_vec();
    if shape.len() < 2 {
        return Err(format!(
            "batch_norm input must be [N, C, ...], got {shape:?}"
        ));
    }
    let rest: usize = shape[2..].iter().product();
    let x3 = x.flat().reshape([shape[0], shape[1], rest]);
    let out = zoo_layers::norm::batch_norm(x3, mean, var, weight, bias, training, momentum, eps);
    Ok(Outputs::default()
        .float("output", DynTensor::new(out.output).with_shape(shape))
        .float("new_running_mean", DynTensor::new(out.running_mean))
        .float("new_running_var", DynTensor::new(out.running_var)))
}

pub fn prelu(ctx: &Ctx) -> Result<Outputs, String> {
    let x = ctx.input("x")?;
    let weight = ctx.input_n::<1>("weight")?;
    let shape = x.shape().to_vec();
    let channels = if shape.len() >= 2 { shape[1] } else { 1 };
    let w = weight.dims()[0];
    if w != 1 && w != channels {
        return Err(format!(
            "prelu weight must be [1] or [{channels}], got [{w}]"
        ));
    }
    // Any rank: view as [N, C, rest] so the weight broadcasts over channels.
    let rest: usize = shape.iter().skip(2).product();
    let n = shape.first().copied().unwrap_or(1);
    let x3 = x.flat().reshape([n, channels, rest]);
    let y = burn::tensor::activation::prelu(x3, weight);
    Ok(Outputs::default().float("y", DynTensor::new(y).with_shape(shape)))
}

pub fn maxout(ctx: &Ctx) -> Result<Outputs, String> {
    let x = ctx.input("x")?;
    let pieces = ctx.usize_or("pieces", 0)?;
    let shape = x.shape().to_vec();
    if shape.len() < 2 || pieces == 0 || !shape[1].is_multiple_of(pieces) {
        return Err(format!(
            "maxout needs [N, C*k, ...] with k = {pieces} dividing C, got {shape:?}"
        ));
    }
    let rest: usize = shape[2..].iter().product();
    let y = zoo_layers::pool::maxout(x.flat().reshape([shape[0], shape[1], rest]), pieces);
    let mut out_shape = shape;
    out_shape[1] /= pieces;
    Ok(Outputs::default().float("y", DynTensor::new(y).with_shape(out_shape)))
}

pub fn adaptive_max_pool2d(ctx: &Ctx) -> Result<Outputs, String> {
    let input = ctx.input_n::<4>("input")?;
    let size = ctx.pair("output_size")?;
    let [n, c, h, w] = input.dims();
    let u = |v: usize| v as u128;
    budget("the output", &[u(n), u(c), u(size[0]), u(size[1])])?;
    // One window mask per output cell over the input.
    budget("the window masks", &[u(size[0]), u(size[1]), u(h), u(w)])?;
    let out = zoo_layers::pool::adaptive_max_pool2d(input, size);
    Ok(Outputs::default().float("output", DynTensor::new(out)))
}

pub fn spatial_pyramid_pool(ctx: &Ctx) -> Result<Outputs, String> {
    let input = ctx.input_n::<4>("input")?;
    let levels = ctx.usize_list("levels")?;
    if levels.is_empty() || levels.contains(&0) {
        return Err(format!(
            "levels must be non-empty and positive, got {levels:?}"
        ));
    }
    let mode = match ctx.str_or("mode", "max")? {
        "max" => zoo_layers::pool::PoolMode::Max,
        "avg" => zoo_layers::pool::PoolMode::Avg,
        other => return Err(format!("mode must be max or avg, got {other}")),
    };
    let [n, c, h, w] = input.dims();
    let cells = levels.iter().fold(0u128, |a, &l| {
        a.saturating_add((l as u128).saturating_mul(l as u128))
    });
    budget("the output", &[n as u128, c as u128, cells])?;
    budget("the window masks", &[cells, h as u128, w as u128])?;
    let out = zoo_layers::pool::spatial_pyramid_pool(input, &levels, mode);
    Ok(Outputs::default().float("output", DynTensor::new(out)))
}

pub fn local_response_norm(ctx: &Ctx) -> Result<Outputs, String> {
    let x = ctx.input("input")?;
    let shape = x.shape().to_vec();
    if shape.len() < 3 {
        return Err(format!(
            "local_response_norm input must be [N, C, H, ...], got {shape:?}"
        ));
    }
    let size = ctx.usize_or("size", 0)?;
    if size == 0 {
        return Err("size must be positive".into());
    }
    let rest: usize = shape[2..].iter().product();
    // The squares padded by `size - 1` channels, and `size` shifted sums.
    let u = |v: usize| v as u128;
    budget(
        "the padded squares",
        &[u(shape[0]), u(shape[1]) + u(size), u(rest)],
    )?;
    if size > 4096 {
        return Err(format!(
            "size {size}: a window of more than 4096 channels (one sum per channel of the window)"
        ));
    }
    let y = zoo_layers::norm::local_response_norm(
        x.flat().reshape([shape[0], shape[1], rest]),
        size,
        ctx.f64_or("alpha", 1e-4)?,
        ctx.f64_or("beta", 0.75)?,
        ctx.f64_or("k", 1.0)?,
    );
    Ok(Outputs::default().float("output", DynTensor::new(y).with_shape(shape)))
}

pub fn conv_output_size(ctx: &Ctx) -> Result<Outputs, String> {
    use zoo_layers::conv_size;
    let input = ctx.usize_or("input", 0)?;
    let kernel = ctx.usize_or("kernel", 0)?;
    let stride = ctx.usize_or("stride", 1)?;
    let padding = ctx.usize_or("padding", 0)?;
    let dilation = ctx.usize_or("dilation", 1)?;
    let size = match ctx.str_or("kind", "conv")? {
        "conv" => conv_size::conv_output_size(input, kernel, stride, padding, dilation),
        "transposed" => conv_size::conv_transpose_output_size(
            input,
            kernel,
            stride,
            padding,
            dilation,
            ctx.usize_or("output_padding", 0)?,
        ),
        other => return Err(format!("kind must be conv or transposed, got {other}")),
    }
    .map_err(|e| e.to_string())?;
    Ok(Outputs::default().host("size", HostTensor::from_ints(vec![], vec![size as i64])))
}

pub fn bilinear_kernel(ctx: &Ctx) -> Result<Outputs, String> {
    let (i, o, k) = (
        ctx.usize_or("in_channels", 0)?,
        ctx.usize_or("out_channels", 0)?,
        ctx.usize_or("kernel_size", 0)?,
    );
    if i != o || k == 0 {
        return Err(format!(
            "bilinear_kernel needs in_channels == out_channels and kernel_size > 0, got {i}, {o}, {k}"
        ));
    }
    budget("the kernel", &[i as u128, o as u128, k as u128, k as u128])?;
    let w = zoo_layers::init::bilinear_kernel(i, o, k, ctx.device());
    Ok(Outputs::default().float("weight", DynTensor::new(w)))
}

pub fn xavier_uniform_bound(ctx: &Ctx) -> Result<Outputs, String> {
    let v = zoo_layers::init::xavier_uniform_bound(
        ctx.usize_or("fan_in", 0)?,
        ctx.usize_or("fan_out", 0)?,
        ctx.f64_or("gain", 1.0)?,
    );
    Ok(Outputs::default().host("value", HostTensor::from_floats(vec![], vec![v as f32])))
}

pub fn kaiming_normal_std(ctx: &Ctx) -> Result<Outputs, String> {
    use zoo_layers::init::FanMode;
    let mode = match ctx.str_or("mode", "fan_in")? {
        "fan_in" => FanMode::FanIn,
        "fan_out" => FanMode::FanOut,
        other => return Err(format!("mode must be fan_in or fan_out, got {other}")),
    };
    let v = zoo_layers::init::kaiming_normal_std(
        ctx.usize_or("fan_in", 0)?,
        ctx.usize_or("fan_out", 0)?,
        ctx.f64_or("gain", zoo_layers::init::RELU_GAIN)?,
        mode,
    );
    Ok(Outputs::default().host("value", HostTensor::from_floats(vec![], vec![v as f32])))
}
