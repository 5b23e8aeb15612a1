//! `cargo xtask conformance <DIR> [--device D] [--filter S]`: the parity runner.
//!
//! Implements `docs/SPEC.md`: every `*.safetensors` file of
//! DIR is a case; its `op` is dispatched to the project's implementation on
//! the chosen device; outputs are compared with the case's tolerance and,
//! when the case has `grad.*` tensors, gradients of
//! `L = sum(out.<primary> * in.upstream)` are computed with the device's
//! autodiff and compared too. One line per case, then
//! `N passed, M failed, K unsupported`.

pub mod case;
pub mod ops;
pub mod supervise;
pub mod value;

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};

use case::Case;
use ops::{Ctx, Out};
use value::{DynTensor, compare};

/// The result of one case.
#[derive(Debug)]
pub enum Outcome {
    /// Outputs and gradients matched.
    Pass,
    /// Something did not match, or the case could not be run; the reason.
    Fail(String),
    /// The project has no implementation of this op.
    Unsupported(String),
}

/// Totals of a run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases whose op is not implemented.
    pub unsupported: usize,
}

impl Summary {
    /// The SPEC's closing line.
    pub fn line(&self) -> String {
        format!(
            "{} passed, {} failed, {} unsupported",
            self.passed, self.failed, self.unsupported
        )
    }
}

/// The case files of `dir` whose file name contains `filter`, sorted by
/// name, restricted to the ops in `ops` when it is not empty (a case
/// file is named `<op>__<what>.safetensors`): how CI takes the second-round
/// cases section by section.
pub fn case_files_of(
    dir: &Path,
    filter: Option<&str>,
    ops: &[String],
) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read the case directory {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "safetensors"))
        .filter(|p| {
            filter.is_none_or(|f| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(f))
            })
        })
        .filter(|p| {
            ops.is_empty()
                || p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.split_once("__")
                        .is_some_and(|(op, _)| ops.iter().any(|o| o == op))
                })
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Runs every case file, printing one line each and returning the totals.
pub fn run(files: &[PathBuf], device: &Device, mut print: impl FnMut(&str)) -> Summary {
    // Panics inside an op are turned into FAIL lines; keep the default hook quiet meanwhile.
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let mut summary = Summary::default();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match run_file(path, device) {
            Outcome::Pass => {
                summary.passed += 1;
                print(&format!("PASS {name}"));
            }
            Outcome::Fail(why) => {
                summary.failed += 1;
                print(&format!("FAIL {name}: {why}"));
            }
            Outcome::Unsupported(op) => {
                summary.unsupported += 1;
                print(&format!("UNSUPPORTED {name}: op {op}"));
            }
        }
    }
    panic::set_hook(hook);
    summary
}

/// Runs one case file; never panics.
pub fn run_file(path: &Path, device: &Device) -> Outcome {
    let case = match Case::load(path) {
        Ok(case) => case,
        Err(why) => return Outcome::Fail(why),
    };
    run_case(&case, device)
}

/// Runs one parsed case; never panics.
pub fn run_case(case: &Case, device: &Device) -> Outcome {
    let Some(op) = ops::lookup(&case.op) else {
        return Outcome::Unsupported(case.op.clone());
    };
    if let Some(what) = ops::unsupported_variant(case) {
        return Outcome::Unsupported(what);
    }
    match panic::catch_unwind(AssertUnwindSafe(|| check(case, op, device))) {
        Ok(Ok(())) => Outcome::Pass,
        Ok(Err(why)) => Outcome::Fail(why),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Outcome::Fail(format!("panicked: {}", panic_detail(&msg)))
        }
    }
}

/// A panic message on one line: burn's tensor checks open with a banner
/// (`=== Tensor Operation Error ===`) and put the operation and the reason
/// on the following lines, which are what says what went wrong.
fn panic_detail(msg: &str) -> String {
    let parts: Vec<&str> = msg
        .lines()
        .map(str::trim)
        .filter(|l| !(l.is_empty() || (l.starts_with("===") && l.ends_with("==="))))
        .collect();
    if parts.is_empty() {
        msg.trim().to_string()
    } else {
        parts.join(" ")
    }
}

