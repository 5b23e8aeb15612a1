//! The parity runner survives bad cases: sizes that would need more memory
//! than a machine has are refused with the size, a case that aborts the
//! process or hangs becomes one FAIL line, the cases after it still run, and
//! the run always ends with its summary line. An empty directory or a filter
//! that matches nothing is an error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use safetensors::Dtype;

fn xtask() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zoo-runner-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

type Spec<'a> = (&'a str, Dtype, Vec<usize>, Vec<u8>);

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn write_case(dir: &Path, file: &str, op: &str, params: &str, tensors: &[Spec]) {
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, d, s, b)| {
            let view = safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap();
            (n.to_string(), view)
        })
        .collect();
    let meta: HashMap<String, String> = [("op", op), ("params", params)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let bytes = safetensors::serialize(views, Some(meta)).unwrap();
    std::fs::write(dir.join(file), bytes).unwrap();
}

/// A case that passes: `mse_loss` of [1, 2, 3] against zeros, summed, is 14.
fn good(dir: &Path, file: &str) {
    write_case(
        dir,
        file,
        "mse_loss",
        r#"{"reduction": "sum"}"#,
        &[
            ("in.input", Dtype::F32, vec![3], f32s(&[1.0, 2.0, 3.0])),
            ("in.target", Dtype::F32, vec![3], f32s(&[0.0; 3])),
            ("out.loss", Dtype::F32, vec![], f32s(&[14.0])),
        ],
    );
}

fn image(c: usize, h: usize, w: usize) -> Spec<'static> {
    (
        "in.image",
        Dtype::F32,
        vec![c, h, w],
        f32s(&vec![0.5; c * h * w]),
    )
}

fn out_image() -> Spec<'static> {
    ("out.image", Dtype::F32, vec![1, 1, 1], f32s(&[0.0]))
}

fn run(dir: &Path, extra: &[&str], env: Option<(&str, &str)>) -> (Option<i32>, String, String) {
    let mut cmd = xtask();
    cmd.args(["conformance", dir.to_str().unwrap(), "--device", "flex"])
        .args(extra);
    if let Some((k, v)) = env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn line<'a>(stdout: &'a str, file: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.contains(file))
        .unwrap_or_else(|| panic!("no line for {file} in:\n{stdout}"))
}

