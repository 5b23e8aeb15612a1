//! Run folders and checkpoints as a user meets them: a second fresh run
//! into a folder another run wrote is refused and deletes nothing; a
//! `--weights` file whose bytes changed, or a checkpoint of another model,
//! is refused; a `lenet --relu` checkpoint loads as the ReLU LeNet it holds
//! (its accuracy is the one the lenet run measured).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zoo-runs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(exe: &str, args: &[&str], paths: &[&Path]) -> Output {
    let mut c = Command::new(exe);
    c.args(args);
    for p in paths {
        c.arg(p);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every file under `dir` (path relative to it) with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p.strip_prefix(dir).unwrap().to_path_buf(), bytes));
            }
        }
    }
    out.sort();
    out
}

/// The accuracy of a loaded checkpoint on `set`, batched as its run batched.
fn accuracy(
    t: &examples::trained::Trained,
    set: &zoo_datasets::ImageDataset,
    device: &burn::tensor::Device,
) -> f64 {
    let batcher = t.batcher();
    let indices: Vec<usize> = (0..set.len()).collect();
    let mut right = 0usize;
    for chunk in indices.chunks(256) {
        let batch = batcher.batch_indices(set, chunk, device);
        let pred: Vec<i64> = t
            .logits(batch.images)
            .argmax(1)
            .into_data()
            .try_into_vec_as::<i64>()
            .unwrap();
        let want: Vec<i64> = batch.targets.into_data().try_into_vec_as::<i64>().unwrap();
        right += pred.iter().zip(&want).filter(|(a, b)| a == b).count();
    }
    right as f64 / set.len() as f64
}

