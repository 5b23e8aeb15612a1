//! The runner's supervisor: the cases run in a worker process (this same
//! binary, `conformance-worker`), so that a case which aborts the process
//! (`memory allocation of N bytes failed` cannot be caught), or runs past the
//! per-case time limit, becomes one FAIL line and the run goes on in a fresh
//! worker from the next case. The run always ends with its summary line.
//!
//! Protocol, worker to supervisor, on the worker's stdout: `@start I` before
//! case `I` (an index into the list sent on its stdin, one path per line),
//! `@done I LINE` after it, LINE being the case's PASS / FAIL / UNSUPPORTED
//! line. Anything else the worker prints is ignored.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Summary;

/// The environment variable that injects a fault into the worker, for the
/// runner's own tests: `abort:TEXT` aborts the process as a failed
/// allocation does, `hang:TEXT` never returns, on the cases whose file name
/// contains TEXT.
pub const FAULT_VAR: &str = "ZOO_CONFORMANCE_FAULT";

/// What a worker tells the supervisor.
enum Msg {
    Start(usize),
    Done(usize, String),
    Eof,
}

/// How to start a worker: the program and its arguments (the device).
pub struct Worker {
    /// The executable (this binary).
    pub program: PathBuf,
    /// Its arguments (`conformance-worker --device D`).
    pub args: Vec<String>,
}

/// Runs `files` in worker processes, printing one line per case, each case
/// given at most `limit`; the totals.
pub fn run(
    files: &[PathBuf],
    worker: &Worker,
    limit: Duration,
    mut print: impl FnMut(&str),
) -> Result<Summary, String> {
    let mut summary = Summary::default();
    let mut record = |line: &str, summary: &mut Summary| {
        if line.starts_with("PASS ") {
            summary.passed += 1;
        } else if line.starts_with("UNSUPPORTED ") {
            summary.unsupported += 1;
        } else {
            summary.failed += 1;
        }
        print(line);
    };
    let name = |i: usize| {
        files[i]
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut next = 0;
    while next < files.len() {
        let (mut child, rx, stderr, mut stderr_reader) = spawn(worker, &files[next..])?;
        let mut current: Option<usize> = None;
        loop {
            match rx.recv_timeout(limit) {
                Ok(Msg::Start(i)) => current = Some(next + i),
                Ok(Msg::Done(i, line)) => {
                    record(&line, &mut summary);
                    current = None;
                    if next + i + 1 == files.len() {
                        let _ = child.wait();
                        return Ok(summary);
                    }
                }
                Ok(Msg::Eof) => {
                    let status = child
                        .wait()
                        .map(|s| s.to_string())
                        .unwrap_or_else(|e| e.to_string());
                    // The worker's stderr is closed now: its last lines (an
                    // allocation failure's message) are read before they are shown.
                    if let Some(reader) = stderr_reader.take() {
                        let _ = reader.join();
                    }
                    let last = stderr.lock().map(|l| tail(&l)).unwrap_or_default();
                    match current {
                        Some(i) => {
                            record(
                                &format!(
                                    "FAIL {}: the worker process died running this case ({status}){last}",
                                    name(i)
                                ),
                                &mut summary,
                            );
                            next = i + 1;
                        }
                        None => {
                            return Err(format!(
                                "the conformance worker stopped before its cases ({status}){last}"
                            ));
                        }
                    }
                    break;
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let i = current.unwrap_or(next);
                    record(
                        &format!(
                            "FAIL {}: still running after {} s, the per-case time limit (--timeout-s); stopped",
                            name(i),
                            limit.as_secs_f64()
                        ),
                        &mut summary,
                    );
                    next = i + 1;
                    break;
                }
                Err(RecvTimeoutError::Disconnected) => unreachable!("the reader sends Eof last"),
            }
        }
    }
    Ok(summary)
}

/// `: "LAST LINES"` of the worker's stderr, or nothing.
fn tail(lines: &VecDeque<String>) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        let v: Vec<&str> = lines.iter().map(String::as_str).collect();
        format!(": {}", v.join(" | "))
    }
}

/// The worker, its protocol messages, the last lines of its stderr and
/// the thread reading them.
type Spawned = (
    Child,
    mpsc::Receiver<Msg>,
    Arc<Mutex<VecDeque<String>>>,
    Option<std::thread::JoinHandle<()>>,
);

fn spawn(worker: &Worker, files: &[PathBuf]) -> Result<Spawned, String> {
    let mut child = Command::new(&worker.program)
        .args(&worker.args)
        // One-line reasons: the last lines of stderr, not a backtrace.
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start the conformance worker {}: {e}",
                worker.program.display()
            )
        })?;
    let mut list = String::new();
    for f in files {
        list.push_str(&f.to_string_lossy());
        list.push('\n');
    }
    let mut stdin = child.stdin.take().expect("piped");
    // The worker reads the whole list before its first case.
    std::thread::spawn(move || {
        let _ = stdin.write_all(list.as_bytes());
    });
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let msg = if let Some(i) = line.strip_prefix("@start ") {
                i.trim().parse().ok().map(Msg::Start)
            } else if let Some(rest) = line.strip_prefix("@done ") {
                rest.split_once(' ')
                    .and_then(|(i, l)| Some(Msg::Done(i.parse().ok()?, l.to_string())))
            } else {
                None
            };
            if let Some(msg) = msg
                && tx.send(msg).is_err()
            {
                return;
            }
        }
        let _ = tx.send(Msg::Eof);
    });
    let lines = Arc::new(Mutex::new(VecDeque::new()));
    let keep = lines.clone();
    let stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let line = line.trim().to_string();
            if line.is_empty() {
                continue;
            }
            if let Ok(mut l) = keep.lock() {
                l.push_back(line);
                if l.len() > 3 {
                    l.pop_front();
                }
            }
        }
    });
    Ok((child, rx, lines, Some(reader)))
}

/// The worker: reads case paths from stdin, runs each in this process and
/// reports on stdout in the protocol above.
pub fn worker(device: &burn::tensor::Device) -> Result<(), String> {
    let mut list = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut list)
        .map_err(|e| format!("cannot read the case list: {e}"))?;
    let files: Vec<PathBuf> = list.lines().map(PathBuf::from).collect();
    let fault = std::env::var(FAULT_VAR).ok();
    let mut out = std::io::stdout().lock();
    for (i, path) in files.iter().enumerate() {
        let _ = writeln!(out, "@start {i}");
        let _ = out.flush();
        if let Some(fault) = &fault {
            inject(fault, path);
        }
        let one = super::run(std::slice::from_ref(path), device, |line| {
            let _ = writeln!(out, "@done {i} {line}");
        });
        debug_assert_eq!(one.passed + one.failed + one.unsupported, 1);
        let _ = out.flush();
    }
    Ok(())
}

/// The fault of [`FAULT_VAR`], when it names this case.
fn inject(fault: &str, path: &std::path::Path) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match fault.split_once(':') {
        Some(("abort", text)) if name.contains(text) => {
            // What a failed allocation does: a message on stderr, then abort.
            std::alloc::handle_alloc_error(
                std::alloc::Layout::from_size_align(1 << 40, 8).expect("a valid layout"),
            )
        }
        Some(("hang", text)) if name.contains(text) => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
        _ => {}
    }
}
