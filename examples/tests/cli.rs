//! The examples refuse bad flags and files with a message and exit 2.

use std::process::Command;

fn run(bin: &str, args: &[&str]) -> (i32, String) {
    let exe = match bin {
        "resnet" => env!("CARGO_BIN_EXE_resnet"),
        "densenet" => env!("CARGO_BIN_EXE_densenet"),
        "style-transfer" => env!("CARGO_BIN_EXE_style-transfer"),
        "augment" => env!("CARGO_BIN_EXE_augment"),
        "lenet" => env!("CARGO_BIN_EXE_lenet"),
        "summary" => env!("CARGO_BIN_EXE_summary"),
        "ssd" => env!("CARGO_BIN_EXE_ssd"),
        "devices" => env!("CARGO_BIN_EXE_devices"),
        other => panic!("no binary {other}"),
    };
    let mut c = Command::new(exe);
    c.args(args);
    // No network here: style transfer runs on random weights unless the
    // test gives its own.
    if bin == "style-transfer" && !args.contains(&"--weights") {
        c.arg("--random-weights");
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_model_of_another_family_is_refused() {
    let (code, err) = run("resnet", &["--model", "vgg11"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`vgg11` is a vgg model"), "{err}");
}

#[test]
fn an_unknown_model_points_at_the_list() {
    let (code, err) = run("densenet", &["--model", "densenet122"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("densenet122") && err.contains("--list"),
        "{err}"
    );
}

#[test]
fn missing_weights_name_the_file() {
    let (code, err) = run(
        "resnet",
        &[
            "--weights",
            "/nonexistent/resnet18.pth",
            "--limit",
            "8",
            "--input-size",
            "32",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/resnet18.pth"), "{err}");
}

#[test]
fn unreadable_images_and_non_vgg_weights_are_named() {
    let dir = std::env::temp_dir().join(format!("zoo-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("not-an-image.png");
    std::fs::write(&text, b"hello").unwrap();
    let (code, err) = run(
        "style-transfer",
        &[
            "--content",
            text.to_str().unwrap(),
            "--style",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/images/chelsea.jpg"),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("not-an-image.png") && err.contains("cannot read"),
        "{err}"
    );
    let (code, err) = run("augment", &["/nonexistent/cat.jpg"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/cat.jpg"), "{err}");
    // A LeNet state dict is not VGG-19: the message names a key.
    let weights = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/zoo-models/tests/data/lenet.pth"
    );
    let chelsea = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/images/chelsea.jpg");
    let (code, err) = run(
        "style-transfer",
        &[
            "--content",
            chelsea,
            "--style",
            chelsea,
            "--weights",
            weights,
            "--steps",
            "1",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("lenet.pth") && err.contains("features."),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("zoo-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn bad_numbers_are_refused_naming_the_flag() {
    for (bin, args, says) in [
        ("lenet", &["--lr", "3.5e38"][..], "float32"),
        ("lenet", &["--lr", "NaN"][..], "--lr"),
        ("lenet", &["--batch-size", "0"][..], "--batch-size 0"),
        ("resnet", &["--input-size", "0"][..], "--input-size 0"),
        ("resnet", &["--limit", "0"][..], "--limit 0"),
        (
            "resnet",
            &["--batch-size", "1", "--limit", "8", "--input-size", "32"][..],
            "batch norm",
        ),
        ("ssd", &["--objects", "1000000000"][..], "1 to 16 objects"),
        (
            "resnet",
            &["--input-size", "200000", "--limit", "8"][..],
            "would hold",
        ),
        ("ssd", &["--lr", "NaN"][..], "--lr"),
        ("ssd", &["--lr=-5"][..], "--lr"),
        ("ssd", &["--val", "0"][..], "--val 0"),
        ("ssd", &["--train", "0"][..], "--train 0"),
        ("summary", &["resnet18", "--input-size", "0"][..], "Conv2d"),
        (
            "summary",
            &["inception_v3", "--input-size", "74"][..],
            "too small for",
        ),
        (
            "summary",
            &["resnet18", "--input-size", "100000"][..],
            "would hold",
        ),
        (
            "augment",
            &["/nonexistent.jpg", "--out", "grid.jpg"][..],
            ".png",
        ),
        (
            "augment",
            &["/nonexistent.jpg", "--cell", "1000000"][..],
            "would hold",
        ),
        ("devices", &["--bogus"][..], "--bogus"),
        // The recipes.
        ("lenet", &["--mix", "mosaic"][..], "mixup, cutmix, pairing"),
        (
            "lenet",
            &["--mix", "cutmix", "--mix-alpha", "0"][..],
            "alpha 0",
        ),
        ("lenet", &["--ema", "1"][..], "--ema: EMA decay 1"),
        ("lenet", &["--swa-start", "0"][..], "--swa-start"),
        (
            "lenet",
            &["--label-smoothing", "1"][..],
            "--label-smoothing 1",
        ),
        ("lenet", &["--augment", "autoaug"][..], "trivial"),
        ("lenet", &["--ensemble", "/nonexistent"][..], "/nonexistent"),
        ("resnet", &["--aux", "--limit", "8"][..], "--aux"),
        (
            "resnet",
            &["--head-lr-mult", "0", "--limit", "8"][..],
            "--head-lr-mult 0",
        ),
        ("resnet", &["--reset-head"][..], "--weights"),
    ] {
        let (code, err) = run(bin, args);
        assert_eq!(code, 2, "{bin} {args:?}: {err}");
        assert!(err.contains(says), "{bin} {args:?}: {err}");
        assert!(!err.contains("panicked"), "{bin} {args:?}: {err}");
    }
}

#[test]
fn an_out_that_is_a_directory_is_refused_and_nothing_is_left() {
    let dir = tmp("out-dir");
    let target = dir.join("grid.png");
    std::fs::create_dir_all(&target).unwrap();
    let photo = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/images/chelsea.jpg");
    let (code, err) = run("augment", &[photo, "--out", target.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a directory"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(left.len(), 1, "{left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_last_batch_of_one_is_dropped_and_resume_checks_the_flags() {
    let dir = tmp("drop-last");
    let out = dir.to_str().unwrap();
    let common = [
        "--input-size",
        "32",
        "--limit",
        "17",
        "--batch-size",
        "8",
        "--epochs",
        "1",
        "--out",
        out,
    ];
    let (code, err) = run("resnet", &common);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("last batch of one image") && err.contains("dropped"),
        "{err}"
    );
    // --resume with another seed: refused, the field named.
    let mut again: Vec<&str> = common
        .iter()
        .map(|a| if *a == "1" { "2" } else { a })
        .collect();
    again.extend(["--resume", "--seed", "5"]);
    let (code, err) = run("resnet", &again);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("seed: checkpoint `0`, this run `5`"), "{err}");
    // A batch size far beyond the set is the whole set, not an allocation.
    let huge = [
        "--input-size",
        "32",
        "--limit",
        "8",
        "--epochs",
        "1",
        "--batch-size",
        "18446744073709551615",
        "--out",
    ];
    let mut args = huge.to_vec();
    let other = dir.join("huge");
    args.push(other.to_str().unwrap());
    let (code, err) = run("resnet", &args);
    assert_eq!(code, 0, "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_resumed_style_transfer_ends_where_the_uninterrupted_one_does() {
    let dir = tmp("style-resume");
    let chelsea = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/images/chelsea.jpg");
    let hubble = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/images/hubble_deep_field.jpg"
    );
    let transfer = |name: &str, steps: &str, resume: bool| {
        let out = dir.join(format!("{name}.png"));
        let run_dir = dir.join(name);
        let mut args = vec![
            "--content",
            chelsea,
            "--style",
            hubble,
            "--size",
            "32x48",
            "--every",
            "2",
            "--steps",
            steps,
            "--out",
            out.to_str().unwrap(),
            "--run-dir",
            run_dir.to_str().unwrap(),
        ];
        if resume {
            args.push("--resume");
        }
        let (code, err) = run("style-transfer", &args);
        assert_eq!(code, 0, "{err}");
        let line = err
            .lines()
            .rfind(|l| l.starts_with("epoch "))
            .map(|l| l.rsplit_once(" | ").unwrap().0.to_string())
            .unwrap_or_default();
        (std::fs::read(&out).unwrap(), line, err)
    };
    let (whole, whole_line, _) = transfer("whole", "6", false);
    transfer("parts", "2", false);
    let (parts, parts_line, err) = transfer("parts", "6", true);
    assert!(err.contains("epoch   3/3"), "{err}");
    assert!(!err.contains("epoch   1/3"), "{err}");
    assert!(whole_line.starts_with("epoch   3/3: lr 0.3000 | train content"));
    assert_eq!(parts_line, whole_line);
    assert!(whole == parts, "the resumed run's image differs");
    assert!(dir.join("whole/curves.png").exists());
    // L-BFGS keeps no history to resume from.
    let (code, err) = run(
        "style-transfer",
        &[
            "--content",
            chelsea,
            "--style",
            hubble,
            "--optimizer",
            "lbfgs",
            "--resume",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("only Adam runs resume"), "{err}");
    let (code, err) = run(
        "style-transfer",
        &[
            "--content",
            chelsea,
            "--style",
            hubble,
            "--steps",
            "5",
            "--every",
            "2",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("a multiple of --every"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
