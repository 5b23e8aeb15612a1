//! A layer-by-layer summary of any registered model, as torchinfo prints it
//! and as the course notes trace shapes through LeNet and AlexNet:
//!
//!     cargo run -p examples --bin summary -- resnet18
//!     cargo run -p examples --bin summary -- d2l_lenet --depth 0
//!     cargo run -p examples --bin summary -- d2l_alexnet --input-size 224
//!     cargo run -p examples --bin summary -- --list
//!
//! Output shape, trainable parameters and multiply-adds per layer (convolutions
//! and linear layers, as torchvision's GFLOPS column counts them), totals, and
//! torchvision's published figures beside them. `--timed` adds each layer's
//! forward time on the device and the time per layer type.

use std::process::ExitCode;

use clap::Parser;
use zoo_layers::trace;
use zoo_models::registry::{self, ModelArgs};

#[derive(Parser)]
#[command(about = "Layer-by-layer summary of a registered model")]
struct Args {
    /// Model name (see --list).
    model: Option<String>,
    /// List the registered models with their metadata.
    #[arg(long)]
    list: bool,
    /// Input side (square) or HxW; default: the model's.
    #[arg(long)]
    input_size: Option<String>,
    /// Input channels; default: the model's.
    #[arg(long)]
    in_channels: Option<usize>,
    /// Classes; default: the model's.
    #[arg(long)]
    num_classes: Option<usize>,
    /// Batch size of the traced input.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Deepest nesting level shown (0: the model's direct children).
    #[arg(long, default_value_t = 2)]
    depth: usize,
    /// Time each layer (the device synchronised around it).
    #[arg(long)]
    timed: bool,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

fn parse_size(s: &str) -> Result<[usize; 2], String> {
    let parts: Vec<&str> = s.split(['x', 'X', ',']).collect();
    let n = |p: &str| {
        p.trim()
            .parse::<usize>()
            .map_err(|_| format!("--input-size `{s}`: expected N or HxW"))
    };
    match parts.as_slice() {
        [a] => Ok([n(a)?, n(a)?]),
        [a, b] => Ok([n(a)?, n(b)?]),
        _ => Err(format!("--input-size `{s}`: expected N or HxW")),
    }
}

/// The registry; for the course's models (which torchvision does not
/// list) the parameters and GFLOPS are computed here.
fn list(device: &burn::tensor::Device) {
    println!(
        "{:<18} {:>5} {:>12} {:>8} {:>7} {:>7}  paper",
        "name", "input", "params", "GFLOPS", "acc@1", "acc@5"
    );
    for m in registry::list() {
        let (params, gflops, a1, a5) = match m.weights {
            Some(w) => (
                w.num_params.to_string(),
                format!("{:.3}", w.gflops),
                format!("{:.2}", w.acc1),
                format!("{:.2}", w.acc5),
            ),
            None => match registry::stats(m.name, device) {
                Ok((p, macs)) => (
                    p.to_string(),
                    format!("{:.3}", macs as f64 / 1e9),
                    "-".into(),
                    "-".into(),
                ),
                Err(_) => ("-".into(), "-".into(), "-".into(), "-".into()),
            },
        };
        println!(
            "{:<18} {:>5} {:>12} {:>8} {:>7} {:>7}  {}",
            m.name, m.input[1], params, gflops, a1, a5, m.paper
        );
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.list {
        match zoo_device::resolve(args.device.as_deref(), zoo_device::DEFAULT_DEVICE)
            .and_then(|b| b.device())
        {
            Ok(device) => list(&device),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
        return ExitCode::SUCCESS;
    }
    let Some(name) = args.model.as_deref() else {
        eprintln!("error: name a model, or --list");
        return ExitCode::from(2);
    };
    let fail = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    };
    let backend = match zoo_device::resolve(args.device.as_deref(), zoo_device::DEFAULT_DEVICE) {
        Ok(b) => b,
        Err(e) => return fail(e.to_string()),
    };
    let device = match backend.device() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(info) = registry::info(name) else {
        let known: Vec<String> = registry::list()
            .iter()
            .map(|m| m.name.to_string())
            .collect();
        return fail(format!(
            "no model named `{name}`; known: {}",
            known.join(", ")
        ));
    };
    if args.batch == 0 {
        return fail("--batch 0: expected at least 1".into());
    }
    let size = match args.input_size.as_deref().map(parse_size).transpose() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    // With no arguments, the model torchvision's weights load into (GoogLeNet
    // without its auxiliary heads), so the counts compare with its figures.
    let model_args = ModelArgs {
        num_classes: args.num_classes,
        in_channels: args.in_channels,
        input_size: size,
        ..info.weights_args()
    };
    let as_published = model_args == info.weights_args();
    let model = match registry::create(name, &model_args, &device) {
        Ok(m) => m,
        Err(e) => return fail(e.to_string()),
    };
    let [c, h, w] = info.input;
    let [h, w] = size.unwrap_or([h, w]);
    let shape = [args.batch, args.in_channels.unwrap_or(c), h, w];
    println!("{info}");
    println!("input {shape:?} on {backend}");
    if args.timed {
        // One untimed pass first, so kernel compilation and allocation are not timed.
        if let Err(e) = registry::summary(&model, shape, false, &device) {
            return fail(format!("{name}: {e}"));
        }
    }
    let rows = match registry::summary(&model, shape, args.timed, &device) {
        Ok(rows) => rows,
        Err(e) => return fail(format!("{name}: {e}")),
    };
    println!("{}", trace::table(&rows, args.depth));
    let params = zoo_layers::params::num_trainable_params(&model);
    let traced: usize = rows.iter().filter(|r| r.leaf).map(|r| r.params).sum();
    if traced != params {
        println!(
            "The model has {params} trainable params; {} are in layers this forward does not run (auxiliary heads run only in training).",
            params - traced
        );
    }
    if let Some(wi) = info.weights {
        let macs: u64 = rows.iter().filter(|r| r.leaf).map(|r| r.macs).sum();
        println!(
            "torchvision {}: {} params, {:.3} GFLOPS at {}x{}; acc@1 {:.3}, acc@5 {:.3}; {} ({:.1} MB)",
            info.name,
            wi.num_params,
            wi.gflops,
            info.input[1],
            info.input[2],
            wi.acc1,
            wi.acc5,
            wi.url,
            wi.file_mb
        );
        if as_published && args.batch == 1 {
            println!(
                "here: {params} params ({}), {:.3} G multiply-adds",
                if params == wi.num_params {
                    "equal"
                } else {
                    "DIFFERENT"
                },
                macs as f64 / 1e9
            );
        }
    }
    if args.timed {
        println!("time by layer type:");
        let total: f64 = rows.iter().filter(|r| r.leaf).map(|r| r.seconds).sum();
        for (kind, secs, calls) in trace::time_by_kind(&rows) {
            println!(
                "  {kind:<18} {:>9.3} ms {:>5.1}%  ({calls} calls)",
                1e3 * secs,
                100.0 * secs / total
            );
        }
    }
    ExitCode::SUCCESS
}
