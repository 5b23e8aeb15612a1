//! Flags the fault sweep found unbounded, each now a usage error before any
//! work: counts that overflowed or asked for terabytes, reals past
//! float32's range (the models run in float32), NaN / inf / negative values
//! where they make no sense, and a `--data-dir` that was passed over for the
//! embedded text. Each case runs a built example and checks exit code 2, an
//! `error:` line on stderr naming the flag and the value.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The photograph `augment` reads.
const CHELSEA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/images/chelsea.jpg");

/// A fresh directory under the system's temporary directory.
fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zoo-bounds-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What a run of `exe` with `args` gave: exit code, stdout, stderr (the
/// data directory an empty folder, so nothing downloaded is read).
fn run(exe: &str, args: &[&str]) -> (i32, String, String) {
    static DATA: OnceLock<PathBuf> = OnceLock::new();
    let data = DATA.get_or_init(|| tmp("data"));
    let o = Command::new(exe)
        .args(args)
        .env("ZOO_DATA_DIR", data)
        .env_remove("ZOO_DEVICE")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Checks that `exe` with `base` plus `flag=value` is a usage error (exit
/// 2) whose `error:` line names the flag and `shown` (how the value reads
/// in the message), and that nothing was printed on stdout (no work began).
fn refused(exe: &str, base: &[&str], flag: &str, value: &str, shown: &str) {
    let flag_value = format!("{flag}={value}");
    let mut args = base.to_vec();
    args.push(&flag_value);
    let (code, out, err) = run(exe, &args);
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("{flag} {value}: no error line (exit {code}): {err}"));
    assert_eq!(code, 2, "{flag} {value}: exit {code}: {err}");
    assert!(
        line.contains(flag) && line.contains(shown),
        "{flag} {value}: {line}"
    );
    assert!(out.trim().is_empty(), "{flag} {value}: work began: {out}");
}

const U64_MAX: &str = "18446744073709551615";

#[test]
fn augment_bounds_columns() {
    let exe = env!("CARGO_BIN_EXE_augment");
    let out = tmp("augment").join("grid.png");
    let base = [CHELSEA, "--cell", "48", "--out", out.to_str().unwrap()];
    for v in ["0", "65", "1000000000000", U64_MAX] {
        refused(exe, &base, "--columns", v, v);
    }
    refused(
        exe,
        &[CHELSEA, "--out", out.to_str().unwrap()],
        "--cell",
        "15",
        "15",
    );
    assert!(!out.exists());
}

#[test]
fn hog_svm_bounds_orientations_cell_and_reg() {
    let exe = env!("CARGO_BIN_EXE_hog-svm");
    let out = tmp("hog-svm");
    let base = [
        "--train",
        "40",
        "--test",
        "10",
        "--iterations",
        "5",
        "--out",
    ];
    let base: Vec<&str> = base.into_iter().chain([out.to_str().unwrap()]).collect();
    for v in ["0", "361", "1000000000000", U64_MAX] {
        refused(exe, &base, "--orientations", v, v);
    }
    for v in ["0", "15", "29", "1000000000000", U64_MAX] {
        refused(exe, &base, "--cell", v, v);
    }
    refused(exe, &base, "--reg", "1e39", "1e39");
    refused(exe, &base, "--reg", "-1", "-1");
    refused(exe, &base, "--reg", "NaN", "NaN");
}

#[test]
fn dream_bounds_jitter_lr_and_l2() {
    let exe = env!("CARGO_BIN_EXE_dream");
    let out = tmp("dream").join("dream.png");
    let base = ["--iterations", "2", "--out", out.to_str().unwrap()];
    for v in ["28", "100", "1000000000000", U64_MAX] {
        refused(exe, &base, "--jitter", v, v);
    }
    for v in ["1e39", "0", "-1", "NaN", "inf"] {
        refused(exe, &base, "--lr", v, "--lr");
    }
    for (v, shown) in [
        ("1e39", "1e39"),
        ("-1", "-1"),
        ("NaN", "NaN"),
        ("inf", "inf"),
    ] {
        refused(exe, &base, "--l2", v, shown);
    }
}

#[test]
fn rnn_refuses_a_data_dir_without_the_book_and_reals_past_float32() {
    let exe = env!("CARGO_BIN_EXE_rnn");
    let out = tmp("rnn-out");
    let base = [
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--batch-size",
        "4",
        "--num-steps",
        "8",
        "--max-tokens",
        "400",
        "--valid-tokens",
        "40",
        "--num-preds",
        "5",
        "--out",
    ];
    let base: Vec<&str> = base.into_iter().chain([out.to_str().unwrap()]).collect();
    let empty = tmp("rnn-empty");
    for dir in ["/nonexistent/data", "/etc/passwd", empty.to_str().unwrap()] {
        refused(exe, &base, "--data-dir", dir, "timemachine.txt");
    }
    refused(exe, &base, "--data-dir", "", "--data-dir");
    for flag in ["--clip", "--temperature"] {
        for (v, shown) in [
            ("1e39", "1e39"),
            ("1e-50", "1e-50"),
            ("0", "0"),
            ("-1", "-1"),
            ("NaN", "NaN"),
            ("inf", "inf"),
        ] {
            refused(exe, &base, flag, v, shown);
        }
    }
    // A directory that holds the book is read, not the embedded copy.
    let data = tmp("rnn-data");
    std::fs::create_dir_all(data.join("time-machine")).unwrap();
    let book = data.join("time-machine").join("timemachine.txt");
    std::fs::write(&book, "the time traveller spoke to us\n".repeat(40)).unwrap();
    let mut args = base.clone();
    args.extend(["--data-dir", data.to_str().unwrap()]);
    let (code, stdout, err) = run(exe, &args);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains(book.to_str().unwrap()), "{stdout}");
}

#[test]
fn occlusion_bounds_fill_and_patch() {
    let exe = env!("CARGO_BIN_EXE_occlusion");
    let out = tmp("occlusion").join("occlusion.png");
    let base = ["--out", out.to_str().unwrap()];
    for (v, shown) in [
        ("1e39", "1e39"),
        ("-1e39", "-1e39"),
        ("NaN", "NaN"),
        ("inf", "inf"),
    ] {
        refused(exe, &base, "--fill", v, shown);
    }
    for v in ["0", "29", "1000000000000", U64_MAX] {
        refused(exe, &base, "--patch", v, v);
    }
    refused(exe, &base, "--stride", "0", "0");
}
