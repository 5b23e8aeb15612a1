//! The classic examples: their numbers against independent computations,
//! their pictures written, bad flags refused.

use std::process::Command;

use zoo_datasets::{FashionMnist, Split};

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("zoo-classic-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 1-NN with L1 distance, brute force in f64 here: the example's test
/// accuracy must be the same count.
#[test]
fn knn_predicts_what_brute_force_does() {
    let (n, m) = (300, 60);
    let train = FashionMnist::load(None, Split::Train).unwrap();
    let test = FashionMnist::load(None, Split::Test).unwrap();
    let px = |set: &zoo_datasets::ImageDataset, i: usize| -> Vec<f64> {
        set.pixels(i).iter().map(|&p| p as f64 / 255.0).collect()
    };
    let train_px: Vec<Vec<f64>> = (0..n).map(|i| px(&train, i)).collect();
    let mut right = 0;
    for j in 0..m {
        let t = px(&test, j);
        let nearest = (0..n)
            .min_by(|&a, &b| {
                let d = |i: usize| {
                    train_px[i]
                        .iter()
                        .zip(&t)
                        .map(|(x, y)| (x - y).abs())
                        .sum::<f64>()
                };
                d(a).partial_cmp(&d(b)).unwrap()
            })
            .unwrap();
        right += usize::from(train.label(nearest) == test.label(j));
    }
    let out = tmp("knn");
    let o = Command::new(env!("CARGO_BIN_EXE_knn"))
        .args([
            "--train", "300", "--test", "60", "--folds", "3", "--ks", "1", "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains(&format!("test: {right} / {m} = ")),
        "brute force: {right}; {stdout}"
    );
    assert!(out.join("knn.png").is_file());
}

#[test]
fn bad_classic_flags_are_refused_naming_the_flag() {
    for (bin, args, says) in [
        (
            env!("CARGO_BIN_EXE_knn"),
            &["--metric", "cosine"][..],
            "--metric",
        ),
        (env!("CARGO_BIN_EXE_knn"), &["--ks", "0"][..], "--ks"),
        (
            env!("CARGO_BIN_EXE_knn"),
            &["--train", "20", "--ks", "50"][..],
            "holds k",
        ),
        (env!("CARGO_BIN_EXE_linear"), &["--reg", "NaN"][..], "--reg"),
        (
            env!("CARGO_BIN_EXE_edges"),
            &["/nonexistent.jpg"][..],
            "/nonexistent.jpg",
        ),
        (
            env!("CARGO_BIN_EXE_edges"),
            &["--cell", "0"][..],
            "--cell 0",
        ),
        (
            env!("CARGO_BIN_EXE_tsne"),
            &["--images", "1", "--pixels"][..],
            "--images 1",
        ),
        (
            env!("CARGO_BIN_EXE_dream"),
            &["--iterations", "0"][..],
            "--iterations 0",
        ),
        (
            env!("CARGO_BIN_EXE_hog-svm"),
            &["--cell", "30"][..],
            "one block of 2x2 cells",
        ),
    ] {
        let o = Command::new(bin).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// The edges example's Canny count is the library's on the same grey
/// image, and its picture is written.
#[test]
fn edges_writes_its_picture_and_counts_canny_edges() {
    let out = tmp("edges").join("edges.png");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let o = Command::new(env!("CARGO_BIN_EXE_edges"))
        .arg(root.join("assets/images/chelsea.jpg"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.is_file());
    // 451 x 300 in 8x8 cells: 37 x 56 cells, 36 x 55 blocks of 2x2 cells of 9 bins.
    assert!(
        stdout.contains(&format!("{} features", 36 * 55 * 4 * 9)),
        "{stdout}"
    );
}

/// The explaining examples on a LeNet trained here for one short epoch:
/// each writes its picture and reports what the library computed; a
/// missing checkpoint is refused naming it.
#[test]
fn explaining_examples_run_on_a_lenet_checkpoint() {
    let dir = tmp("explain");
    let run = dir.join("lenet");
    let o = Command::new(env!("CARGO_BIN_EXE_lenet"))
        .args(["--epochs", "1", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let weights = run.join("checkpoints/epoch-0001/model.bpk");
    assert!(weights.is_file());
    for (bin, args, says) in [
        (
            env!("CARGO_BIN_EXE_saliency"),
            &[][..],
            "saliency of 10 images",
        ),
        (
            env!("CARGO_BIN_EXE_occlusion"),
            &["--patch", "8", "--stride", "4"][..],
            "6x6 positions of a 8x8 square",
        ),
        (
            env!("CARGO_BIN_EXE_tsne"),
            &[
                "--images",
                "60",
                "--perplexity",
                "10",
                "--iterations",
                "300",
            ][..],
            "60 test images",
        ),
        (
            env!("CARGO_BIN_EXE_dream"),
            &["--iterations", "20"][..],
            "class visualisation",
        ),
    ] {
        let png = dir.join(format!("{}.png", bin.rsplit('/').next().unwrap_or("out")));
        let o = Command::new(bin)
            .args(args)
            .arg("--weights")
            .arg(&weights)
            .arg("--out")
            .arg(&png)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{bin}: {stdout}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(stdout.contains(says), "{bin}: {stdout}");
        assert!(png.is_file(), "{bin} wrote no picture");
    }
    // hog-svm writes into a directory, with LeNet's accuracy beside.
    let out = dir.join("hog-svm");
    let o = Command::new(env!("CARGO_BIN_EXE_hog-svm"))
        .args([
            "--train",
            "400",
            "--test",
            "100",
            "--iterations",
            "30",
            "--weights",
        ])
        .arg(&weights)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("linear SVM on HOG") && stdout.contains("LeNet ("),
        "{stdout}"
    );
    assert!(out.join("hog-svm.png").is_file());
    let o = Command::new(env!("CARGO_BIN_EXE_saliency"))
        .args(["--weights", "/nonexistent/model.bpk"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("/nonexistent/model.bpk"), "{err}");
    let o = Command::new(env!("CARGO_BIN_EXE_occlusion"))
        .args(["--patch", "40", "--weights"])
        .arg(&weights)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("patch 40"), "{err}");
}