#[test]
fn huge_sizes_are_refused_with_the_size_they_would_need() {
    let dir = tmp("sizes");
    let roi = |name: &'static str| -> Vec<Spec<'static>> {
        vec![
            ("in.input", Dtype::F32, vec![1, 1, 4, 4], f32s(&[1.0; 16])),
            (
                "in.rois",
                Dtype::F32,
                vec![1, 5],
                f32s(&[0.0, 0.0, 0.0, 3.0, 3.0]),
            ),
            (name, Dtype::F32, vec![1, 1, 1, 1], f32s(&[0.0])),
        ]
    };
    let cases: Vec<(&str, &str, String, Vec<Spec>)> = vec![
        (
            "pad_huge",
            "pad",
            r#"{"padding": [1000000000, 1000000000, 1000000000, 1000000000]}"#.into(),
            vec![image(3, 4, 4), out_image()],
        ),
        (
            "crop_huge",
            "crop",
            r#"{"top": 0, "left": 0, "height": 1000000, "width": 1000000}"#.into(),
            vec![image(3, 4, 4), out_image()],
        ),
        (
            "resize_huge",
            "resize",
            r#"{"size": [1000000, 1000000]}"#.into(),
            vec![image(3, 4, 4), out_image()],
        ),
        (
            "roi_align_output",
            "roi_align",
            r#"{"output_size": [1000000, 1000000]}"#.into(),
            roi("out.output"),
        ),
        (
            "roi_align_sampling",
            "roi_align",
            r#"{"output_size": [2, 2], "sampling_ratio": 1000000}"#.into(),
            roi("out.output"),
        ),
        (
            "multibox_prior_huge",
            "multibox_prior",
            r#"{"height": 1000000, "width": 1000000, "sizes": [0.5], "ratios": [1.0]}"#.into(),
            vec![("out.anchors", Dtype::F32, vec![1, 1, 4], f32s(&[0.0; 4]))],
        ),
        (
            "lr_schedule_steps",
            "lr_schedule",
            r#"{"scheduler": "step", "base_lr": 0.1, "step_size": 1, "steps": 1000000000000}"#
                .into(),
            vec![("out.lrs", Dtype::F32, vec![1], f32s(&[0.1]))],
        ),
        (
            "gradient_descent_steps",
            "gradient_descent",
            r#"{"function": "x^2", "start": [1.0], "lr": 0.1, "steps": 1000000000000}"#.into(),
            vec![("out.path", Dtype::F32, vec![1, 1], f32s(&[1.0]))],
        ),
        (
            "model_params_classes",
            "model_params",
            r#"{"arch": "resnet18", "num_classes": 1000000000000}"#.into(),
            vec![(
                "out.num_params",
                Dtype::I64,
                vec![],
                0i64.to_le_bytes().to_vec(),
            )],
        ),
        (
            "conv2d_padding",
            "conv2d",
            r#"{"padding": [1000000000, 1000000000]}"#.into(),
            vec![
                ("in.input", Dtype::F32, vec![1, 1, 3, 3], f32s(&[1.0; 9])),
                ("in.weight", Dtype::F32, vec![1, 1, 3, 3], f32s(&[1.0; 9])),
                ("out.output", Dtype::F32, vec![1, 1, 1, 1], f32s(&[9.0])),
            ],
        ),
    ];
    for (file, op, params, tensors) in &cases {
        write_case(&dir, &format!("{file}.safetensors"), op, params, tensors);
    }
    good(&dir, "zz_good.safetensors");
    let (code, stdout, stderr) = run(&dir, &[], None);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    for (file, ..) in &cases {
        let l = line(&stdout, file);
        assert!(l.starts_with("FAIL"), "{l}");
        assert!(l.contains("would hold"), "{l}");
        assert!(!l.contains("died"), "{l}");
    }
    assert!(line(&stdout, "zz_good").starts_with("PASS"), "{stdout}");
    assert!(
        stdout.ends_with(&format!(
            "1 passed, {} failed, 0 unsupported\n",
            cases.len()
        )),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_aborting_or_hanging_case_is_one_fail_and_the_run_goes_on() {
    let dir = tmp("faults");
    good(&dir, "a_good.safetensors");
    good(&dir, "b_aborts.safetensors");
    good(&dir, "c_good.safetensors");
    good(&dir, "d_hangs.safetensors");
    good(&dir, "e_good.safetensors");
    for (fault, victim) in [("abort:b_aborts", "b_aborts"), ("hang:d_hangs", "d_hangs")] {
        let (code, stdout, stderr) = run(
            &dir,
            &["--timeout-s", "3"],
            Some(("ZOO_CONFORMANCE_FAULT", fault)),
        );
        assert_eq!(code, Some(1), "{stdout}\n{stderr}");
        let l = line(&stdout, victim);
        assert!(l.starts_with("FAIL"), "{l}");
        if victim == "b_aborts" {
            assert!(l.contains("died") && l.contains("memory allocation"), "{l}");
        } else {
            assert!(l.contains("3 s") && l.contains("time limit"), "{l}");
        }
        assert!(
            stdout.ends_with("4 passed, 1 failed, 0 unsupported\n"),
            "{stdout}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_cases_is_an_error() {
    let dir = tmp("empty");
    let (code, _, stderr) = run(&dir, &[], None);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no case files"), "{stderr}");
    std::fs::write(dir.join("notes.txt"), b"not a case").unwrap();
    good(&dir, "a_good.safetensors");
    let (code, _, stderr) = run(&dir, &["--filter", "nothing-matches"], None);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("matching `nothing-matches`"), "{stderr}");
    let (code, stdout, _) = run(&dir, &[], None);
    assert_eq!(code, Some(0), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}
