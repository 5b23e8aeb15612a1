//! `ZooKernels` for `Flex`: the forward kernels on `FlexTensor`s, and the
//! tensor-level backward steps the autodiff implementation calls.

use std::borrow::Cow;

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, ConvTransposeOptions, MaxPoolOptions};
use burn::tensor::{Shape, TensorData};

use crate::cpu::conv::{self, Batch, Window};
use crate::cpu::{elementwise, norm, pool};
use crate::{Bias, ZooKernels};

/// `t` with contiguous `f32` storage (a copy only when it is a strided view).
pub(crate) fn dense(t: FlexTensor) -> FlexTensor {
    if t.as_slice::<f32>().is_some() {
        t
    } else {
        t.to_contiguous()
    }
}

pub(crate) fn data(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("zoo-kernels: a dense f32 tensor (dense() first)")
}

pub(crate) fn tensor(values: Vec<f32>, shape: &[usize]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, Shape::from(shape.to_vec())))
}

pub(crate) fn dims<const D: usize>(t: &FlexTensor) -> [usize; D] {
    let s = t.layout().shape();
    assert_eq!(s.num_dims(), D, "zoo-kernels: expected rank {D}, got {s:?}");
    std::array::from_fn(|i| s[i])
}

/// Output length of a convolution along one axis.
fn conv_out(len: usize, k: usize, s: usize, pad: (usize, usize), d: usize) -> usize {
    let span = len + pad.0 + pad.1;
    let need = d * (k - 1) + 1;
    assert!(
        span >= need,
        "conv2d: the input ({len} + padding {pad:?}) is smaller than the dilated kernel ({need})"
    );
    (span - need) / s + 1
}

/// The window and batch of a convolution of `x` by `weight`.
pub(crate) fn conv_geometry(x: [usize; 4], w: [usize; 4], o: &ConvOptions<2>) -> (Window, Batch) {
    let [n, cin, h, wd] = x;
    let [cout, cg, kh, kw] = w;
    let groups = o.groups;
    assert!(
        groups > 0 && cin == cg * groups && cout % groups == 0,
        "conv2d: input channels {cin}, weight {w:?} and groups {groups} disagree"
    );
    let win = Window {
        c: cg,
        h,
        w: wd,
        kh,
        kw,
        sh: o.stride[0],
        sw: o.stride[1],
        ph: o.padding[0].0,
        pw: o.padding[1].0,
        dh: o.dilation[0],
        dw: o.dilation[1],
        oh: conv_out(h, kh, o.stride[0], o.padding[0], o.dilation[0]),
        ow: conv_out(wd, kw, o.stride[1], o.padding[1], o.dilation[1]),
    };
    (
        win,
        Batch {
            n,
            groups,
            m: cout / groups,
        },
    )
}

/// The window (on the output side) and batch of a transposed convolution.
pub(crate) fn conv_t_geometry(
    x: [usize; 4],
    w: [usize; 4],
    o: &ConvTransposeOptions<2>,
) -> (Window, Batch, usize) {
    let [n, cin, h, wd] = x;
    let [wcin, cout_g, kh, kw] = w;
    let groups = o.groups;
    assert!(
        groups > 0 && cin == wcin && cin % groups == 0,
        "conv_transpose2d: input channels {cin}, weight {w:?} and groups {groups} disagree"
    );
    let out = |len: usize, k: usize, i: usize| -> usize {
        let full = (len - 1) * o.stride[i] + o.dilation[i] * (k - 1) + o.padding_out[i] + 1;
        assert!(
            full > 2 * o.padding[i],
            "conv_transpose2d: padding {:?} leaves no output",
            o.padding
        );
        full - 2 * o.padding[i]
    };
    let win = Window {
        c: cout_g,
        h: out(h, kh, 0),
        w: out(wd, kw, 1),
        kh,
        kw,
        sh: o.stride[0],
        sw: o.stride[1],
        ph: o.padding[0],
        pw: o.padding[1],
        dh: o.dilation[0],
        dw: o.dilation[1],
        oh: h,
        ow: wd,
    };
    (
        win,
        Batch {
            n,
            groups,
            m: cin / groups,
        },
        cout_g * groups,
    )
}

