//! Loading PyTorch `state_dict`s (torchvision's weights) into the zoo's
//! models, and the key translation between the two.
//!
//! A model's parameter paths (`layer1.0.conv1.weight`, `features.3.conv.weight`)
//! are translated to torchvision's keys by the family's `torchvision_key`
//! (`layer1.0.conv1.weight`, `features.7.weight`); every parameter and
//! running statistic must find its key with the same shape (linear weights
//! are transposed: torch stores `[out, in]`, burn `[in, out]`), and every key
//! of the file must be used (`num_batches_tracked` aside). Otherwise the
//! error names the key, the model path and both shapes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};

/// Why weights could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid weight file.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A parameter of the model has no key in the file.
    #[error("missing key `{key}` (for the model's `{path}`, shape {shape:?})")]
    Missing {
        /// The torchvision key looked for.
        key: String,
        /// The model's parameter path.
        path: String,
        /// The model's shape.
        shape: Vec<usize>,
    },
    /// A key has the wrong shape.
    #[error("key `{key}` has shape {file:?} in the file, the model's `{path}` expects {model:?}")]
    Shape {
        /// The key.
        key: String,
        /// The model's parameter path.
        path: String,
        /// Shape in the file (torch layout).
        file: Vec<usize>,
        /// Shape the model expects (torch layout).
        model: Vec<usize>,
    },
    /// Keys of the file that no parameter of the model uses.
    #[error("unexpected key(s) in the weights: {}", keys.join(", "))]
    Unexpected {
        /// The unused keys.
        keys: Vec<String>,
    },
}

/// Float tensor data from native-endian bytes of `size`-byte elements.
fn floats(raw: &[u8], size: usize, shape: &[usize], f: impl Fn(&[u8]) -> f32) -> TensorData {
    let v: Vec<f32> = raw.chunks_exact(size).map(f).collect();
    TensorData::new(v, shape.to_vec())
}

/// A PyTorch `state_dict`: tensors by key.
#[derive(Debug, Clone, Default)]
pub struct StateDict {
    /// The tensors, by torch key, in torch layout.
    pub tensors: BTreeMap<String, TensorData>,
}

impl StateDict {
    /// An empty state dict.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a tensor.
    pub fn insert(&mut self, key: impl Into<String>, data: TensorData) {
        self.tensors.insert(key.into(), data);
    }

    /// Removes a key, returning its tensor.
    pub fn remove(&mut self, key: &str) -> Option<TensorData> {
        self.tensors.remove(key)
    }

    /// The tensor under `key`.
    pub fn get(&self, key: &str) -> Option<&TensorData> {
        self.tensors.get(key)
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Reads a weight file by its extension: `.safetensors`, or a PyTorch
    /// checkpoint (`.pth`, `.pt`, `.bin`, `.ckpt`) as `torch.save` writes it.
    pub fn load(path: &Path) -> Result<Self, WeightsError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        match ext.as_str() {
            "safetensors" => Self::from_safetensors(path),
            "pth" | "pt" | "bin" | "ckpt" => Self::from_pth(path),
            _ => Err(WeightsError::Format {
                path: path.to_path_buf(),
                reason: format!(
                    "unknown weight file extension `{ext}`, expected .safetensors, .pth, .pt, .bin or .ckpt"
                ),
            }),
        }
    }

