//! Layer-by-layer tracing of a forward pass, for model summaries (as
//! torchinfo prints them, and as the course notes trace shapes through
//! LeNet and AlexNet) and per-layer profiles.
//!
//! The layers of this workspace run their convolutions, linear layers,
//! batch norms, activations and pools through the functions here. Outside
//! [`record`] each one is the plain forward plus one thread-local check;
//! inside it, each appends a [`Row`] with the output shape, the trainable
//! parameters, the multiply-adds (torchvision's "GFLOPS" column counts
//! multiply-adds of convolutions and linear layers) and, when timed, the
//! wall time with the device synchronised around the layer. Architectures
//! group their layers with [`scope`] under their `state_dict` prefixes
//! (`layer1.0`, `inception3a`, ...).
//!
//! ```
//! use burn::nn::conv::Conv2dConfig;
//! use burn::tensor::Tensor;
//! use zoo_layers::trace;
//! let device = zoo_device::from_name("flex").unwrap();
//! let conv = Conv2dConfig::new([1, 6], [5, 5]).init(&device);
//! let (y, rows) = trace::record(false, || {
//!     trace::scope("stem", "Sequential", Tensor::<4>::zeros([1, 1, 28, 28], &device), |x| {
//!         trace::relu(trace::conv2d(&conv, x))
//!     })
//! });
//! assert_eq!(y.dims(), [1, 6, 24, 24]);
//! assert_eq!(rows[1].kind, "Conv2d");
//! assert_eq!(rows[1].params, 6 * 25 + 6);
//! assert_eq!(rows[1].macs, 6 * 25 * 24 * 24);
//! // A scope sums its layers.
//! assert_eq!((rows[0].params, rows[0].macs), (rows[1].params, rows[1].macs));
//! ```

use std::cell::RefCell;
use std::fmt::{Display, Write as _};
use std::time::Instant;

use burn::nn::Linear;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, ConvTransposeOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, activation};

/// One traced layer (or a scope of layers).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The scope's name (a `state_dict` prefix), empty for single layers.
    pub name: String,
    /// The layer type, as torch names it (`Conv2d`, `BatchNorm2d`, `ReLU`, ...).
    pub kind: String,
    /// Nesting depth: 0 for the model's direct children.
    pub depth: usize,
    /// Whether this is a single layer (not a scope).
    pub leaf: bool,
    /// Output shape.
    pub output: Vec<usize>,
    /// Trainable parameters (a scope: those of its layers).
    pub params: usize,
    /// Multiply-adds for the traced batch (a scope: those of its layers).
    pub macs: u64,
    /// Forward wall time in seconds, when timed (a scope: its whole span).
    pub seconds: f64,
}

struct Recorder {
    rows: Vec<Row>,
    open: Vec<(usize, Instant)>,
    timed: bool,
}

thread_local! {
    static RECORDER: RefCell<Option<Recorder>> = const { RefCell::new(None) };
}

fn with<T>(f: impl FnOnce(&mut Recorder) -> T) -> Option<T> {
    RECORDER.with(|r| r.borrow_mut().as_mut().map(f))
}

/// Whether a [`record`] is running on this thread (fused layers then run
/// unfused, so each keeps its own row).
pub fn recording() -> bool {
    with(|_| ()).is_some()
}

/// Synchronises the device when timing (so a layer's time is its own).
fn sync_if(timed: bool, device: &Device) {
    if timed {
        // A failed sync only blurs a timing; the forward itself is unaffected.
        let _ = device.sync();
    }
}

/// Runs `f`, recording every traced layer it runs on this thread. With
/// `timed`, the device is synchronised around each layer and scope, so the
/// times add up (and the run is slower than an untimed one). Scopes' params
/// and multiply-adds are the sums of their layers'.
///
/// # Panics
/// When called inside another `record`.
pub fn record<R>(timed: bool, f: impl FnOnce() -> R) -> (R, Vec<Row>) {
    RECORDER.with(|r| {
        let mut r = r.borrow_mut();
        assert!(r.is_none(), "trace::record: already recording");
        *r = Some(Recorder {
            rows: Vec::new(),
            open: Vec::new(),
            timed,
        });
    });
    let out = f();
    let recorder = RECORDER.with(|r| r.borrow_mut().take()).expect("recording");
    let mut rows = recorder.rows;
    for i in 0..rows.len() {
        if rows[i].leaf {
            continue;
        }
        let depth = rows[i].depth;
        let (params, macs) = rows[i + 1..]
            .iter()
            .take_while(|r| r.depth > depth)
            .filter(|r| r.leaf)
            .fold((0, 0), |(p, m), r| (p + r.params, m + r.macs));
        rows[i].params = params;
        rows[i].macs = macs;
    }
    (out, rows)
}

