//! The xtask binary's command line: device errors and the runner's exit status.

use std::process::Command;

fn xtask() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
}

#[test]
fn unknown_device_exits_non_zero_listing_the_devices() {
    let out = xtask()
        .args(["conformance", ".", "--device", "tpu"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown device `tpu`"), "{err}");
    for name in ["flex", "ndarray", "wgpu"] {
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn zoo_device_variable_is_read_and_checked() {
    let out = xtask()
        .args(["conformance", "."])
        .env("ZOO_DEVICE", "cuda-please")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cuda-please"));
}

#[test]
fn missing_directory_is_an_error_not_a_panic() {
    let out = xtask()
        .args(["conformance", "/nonexistent/cases", "--device", "flex"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/cases"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_failing_case_makes_the_exit_status_non_zero() {
    let dir = std::env::temp_dir().join(format!("zoo-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("broken.safetensors"),
        b"definitely not safetensors",
    )
    .unwrap();
    let out = xtask()
        .args(["conformance", dir.to_str().unwrap(), "--device", "flex"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL broken.safetensors: not a safetensors file"),
        "{stdout}"
    );
    assert!(
        stdout.lines().last().unwrap() == "0 passed, 1 failed, 0 unsupported",
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn torchvision_weights_are_checked_by_the_hash_in_their_name() {
    let dir = std::env::temp_dir().join(format!("zoo-weights-cli-{}", std::process::id()));
    let from = dir.join("from");
    std::fs::create_dir_all(&from).unwrap();
    // Not the genuine file: its SHA-256 does not begin with f37072fd.
    std::fs::write(from.join("resnet18-f37072fd.pth"), b"not resnet18").unwrap();
    let out = xtask()
        .args(["download", "resnet18", "--quiet", "--dir"])
        .arg(dir.join("data"))
        .arg("--from")
        .arg(&from)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("resnet18-f37072fd.pth") && err.contains("beginning f37072fd"),
        "{err}"
    );
    assert!(!dir.join("data/weights/resnet18-f37072fd.pth").exists());
    // torchvision's segmentation weights, the same way.
    std::fs::write(from.join("fcn_resnet50_coco-1167a1af.pth"), b"not an fcn").unwrap();
    let out = xtask()
        .args(["download", "fcn_resnet50", "--quiet", "--dir"])
        .arg(dir.join("data"))
        .arg("--from")
        .arg(&from)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("beginning 1167a1af"),
        "{err}"
    );

    let out = xtask().args(["download", "resnet19"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("did you mean resnet18")
            && err.contains("fashion-mnist"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_flags_that_size_work_are_checked() {
    for (args, says) in [
        (&["bench", "matmul", "--runs", "0"][..], "--runs 0"),
        (
            &["bench", "data", "--batch-size", "0"][..],
            "--batch-size 0",
        ),
        (&["bench", "matmul", "--size", "10000000"][..], "would hold"),
        (&["bench", "data", "--resize", "0"][..], "--resize 0"),
    ] {
        let out = xtask().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
