//! The examples refuse bad flags and files with a message and exit 2.

use std::process::Command;

fn run(bin: &str, args: &[&str]) -> (i32, String) {
    let exe = match bin {
        "resnet" => env!("CARGO_BIN_EXE_resnet"),
        "densenet" => env!("CARGO_BIN_EXE_densenet"),
        "style-transfer" => env!("CARGO_BIN_EXE_style-transfer"),
        "augment" => env!("CARGO_BIN_EXE_augment"),
        other => panic!("no binary {other}"),
    };
    let out = Command::new(exe).args(args).output().unwrap();
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