/// Runs `f` on `x` as one named group of layers (a block or a stage).
pub fn scope<const D: usize, const E: usize>(
    name: impl Display,
    kind: &str,
    x: Tensor<D>,
    f: impl FnOnce(Tensor<D>) -> Tensor<E>,
) -> Tensor<E> {
    let Some(timed) = with(|r| r.timed) else {
        return f(x);
    };
    let device = x.device();
    sync_if(timed, &device);
    with(|r| {
        r.rows.push(Row {
            name: name.to_string(),
            kind: kind.to_string(),
            depth: r.open.len(),
            leaf: false,
            output: Vec::new(),
            params: 0,
            macs: 0,
            seconds: 0.0,
        });
        r.open.push((r.rows.len() - 1, Instant::now()));
    });
    let y = f(x);
    sync_if(timed, &device);
    with(|r| {
        let (i, start) = r.open.pop().expect("scope open");
        r.rows[i].output = y.dims().to_vec();
        if timed {
            r.rows[i].seconds = start.elapsed().as_secs_f64();
        }
    });
    y
}

/// Runs one layer `f` on `x`, recording `kind`, `params` and the
/// multiply-adds `macs(output_shape)`.
pub fn layer<const D: usize, const E: usize>(
    kind: &str,
    params: impl FnOnce() -> usize,
    macs: impl FnOnce(&[usize]) -> u64,
    x: Tensor<D>,
    f: impl FnOnce(Tensor<D>) -> Tensor<E>,
) -> Tensor<E> {
    let Some(timed) = with(|r| r.timed) else {
        return f(x);
    };
    let device = x.device();
    sync_if(timed, &device);
    let start = Instant::now();
    let y = f(x);
    sync_if(timed, &device);
    let seconds = if timed {
        start.elapsed().as_secs_f64()
    } else {
        0.0
    };
    let output = y.dims().to_vec();
    let macs = macs(&output);
    let params = params();
    with(|r| {
        r.rows.push(Row {
            name: String::new(),
            kind: kind.to_string(),
            depth: r.open.len(),
            leaf: true,
            output,
            params,
            macs,
            seconds,
        });
    });
    y
}

/// A layer without parameters or multiply-adds (activation, pooling, ...).
pub fn op<const D: usize, const E: usize>(
    kind: &str,
    x: Tensor<D>,
    f: impl FnOnce(Tensor<D>) -> Tensor<E>,
) -> Tensor<E> {
    layer(kind, || 0, |_| 0, x, f)
}

/// An input too small for a layer of a traced forward: which layer, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooSmall {
    /// The layer: its scope path (`layer4.1`) and type (`Conv2d`).
    pub layer: String,
    /// The sizes that do not fit.
    pub reason: String,
}

impl Display for TooSmall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the input is too small for {}: {}",
            self.layer, self.reason
        )
    }
}

impl std::error::Error for TooSmall {}

thread_local! {
    /// Set while a [`TooSmall`] unwinds out of [`try_record`].
    static TOO_SMALL: RefCell<Option<TooSmall>> = const { RefCell::new(None) };
}

/// As [`record`], but an input too small for one of the traced layers (a
/// convolution or pooling window larger than its padded input) is an error
/// naming the layer, instead of the backend's index panic.
pub fn try_record<R>(timed: bool, f: impl FnOnce() -> R) -> Result<(R, Vec<Row>), TooSmall> {
    static QUIET: std::sync::Once = std::sync::Once::new();
    // The unwinding that reports a TooSmall is not a crash: keep it off stderr.
    QUIET.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if TOO_SMALL.with(|t| t.borrow().is_none()) {
                previous(info);
            }
        }));
    });
    TOO_SMALL.with(|t| t.borrow_mut().take());
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| record(timed, f)));
    // A panic left the recorder open: close it.
    RECORDER.with(|r| r.borrow_mut().take());
    match out {
        Ok(v) => Ok(v),
        Err(payload) => match TOO_SMALL.with(|t| t.borrow_mut().take()) {
            Some(e) => Err(e),
            None => std::panic::resume_unwind(payload),
        },
    }
}