/// The printed `test accuracy X` of a classification run.
fn printed_accuracy(out: &str) -> f64 {
    out.split("test accuracy ")
        .nth(1)
        .and_then(|s| s.split([',', '\n']).next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in {out}"))
}

/// Inception v3 trains from the googlenet example (with its auxiliary
/// classifier, which takes torchvision's 299x299: at 171 its 5x5 convolution
/// sees a 2x2 map, refused as a usage error), and its checkpoint loads into the registry's `Model` through
/// the one loader, scoring what the run printed on the same test images.
#[test]
fn a_classifier_run_loads_into_the_registry_model() {
    let dir = tmp("inception");
    let out = dir.join("inception");
    let small = dir.join("small");
    let o = run(
        env!("CARGO_BIN_EXE_googlenet"),
        &[
            "--model",
            "inception_v3",
            "--aux",
            "--input-size",
            "171",
            "--out",
        ],
        &[&small],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("auxiliary classifier: the input is too small for Conv2d"),
        "{}",
        text(&o)
    );
    let o = run(
        env!("CARGO_BIN_EXE_googlenet"),
        &[
            "--model",
            "inception_v3",
            "--aux",
            "--input-size",
            "299",
            "--epochs",
            "1",
            "--limit",
            "16",
            "--batch-size",
            "8",
            "--out",
        ],
        &[&out],
    );
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", text(&o));
    let printed = printed_accuracy(&stdout);
    let device = zoo_device::resolve(Some("flex"), "flex")
        .unwrap()
        .device()
        .unwrap();
    let loaded = examples::trained::checkpoint(&out, &device).unwrap();
    assert_eq!(
        (loaded.name.as_str(), loaded.input_size, loaded.channels),
        ("inception_v3", 299, 3)
    );
    // `--limit 16` tests on 4 images drawn with seed 0 + 1.
    let test = examples::sample(examples::trained::test_set(None).unwrap(), 4, 1);
    let acc = accuracy(&loaded, &test, &device);
    assert!(
        (acc - printed).abs() < 0.0006,
        "the loaded checkpoint scores {acc}, the run printed {printed}"
    );
}

/// The case: `gan --epochs 3 --out D`, then `gan --epochs 1 --seed 7
/// --out D` deleted the new run's checkpoint and mixed the logs; and a GAN
/// run into a lenet run's folder replaced its checkpoint.
#[test]
fn a_second_fresh_run_into_a_run_folder_is_refused_and_deletes_nothing() {
    let dir = tmp("second");
    let gan = env!("CARGO_BIN_EXE_gan");
    let d = dir.join("gan");
    let o = run(gan, &["--epochs", "3", "--out"], &[&d]);
    assert!(o.status.success(), "{}", text(&o));
    let before = files(&d);
    let o = run(gan, &["--epochs", "1", "--seed", "7", "--out"], &[&d]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(1), "{all}");
    assert!(
        all.contains(d.to_str().unwrap()) && all.contains("--resume") && all.contains("epoch 3"),
        "{all}"
    );
    assert_eq!(files(&d), before, "the first run's files changed");
    // Resuming it to 4 epochs is what the message offers, and works.
    let o = run(gan, &["--epochs", "4", "--resume", "--out"], &[&d]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(d.join("checkpoints/epoch-0004/state.json").is_file());

    let lenet = dir.join("lenet");
    let o = run(
        env!("CARGO_BIN_EXE_lenet"),
        &["--epochs", "1", "--out"],
        &[&lenet],
    );
    assert!(o.status.success(), "{}", text(&o));
    let before = files(&lenet);
    for resume in [false, true] {
        let mut args = vec!["--epochs", "1"];
        if resume {
            args.push("--resume");
        }
        args.push("--out");
        let o = run(gan, &args, &[&lenet]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains(lenet.to_str().unwrap()), "{}", text(&o));
    }
    assert_eq!(files(&lenet), before, "the lenet run's files changed");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--weights` is checked against the checkpoint's state.json: changed
/// bytes and another model are refused by every example that reads a
/// LeNet; a `--relu` checkpoint is the ReLU LeNet (its test accuracy in
/// hog-svm is the one the lenet run printed, where the sigmoid LeNet's
/// layers would score about 0.1).
#[test]
fn weights_are_verified_and_loaded_as_the_model_they_hold() {
    let dir = tmp("weights");
    let relu = dir.join("relu");
    let o = run(
        env!("CARGO_BIN_EXE_lenet"),
        &["--epochs", "1", "--relu", "--lr", "0.1", "--out"],
        &[&relu],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", text(&o));
    let trained: f64 = out
        .split("test accuracy ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in {out}"));
    let weights = relu.join("checkpoints/epoch-0001/model.bpk");
    let hog = dir.join("hog");
    let o = run(
        env!("CARGO_BIN_EXE_hog-svm"),
        &[
            "--train",
            "50",
            "--test",
            "2000",
            "--iterations",
            "5",
            "--weights",
        ],
        &[&weights, Path::new("--out"), &hog],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", text(&o));
    let measured: f64 = out
        .split("LeNet (")
        .nth(1)
        .and_then(|s| s.split("test accuracy ").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no LeNet accuracy in {out}"));
    assert!(trained > 0.3, "the relu run learned: {trained}");
    assert!(
        (measured - trained).abs() < 0.0006,
        "hog-svm measured {measured}, the lenet run {trained}"
    );
    // The one loader: the run folder into the registry's `Model`, scoring
    // on the whole test set what the run printed.
    let device = zoo_device::resolve(Some("flex"), "flex")
        .unwrap()
        .device()
        .unwrap();
    let loaded = examples::trained::checkpoint(&relu, &device).unwrap();
    assert_eq!(loaded.name, "d2l_lenet");
    let test = examples::trained::test_set(None).unwrap();
    let acc = accuracy(&loaded, &test, &device);
    assert!(
        (acc - trained).abs() < 0.0006,
        "the loaded checkpoint scores {acc}, the lenet run printed {trained}"
    );

    // Bytes changed in the middle of the file: every reader refuses it,
    // naming the file, before any work.
    let damaged = dir.join("damaged");
    std::fs::create_dir_all(&damaged).unwrap();
    let mut bytes = std::fs::read(&weights).unwrap();
    let n = bytes.len();
    for b in &mut bytes[n / 2..n / 2 + 4000.min(n / 4)] {
        *b = !*b;
    }
    std::fs::write(damaged.join("model.bpk"), &bytes).unwrap();
    std::fs::copy(
        weights.with_file_name("state.json"),
        damaged.join("state.json"),
    )
    .unwrap();
    // A GAN checkpoint's state.json beside a LeNet's file: another model.
    let gan = dir.join("gan");
    let o = run(
        env!("CARGO_BIN_EXE_gan"),
        &["--epochs", "1", "--out"],
        &[&gan],
    );
    assert!(o.status.success(), "{}", text(&o));
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(&weights, other.join("model.bpk")).unwrap();
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(weights.with_file_name("state.json")).unwrap())
            .unwrap();
    state["config"]["model"] = "d2l_gan_mlp".into();
    std::fs::write(
        other.join("state.json"),
        serde_json::to_vec(&state).unwrap(),
    )
    .unwrap();
    for (file, says) in [
        (damaged.join("model.bpk"), "SHA-256"),
        (other.join("model.bpk"), "`d2l_gan_mlp` model"),
    ] {
        for (exe, extra) in [
            (env!("CARGO_BIN_EXE_saliency"), &[][..]),
            (env!("CARGO_BIN_EXE_occlusion"), &[][..]),
            (env!("CARGO_BIN_EXE_tsne"), &["--images", "20"][..]),
            (env!("CARGO_BIN_EXE_dream"), &["--iterations", "2"][..]),
            (
                env!("CARGO_BIN_EXE_hog-svm"),
                &["--train", "20", "--test", "20", "--iterations", "2"][..],
            ),
        ] {
            let png = dir.join("never.png");
            let mut args = extra.to_vec();
            args.push("--weights");
            let o = run(exe, &args, &[&file, Path::new("--out"), &png]);
            let all = text(&o);
            assert_eq!(o.status.code(), Some(2), "{exe}: {all}");
            assert!(
                all.contains(file.to_str().unwrap()) && all.contains(says),
                "{exe}: {all}"
            );
            assert!(!png.exists(), "{exe} wrote a picture");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
