//! Downloading a [catalog](crate::catalog) data set over HTTP(S) (feature
//! `download`): each file is written to a temporary name, resumed with an
//! HTTP `Range` request after a broken connection, retried with exponential
//! backoff, verified, and only then renamed to its own name.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::DataError;
use crate::catalog::Catalog;
use crate::store::{install, is_installed, partial_path};

/// How to download.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// A base URL to use instead of the catalog's (a mirror serving the same
    /// file names).
    pub mirror: Option<String>,
    /// Attempts per URL after the first.
    pub retries: u32,
    /// The wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Give up on a connection that sends nothing for this long.
    pub read_timeout: Duration,
    /// Show a progress bar (bytes, rate) on stderr.
    pub progress: bool,
    /// Archive MD5s that must also match, by file name (in addition to the
    /// catalog's checks).
    pub extra_md5: Vec<(String, String)>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            mirror: None,
            retries: 4,
            backoff: Duration::from_millis(500),
            read_timeout: Duration::from_secs(60),
            progress: true,
            extra_md5: Vec::new(),
        }
    }
}

impl DownloadOptions {
    fn extra(&self, name: &str) -> Option<&str> {
        self.extra_md5
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m.as_str())
    }
}

/// Downloads every file of `catalog` into `dest` that is not already there
/// and verified. Returns one line per file.
pub fn download(
    catalog: &Catalog,
    dest: &Path,
    options: &DownloadOptions,
) -> Result<Vec<String>, DataError> {
    fs::create_dir_all(dest).map_err(DataError::io(dest))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(options.read_timeout))
        .build()
        .into();
    let bases: Vec<String> = match &options.mirror {
        Some(m) if m.ends_with('/') => vec![m.clone()],
        Some(m) => vec![format!("{m}/")],
        None => catalog.urls.iter().map(|s| s.to_string()).collect(),
    };
    let mut report = Vec::new();
    for file in catalog.files {
        let extra = options.extra(file.name);
        if is_installed(catalog, file, dest, extra) {
            report.push(format!("{}: already present and verified", file.name));
            continue;
        }
        let part = partial_path(&dest.join(file.name));
        let mut last = None;
        for base in &bases {
            let url = format!("{base}{}", file.name);
            match fetch(&agent, &url, &part, options) {
                Ok(()) => {
                    last = None;
                    let how = install(catalog, file, &part, dest, extra)?;
                    report.push(format!("{}: downloaded from {url} ({how})", file.name));
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
    }
    Ok(report)
}

fn network_error(url: &str, reason: String) -> DataError {
    DataError::Network {
        url: url.to_string(),
        reason,
        hint: "check the connection, or pass --mirror URL (a server with the same files) or --from DIR (files already on disk)".into(),
    }
}

/// What one attempt ended with.
enum Attempt {
    Done,
    /// Worth retrying (broken connection, server error); bytes kept so far.
    Transient(String),
}

/// Fetches `url` into `part`, resuming what `part` already holds.
fn fetch(
    agent: &ureq::Agent,
    url: &str,
    part: &Path,
    options: &DownloadOptions,
) -> Result<(), DataError> {
    let bar = if options.progress {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.set_message(url.rsplit('/').next().unwrap_or(url).to_string());
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut attempt = 0;
    loop {
        match fetch_once(agent, url, part, &bar)? {
            Attempt::Done => {
                bar.finish();
                return Ok(());
            }
            Attempt::Transient(reason) if attempt < options.retries => {
                let wait = options.backoff * 2u32.saturating_pow(attempt);
                bar.println(format!("{url}: {reason}; retrying in {wait:?}"));
                std::thread::sleep(wait);
                attempt += 1;
            }
            Attempt::Transient(reason) => {
                bar.abandon();
                return Err(network_error(
                    url,
                    format!("{reason} (after {} attempts)", attempt + 1),
                ));
            }
        }
    }
}

fn fetch_once(
    agent: &ureq::Agent,
    url: &str,
    part: &Path,
    bar: &ProgressBar,
) -> Result<Attempt, DataError> {
    let have = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let mut request = agent.get(url);
    if have > 0 {
        request = request.header("Range", format!("bytes={have}-"));
    }
    let response = match request.call() {
        Ok(r) => r,
        Err(ureq::Error::Io(e)) => return Ok(Attempt::Transient(e.to_string())),
        Err(ureq::Error::Timeout(t)) => return Ok(Attempt::Transient(format!("timed out ({t})"))),
        Err(ureq::Error::ConnectionFailed) => {
            return Ok(Attempt::Transient("connection failed".into()));
        }
        Err(e) => return Err(network_error(url, e.to_string())),
    };
    let status = response.status().as_u16();
    let length = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let append = match status {
        206 => true,
        200 => false,
        // The range starts at the end: the file is already complete.
        416 if have > 0 => return Ok(Attempt::Done),
        500..=599 | 408 | 429 => return Ok(Attempt::Transient(format!("HTTP status {status}"))),
        _ => return Err(network_error(url, format!("HTTP status {status}"))),
    };
    let mut out = OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(part)
        .map_err(DataError::io(part))?;
    let start = if append { have } else { 0 };
    bar.set_length(start + length.unwrap_or(0));
    bar.set_position(start);
    let mut reader = response.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                out.flush().map_err(DataError::io(part))?;
                return Ok(Attempt::Transient(format!("connection broken: {e}")));
            }
        };
        out.write_all(&buf[..n]).map_err(DataError::io(part))?;
        bar.inc(n as u64);
    }
    out.flush().map_err(DataError::io(part))?;
    Ok(Attempt::Done)
}