/// The window without its dead taps and the weight cut to match
/// ([`Window::trimmed`]), borrowed when nothing is dropped.
fn trim(win: Window, w: &[f32]) -> (Window, Cow<'_, [f32]>, Option<conv::Trim>) {
    match win.trimmed() {
        Some(t) => (t.win, Cow::Owned(t.compact(w)), Some(t)),
        None => (win, Cow::Borrowed(w), None),
    }
}

/// A weight gradient of the trimmed window, back at the full kernel size.
fn untrim(t: Option<conv::Trim>, dw: Vec<f32>) -> Vec<f32> {
    match t {
        Some(t) => t.expand(&dw),
        None => dw,
    }
}

pub(crate) fn conv2d_forward(
    x: &FlexTensor,
    w: &FlexTensor,
    b: Option<&FlexTensor>,
    o: &ConvOptions<2>,
) -> FlexTensor {
    let (win, bt) = conv_geometry(dims(x), dims(w), o);
    let cout = bt.groups * bt.m;
    let out = written(bt.n * cout * win.p(), |out| {
        conv::forward_uninit(
            &win,
            bt,
            data(x),
            data(w),
            b.map(data),
            conv::Epilogue::NONE,
            out,
        )
    });
    tensor(out, &[bt.n, cout, win.oh, win.ow])
}

/// A vector of `len` values that `fill` writes whole (so it is not zeroed
/// first: for a large activation, the zeroing was a few percent of the
/// convolution).
fn written(len: usize, fill: impl FnOnce(&mut [std::mem::MaybeUninit<f32>])) -> Vec<f32> {
    let mut out: Vec<f32> = Vec::with_capacity(len);
    fill(&mut out.spare_capacity_mut()[..len]);
    // SAFETY: `fill` is one of the conv kernels' `*_uninit` forms, which
    // write every value of their output.
    unsafe { out.set_len(len) };
    out
}

/// An evaluation-mode batch norm's per-channel `(scale, shift)`, computed
/// as [`norm::normalize`] computes them (so the fused pass gives its bits).
pub(crate) fn bn_affine(
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f64,
) -> (Vec<f32>, Vec<f32>) {
    (0..gamma.len())
        .map(|c| {
            let inv = (1.0 / (var[c] as f64 + eps).sqrt()) as f32;
            let scale = gamma[c] * inv;
            (scale, beta[c] - mean[c] * scale)
        })
        .unzip()
}

/// `relu?(batch_norm(conv2d(x, w, b)) + residual)` with the batch norm's
/// statistics given, in one pass over the output ([`conv::Epilogue`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv2d_bn_forward(
    x: &FlexTensor,
    w: &FlexTensor,
    b: Option<&FlexTensor>,
    bn: [&FlexTensor; 4],
    residual: Option<&FlexTensor>,
    o: &ConvOptions<2>,
    eps: f64,
    relu: bool,
) -> FlexTensor {
    let (win, bt) = conv_geometry(dims(x), dims(w), o);
    let cout = bt.groups * bt.m;
    let [gamma, beta, mean, var] = bn.map(data);
    assert!(
        [gamma, beta, mean, var].iter().all(|t| t.len() == cout),
        "conv2d_bn: the batch norm's parameters must be [{cout}]"
    );
    let (scale, shift) = bn_affine(gamma, beta, mean, var, eps);
    let len = bt.n * cout * win.p();
    if let Some(r) = residual {
        assert_eq!(
            dims::<4>(r),
            [bt.n, cout, win.oh, win.ow],
            "conv2d_bn: the residual must have the output's shape"
        );
    }
    let epi = conv::Epilogue {
        affine: Some((&scale, &shift)),
        residual: residual.map(data),
        relu,
    };
    let out = written(len, |out| {
        conv::forward_uninit(&win, bt, data(x), data(w), b.map(data), epi, out)
    });
    tensor(out, &[bt.n, cout, win.oh, win.ow])
}

