//! Project tasks, run as `cargo xtask <task>`.
//!
//! - `conformance <DIR> [--device D] [--filter S] [--ops A,B]`: the reference-parity
//!   runner of `docs/SPEC.md`.
//! - `bench <matmul|conv|data|models|kernels|augment|detect|sequence|all> [--device D]`: kernel, model and data-path
//!   throughput on a device.
//! - `download <fashion-mnist|mnist|cifar-10|voc-2007|voc-2012|time-machine|MODEL> [--dir D] [--mirror URL]
//!   [--from LOCAL_DIR]`: fetch or import a data set, or a model's torchvision
//!   weights (`resnet18`, `vgg19`, `resnet50.IMAGENET1K_V1`,
//!   `ResNet50_Weights.IMAGENET1K_V2`, ...) into the weights cache of
//!   `zoo_models::pretrained::hub`, verified.

mod bench;
mod conformance;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
// `arg_required_else_help = false`: with no task, clap's own error
// (`error: 'cargo xtask' requires a subcommand ...`, exit 2) instead of the
// bare help text, so the refusal says what is missing.
#[command(
    name = "cargo xtask",
    about = "Tasks of the zoo workspace",
    arg_required_else_help = false
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run the reference-parity cases of a directory (see docs/SPEC.md).
    Conformance {
        /// Directory of `*.safetensors` case files.
        dir: PathBuf,
        /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
        #[arg(long)]
        device: Option<String>,
        /// Only run cases whose file name contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Only run the cases of these ops (comma-separated; a case file is
        /// `<op>__<what>.safetensors`), e.g. one SPEC section.
        #[arg(long, value_delimiter = ',')]
        ops: Vec<String>,
        /// Exit 0 even when some ops are UNSUPPORTED (failures still fail).
        /// For CI while parts of the project are still being built.
        #[arg(long)]
        allow_unsupported: bool,
        /// Seconds a case may run before it is stopped and counted as FAIL
        /// (0.001 to 1,000,000).
        #[arg(long, default_value_t = 300.0)]
        timeout_s: f64,
    },
    /// The process `conformance` runs its cases in (reads case paths on
    /// stdin); not for direct use.
    #[command(hide = true)]
    ConformanceWorker {
        /// Device: flex, ndarray or wgpu.
        #[arg(long)]
        device: Option<String>,
    },
    /// Measure kernel or data-path throughput on a device (median of repeated runs).
    Bench {
        /// What to measure: matmul, conv, data, models, kernels, augment,
        /// detect, sequence, classic or all.
        #[arg(default_value = "all")]
        what: String,
        /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
        #[arg(long)]
        device: Option<String>,
        /// Matrix size for matmul.
        #[arg(long, default_value_t = 2048)]
        size: usize,
        /// Measured runs (after warm-up); the median is reported (1 to 1,000,000).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// For `data` and `classic`: the Fashion-MNIST directory (default:
        /// the data directory, else the embedded subset; `classic` tries the
        /// Debian package's directory first).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// For `data`: images per batch.
        #[arg(long, default_value_t = 256)]
        batch_size: usize,
        /// For `data`: data-loader worker threads (0 to 1024; 0 loads on the
        /// calling thread).
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// For `data`: resize the images to this side (224 for AlexNet, 96 for ResNet).
        #[arg(long)]
        resize: Option<usize>,
    },
    /// Download a data set (or import it from disk) into the data directory,
    /// verified against the checksums the project records.
    Download {
        /// fashion-mnist, mnist, cifar-10, voc-2007, voc-2012 or time-machine; or a model's
        /// torchvision weights: its name for its DEFAULT (resnet50, vgg19, fcn_resnet50,
        /// ...), `resnet50.IMAGENET1K_V1` or `ResNet50_Weights.IMAGENET1K_V1`, saved in the
        /// weights cache ($ZOO_HOME/weights, else ~/.cache/zoo/weights).
        name: String,
        /// The data directory (default: $ZOO_DATA_DIR, else ~/.cache/zoo);
        /// the set goes into its own folder there, where the loaders look
        /// (weights: into `<dir>/weights` instead of the weights cache).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// A base URL serving the same file names, instead of the official ones.
        #[arg(long, conflicts_with = "from")]
        mirror: Option<String>,
        /// Import the files from this directory instead of downloading
        /// (e.g. /usr/share/datasets/fashion-mnist from the Debian package).
        #[arg(long)]
        from: Option<PathBuf>,
        /// An archive MD5 that must also match: NAME=HEX (repeatable).
        #[arg(long, value_name = "NAME=HEX")]
        md5: Vec<String>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
}

