//! A library crate stands alone: a small crate outside the workspace, with
//! a path dependency on zoo-losses and burn with only the `ndarray` backend
//! (its own choice, not the zoo's), builds and computes a cross-entropy that
//! matches the value worked out here in f64.
//!
//! The outside crate is built offline against the workspace's `Cargo.lock`
//! (the same versions, nothing downloaded) in a target directory of its
//! own beside the workspace's, so it neither waits on nor disturbs the
//! workspace build; the first run compiles burn with ndarray (a few minutes),
//! later runs only the crate.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace's target directory (the test executable is `<target>/<profile>/deps/<name>`).
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn an_outside_crate_builds_against_zoo_losses_alone_with_its_own_backend() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dir = std::env::temp_dir().join(format!("zoo-outside-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let losses = root.join("crates/zoo-losses");
    write(
        &dir.join("Cargo.toml"),
        &format!(
            r#"[package]
name = "outside"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
burn = {{ version = "=0.22.1", features = ["ndarray"] }}
zoo-losses = {{ path = "{}" }}

[profile.dev]
debug = false

[workspace]
"#,
            losses.display()
        ),
    );
    write(
        &dir.join("src/main.rs"),
        r#"use burn::tensor::{Device, Int, Tensor};
use zoo_losses::{CeTarget, Reduction, cross_entropy};

fn main() {
    #[allow(deprecated)]
    let device = Device::ndarray();
    let logits = Tensor::<2>::from_floats([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]], &device);
    let target = Tensor::<1, Int>::from_ints([2, 0], &device);
    let loss = cross_entropy(logits, CeTarget::Classes(target), 0.0, Reduction::Mean);
    println!("{:.7}", loss.into_scalar::<f32>());
}
"#,
    );
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["run", "--offline", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir().join("outside-crate"))
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // Row 1: logsumexp(1, 2, 3) - 3; row 2: log 3 (equal logits); their mean.
    let row1 = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln() - 3.0;
    let row2 = 3f64.ln();
    let expected = (row1 + row2) / 2.0;
    let got: f64 = stdout.trim().parse().expect("one number");
    assert!(
        (got - expected).abs() < 1e-6,
        "outside crate printed {got}, expected {expected}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
