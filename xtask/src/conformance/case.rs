//! One parity case: a safetensors file with `op`, `params`, tolerances and
//! `in.*` / `out.*` / `grad.*` / `w.*` tensors (see `docs/SPEC.md`).

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

/// The element type of a host tensor, as stored in the case file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Stored as F32 (or F16 / BF16 / F64, widened or narrowed to f32).
    Float,
    /// Stored as I64, I32 or U8 (labels, indices, counts, bytes).
    Int,
}

/// A tensor read from a case file, on the host.
#[derive(Debug, Clone)]
pub struct HostTensor {
    /// The dtype as stored (`F32`, `F16`, `I64`, ...).
    pub dtype: Dtype,
    /// The shape; `[]` is a scalar.
    pub shape: Vec<usize>,
    /// Float values (for float dtypes), else empty.
    pub floats: Vec<f32>,
    /// Integer values (for integer dtypes), else empty.
    pub ints: Vec<i64>,
}

impl HostTensor {
    /// Float or integer.
    pub fn kind(&self) -> Kind {
        if is_float(self.dtype) {
            Kind::Float
        } else {
            Kind::Int
        }
    }

    /// A float tensor made on the host.
    pub fn from_floats(shape: Vec<usize>, floats: Vec<f32>) -> Self {
        Self {
            dtype: Dtype::F32,
            shape,
            floats,
            ints: Vec::new(),
        }
    }

    /// An integer tensor made on the host.
    pub fn from_ints(shape: Vec<usize>, ints: Vec<i64>) -> Self {
        Self {
            dtype: Dtype::I64,
            shape,
            floats: Vec::new(),
            ints,
        }
    }
}

fn is_float(dtype: Dtype) -> bool {
    matches!(dtype, Dtype::F32 | Dtype::F16 | Dtype::BF16 | Dtype::F64)
}

/// A parsed case.
#[derive(Debug)]
pub struct Case {
    /// The `op` of the metadata.
    pub op: String,
    /// The `params` JSON object (empty when absent).
    pub params: serde_json::Map<String, Value>,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// `in.<name>` tensors, keyed by `<name>`.
    pub inputs: BTreeMap<String, HostTensor>,
    /// `out.<name>` tensors, keyed by `<name>`.
    pub outputs: BTreeMap<String, HostTensor>,
    /// `grad.<name>` tensors, keyed by `<name>`.
    pub grads: BTreeMap<String, HostTensor>,
    /// `w.<key>` tensors (model weights), keyed by the torchvision key.
    pub weights: BTreeMap<String, HostTensor>,
}

/// Tolerances used when a case does not state them.
const DEFAULT_RTOL: f64 = 1e-4;
const DEFAULT_ATOL: f64 = 1e-5;

