//! The weights cache, as `torch.hub.load_state_dict_from_url` keeps it: one
//! folder, `$ZOO_HOME/weights` (else `weights/` under the platform cache,
//! `~/.cache/zoo/weights` on Linux), each file under the name its URL ends
//! with (`resnet18-f37072fd.pth`), accepted when its SHA-256 begins with the
//! hex digits that name carries (torch.hub's `check_hash`).
//!
//! [`fetch`] returns the cached file, downloading it first when it is
//! missing (feature `download`: zoo-datasets' downloads, the same code
//! `cargo xtask download` uses for the data sets): written under a temporary
//! name ([`partial_path`]), resumed with an HTTP `Range` request when that
//! name already holds part of it, retried after a broken connection,
//! verified, and only then renamed. A file whose checksum does not match is
//! deleted and the error names both checksums; nothing is left under the
//! final name. Offline ([`FetchOptions::offline`], or built without the
//! feature), or when the download fails, the error names the URL and the
//! exact path to put the file at.
//!
//! ```no_run
//! use zoo_models::pretrained::{self, hub};
//! let entry = pretrained::get_weight("ResNet50_Weights.IMAGENET1K_V2")?;
//! let path = hub::fetch(entry, &hub::FetchOptions::default())?;
//! assert_eq!(path, hub::cache_dir().join("resnet50-11ad3fa6.pth"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::WeightsEntry;

/// The variable naming the zoo's cache root (`$ZOO_HOME/weights` holds the
/// weights), as `$TORCH_HOME` names torch's.
pub const HOME_VAR: &str = "ZOO_HOME";

/// The weights cache: `$ZOO_HOME/weights`, else `zoo/weights` in the
/// platform cache directory (`~/.cache/zoo/weights` on Linux, honouring
/// `$XDG_CACHE_HOME`), else `./zoo-cache/weights`.
pub fn cache_dir() -> PathBuf {
    cache_dir_from(std::env::var_os(HOME_VAR), dirs::cache_dir())
}

fn cache_dir_from(home: Option<OsString>, platform_cache: Option<PathBuf>) -> PathBuf {
    let root = match home {
        Some(h) if !h.is_empty() => PathBuf::from(h),
        _ => platform_cache
            .map(|d| d.join("zoo"))
            .unwrap_or_else(|| PathBuf::from("zoo-cache")),
    };
    root.join("weights")
}

/// How [`fetch`] finds or downloads a file.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// The cache folder (default: [`cache_dir`]).
    pub dir: Option<PathBuf>,
    /// A base URL serving the same file names, used instead of the URL's own
    /// folder (`https://mirror.example/models/` + `resnet18-f37072fd.pth`).
    pub mirror: Option<String>,
    /// Never touch the network: a file not in the cache is an error naming
    /// the URL and the path to put it at.
    pub offline: bool,
    /// A progress bar (bytes, rate) on stderr while downloading.
    pub progress: bool,
    /// Attempts after the first, after a broken connection or a server error.
    pub retries: u32,
    /// The wait before the first retry, doubled for each further one.
    pub backoff: Duration,
    /// Give up on a connection that sends nothing for this long.
    pub read_timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            dir: None,
            mirror: None,
            offline: false,
            progress: true,
            retries: 4,
            backoff: Duration::from_millis(500),
            read_timeout: Duration::from_secs(60),
        }
    }
}

impl FetchOptions {
    /// The cache folder these options use.
    pub fn cache(&self) -> PathBuf {
        self.dir.clone().unwrap_or_else(cache_dir)
    }

    /// The URL a file is fetched from: the mirror's folder, else `url`'s.
    pub fn source_url(&self, url: &str) -> String {
        match &self.mirror {
            Some(m) => {
                let file = url.rsplit('/').next().unwrap_or(url);
                format!("{}/{file}", m.trim_end_matches('/'))
            }
            None => url.to_string(),
        }
    }
}