    /// Reads a PyTorch checkpoint (burn-store's PyTorch reader: the ZIP
    /// format of torch >= 1.6, the legacy pickle stream and the old TAR
    /// files of early torchvision weights). A `state_dict` saved on its own
    /// or nested under `state_dict` / `model` is found; F32, F16, BF16, F64
    /// and integer tensors are read (integers as I64).
    pub fn from_pth(path: &Path) -> Result<Self, WeightsError> {
        use burn::store::pytorch::PytorchReader;
        let bad = |reason: String| WeightsError::Format {
            path: path.to_path_buf(),
            reason,
        };
        if !path.is_file() {
            return Err(WeightsError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        let mut reader =
            PytorchReader::new(path).map_err(|e| bad(format!("not a PyTorch checkpoint: {e}")))?;
        // A training checkpoint (`{'state_dict': sd, 'epoch': 3}`, `{'model': sd}`)
        // reads as keys under that prefix: read the nested dict itself.
        for key in ["state_dict", "model"] {
            let prefix = format!("{key}.");
            if (reader.is_empty() || reader.keys().iter().any(|k| k.starts_with(&prefix)))
                && let Ok(r) = PytorchReader::with_top_level_key(path, key)
                && !r.is_empty()
            {
                reader = r;
                break;
            }
        }
        if reader.is_empty() {
            return Err(bad("the checkpoint holds no tensors".into()));
        }
        // A view with zero strides (`expand`) reads as many bytes as its
        // shape holds: refuse a file that would grow far beyond its size
        // before anything is materialised.
        let file_len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) as u128;
        let limit = 8 * file_len + (64 << 20);
        let mut total: u128 = 0;
        for (name, t) in reader.tensors() {
            let elements = t
                .shape()
                .iter()
                .try_fold(1u128, |a, &d| a.checked_mul(d as u128))
                .unwrap_or(u128::MAX);
            total = total.saturating_add(elements.saturating_mul(4));
            if total > limit {
                return Err(bad(format!(
                    "tensor `{name}` of shape {:?} brings what the file expands to past {total} bytes, more than {limit} for a file of {file_len} bytes (a stride-0 or expanded view?); refused",
                    t.shape()
                )));
            }
        }
        let mut sd = Self::new();
        for (name, t) in reader.into_tensors() {
            let shape = t.shape().to_vec();
            let raw = t
                .read()
                .map_err(|e| bad(format!("reading tensor `{name}`: {e}")))?;
            use pytorch_reader::DType as P;
            let data = match t.dtype() {
                P::F32 => floats(&raw, 4, &shape, |b| {
                    f32::from_ne_bytes([b[0], b[1], b[2], b[3]])
                }),
                P::F64 => floats(&raw, 8, &shape, |b| {
                    f64::from_ne_bytes(b.try_into().expect("8 bytes")) as f32
                }),
                P::F16 => floats(&raw, 2, &shape, |b| {
                    half::f16::from_ne_bytes([b[0], b[1]]).to_f32()
                }),
                P::BF16 => floats(&raw, 2, &shape, |b| {
                    half::bf16::from_ne_bytes([b[0], b[1]]).to_f32()
                }),
                P::I64 => TensorData::new(
                    raw.chunks_exact(8)
                        .map(|b| i64::from_ne_bytes(b.try_into().expect("8 bytes")))
                        .collect::<Vec<i64>>(),
                    shape,
                ),
                P::I32 => TensorData::new(
                    raw.chunks_exact(4)
                        .map(|b| i32::from_ne_bytes(b.try_into().expect("4 bytes")) as i64)
                        .collect::<Vec<i64>>(),
                    shape.clone(),
                ),
                other => {
                    return Err(bad(format!(
                        "tensor `{name}` has dtype {other:?}, expected a float or integer type"
                    )));
                }
            };
            sd.insert(name, data);
        }
        Ok(sd)
    }

    /// Reads a `.safetensors` file (F32, F16, BF16, F64 and I64 tensors).
    pub fn from_safetensors(path: &Path) -> Result<Self, WeightsError> {
        let bytes = std::fs::read(path).map_err(|source| WeightsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |reason: String| WeightsError::Format {
            path: path.to_path_buf(),
            reason,
        };
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        let mut sd = Self::new();
        for (name, view) in st.tensors() {
            let shape = view.shape().to_vec();
            let raw = view.data();
            use safetensors::Dtype as D;
            let data = match view.dtype() {
                D::F32 => TensorData::new(
                    raw.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect::<Vec<f32>>(),
                    shape,
                ),
                D::F64 => TensorData::new(
                    raw.chunks_exact(8)
                        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                        .collect::<Vec<f32>>(),
                    shape,
                ),
                D::F16 => TensorData::new(
                    raw.chunks_exact(2)
                        .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                        .collect::<Vec<f32>>(),
                    shape,
                ),
                D::BF16 => TensorData::new(
                    raw.chunks_exact(2)
                        .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                        .collect::<Vec<f32>>(),
                    shape,
                ),
                D::I64 => TensorData::new(
                    raw.chunks_exact(8)
                        .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                        .collect::<Vec<i64>>(),
                    shape,
                ),
                other => {
                    return Err(bad(format!(
                        "tensor `{name}` has dtype {other:?}, expected a float or I64"
                    )));
                }
            };
            sd.insert(name, data);
        }
        Ok(sd)
    }
}

impl StateDict {
    /// The same tensors under the keys `rename` gives.
    pub fn renamed(&self, rename: &dyn Fn(&str) -> String) -> Self {
        Self {
            tensors: self
                .tensors
                .iter()
                .map(|(k, v)| (rename(k), v.clone()))
                .collect(),
        }
    }

    /// Writes the tensors to a `.safetensors` file (F32, I64), through a
    /// temporary file renamed when complete.
    pub fn save_safetensors(&self, path: &Path) -> Result<(), WeightsError> {
        let bad = |reason: String| WeightsError::Format {
            path: path.to_path_buf(),
            reason,
        };
        let io = |source: std::io::Error| WeightsError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        for (key, data) in &self.tensors {
            let shape = data.shape().to_vec();
            let (dtype, bytes) = if data.dtype().is_float() {
                let v = data
                    .clone()
                    .try_into_vec_as::<f32>()
                    .map_err(|e| bad(format!("{key}: {e:?}")))?;
                (
                    safetensors::Dtype::F32,
                    v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                )
            } else {
                let v = data
                    .clone()
                    .try_into_vec_as::<i64>()
                    .map_err(|e| bad(format!("{key}: {e:?}")))?;
                (
                    safetensors::Dtype::I64,
                    v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                )
            };
            owned.push((key.clone(), dtype, shape, bytes));
        }
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = owned
            .iter()
            .map(|(k, dt, shape, bytes)| {
                safetensors::tensor::TensorView::new(*dt, shape.clone(), bytes)
                    .map(|v| (k.clone(), v))
                    .map_err(|e| bad(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let bytes = safetensors::serialize(views, None).map_err(|e| bad(e.to_string()))?;
        let tmp = path.with_extension("safetensors.tmp");
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

/// The module path during a visit or map: `(field or index, container)`
/// pairs, entered and left as burn walks the module tree.
#[derive(Default)]
struct PathTracker(Vec<(String, String)>);

impl PathTracker {
    fn enter(&mut self, name: &str, container_type: &str) {
        self.0.push((name.to_string(), container_type.to_string()));
    }

    fn exit(&mut self) {
        self.0.pop();
    }

    /// The dotted path, without enum variant names (a `Block::Basic` in
    /// `layer1.0` is `layer1.0`, as in PyTorch).
    fn path(&self) -> String {
        self.0
            .iter()
            .filter(|(_, container)| !container.starts_with("Enum:"))
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }

    /// Whether the current tensor is a `Linear` weight (`[in, out]` in burn,
    /// `[out, in]` in PyTorch).
    fn at_linear_weight(&self) -> bool {
        matches!(self.0.last(), Some((n, c)) if n == "weight" && c == "Struct:Linear")
    }
}

struct Exporter<'a> {
    keys: &'a dyn Fn(&str) -> Option<String>,
    path: PathTracker,
    out: StateDict,
}

impl ModuleVisitor for Exporter<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some(key) = (self.keys)(&self.path.path()) else {
            return;
        };
        let mut t = param.val();
        if self.path.at_linear_weight() {
            t = t.transpose();
        }
        self.out.insert(key, t.into_data());
    }
}

/// The `state_dict` of `model` under the keys `keys` gives (torch layout),
/// e.g. to write torchvision-compatible weights.
///
/// Running statistics (batch norm's) are read after folding in the updates
/// burn keeps pending until the next read (`valid()` synchronises them): a
/// module that trained several forward passes since its last read would
/// otherwise export the value before the last one.
pub fn export_state_dict<M: Module>(model: &M, keys: &dyn Fn(&str) -> Option<String>) -> StateDict {
    let mut e = Exporter {
        keys,
        path: PathTracker::default(),
        out: StateDict::new(),
    };
    model.valid().visit(&mut e);
    e.out
}

/// Whether a key is bookkeeping the zoo's models do not hold.
fn ignorable(key: &str) -> bool {
    key.ends_with("num_batches_tracked")
}

struct Loader<'a> {
    sd: &'a StateDict,
    keys: &'a dyn Fn(&str) -> Option<String>,
    path: PathTracker,
    used: std::collections::BTreeSet<String>,
    error: Option<WeightsError>,
}

impl ModuleMapper for Loader<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.error.is_some() {
            return param;
        }
        let path = self.path.path();
        let linear_weight = self.path.at_linear_weight();
        let Some(key) = (self.keys)(&path) else {
            return param;
        };
        let tensor = param.val();
        let mut model_shape = tensor.dims().to_vec();
        if linear_weight {
            model_shape.reverse();
        }
        let Some(data) = self.sd.tensors.get(&key) else {
            self.error = Some(WeightsError::Missing {
                key,
                path,
                shape: model_shape,
            });
            return param;
        };
        if data.shape().to_vec() != model_shape {
            self.error = Some(WeightsError::Shape {
                key,
                path,
                file: data.shape().to_vec(),
                model: model_shape,
            });
            return param;
        }
        self.used.insert(key);
        let device = tensor.device();
        let mut t = Tensor::<D>::from_data(data.clone().convert::<f32>(), &device);
        if linear_weight {
            t = t.transpose();
        }
        // The parameter's own training setting is kept (on a device
        // without autodiff the tensor never requires a gradient, but the
        // parameter still trains once the model moves to autodiff).
        let id = param.id;
        param.transform_for_load(t, id)
    }
}

/// Loads `sd` into `model`, translating each parameter path with `keys`
/// (`None`: a parameter the weights do not cover, left as it is — e.g. the
/// classifier when loading a `features` trunk).
pub fn load_state_dict<M: Module>(
    model: M,
    sd: &StateDict,
    keys: &dyn Fn(&str) -> Option<String>,
) -> Result<M, WeightsError> {
    let mut loader = Loader {
        sd,
        keys,
        path: PathTracker::default(),
        used: Default::default(),
        error: None,
    };
    let model = model.map(&mut loader);
    if let Some(e) = loader.error {
        return Err(e);
    }
    let unused: Vec<String> = sd
        .tensors
        .keys()
        .filter(|k| !ignorable(k) && !loader.used.contains(*k))
        .cloned()
        .collect();
    if !unused.is_empty() {
        return Err(WeightsError::Unexpected { keys: unused });
    }
    Ok(model)
}

struct Trainable<'a> {
    trainable: &'a dyn Fn(&str) -> bool,
    path: PathTracker,
}

impl ModuleMapper for Trainable<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let keep = (self.trainable)(&self.path.path());
        param.set_require_grad(keep)
    }
}

/// `model` with gradients required exactly for the parameters whose path
/// (`layer1.0.conv1.weight`) `trainable` accepts; the others are frozen.
pub fn set_trainable<M: Module>(model: M, trainable: &dyn Fn(&str) -> bool) -> M {
    model.map(&mut Trainable {
        trainable,
        path: PathTracker::default(),
    })
}
