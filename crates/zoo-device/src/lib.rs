//! The one place where a device name becomes a burn [`Device`].
//!
//! burn 0.22 tensors carry no backend type: the backend is a runtime
//! [`Device`]. Library crates of the zoo take tensors or a `&Device` and never
//! name a backend; binaries (examples, xtask, the cross-device tests) enable
//! this crate's `flex`, `ndarray` and `wgpu` features and turn a `--device`
//! flag or the `ZOO_DEVICE` environment variable into a device here.
//!
//! ```
//! # #[cfg(feature = "flex")] {
//! let device = zoo_device::from_name("flex").unwrap();
//! let training = zoo_device::from_name("flex").unwrap().autodiff();
//! # let _ = (device, training);
//! # }
//! assert!(zoo_device::from_name("tpu").is_err());
//! ```

pub mod budget;

use std::fmt;

pub use burn::tensor::Device;

/// The environment variable read by [`from_env_or`] and [`resolve`].
pub const ENV_VAR: &str = "ZOO_DEVICE";

/// The name of the default device: flex, burn's pure-Rust CPU backend.
pub const DEFAULT_DEVICE: &str = "flex";

/// A backend the zoo knows how to select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// burn-flex: pure-Rust CPU backend, multi-threaded (rayon) with SIMD.
    Flex,
    /// burn-ndarray: burn's older CPU backend (deprecated upstream), multi-threaded with SIMD.
    NdArray,
    /// burn-wgpu: GPU through wgpu; Mesa's lavapipe on machines without a GPU.
    Wgpu,
}

impl Backend {
    /// Every backend the zoo knows, compiled in or not.
    pub const ALL: [Backend; 3] = [Backend::Flex, Backend::NdArray, Backend::Wgpu];

    /// The name used on the command line and in `ZOO_DEVICE`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::NdArray => "ndarray",
            Backend::Wgpu => "wgpu",
        }
    }

    /// Whether this backend was compiled into the current binary.
    pub fn is_available(self) -> bool {
        match self {
            Backend::Flex => cfg!(feature = "flex"),
            Backend::NdArray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
        }
    }

    /// The backends compiled into the current binary, flex first.
    pub fn available() -> Vec<Backend> {
        Self::ALL.into_iter().filter(|b| b.is_available()).collect()
    }

    /// Parses a device name (case-insensitive, surrounding spaces ignored).
    ///
    /// Only names of backends compiled into this binary are accepted.
    pub fn parse(name: &str) -> Result<Backend, DeviceError> {
        let wanted = name.trim().to_ascii_lowercase();
        let known = Self::ALL.into_iter().find(|b| b.name() == wanted);
        match known {
            Some(backend) if backend.is_available() => Ok(backend),
            Some(backend) => Err(DeviceError::NotCompiled {
                name: backend.name().to_string(),
                available: names(&Self::available()),
            }),
            None => Err(DeviceError::Unknown {
                name: name.to_string(),
                available: names(&Self::available()),
            }),
        }
    }

    /// Creates the burn device of this backend (without autodiff).
    ///
    /// `wgpu` selects wgpu's default adapter (a discrete GPU when there is
    /// one; `CUBECL_WGPU_DEFAULT_DEVICE` overrides the choice). It needs an
    /// adapter on Vulkan, Metal or DirectX 12: a machine that offers only
    /// OpenGL (no Vulkan driver installed) is refused with
    /// [`DeviceError::NoAdapter`], which names what to install, since the
    /// zoo's programs do not finish on wgpu's OpenGL fallback.
    ///
    /// The CPU backends also call [`keep_freed_memory`] (once per process).
    pub fn device(self) -> Result<Device, DeviceError> {
        match self {
            #[cfg(feature = "flex")]
            Backend::Flex => {
                keep_freed_memory();
                Ok(Device::flex())
            }
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)] // the project supports ndarray on purpose
            Backend::NdArray => {
                keep_freed_memory();
                Ok(Device::ndarray())
            }
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => {
                private_runtime_dir();
                usable_adapter()?;
                Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
            }
            #[allow(unreachable_patterns)]
            other => Err(DeviceError::NotCompiled {
                name: other.name().to_string(),
                available: names(&Self::available()),
            }),
        }
    }
}

