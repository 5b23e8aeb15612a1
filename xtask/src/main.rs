//! Project tasks, run as `cargo xtask <task>`.
//!
//! - `conformance <DIR> [--device D] [--filter S]`: the reference-parity
//!   runner of `shared/conformance/SPEC.md`.
//! - `bench <matmul|conv|all> [--device D]`: kernel throughput on a device.

mod bench;
mod conformance;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Tasks of the zoo workspace")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run the reference-parity cases of a directory (see shared/conformance/SPEC.md).
    Conformance {
        /// Directory of `*.safetensors` case files.
        dir: PathBuf,
        /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
        #[arg(long)]
        device: Option<String>,
        /// Only run cases whose file name contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Exit 0 even when some ops are UNSUPPORTED (failures still fail).
        /// For CI while parts of the project are still being built.
        #[arg(long)]
        allow_unsupported: bool,
    },
    /// Measure kernel throughput on a device (median of repeated runs).
    Bench {
        /// What to measure: matmul, conv or all.
        #[arg(default_value = "all")]
        what: String,
        /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
        #[arg(long)]
        device: Option<String>,
        /// Matrix size for matmul.
        #[arg(long, default_value_t = 2048)]
        size: usize,
        /// Measured runs (after warm-up); the median is reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
}

fn device_or_exit(
    name: Option<&str>,
) -> Result<(zoo_device::Backend, burn::tensor::Device), ExitCode> {
    let backend = zoo_device::resolve(name, zoo_device::DEFAULT_DEVICE).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    let device = backend.device().map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    Ok((backend, device))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.task {
        Task::Conformance {
            dir,
            device,
            filter,
            allow_unsupported,
        } => {
            let (backend, device) = match device_or_exit(device.as_deref()) {
                Ok(d) => d,
                Err(code) => return code,
            };
            let files = match conformance::case_files(&dir, filter.as_deref()) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            if files.is_empty() {
                eprintln!(
                    "warning: no case files (*.safetensors) in {}{}",
                    dir.display(),
                    filter
                        .map(|f| format!(" matching `{f}`"))
                        .unwrap_or_default()
                );
            }
            eprintln!("running {} case(s) on {backend}", files.len());
            let summary = conformance::run(&files, &device, |line| println!("{line}"));
            println!("{}", summary.line());
            if summary.failed > 0 || (summary.unsupported > 0 && !allow_unsupported) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Task::Bench {
            what,
            device,
            size,
            runs,
        } => {
            let (backend, device) = match device_or_exit(device.as_deref()) {
                Ok(d) => d,
                Err(code) => return code,
            };
            println!("device: {backend}");
            match what.as_str() {
                "matmul" => {
                    bench::matmul(&device, size, runs);
                }
                "conv" => {
                    bench::conv(&device, 16, 64, 32, runs);
                }
                "all" => {
                    bench::matmul(&device, size, runs);
                    bench::conv(&device, 16, 64, 32, runs);
                }
                other => {
                    eprintln!("error: unknown benchmark `{other}`: expected matmul, conv or all");
                    return ExitCode::from(2);
                }
            }
            ExitCode::SUCCESS
        }
    }
}