/// While recording, stops the forward with a [`TooSmall`] when a window of
/// `kernel` (dilated, strided) does not fit the padded `[H, W]` of `x`.
fn check_window(
    kind: &str,
    x: &[usize],
    kernel: [usize; 2],
    dilation: [usize; 2],
    padding: [(usize, usize); 2],
) {
    if with(|_| ()).is_none() {
        return;
    }
    let [h, w] = [x[2], x[3]];
    let fits = |i: usize, size: usize| {
        let span = dilation[i] * kernel[i].saturating_sub(1) + 1;
        size > 0 && size + padding[i].0 + padding[i].1 >= span
    };
    if fits(0, h) && fits(1, w) {
        return;
    }
    let path = with(|r| {
        r.open
            .iter()
            .map(|(i, _)| r.rows[*i].name.as_str())
            .filter(|n| !n.is_empty())
            .collect::<Vec<_>>()
            .join(".")
    })
    .unwrap_or_default();
    let layer = if path.is_empty() {
        format!("a {kind} outside the model's named blocks")
    } else {
        format!("{kind} in `{path}`")
    };
    let e = TooSmall {
        layer,
        reason: format!(
            "its {h}x{w} input padded by {padding:?} is smaller than the window {kernel:?} (dilation {dilation:?})"
        ),
    };
    let msg = e.to_string();
    TOO_SMALL.with(|t| *t.borrow_mut() = Some(e));
    panic!("{msg}");
}

/// `conv.forward(x)`, traced: `weight.numel() * N * H_out * W_out` multiply-adds.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    // `Same` pads whatever the window needs: nothing to check.
    let padding = match conv.padding {
        burn::nn::PaddingConfig2d::Explicit(t, l, b, r) => Some([(t, b), (l, r)]),
        burn::nn::PaddingConfig2d::Valid => Some([(0, 0); 2]),
        burn::nn::PaddingConfig2d::Same => None,
    };
    if let Some(padding) = padding {
        check_window(
            "Conv2d",
            &x.dims(),
            conv.kernel_size,
            conv.dilation,
            padding,
        );
    }
    let weight = || conv.weight.lazy_shape().num_elements();
    let params = || {
        weight()
            + conv
                .bias
                .as_ref()
                .map_or(0, |b| b.lazy_shape().num_elements())
    };
    let macs = |o: &[usize]| (weight() * o[0] * o[2] * o[3]) as u64;
    layer("Conv2d", params, macs, x, |x| conv_forward(conv, x))
}

/// `conv.forward(x)` on the zoo's kernels ([`zoo_kernels::conv2d`]), with
/// burn-nn's padding rules (`Same` pads `(k - 1) / 2` before and the rest
/// after, as burn computes it).
pub fn conv_forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let options = conv_options(conv, x.dims());
    zoo_kernels::conv2d(
        x,
        conv.weight.val(),
        conv.bias.as_ref().map(|b| b.val()),
        options,
    )
}

/// The options of `conv` on an input of shape `dims`, with burn-nn's
/// padding rules (`Same` pads `(k - 1) / 2` before and the rest after).
pub fn conv_options(conv: &Conv2d, dims: [usize; 4]) -> ConvOptions<2> {
    let [_, _, h, w] = dims;
    let same = |k: usize, s: usize, len: usize| {
        let out = len.div_ceil(s);
        let total = if out > 0 {
            ((out - 1) * s + k).saturating_sub(len)
        } else {
            0
        };
        (total / 2, total - total / 2)
    };
    let padding = match conv.padding {
        burn::nn::PaddingConfig2d::Valid => [(0, 0); 2],
        burn::nn::PaddingConfig2d::Same => [
            same(conv.kernel_size[0], conv.stride[0], h),
            same(conv.kernel_size[1], conv.stride[1], w),
        ],
        burn::nn::PaddingConfig2d::Explicit(t, l, b, r) => [(t, b), (l, r)],
    };
    ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups)
}

/// The check of [`conv2d`] alone (an input too small for the window is a
/// [`TooSmall`] panic naming the layer), for callers that run the
/// convolution fused with what follows it.
pub fn check_conv(conv: &Conv2d, dims: [usize; 4]) {
    let padding = match conv.padding {
        burn::nn::PaddingConfig2d::Explicit(t, l, b, r) => Some([(t, b), (l, r)]),
        burn::nn::PaddingConfig2d::Valid => Some([(0, 0); 2]),
        burn::nn::PaddingConfig2d::Same => None,
    };
    if let Some(padding) = padding {
        check_window("Conv2d", &dims, conv.kernel_size, conv.dilation, padding);
    }
}