impl Case {
    /// Reads and validates a case file. Every problem is an `Err` naming it.
    pub fn load(path: &Path) -> Result<Case, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
        Self::parse(&bytes)
    }

    /// Parses the bytes of a case file.
    pub fn parse(bytes: &[u8]) -> Result<Case, String> {
        let (_, metadata) = SafeTensors::read_metadata(bytes)
            .map_err(|e| format!("not a safetensors file: {e}"))?;
        let tensors =
            SafeTensors::deserialize(bytes).map_err(|e| format!("not a safetensors file: {e}"))?;
        let meta = metadata.metadata().clone().unwrap_or_default();

        let op = meta
            .get("op")
            .ok_or("the metadata has no `op`")?
            .trim()
            .to_string();
        if op.is_empty() {
            return Err("the metadata `op` is empty".into());
        }
        let params = match meta.get("params") {
            None => serde_json::Map::new(),
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => map,
                Ok(other) => {
                    return Err(format!(
                        "`params` must be a JSON object, got {}",
                        json_kind(&other)
                    ));
                }
                Err(e) => return Err(format!("`params` is not valid JSON: {e}")),
            },
        };
        let tolerance = |key: &str, default: f64| -> Result<f64, String> {
            match meta.get(key) {
                None => Ok(default),
                Some(text) => text
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| format!("`{key}` must be a non-negative number, got `{text}`")),
            }
        };
        let rtol = tolerance("rtol", DEFAULT_RTOL)?;
        let atol = tolerance("atol", DEFAULT_ATOL)?;

        let mut case = Case {
            op,
            params,
            rtol,
            atol,
            inputs: BTreeMap::new(),
            outputs: BTreeMap::new(),
            grads: BTreeMap::new(),
            weights: BTreeMap::new(),
        };
        for (name, view) in tensors.tensors() {
            let host = to_host(&name, view.dtype(), view.shape(), view.data())?;
            let (map, key) = if let Some(k) = name.strip_prefix("in.") {
                (&mut case.inputs, k)
            } else if let Some(k) = name.strip_prefix("out.") {
                (&mut case.outputs, k)
            } else if let Some(k) = name.strip_prefix("grad.") {
                (&mut case.grads, k)
            } else if let Some(k) = name.strip_prefix("w.") {
                (&mut case.weights, k)
            } else {
                return Err(format!(
                    "tensor `{name}` has no role prefix: expected in., out., grad. or w."
                ));
            };
            map.insert(key.to_string(), host);
        }
        if case.outputs.is_empty() {
            return Err("the case has no `out.*` tensor".into());
        }
        for (name, grad) in &case.grads {
            let Some(input) = case.inputs.get(name) else {
                return Err(format!("`grad.{name}` has no matching `in.{name}`"));
            };
            if grad.kind() != Kind::Float || input.kind() != Kind::Float {
                return Err(format!(
                    "`grad.{name}` and `in.{name}` must be float, got {:?} and {:?}",
                    grad.dtype, input.dtype
                ));
            }
            if grad.shape != input.shape {
                return Err(format!(
                    "`grad.{name}` has shape {:?} but `in.{name}` has {:?}",
                    grad.shape, input.shape
                ));
            }
        }
        if !case.grads.is_empty() && !case.inputs.contains_key("upstream") {
            return Err("the case has `grad.*` tensors but no `in.upstream`".into());
        }
        Ok(case)
    }

    /// The `params` value `key`, if present and not null.
    pub fn param(&self, key: &str) -> Option<&Value> {
        self.params.get(key).filter(|v| !v.is_null())
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn to_host(name: &str, dtype: Dtype, shape: &[usize], data: &[u8]) -> Result<HostTensor, String> {
    let numel: usize = shape.iter().product();
    let width = match dtype {
        Dtype::F32 | Dtype::I32 => 4,
        Dtype::F64 | Dtype::I64 => 8,
        Dtype::F16 | Dtype::BF16 => 2,
        Dtype::U8 => 1,
        other => {
            return Err(format!(
                "tensor `{name}` has dtype {other:?}: expected F32, F16, BF16, F64, I64, I32 or U8"
            ));
        }
    };
    if data.len() != numel * width {
        return Err(format!(
            "tensor `{name}` ({dtype:?}, shape {shape:?}) holds {} bytes, expected {}",
            data.len(),
            numel * width
        ));
    }
    let chunks = data.chunks_exact(width);
    let mut host = HostTensor {
        dtype,
        shape: shape.to_vec(),
        floats: Vec::new(),
        ints: Vec::new(),
    };
    match dtype {
        Dtype::F32 => {
            host.floats = chunks
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect()
        }
        Dtype::F64 => {
            host.floats = chunks
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect()
        }
        Dtype::F16 => {
            host.floats = chunks
                .map(|c| half::f16::from_le_bytes(c.try_into().unwrap()).to_f32())
                .collect()
        }
        Dtype::BF16 => {
            host.floats = chunks
                .map(|c| half::bf16::from_le_bytes(c.try_into().unwrap()).to_f32())
                .collect()
        }
        Dtype::I64 => {
            host.ints = chunks
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                .collect()
        }
        Dtype::I32 => {
            host.ints = chunks
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64)
                .collect()
        }
        Dtype::U8 => host.ints = data.iter().map(|&b| i64::from(b)).collect(),
        _ => unreachable!("filtered above"),
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn file(meta: &[(&str, &str)], tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
        let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
            .iter()
            .map(|(n, d, s, b)| {
                (
                    n.to_string(),
                    safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
                )
            })
            .collect();
        let meta: HashMap<String, String> = meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        safetensors::serialize(views, Some(meta)).unwrap()
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn parses_roles_params_and_tolerances() {
        let bytes = file(
            &[
                ("op", "mse_loss"),
                ("params", r#"{"reduction": "sum"}"#),
                ("rtol", "0.001"),
            ],
            &[
                ("in.input", Dtype::F32, vec![2], f32s(&[1.0, 2.0])),
                ("out.loss", Dtype::F32, vec![], f32s(&[5.0])),
            ],
        );
        let case = Case::parse(&bytes).unwrap();
        assert_eq!(case.op, "mse_loss");
        assert_eq!(case.param("reduction").unwrap(), "sum");
        assert_eq!(case.rtol, 1e-3);
        assert_eq!(case.atol, DEFAULT_ATOL);
        assert_eq!(case.inputs["input"].floats, vec![1.0, 2.0]);
        assert_eq!(case.outputs["loss"].shape, Vec::<usize>::new());
    }

    #[test]
    fn bytes_are_integers() {
        let bytes = file(
            &[("op", "decode_rgb")],
            &[
                ("in.file", Dtype::U8, vec![3], vec![0x89, b'P', 255]),
                ("out.pixels", Dtype::U8, vec![1, 1, 1], vec![7]),
            ],
        );
        let case = Case::parse(&bytes).unwrap();
        assert_eq!(case.inputs["file"].kind(), Kind::Int);
        assert_eq!(case.inputs["file"].ints, vec![0x89, 80, 255]);
        assert_eq!(case.outputs["pixels"].ints, vec![7]);
    }

    #[test]
    fn bad_files_are_errors_that_say_why() {
        assert!(
            Case::parse(b"hello world, not safetensors")
                .unwrap_err()
                .contains("not a safetensors file")
        );
        let no_op = file(&[], &[("out.y", Dtype::F32, vec![1], f32s(&[1.0]))]);
        assert!(Case::parse(&no_op).unwrap_err().contains("no `op`"));
        let bad_json = file(
            &[("op", "x"), ("params", "{not json")],
            &[("out.y", Dtype::F32, vec![1], f32s(&[1.0]))],
        );
        assert!(
            Case::parse(&bad_json)
                .unwrap_err()
                .contains("not valid JSON")
        );
        let bad_dtype = file(
            &[("op", "x")],
            &[("out.y", Dtype::U16, vec![1], vec![1u8, 0])],
        );
        let err = Case::parse(&bad_dtype).unwrap_err();
        assert!(err.contains("dtype U16"), "{err}");
    }
}