fn download(
    name: &str,
    dir: Option<PathBuf>,
    mirror: Option<String>,
    from: Option<PathBuf>,
    md5: &[String],
    quiet: bool,
) -> Result<(), zoo_datasets::DataError> {
    use zoo_datasets::DataError;
    let catalog = match zoo_datasets::catalog::find(name) {
        Ok(c) => c,
        Err(data) => {
            let entry = zoo_models::pretrained::resolve(name).map_err(|weights| {
                DataError::Invalid(format!(
                    "{data}; nor is it a model's torchvision weights: {weights}"
                ))
            })?;
            if !md5.is_empty() {
                return Err(DataError::Invalid(format!(
                    "--md5 checks data-set archives; {} is checked by the SHA-256 prefix in its name ({})",
                    entry.file_name(),
                    entry.sha256_prefix
                )));
            }
            return download_weights(entry, dir, mirror, from, quiet);
        }
    };
    let extra_md5 = md5
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(n, h)| (n.to_string(), h.to_ascii_lowercase()))
                .ok_or_else(|| DataError::Invalid(format!("--md5 `{s}`: expected NAME=HEX")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let dest = dir.unwrap_or_else(zoo_datasets::data_dir).join(catalog.dir);
    let report = match from {
        Some(from) => zoo_datasets::store::import(catalog, &from, &dest, &|f| {
            extra_md5
                .iter()
                .find(|(n, _)| n == f)
                .map(|(_, h)| h.clone())
        })?,
        None => {
            let options = zoo_datasets::download::DownloadOptions {
                mirror,
                progress: !quiet,
                extra_md5,
                ..Default::default()
            };
            zoo_datasets::download::download(catalog, &dest, &options)?
        }
    };
    for line in report {
        println!("{line}");
    }
    println!("{} is in {}", catalog.name, dest.display());
    Ok(())
}

/// A model's torchvision weights into the weights cache
/// (`zoo_models::pretrained::hub`: `$ZOO_HOME/weights`, else
/// `~/.cache/zoo/weights`; `<dir>/weights` with `--dir`), downloaded and
/// checked by the SHA-256 prefix in the file name as `torch.hub` checks
/// it; with `--from`, copied from a folder holding the same file name (such
/// as torch's own cache) and checked the same way.
fn download_weights(
    entry: &'static zoo_models::pretrained::WeightsEntry,
    dir: Option<PathBuf>,
    mirror: Option<String>,
    from: Option<PathBuf>,
    quiet: bool,
) -> Result<(), zoo_datasets::DataError> {
    use zoo_datasets::DataError;
    use zoo_models::pretrained::hub;
    let options = hub::FetchOptions {
        dir: dir.map(|d| d.join("weights")),
        mirror,
        progress: !quiet,
        // With --from nothing is downloaded: the copy is checked below.
        offline: from.is_some(),
        ..Default::default()
    };
    let hub_error = |e: hub::HubError| DataError::Invalid(e.to_string());
    if let Some(from) = &from {
        let source = from.join(entry.file_name());
        let dest = hub::cached_path(entry, &options).map_err(hub_error)?;
        let part = hub::partial_path(&dest);
        let io = |path: &std::path::Path| {
            let path = path.to_path_buf();
            move |source| DataError::Io { path, source }
        };
        std::fs::create_dir_all(options.cache()).map_err(io(&options.cache()))?;
        std::fs::copy(&source, &part).map_err(io(&source))?;
        let got = hub::sha256_file(&part).map_err(hub_error)?;
        if !got.starts_with(entry.sha256_prefix) {
            let _ = std::fs::remove_file(&part);
            return Err(DataError::Checksum {
                path: source,
                expected: format!("SHA-256 beginning {}", entry.sha256_prefix),
                got: format!("SHA-256 {got}"),
            });
        }
        std::fs::rename(&part, &dest).map_err(io(&dest))?;
    }
    let path = hub::fetch(entry, &options).map_err(hub_error)?;
    println!("{} ({}) is in {}", entry.name(), entry.url, path.display());
    Ok(())
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

/// The most measured runs `bench --runs` takes (each is kept to take the
/// median, and a run of seconds times a million is already days).
const MAX_RUNS: usize = 1_000_000;
/// The most data-loader threads `bench --workers` starts.
const MAX_WORKERS: usize = 1024;
/// The shortest `conformance --timeout-s`, in seconds: less cannot start a
/// worker (and below a nanosecond the limit would round to zero).
const MIN_TIMEOUT_S: f64 = 1e-3;
/// The longest `conformance --timeout-s`, in seconds (11.6 days).
const MAX_TIMEOUT_S: f64 = 1e6;

/// A flag's number as an error shows it: `1e300`, not its 301 digits.
fn shown(x: f64) -> String {
    if x.is_finite() && x != 0.0 && !(1e-3..1e7).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// The bench flags that size allocations: positive, and within what a
/// tensor may hold (`zoo_device::budget`), counts within their bounds, each
/// error naming its flag.
fn check_bench_flags(
    size: usize,
    runs: usize,
    batch_size: usize,
    workers: usize,
    resize: Option<usize>,
) -> Result<(), String> {
    for (flag, v) in [
        ("--size", size),
        ("--runs", runs),
        ("--batch-size", batch_size),
    ] {
        if v == 0 {
            return Err(format!("{flag} 0: expected at least 1"));
        }
    }
    if runs > MAX_RUNS {
        return Err(format!("--runs {runs}: expected 1 to {MAX_RUNS}"));
    }
    if workers > MAX_WORKERS {
        return Err(format!(
            "--workers {workers}: expected 0 to {MAX_WORKERS} threads"
        ));
    }
    if resize == Some(0) {
        return Err("--resize 0: expected a positive side".into());
    }
    zoo_device::budget::check("a matrix", &[size, size])
        .map_err(|e| format!("--size {size}: {e}"))?;
    let side = resize.unwrap_or(28);
    zoo_device::budget::check("a batch", &[batch_size, 1, side, side])
        .map_err(|e| format!("--batch-size {batch_size} --resize {side}: {e}"))?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.task {
        Task::Conformance {
            dir,
            device,
            filter,
            ops,
            allow_unsupported,
            timeout_s,
        } => {
            let (backend, _) = match device_or_exit(device.as_deref()) {
                Ok(d) => d,
                Err(code) => return code,
            };
            // NaN fails both comparisons.
            if !(MIN_TIMEOUT_S..=MAX_TIMEOUT_S).contains(&timeout_s) {
                eprintln!(
                    "error: --timeout-s {}: expected {MIN_TIMEOUT_S} to {MAX_TIMEOUT_S} seconds",
                    shown(timeout_s)
                );
                return ExitCode::from(2);
            }
            let files = match conformance::case_files_of(&dir, filter.as_deref(), &ops) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            if files.is_empty() {
                // A mistyped CI path or filter must not pass.
                eprintln!(
                    "error: no case files (*.safetensors) in {}{}",
                    dir.display(),
                    filter
                        .map(|f| format!(" matching `{f}`"))
                        .unwrap_or_default()
                );
                return ExitCode::from(2);
            }
            eprintln!(
                "running {} case(s) on {backend} (at most {timeout_s} s each)",
                files.len()
            );
            let worker = match std::env::current_exe() {
                Ok(program) => conformance::supervise::Worker {
                    program,
                    args: vec![
                        "conformance-worker".into(),
                        "--device".into(),
                        backend.name().into(),
                    ],
                },
                Err(e) => {
                    eprintln!("error: cannot find this program to start its worker: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let limit = std::time::Duration::from_secs_f64(timeout_s);
            let summary = match conformance::supervise::run(&files, &worker, limit, |line| {
                println!("{line}")
            }) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            println!("{}", summary.line());
            if summary.failed > 0 || (summary.unsupported > 0 && !allow_unsupported) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Task::ConformanceWorker { device } => {
            let (_, device) = match device_or_exit(device.as_deref()) {
                Ok(d) => d,
                Err(code) => return code,
            };
            match conformance::supervise::worker(&device) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Task::Bench {
            what,
            device,
            size,
            runs,
            data_dir,
            batch_size,
            workers,
            resize,
        } => {
            if let Err(e) = check_bench_flags(size, runs, batch_size, workers, resize) {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
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
                "models" => {
                    bench::models(&device, runs);
                }
                "kernels" => {
                    bench::kernels(&device, runs);
                }
                "augment" => {
                    bench::augment(&device, runs);
                }
                "detect" => {
                    bench::detect(&device, runs);
                }
                "sequence" => {
                    bench::sequence(&device, runs);
                }
                "classic" => {
                    if let Err(e) = bench::classic(&device, data_dir.as_deref(), runs) {
                        eprintln!("error: {e}");
                        return ExitCode::from(2);
                    }
                }
                "data" | "all" => {
                    if what == "all" {
                        bench::matmul(&device, size, runs);
                        bench::conv(&device, 16, 64, 32, runs);
                    }
                    if let Err(e) = bench::data(
                        &device,
                        data_dir.as_deref(),
                        batch_size,
                        workers,
                        resize,
                        runs,
                    ) {
                        match &data_dir {
                            Some(d) => eprintln!("error: --data-dir {}: {e}", d.display()),
                            None => eprintln!("error: {e}"),
                        }
                        return ExitCode::from(2);
                    }
                }
                other => {
                    eprintln!(
                        "error: unknown benchmark `{other}`: expected matmul, conv, data, models, kernels, augment, detect, sequence, classic or all"
                    );
                    return ExitCode::from(2);
                }
            }
            ExitCode::SUCCESS
        }
        Task::Download {
            name,
            dir,
            mirror,
            from,
            md5,
            quiet,
        } => match download(&name, dir, mirror, from, &md5, quiet) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_counts_are_bounded_and_named() {
        assert!(check_bench_flags(16, 1, 4, 0, None).is_ok());
        assert!(check_bench_flags(16, MAX_RUNS, 4, MAX_WORKERS, Some(28)).is_ok());
        let e = check_bench_flags(16, usize::MAX, 4, 2, None).unwrap_err();
        assert!(
            e.starts_with("--runs 18446744073709551615: expected 1 to 1000000"),
            "{e}"
        );
        let e = check_bench_flags(16, 1, 4, 1_000_000_000_000, None).unwrap_err();
        assert!(e.starts_with("--workers 1000000000000:"), "{e}");
        let e = check_bench_flags(16, 0, 4, 2, None).unwrap_err();
        assert!(e.starts_with("--runs 0:"), "{e}");
    }

    #[test]
    fn huge_and_tiny_numbers_are_shown_short() {
        assert_eq!(shown(1e300), "1e300");
        assert_eq!(shown(1e-300), "1e-300");
        assert_eq!(shown(300.0), "300");
        assert_eq!(shown(0.0), "0");
        assert_eq!(shown(f64::NAN), "NaN");
    }

    #[test]
    fn no_task_is_a_usage_error() {
        use clap::Parser;
        let e = Cli::try_parse_from(["xtask"]).err().expect("refused");
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingSubcommand);
        assert_eq!(e.exit_code(), 2);
    }
}