/// `(dx, dw, db)` of a convolution (each only when `want` asks).
pub(crate) fn conv2d_backward(
    x: &FlexTensor,
    w: &FlexTensor,
    dy: &FlexTensor,
    o: &ConvOptions<2>,
    want: [bool; 3],
) -> [Option<FlexTensor>; 3] {
    let xd: [usize; 4] = dims(x);
    let wd: [usize; 4] = dims(w);
    let (win, bt) = conv_geometry(xd, wd, o);
    let (win, w, t) = trim(win, data(w));
    let cout = bt.groups * bt.m;
    let dx = want[0].then(|| {
        let mut dx = vec![0.0f32; xd.iter().product()];
        conv::gemm_scatter(&win, bt, data(dy), &w, &mut dx);
        tensor(dx, &xd)
    });
    let dw = want[1].then(|| {
        tensor(
            untrim(t, conv::weight_grad(&win, bt, data(dy), data(x))),
            &wd,
        )
    });
    let db = want[2].then(|| tensor(conv::channel_sums(data(dy), bt.n, cout, win.p()), &[cout]));
    [dx, dw, db]
}

pub(crate) fn conv_t_forward(
    x: &FlexTensor,
    w: &FlexTensor,
    b: Option<&FlexTensor>,
    o: &ConvTransposeOptions<2>,
) -> FlexTensor {
    let (win, bt, cout) = conv_t_geometry(dims(x), dims(w), o);
    let (win, w, _) = trim(win, data(w));
    let plane = win.h * win.w;
    let mut out = vec![0.0f32; bt.n * cout * plane];
    if let Some(b) = b {
        let b = data(b);
        for (i, chunk) in out.chunks_mut(plane.max(1)).enumerate() {
            chunk.fill(b[i % cout]);
        }
    }
    conv::gemm_scatter(&win, bt, data(x), &w, &mut out);
    tensor(out, &[bt.n, cout, win.h, win.w])
}

pub(crate) fn conv_t_backward(
    x: &FlexTensor,
    w: &FlexTensor,
    dy: &FlexTensor,
    o: &ConvTransposeOptions<2>,
    want: [bool; 3],
) -> [Option<FlexTensor>; 3] {
    let xd: [usize; 4] = dims(x);
    let wd: [usize; 4] = dims(w);
    let (win, bt, cout) = conv_t_geometry(xd, wd, o);
    let (win, w, t) = trim(win, data(w));
    let (dx, dw) = if want[0] && want[1] {
        // Both read the columns of dy: gathered once.
        let mut dx = vec![0.0f32; xd.iter().product()];
        let dw = conv::gather_gemm_and_grad(&win, bt, data(dy), &w, &mut dx, data(x));
        (Some(tensor(dx, &xd)), Some(tensor(untrim(t, dw), &wd)))
    } else {
        let dx = want[0].then(|| {
            let mut dx = vec![0.0f32; xd.iter().product()];
            conv::gather_gemm(&win, bt, data(dy), &w, None, &mut dx);
            tensor(dx, &xd)
        });
        let dw = want[1].then(|| {
            tensor(
                untrim(t, conv::weight_grad(&win, bt, data(x), data(dy))),
                &wd,
            )
        });
        (dx, dw)
    };
    let db = want[2].then(|| {
        tensor(
            conv::channel_sums(data(dy), bt.n, cout, win.h * win.w),
            &[cout],
        )
    });
    [dx, dw, db]
}