/// Checks once per process that wgpu has an adapter on an API the zoo runs
/// on (Vulkan, Metal, DirectX 12), asking wgpu itself (the version burn
/// uses). On a machine without a Vulkan driver wgpu falls back to OpenGL
/// (Mesa's llvmpipe through EGL), where the zoo's programs were seen to run
/// for minutes without finishing a step; refusing at once, naming the
/// package, is better than a hang.
#[cfg(feature = "wgpu")]
fn usable_adapter() -> Result<(), DeviceError> {
    use burn::tensor::wgpu::wgpu;
    use std::future::Future;
    static FOUND: std::sync::OnceLock<Result<(), DeviceError>> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            let adapters = |backends: wgpu::Backends| -> Vec<wgpu::AdapterInfo> {
                let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
                    backends,
                    ..wgpu::InstanceDescriptor::new_without_display_handle()
                });
                // Native wgpu enumerates synchronously: the future is ready
                // at its first poll (polled again, yielding, if it is not).
                let mut future = std::pin::pin!(instance.enumerate_adapters(backends));
                let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                let found = loop {
                    if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                        break v;
                    }
                    std::thread::yield_now();
                };
                found.iter().map(wgpu::Adapter::get_info).collect()
            };
            let good = wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12;
            if !adapters(good).is_empty() {
                return Ok(());
            }
            let gl: Vec<String> = adapters(wgpu::Backends::GL)
                .into_iter()
                .map(|a| format!("{} ({:?})", a.name, a.backend))
                .collect();
            Err(DeviceError::NoAdapter {
                found: if gl.is_empty() {
                    "no adapter at all".into()
                } else {
                    format!("only OpenGL: {}", gl.join(", "))
                },
            })
        })
        .clone()
}

/// Gives the process a private `XDG_RUNTIME_DIR` (mode 0700 under the
/// temporary directory) when it has none, once, before the first wgpu
/// device: without one, Mesa's Vulkan drivers print "XDG_RUNTIME_DIR is
/// invalid or not set" at every device start (`.ci/run` does the same for
/// the whole run). A directory the caller set is left alone.
#[cfg(feature = "wgpu")]
fn private_runtime_dir() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            if std::env::var_os("XDG_RUNTIME_DIR")
                .is_some_and(|d| std::path::Path::new(&d).is_dir())
            {
                return;
            }
            // SAFETY: getuid has no preconditions.
            let uid = unsafe { libc::getuid() };
            let dir = std::env::temp_dir().join(format!("zoo-xdg-{uid}"));
            let made = std::fs::DirBuilder::new().mode(0o700).create(&dir);
            if made.is_ok() || dir.is_dir() {
                // SAFETY: set once, before this process starts its first
                // wgpu device (the only reader of the variable); Rust's own
                // environment reads are serialised with this write.
                unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
            }
        }
    });
}

/// Lets the C allocator keep freed memory for reuse, once per process (a
/// no-op where the allocator is not glibc's).
///
/// A CPU backend allocates every op's output anew: tens of megabytes per
/// layer for a ResNet batch. glibc serves blocks above its mmap threshold
/// with fresh mappings and returns them on free, so every such output paid
/// its page faults again (in two A/B runs of `cargo xtask bench models`,
/// with the thresholds raised through glibc's environment variables, the
/// LeNet step and the ResNet-18 benchmarks took 3-25% less time; this
/// machine's noise is of the same order). With the thresholds raised,
/// freed blocks are reused; the cost is that the process keeps its peak heap
/// (as PyTorch's caching allocators do on GPUs).
pub fn keep_freed_memory() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only changes allocator parameters; called before
        // the large allocations it concerns, and glibc makes it thread-safe.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
            libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            libc::mallopt(libc::M_TOP_PAD, 256 << 20);
        }
    });
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Backend {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backend::parse(s)
    }
}