/// `conv.forward(x)` of a transposed convolution on the zoo's kernels
/// ([`zoo_kernels::conv_transpose2d`]), traced: `weight.numel() * N * H_in
/// * W_in` multiply-adds (every input pixel scatters the whole kernel).
pub fn conv_transpose2d(conv: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let weight = || conv.weight.lazy_shape().num_elements();
    let params = || {
        weight()
            + conv
                .bias
                .as_ref()
                .map_or(0, |b| b.lazy_shape().num_elements())
    };
    let [n, _, h, w] = x.dims();
    let macs = move |_: &[usize]| (weight() * n * h * w) as u64;
    layer("ConvTranspose2d", params, macs, x, |x| {
        zoo_kernels::conv_transpose2d(
            x,
            conv.weight.val(),
            conv.bias.as_ref().map(|b| b.val()),
            ConvTransposeOptions::new(
                conv.stride,
                conv.padding,
                conv.padding_out,
                conv.dilation,
                conv.groups,
            ),
        )
    })
}

/// `linear.forward(x)`, traced: `weight.numel()` multiply-adds per row.
pub fn linear<const D: usize>(linear: &Linear, x: Tensor<D>) -> Tensor<D> {
    let weight = || linear.weight.lazy_shape().num_elements();
    let params = || {
        weight()
            + linear
                .bias
                .as_ref()
                .map_or(0, |b| b.lazy_shape().num_elements())
    };
    let macs = |o: &[usize]| (weight() * o[..o.len() - 1].iter().product::<usize>()) as u64;
    layer("Linear", params, macs, x, |x| linear.forward(x))
}

/// ReLU, traced.
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    op("ReLU", x, activation::relu)
}

/// Max pooling, traced.
pub fn max_pool2d(x: Tensor<4>, options: MaxPoolOptions<2>) -> Tensor<4> {
    check_window(
        "MaxPool2d",
        &x.dims(),
        options.kernel_size,
        options.dilation,
        options.padding,
    );
    op("MaxPool2d", x, |x| zoo_kernels::max_pool2d(x, options))
}

/// Average pooling, traced.
pub fn avg_pool2d(x: Tensor<4>, options: AvgPoolOptions<2>) -> Tensor<4> {
    check_window(
        "AvgPool2d",
        &x.dims(),
        options.kernel_size,
        [1, 1],
        options.padding,
    );
    op("AvgPool2d", x, |x| zoo_kernels::avg_pool2d(x, options))
}

/// Adaptive average pooling to `size`, traced.
pub fn adaptive_avg_pool2d(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    op("AdaptiveAvgPool2d", x, |x| {
        zoo_kernels::adaptive_avg_pool2d(x, size)
    })
}

/// Flattens `[N, C, H, W]` to `[N, C * H * W]`, traced.
pub fn flatten(x: Tensor<4>) -> Tensor<2> {
    op("Flatten", x, |x| {
        let [n, c, h, w] = x.dims();
        x.reshape([n, c * h * w])
    })
}