/// The pooling geometry of `x` (`[n, c, h, w]`) for symmetric padding.
pub(crate) fn pool_geometry(
    x: [usize; 4],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil: bool,
) -> pool::Pool {
    let [_, _, h, w] = x;
    pool::Pool {
        h,
        w,
        kh: kernel[0],
        kw: kernel[1],
        sh: stride[0],
        sw: stride[1],
        ph: padding[0],
        pw: padding[1],
        ph_end: padding[0],
        pw_end: padding[1],
        dh: dilation[0],
        dw: dilation[1],
        oh: pool::pool_out(
            h,
            kernel[0],
            stride[0],
            padding[0],
            padding[0],
            dilation[0],
            ceil,
        ),
        ow: pool::pool_out(
            w,
            kernel[1],
            stride[1],
            padding[1],
            padding[1],
            dilation[1],
            ceil,
        ),
    }
}

pub(crate) fn max_geometry(x: [usize; 4], o: &MaxPoolOptions<2>) -> pool::Pool {
    pool_geometry(
        x,
        o.kernel_size,
        o.stride,
        [o.padding[0].0, o.padding[1].0],
        o.dilation,
        o.ceil_mode,
    )
}

pub(crate) fn avg_geometry(x: [usize; 4], o: &AvgPoolOptions<2>) -> pool::Pool {
    pool_geometry(
        x,
        o.kernel_size,
        o.stride,
        [o.padding[0].0, o.padding[1].0],
        [1, 1],
        o.ceil_mode,
    )
}

/// Max pooling; with `indices`, also each maximum's position in its plane.
pub(crate) fn max_pool_forward(
    x: &FlexTensor,
    o: &MaxPoolOptions<2>,
    indices: bool,
) -> (FlexTensor, Option<Vec<u32>>) {
    let xd: [usize; 4] = dims(x);
    let g = max_geometry(xd, o);
    let len = xd[0] * xd[1] * g.oh * g.ow;
    let mut out = vec![0.0f32; len];
    let mut idx = indices.then(|| vec![0u32; len]);
    pool::max_pool(&g, data(x), &mut out, idx.as_deref_mut());
    (tensor(out, &[xd[0], xd[1], g.oh, g.ow]), idx)
}

pub(crate) fn avg_pool_forward(x: &FlexTensor, o: &AvgPoolOptions<2>) -> FlexTensor {
    let xd: [usize; 4] = dims(x);
    let g = avg_geometry(xd, o);
    let mut out = vec![0.0f32; xd[0] * xd[1] * g.oh * g.ow];
    pool::avg_pool(&g, o.count_include_pad, data(x), &mut out);
    tensor(out, &[xd[0], xd[1], g.oh, g.ow])
}

pub(crate) fn adaptive_forward(x: &FlexTensor, size: [usize; 2]) -> FlexTensor {
    let [n, c, h, w]: [usize; 4] = dims(x);
    let mut out = vec![0.0f32; n * c * size[0] * size[1]];
    pool::adaptive_avg_pool(h, w, size[0], size[1], data(x), &mut out);
    tensor(out, &[n, c, size[0], size[1]])
}

/// Training batch norm on `[n, c, s]`: `(y, mean, var)`.
pub(crate) fn bn_train_forward(
    x: &FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    eps: f64,
    relu: bool,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let [n, c, s]: [usize; 3] = dims(x);
    let (mean, var) = norm::moments(data(x), n, c, s);
    let mut y = vec![0.0f32; n * c * s];
    norm::normalize(
        data(x),
        n,
        c,
        s,
        &mean,
        &var,
        data(gamma),
        data(beta),
        eps,
        relu,
        &mut y,
    );
    (tensor(y, &[n, c, s]), tensor(mean, &[c]), tensor(var, &[c]))
}

/// The recurrence of [`crate::recurrent`] on dense tensors: the output
/// tensor and what the backward pass keeps.
pub(crate) fn recurrent_forward(
    gi: &FlexTensor,
    w: &FlexTensor,
    b: &FlexTensor,
    h0: &FlexTensor,
    c0: &FlexTensor,
    cell: usize,
    reverse: bool,
) -> (
    FlexTensor,
    crate::cpu::recurrent::Forward,
    crate::cpu::recurrent::Dims,
) {
    use crate::cpu::recurrent::{Cell, Dims, forward};
    let cell = Cell::from_code(cell);
    let [t, n, _] = dims::<3>(gi);
    let [_, h] = dims::<2>(w);
    let d = Dims { t, n, h };
    let mut f = forward(
        cell,
        d,
        data(gi),
        data(w),
        data(b),
        data(h0),
        data(c0),
        reverse,
    );
    let rows = t + usize::from(cell == Cell::Lstm);
    let y = std::mem::take(&mut f.y);
    (tensor(y, &[rows, n, h]), f, d)
}