fn names(backends: &[Backend]) -> String {
    if backends.is_empty() {
        return "none (enable the `flex`, `ndarray` or `wgpu` feature of zoo-device)".to_string();
    }
    backends
        .iter()
        .map(|b| b.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a device name could not be turned into a device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// wgpu finds no adapter on Vulkan, Metal or DirectX 12.
    #[error(
        "device `wgpu`: no Vulkan, Metal or DirectX 12 adapter on this machine ({found}); the zoo does not run on wgpu's OpenGL fallback. Install a Vulkan driver: without a GPU, Mesa's lavapipe (`apt-get install mesa-vulkan-drivers libvulkan1`), else your GPU's; or pick `--device flex`"
    )]
    NoAdapter {
        /// What wgpu found instead.
        found: String,
    },
    /// The name is not a backend the zoo knows.
    #[error("unknown device `{name}`: expected one of the devices compiled in: {available}")]
    Unknown {
        /// The name as given.
        name: String,
        /// The devices compiled into this binary, comma-separated.
        available: String,
    },
    /// The backend exists but this binary was built without it.
    #[error(
        "device `{name}` is not compiled into this binary: available devices are {available} \
         (build with `--features {name}`: for the examples, `cargo run -p examples --features {name} --bin ...`)"
    )]
    NotCompiled {
        /// The backend's name.
        name: String,
        /// The devices compiled into this binary, comma-separated.
        available: String,
    },
}

/// Turns a device name (`flex`, `ndarray`, `wgpu`) into a burn [`Device`].
///
/// An unknown name, or one not compiled in, is an error listing the names
/// that are available. Call `.autodiff()` on the result to train.
pub fn from_name(name: &str) -> Result<Device, DeviceError> {
    Backend::parse(name)?.device()
}

/// Picks the backend from an explicit flag, else `ZOO_DEVICE`, else `default`.
///
/// An empty `ZOO_DEVICE` counts as unset.
pub fn resolve(flag: Option<&str>, default: &str) -> Result<Backend, DeviceError> {
    match flag {
        Some(name) => Backend::parse(name),
        None => match std::env::var(ENV_VAR) {
            Ok(name) if !name.trim().is_empty() => Backend::parse(&name),
            _ => Backend::parse(default),
        },
    }
}

/// The device named by `ZOO_DEVICE`, or by `default` when it is unset.
pub fn from_env_or(default: &str) -> Result<Device, DeviceError> {
    resolve(None, default)?.device()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_name_lists_available_devices() {
        let err = from_name("tpu").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("unknown device `tpu`"), "{msg}");
        for backend in Backend::available() {
            assert!(msg.contains(backend.name()), "{msg}");
        }
    }

    #[cfg(feature = "flex")]
    #[test]
    fn names_are_case_and_space_insensitive() {
        assert_eq!(Backend::parse(" FLEX ").unwrap(), Backend::Flex);
    }

    #[cfg(feature = "flex")]
    #[test]
    fn flag_wins_over_default() {
        assert_eq!(resolve(Some("flex"), "nope").unwrap(), Backend::Flex);
        assert!(resolve(Some("nope"), "flex").is_err());
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn backend_not_compiled_in_is_reported_as_such() {
        let err = from_name("wgpu").unwrap_err();
        assert!(matches!(err, DeviceError::NotCompiled { .. }), "{err}");
        assert!(err.to_string().contains("not compiled"), "{err}");
    }

    #[cfg(feature = "flex")]
    #[test]
    fn flex_device_computes() {
        use burn::tensor::Tensor;
        let device = from_name("flex").unwrap();
        let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device);
        let y: Vec<f32> = (x.clone() * x)
            .sum()
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        assert_eq!(y, vec![14.0]);
    }
}