/// Formats rows as a table down to `max_depth` (deeper rows are folded into
/// their scope), with totals over the single layers: the form of torchinfo's
/// summary, plus a time column and each row's share when the rows were timed.
pub fn table(rows: &[Row], max_depth: usize) -> String {
    let timed = rows.iter().any(|r| r.seconds > 0.0);
    let leaf_time: f64 = rows.iter().filter(|r| r.leaf).map(|r| r.seconds).sum();
    let mut counters: Vec<usize> = Vec::new();
    let mut out = String::new();
    let rule = "=".repeat(if timed { 104 } else { 86 });
    let _ = writeln!(out, "{rule}");
    let _ = write!(
        out,
        "{:<40} {:<22} {:>11} {:>11}",
        "Layer (type:depth-idx)", "Output shape", "Param #", "Mult-Adds"
    );
    if timed {
        let _ = write!(out, " {:>9} {:>7}", "ms", "share");
    }
    let _ = writeln!(out, "\n{rule}");
    for r in rows {
        counters.truncate(r.depth + 1);
        counters.resize(r.depth + 1, 0);
        counters[r.depth] += 1;
        if r.depth > max_depth {
            continue;
        }
        let indent = if r.depth == 0 {
            String::new()
        } else {
            format!("{}└─", "│ ".repeat(r.depth - 1))
        };
        let label = if r.name.is_empty() {
            format!("{indent}{}: {}-{}", r.kind, r.depth + 1, counters[r.depth])
        } else {
            format!("{indent}{} ({})", r.name, r.kind)
        };
        let shape = format!("{:?}", r.output);
        let params = if r.params == 0 {
            "--".to_string()
        } else {
            thousands(r.params as u64)
        };
        let macs = if r.macs == 0 {
            "--".to_string()
        } else {
            thousands(r.macs)
        };
        let _ = write!(out, "{label:<40} {shape:<22} {params:>11} {macs:>11}");
        if timed {
            let share = if leaf_time > 0.0 {
                100.0 * r.seconds / leaf_time
            } else {
                0.0
            };
            let _ = write!(out, " {:>9.3} {share:>6.1}%", 1e3 * r.seconds);
        }
        let _ = writeln!(out);
    }
    let params: usize = rows.iter().filter(|r| r.leaf).map(|r| r.params).sum();
    let macs: u64 = rows.iter().filter(|r| r.leaf).map(|r| r.macs).sum();
    let _ = writeln!(out, "{rule}");
    let _ = writeln!(out, "Trainable params: {}", thousands(params as u64));
    let _ = writeln!(
        out,
        "Mult-adds: {} ({:.3} G)",
        thousands(macs),
        macs as f64 / 1e9
    );
    if timed {
        let _ = writeln!(out, "Time in layers: {:.3} ms", 1e3 * leaf_time);
    }
    let _ = write!(out, "{rule}");
    out
}

/// Per-kind totals of timed rows, largest first: `(kind, seconds, calls)`.
pub fn time_by_kind(rows: &[Row]) -> Vec<(String, f64, usize)> {
    let mut by: Vec<(String, f64, usize)> = Vec::new();
    for r in rows.iter().filter(|r| r.leaf) {
        match by.iter_mut().find(|(k, _, _)| *k == r.kind) {
            Some(e) => {
                e.1 += r.seconds;
                e.2 += 1;
            }
            None => by.push((r.kind.clone(), r.seconds, 1)),
        }
    }
    by.sort_by(|a, b| b.1.total_cmp(&a.1));
    by
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;
    use burn::nn::conv::Conv2dConfig;

    #[test]
    fn untraced_layers_are_plain_forwards_and_tables_fold_depth() {
        let device = zoo_device::from_name("flex").unwrap();
        let conv = Conv2dConfig::new([3, 8], [3, 3]).init(&device);
        let fc = LinearConfig::new(8 * 30 * 30, 10).init(&device);
        let x = Tensor::<4>::ones([2, 3, 32, 32], &device);
        let direct = fc.forward(conv.forward(x.clone()).reshape([2, 8 * 30 * 30]));
        let run = || {
            let y = scope("features", "Sequential", x.clone(), |x| {
                relu(conv2d(&conv, x))
            });
            linear(&fc, flatten(y))
        };
        let plain = run();
        // relu changes the values, so compare the traced path with itself
        // untraced and the shapes with the direct forward.
        let (traced, rows) = record(true, run);
        assert_eq!(plain.dims(), direct.dims());
        let a: Vec<f32> = plain.into_data().try_to_vec::<f32>().unwrap();
        let b: Vec<f32> = traced.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(a, b);
        let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["Sequential", "Conv2d", "ReLU", "Flatten", "Linear"]);
        // torch: conv 3*8*9 + 8 params, 8*27 MACs per output pixel, batch 2.
        assert_eq!(rows[1].params, 224);
        assert_eq!(rows[1].macs, 2 * 30 * 30 * 216);
        assert_eq!(rows[4].macs, 2 * 7200 * 10);
        assert_eq!(rows[0].params, 224);
        assert!(rows.iter().all(|r| r.seconds > 0.0));
        let t = table(&rows, 0);
        assert!(t.contains("features (Sequential)"), "{t}");
        assert!(!t.contains("Conv2d: 2-1"), "{t}");
        assert!(t.contains("Trainable params: 72,234"), "{t}");
        assert!(table(&rows, 1).contains("└─Conv2d: 2-1"));
        assert_eq!(time_by_kind(&rows).len(), 4);
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(999), "999");
    }
}