pub(crate) fn sigmoid_forward(x: &FlexTensor) -> FlexTensor {
    let mut y = vec![0.0f32; data(x).len()];
    elementwise::sigmoid(data(x), &mut y);
    let shape: Vec<usize> = x.layout().shape().iter().copied().collect();
    tensor(y, &shape)
}

impl ZooKernels for Flex {
    fn zoo_sigmoid(x: FlexTensor) -> FlexTensor {
        sigmoid_forward(&dense(x))
    }

    fn zoo_recurrent(
        gi: FlexTensor,
        w_hh: FlexTensor,
        b_hh: FlexTensor,
        h0: FlexTensor,
        c0: FlexTensor,
        cell: usize,
        reverse: bool,
    ) -> FlexTensor {
        recurrent_forward(
            &dense(gi),
            &dense(w_hh),
            &dense(b_hh),
            &dense(h0),
            &dense(c0),
            cell,
            reverse,
        )
        .0
    }

    fn zoo_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: Bias<Self>,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        let bias = bias.into_option().map(dense);
        conv2d_forward(&dense(x), &dense(weight), bias.as_ref(), &options)
    }

    fn zoo_conv2d_bn(
        x: FlexTensor,
        weight: FlexTensor,
        bias: Bias<Self>,
        gamma: FlexTensor,
        beta: FlexTensor,
        mean: FlexTensor,
        variance: FlexTensor,
        residual: Bias<Self>,
        options: ConvOptions<2>,
        epsilon: f64,
        relu: bool,
    ) -> FlexTensor {
        let bias = bias.into_option().map(dense);
        let residual = residual.into_option().map(dense);
        let bn = [gamma, beta, mean, variance].map(dense);
        conv2d_bn_forward(
            &dense(x),
            &dense(weight),
            bias.as_ref(),
            [&bn[0], &bn[1], &bn[2], &bn[3]],
            residual.as_ref(),
            &options,
            epsilon,
            relu,
        )
    }

    fn zoo_conv_transpose2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: Bias<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FlexTensor {
        let bias = bias.into_option().map(dense);
        conv_t_forward(&dense(x), &dense(weight), bias.as_ref(), &options)
    }

    fn zoo_max_pool2d(x: FlexTensor, options: MaxPoolOptions<2>) -> FlexTensor {
        max_pool_forward(&dense(x), &options, false).0
    }

    fn zoo_avg_pool2d(x: FlexTensor, options: AvgPoolOptions<2>) -> FlexTensor {
        avg_pool_forward(&dense(x), &options)
    }

    fn zoo_adaptive_avg_pool2d(x: FlexTensor, output_size: [usize; 2]) -> FlexTensor {
        adaptive_forward(&dense(x), output_size)
    }

    fn zoo_batch_norm_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        relu: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        bn_train_forward(&dense(x), &dense(gamma), &dense(beta), epsilon, relu)
    }

    fn zoo_batch_norm(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        mean: FlexTensor,
        variance: FlexTensor,
        epsilon: f64,
        relu: bool,
    ) -> FlexTensor {
        let x = dense(x);
        let [n, c, s]: [usize; 3] = dims(&x);
        let mut y = vec![0.0f32; n * c * s];
        norm::normalize(
            data(&x),
            n,
            c,
            s,
            data(&dense(mean)),
            data(&dense(variance)),
            data(&dense(gamma)),
            data(&dense(beta)),
            epsilon,
            relu,
            &mut y,
        );
        tensor(y, &[n, c, s])
    }
}