/// Why a weights file could not be had.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The file is not in the cache and could not be downloaded (offline,
    /// built without the `download` feature, or the transfer failed): its
    /// URL (the official one; a mirror tried is named in `reason`) and the
    /// path to put it at.
    #[error(
        "{url} is not in the cache and {reason}; download it yourself and put it at {path} \
         (its SHA-256 must begin with {sha256_prefix}), or pass a mirror serving the same file name"
    )]
    Unavailable {
        /// The URL it comes from.
        url: String,
        /// Where the cache looks for it.
        path: PathBuf,
        /// The hex digits its SHA-256 must begin with.
        sha256_prefix: String,
        /// Why it was not downloaded.
        reason: String,
    },
    /// The downloaded file (or, offline, the cached one) is not the
    /// published one.
    #[error("{url}: the file's SHA-256 is {got}, expected one beginning with {expected}; {kept}")]
    Checksum {
        /// The URL it came from.
        url: String,
        /// Its place in the cache.
        path: PathBuf,
        /// The prefix it should begin with.
        expected: String,
        /// The SHA-256 of what was received (or found).
        got: String,
        /// What became of it.
        kept: String,
    },
    /// The URL does not end with a plain file name.
    #[error("`{url}` does not end with a file name the cache can hold ({reason})")]
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The cache could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The hex digits torch.hub checks a weight file's SHA-256 against: the
/// first `-<hex>.` of its name (`HASH_REGEX = r"-([a-f0-9]*)\."`;
/// `resnet18-f37072fd.pth`: `f37072fd`, `alexnet-owt-7be5be79.pth`:
/// `7be5be79`); `None` when the name carries none.
pub fn hash_prefix(file_name: &str) -> Option<&str> {
    let bytes = file_name.as_bytes();
    (0..bytes.len())
        .filter(|&i| bytes[i] == b'-')
        .find_map(|i| {
            let rest = &file_name[i + 1..];
            let n = rest
                .bytes()
                .take_while(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                .count();
            (rest.as_bytes().get(n) == Some(&b'.')).then(|| &rest[..n])
        })
}

/// The temporary name a download of `path` is written under until it is
/// verified (`.resnet18-f37072fd.pth.part` beside it), where an interrupted
/// download is resumed from.
pub fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.part"))
}

/// The file name a URL ends with, checked to be a plain name.
pub fn file_name(url: &str) -> Result<&str, HubError> {
    let bad = |reason: &str| HubError::BadUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let name = url.rsplit('/').next().unwrap_or(url);
    if name.is_empty() || name == "." || name == ".." {
        return Err(bad("it ends with `/`, `.` or `..`"));
    }
    if name.contains(['\\', '?', '#', ':']) {
        return Err(bad("the name holds `\\`, `?`, `#` or `:`"));
    }
    Ok(name)
}

/// Where the cache keeps `entry`'s file under `options` (whether or not it
/// is there).
pub fn cached_path(entry: &WeightsEntry, options: &FetchOptions) -> Result<PathBuf, HubError> {
    Ok(options.cache().join(file_name(entry.url)?))
}