fn check(case: &Case, op: ops::OpFn, device: &Device) -> Result<(), String> {
    let wants_grads = !case.grads.is_empty();
    let device = if wants_grads {
        device.clone().autodiff()
    } else {
        device.clone()
    };
    let ctx = Ctx::new(case, device);
    let outputs = op(&ctx)?.0;
    let Some((primary_name, _)) = outputs.first() else {
        return Err("the op returned no output".into());
    };
    let primary_name = primary_name.clone();

    for (name, want) in &case.outputs {
        let Some((_, got)) = outputs.iter().find(|(n, _)| n == name) else {
            return Err(format!("the op does not produce output `{name}`"));
        };
        let got = match got {
            Out::Float(t) => t.to_host(),
            Out::Host(h) => h.clone(),
        };
        match case.param("max_mismatch").and_then(|v| v.as_f64()) {
            // A case that allows a fraction of its integer outputs to
            // differ (Canny's edge maps: pixels at a threshold flip with
            // the last bit of the smoothing).
            Some(fraction)
                if got.kind() == want.kind()
                    && got.shape == want.shape
                    && !want.ints.is_empty() =>
            {
                let differ = got
                    .ints
                    .iter()
                    .zip(&want.ints)
                    .filter(|(g, w)| g != w)
                    .count();
                let allowed = (fraction * want.ints.len() as f64).floor() as usize;
                if differ > allowed {
                    return Err(format!(
                        "out.{name}: {differ} of {} values differ, more than max_mismatch {fraction} allows ({allowed})",
                        want.ints.len()
                    ));
                }
            }
            _ => {
                compare(&got, want, case.rtol, case.atol).map_err(|e| format!("out.{name}: {e}"))?
            }
        }
    }

    if !wants_grads {
        return Ok(());
    }
    let primary = match &outputs[0].1 {
        Out::Float(t) => (**t).clone(),
        Out::Host(_) => {
            return Err(format!(
                "gradients requested but the primary output `{primary_name}` is not a float tensor"
            ));
        }
    };
    let upstream = ctx.input("upstream")?;
    if upstream.shape() != primary.shape() {
        return Err(format!(
            "in.upstream has shape {:?} but out.{primary_name} has {:?}",
            upstream.shape(),
            primary.shape()
        ));
    }
    let loss: Tensor<1> = (primary.flat() * upstream.flat()).sum();
    let grads = loss.backward();
    for (name, want) in &case.grads {
        let Some(leaf) = ctx.leaf(name) else {
            return Err(format!(
                "the op did not use `in.{name}`, so it has no gradient"
            ));
        };
        let flat = leaf.flat();
        let grad = flat
            .grad(&grads)
            .unwrap_or_else(|| flat.zeros_like().detach());
        let got = DynTensor::new(grad)
            .with_shape(leaf.shape().to_vec())
            .to_host();
        compare(&got, want, case.rtol, case.atol).map_err(|e| format!("grad.{name}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::Dtype;
    use std::collections::HashMap;

    /// Writes a case file from (name, dtype, shape, little-endian bytes).
    fn write_case(
        dir: &Path,
        file: &str,
        meta: &[(&str, &str)],
        tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)],
    ) {
        let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
            .iter()
            .map(|(n, d, s, b)| {
                let view = safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap();
                (n.to_string(), view)
            })
            .collect();
        let meta: HashMap<String, String> = meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let bytes = safetensors::serialize(views, Some(meta)).unwrap();
        std::fs::write(dir.join(file), bytes).unwrap();
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn i64s(v: &[i64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn runner_reports_pass_fail_and_unsupported_without_panicking() {
        let dir = std::env::temp_dir().join(format!("zoo-conformance-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let x = ("in.input", Dtype::F32, vec![3], f32s(&[1.0, 2.0, 3.0]));
        let t = ("in.target", Dtype::F32, vec![3], f32s(&[0.0, 0.0, 0.0]));
        let up = ("in.upstream", Dtype::F32, vec![], f32s(&[0.5]));
        let sum = [("op", "mse_loss"), ("params", r#"{"reduction": "sum"}"#)];
        // sum((x - t)^2) = 14; d/dx = 2 (x - t) * upstream = [1, 2, 3].
        write_case(
            &dir,
            "a_good.safetensors",
            &sum,
            &[
                x.clone(),
                t.clone(),
                up.clone(),
                ("out.loss", Dtype::F32, vec![], f32s(&[14.0])),
                ("grad.input", Dtype::F32, vec![3], f32s(&[1.0, 2.0, 3.0])),
            ],
        );
        write_case(
            &dir,
            "b_wrong_value.safetensors",
            &sum,
            &[
                x.clone(),
                t.clone(),
                ("out.loss", Dtype::F32, vec![], f32s(&[15.0])),
            ],
        );
        write_case(
            &dir,
            "c_wrong_grad.safetensors",
            &sum,
            &[
                x.clone(),
                t.clone(),
                up,
                ("out.loss", Dtype::F32, vec![], f32s(&[14.0])),
                ("grad.input", Dtype::F32, vec![3], f32s(&[2.0, 4.0, 6.0])),
            ],
        );
        write_case(
            &dir,
            "d_unknown_op.safetensors",
            &[("op", "frobnicate")],
            &[("out.y", Dtype::F32, vec![1], f32s(&[0.0]))],
        );
        write_case(
            &dir,
            "e_int_where_float.safetensors",
            &sum,
            &[
                ("in.input", Dtype::I64, vec![3], i64s(&[1, 2, 3])),
                t.clone(),
                ("out.loss", Dtype::F32, vec![], f32s(&[14.0])),
            ],
        );
        // conv2d with a weight whose input channels do not match: burn panics inside.
        write_case(
            &dir,
            "f_panicking_op.safetensors",
            &[("op", "conv2d")],
            &[
                ("in.input", Dtype::F32, vec![1, 2, 3, 3], f32s(&[0.0; 18])),
                ("in.weight", Dtype::F32, vec![1, 3, 1, 1], f32s(&[0.0; 3])),
                ("out.output", Dtype::F32, vec![1, 1, 3, 3], f32s(&[0.0; 9])),
            ],
        );
        std::fs::write(
            dir.join("g_garbage.safetensors"),
            b"\x10\0\0\0\0\0\0\0not json",
        )
        .unwrap();
        std::fs::write(dir.join("notes.txt"), b"not a case").unwrap();

        let files = case_files_of(&dir, None, &[]).unwrap();
        assert_eq!(files.len(), 7, "only *.safetensors files are cases");
        let device = zoo_device::from_name("flex").unwrap();
        let mut lines = Vec::new();
        let summary = run(&files, &device, |l| lines.push(l.to_string()));
        assert_eq!(
            summary,
            Summary {
                passed: 1,
                failed: 5,
                unsupported: 1
            },
            "{lines:#?}"
        );
        assert_eq!(summary.line(), "1 passed, 5 failed, 1 unsupported");
        assert_eq!(lines[0], "PASS a_good.safetensors");
        assert!(
            lines[1].starts_with("FAIL b_wrong_value.safetensors: out.loss"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with("FAIL c_wrong_grad.safetensors: grad.input"),
            "{}",
            lines[2]
        );
        assert_eq!(
            lines[3],
            "UNSUPPORTED d_unknown_op.safetensors: op frobnicate"
        );
        assert!(lines[4].contains("expected a float"), "{}", lines[4]);
        assert!(
            lines[5].starts_with("FAIL f_panicking_op.safetensors: panicked"),
            "{}",
            lines[5]
        );
        // burn's banner alone says nothing: the operation and reason follow it.
        assert!(!lines[5].ends_with("==="), "{}", lines[5]);
        assert!(
            lines[5].len() > "FAIL f_panicking_op.safetensors: panicked: ".len() + 20,
            "{}",
            lines[5]
        );
        assert!(lines[6].contains("not a safetensors file"), "{}", lines[6]);

        let filtered = case_files_of(&dir, Some("good"), &[]).unwrap();
        assert_eq!(filtered.len(), 1);
        let none = case_files_of(&dir, None, &["no_such_op".to_string()]).unwrap();
        assert!(none.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
