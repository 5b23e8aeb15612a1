//! The classification examples refuse bad flags with a message and exit 2.

use std::process::Command;

fn run(bin: &str, args: &[&str]) -> (i32, String) {
    let exe = match bin {
        "resnet" => env!("CARGO_BIN_EXE_resnet"),
        "densenet" => env!("CARGO_BIN_EXE_densenet"),
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