/// Lower-case hex SHA-256 of a file, read in blocks.
pub fn sha256_file(path: &Path) -> Result<String, HubError> {
    let io = |source| HubError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// `entry`'s weights file in the cache, downloaded first when it is missing
/// or does not match its checksum (see the [module](self)).
pub fn fetch(entry: &WeightsEntry, options: &FetchOptions) -> Result<PathBuf, HubError> {
    fetch_url(entry.url, entry.sha256_prefix, options)
}

/// [`fetch`] for any URL whose file's SHA-256 must begin with
/// `sha256_prefix` (lower-case hex; empty accepts any file, as torch.hub
/// does for a name without a hash).
pub fn fetch_url(
    url: &'static str,
    sha256_prefix: &'static str,
    options: &FetchOptions,
) -> Result<PathBuf, HubError> {
    let name = file_name(url)?;
    let dir = options.cache();
    let path = dir.join(name);
    let prefix = sha256_prefix.to_ascii_lowercase();
    if path.is_file() {
        let got = sha256_file(&path)?;
        if got.starts_with(&prefix) {
            return Ok(path);
        }
        if options.offline || !cfg!(feature = "download") {
            return Err(HubError::Checksum {
                url: url.to_string(),
                expected: prefix,
                got,
                kept: format!(
                    "{} is not the published file: delete it and put the right one there",
                    path.display()
                ),
                path,
            });
        }
        // Not the published file: gone before the download, so a failed one
        // leaves nothing under the final name.
        std::fs::remove_file(&path).map_err(|source| HubError::Io {
            path: path.clone(),
            source,
        })?;
    }
    let unavailable = |reason: String| HubError::Unavailable {
        url: url.to_string(),
        path: path.clone(),
        sha256_prefix: prefix.clone(),
        reason,
    };
    if options.offline {
        return Err(unavailable("the fetch is offline".into()));
    }
    download(url, name, sha256_prefix, &dir, &path, options, &unavailable)?;
    Ok(path)
}

#[cfg(not(feature = "download"))]
fn download(
    _url: &'static str,
    _name: &'static str,
    _sha256_prefix: &'static str,
    _dir: &Path,
    _path: &Path,
    _options: &FetchOptions,
    unavailable: &dyn Fn(String) -> HubError,
) -> Result<(), HubError> {
    Err(unavailable(
        "zoo-models was built without its `download` feature".into(),
    ))
}

#[cfg(feature = "download")]
fn download(
    url: &'static str,
    name: &'static str,
    sha256_prefix: &'static str,
    dir: &Path,
    path: &Path,
    options: &FetchOptions,
    unavailable: &dyn Fn(String) -> HubError,
) -> Result<(), HubError> {
    use zoo_datasets::DataError;
    use zoo_datasets::catalog::{Catalog, Unpack};
    let base = match &options.mirror {
        Some(m) => m.clone(),
        None => url[..url.len() - name.len()].to_string(),
    };
    let catalog = Catalog {
        name,
        dir: "weights",
        // Unused: the base URL goes in as the download's mirror.
        urls: &[],
        files: remote_file(name, sha256_prefix),
        unpack: Unpack::Keep,
        local_hint: "~/.cache/torch/hub/checkpoints",
    };
    let download_options = zoo_datasets::download::DownloadOptions {
        mirror: Some(base),
        retries: options.retries,
        backoff: options.backoff,
        read_timeout: options.read_timeout,
        progress: options.progress,
        extra_md5: Vec::new(),
    };
    match zoo_datasets::download::download(&catalog, dir, &download_options) {
        Ok(_) => Ok(()),
        Err(DataError::Checksum { got, .. }) => Err(HubError::Checksum {
            url: options.source_url(url),
            path: path.to_path_buf(),
            expected: sha256_prefix.to_ascii_lowercase(),
            got: got.trim_start_matches("SHA-256 ").to_string(),
            kept: format!(
                "it was deleted: nothing was kept at {} or {}",
                path.display(),
                partial_path(path).display()
            ),
        }),
        Err(DataError::Network { reason, .. }) => Err(unavailable(failed(url, options, &reason))),
        Err(DataError::Io { path, source }) => Err(HubError::Io { path, source }),
        Err(e) => Err(unavailable(failed(url, options, &e.to_string()))),
    }
}

/// Why a download failed, naming the mirror when one was asked for.
#[cfg(feature = "download")]
fn failed(url: &str, options: &FetchOptions, reason: &str) -> String {
    match options.mirror {
        Some(_) => format!(
            "the download from {} failed ({reason})",
            options.source_url(url)
        ),
        None => format!("the download failed ({reason})"),
    }
}

/// The one-file list zoo-datasets' catalog takes (`&'static`), one per
/// distinct weights file a process downloads: kept for the process's life,
/// as a cache of names, not one per call.
#[cfg(feature = "download")]
fn remote_file(
    name: &'static str,
    sha256_prefix: &'static str,
) -> &'static [zoo_datasets::catalog::RemoteFile] {
    use std::sync::{Mutex, PoisonError};
    use zoo_datasets::catalog::RemoteFile;
    static FILES: Mutex<Vec<&'static [RemoteFile]>> = Mutex::new(Vec::new());
    let mut files = FILES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(f) = files
        .iter()
        .find(|f| f[0].name == name && f[0].sha256_prefix == Some(sha256_prefix))
    {
        return f;
    }
    let file: &'static [RemoteFile] = Box::leak(Box::new([RemoteFile {
        name,
        md5: "",
        payload_sha256: None,
        sha256_prefix: Some(sha256_prefix),
        sha1: None,
    }]));
    files.push(file);
    file
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_zoo_home_else_the_platform_cache() {
        assert_eq!(
            cache_dir_from(Some("/srv/zoo".into()), Some("/home/u/.cache".into())),
            PathBuf::from("/srv/zoo/weights")
        );
        assert_eq!(
            cache_dir_from(Some("".into()), Some("/home/u/.cache".into())),
            PathBuf::from("/home/u/.cache/zoo/weights")
        );
        assert_eq!(
            cache_dir_from(None, None),
            PathBuf::from("zoo-cache/weights")
        );
    }

    #[test]
    fn hash_prefixes_are_torch_hubs() {
        // torch.hub.HASH_REGEX.search(name).group(1) on these names.
        assert_eq!(hash_prefix("resnet18-f37072fd.pth"), Some("f37072fd"));
        assert_eq!(hash_prefix("alexnet-owt-7be5be79.pth"), Some("7be5be79"));
        assert_eq!(
            hash_prefix("vgg16_features-amdegroot-88682ab5.pth"),
            Some("88682ab5")
        );
        assert_eq!(
            hash_prefix("inception_v3_google-0cc3c7bd.pth"),
            Some("0cc3c7bd")
        );
        assert_eq!(hash_prefix("weights.pth"), None);
        assert_eq!(hash_prefix("a-.pth"), Some(""));
    }

    #[test]
    fn file_names_must_be_plain() {
        assert_eq!(
            file_name("https://download.pytorch.org/models/resnet18-f37072fd.pth").unwrap(),
            "resnet18-f37072fd.pth"
        );
        for url in ["https://x/models/", "https://x/..", "https://x/a?b=c"] {
            let e = file_name(url).unwrap_err();
            assert!(e.to_string().contains(url), "{e}");
        }
    }

    #[cfg(feature = "download")]
    #[test]
    fn the_temporary_name_is_zoo_datasets_one() {
        let p = Path::new("/c/weights/resnet18-f37072fd.pth");
        assert_eq!(partial_path(p), zoo_datasets::store::partial_path(p));
    }
}
