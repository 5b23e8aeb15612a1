//! The fault sweep's findings, each fixed: sets smaller than an example
//! assumed, sizes that would abort the process, values that turned a run
//! into NaN, messages that named the wrong flag and pictures written under
//! fixed names. Each case runs a built example and checks its exit code
//! (2: a usage error, 1: a run that stopped) and that stderr names the flag
//! or file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The photograph the image examples read by default.
const CHELSEA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/images/chelsea.jpg");

/// A fresh directory under the system's temporary directory.
fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zoo-faults-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What a run of `exe` with `args` gave: exit code, stdout, stderr.
fn run(exe: &str, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(exe).args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `path` as a flag value.
fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// An IDX file of unsigned bytes (raw, as `FashionMnist::load` reads it).
fn idx(path: &Path, dims: &[u32], data: &[u8]) {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    std::fs::write(path, v).unwrap();
}

/// A Fashion-MNIST folder of `train` training and `test` test images
/// (labels cycling through the ten classes).
fn fashion_dir(name: &str, train: usize, test: usize) -> PathBuf {
    let dir = tmp(name);
    for (prefix, n) in [("train", train), ("t10k", test)] {
        let pixels: Vec<u8> = (0..n * 784).map(|i| (i * 7 % 251) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        idx(
            &dir.join(format!("{prefix}-images-idx3-ubyte")),
            &[n as u32, 28, 28],
            &pixels,
        );
        idx(
            &dir.join(format!("{prefix}-labels-idx1-ubyte")),
            &[n as u32],
            &labels,
        );
    }
    dir
}

/// A LeNet checkpoint trained here once (one epoch on 20 images) for the
/// examples that explain it.
fn lenet_checkpoint() -> &'static Path {
    static CHECKPOINT: OnceLock<PathBuf> = OnceLock::new();
    CHECKPOINT.get_or_init(|| {
        let data = fashion_dir("lenet-data", 20, 10);
        let out = tmp("lenet-run");
        let (code, _, err) = run(
            env!("CARGO_BIN_EXE_lenet"),
            &["--epochs", "1", "--data-dir", s(&data), "--out", s(&out)],
        );
        assert_eq!(code, 0, "{err}");
        let weights = out.join("checkpoints/epoch-0001/model.bpk");
        assert!(weights.is_file());
        weights
    })
}

/// CRC-32 (PNG's chunk checksum).
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A PNG that declares `w x h` grey pixels but holds only a few bytes of
/// them: a decompression bomb's header.
fn bomb_png(path: &Path, w: u32, h: u32) {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let body = [kind, data].concat();
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey, no interlace
    chunk(b"IHDR", &ihdr);
    // zlib: an empty stored block, then its Adler-32.
    chunk(
        b"IDAT",
        &[0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0, 0, 0, 1],
    );
    chunk(b"IEND", &[]);
    std::fs::write(path, png).unwrap();
}

/// Asserts a usage error (exit 2) whose message names each of `says`.
fn refused(exe: &str, args: &[&str], says: &[&str]) -> String {
    let (code, out, err) = run(exe, args);
    assert_eq!(code, 2, "{args:?}: {out}{err}");
    assert!(err.contains("error: "), "{args:?}: {err}");
    for s in says {
        assert!(err.contains(s), "{args:?}: expected {s:?} in {err}");
    }
    err
}

/// Asserts a run that stopped (exit 1) with a message naming each of `says`.
fn stopped(exe: &str, args: &[&str], says: &[&str]) -> String {
    let (code, out, err) = run(exe, args);
    assert_eq!(code, 1, "{args:?}: {out}{err}");
    assert!(err.contains("error: "), "{args:?}: {err}");
    for s in says {
        assert!(err.contains(s), "{args:?}: expected {s:?} in {err}");
    }
    err
}

// 4. Sets smaller than the examples assumed.

/// DCGAN scores its discriminator on the test images there are (3, not
/// 256) and writes its samples.
#[test]
fn dcgan_validates_on_the_test_images_there_are() {
    let data = fashion_dir("dcgan-small", 8, 3);
    let out = tmp("dcgan-small-out");
    let (code, stdout, err) = run(
        env!("CARGO_BIN_EXE_dcgan"),
        &[
            "--data-dir",
            s(&data),
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--width",
            "2",
            "--latent",
            "4",
            "--out",
            s(&out),
        ],
    );
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.contains("on 8 Fashion-MNIST images"), "{stdout}");
    assert!(out.join("samples.png").is_file());
}

/// The VAE pictures the test images there are (3, not 8) after its epoch.
#[test]
fn vae_pictures_the_test_images_there_are() {
    let data = fashion_dir("vae-small", 8, 3);
    let out = tmp("vae-small-out");
    let (code, stdout, err) = run(
        env!("CARGO_BIN_EXE_vae"),
        &[
            "--data-dir",
            s(&data),
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--latent",
            "2",
            "--out",
            s(&out),
        ],
    );
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.contains("(8 training, 3 test images)"), "{stdout}");
    assert!(out.join("reconstruction.png").is_file());
}

/// An empty training or test set is a usage error naming --data-dir (the
/// VAE said its loss became NaN, DCGAN panicked, dream dreamt on nothing).
#[test]
fn empty_sets_are_refused_naming_data_dir() {
    let no_test = fashion_dir("no-test", 8, 0);
    let no_train = fashion_dir("no-train", 0, 3);
    let out = tmp("empty-out");
    let (dcgan, vae) = (env!("CARGO_BIN_EXE_dcgan"), env!("CARGO_BIN_EXE_vae"));
    for (exe, data, part) in [
        (dcgan, &no_test, "test set"),
        (dcgan, &no_train, "training set"),
        (vae, &no_test, "test set"),
        (vae, &no_train, "training set"),
        (env!("CARGO_BIN_EXE_lenet"), &no_test, "test set"),
        (env!("CARGO_BIN_EXE_knn"), &no_test, "test set"),
    ] {
        let mut args = vec!["--data-dir", s(data), "--out", s(&out)];
        if exe != env!("CARGO_BIN_EXE_knn") {
            args.extend(["--epochs", "1"]);
        }
        let err = refused(exe, &args, &["--data-dir", part]);
        assert!(!err.contains("NaN"), "{err}");
    }
    let weights = lenet_checkpoint();
    refused(
        env!("CARGO_BIN_EXE_dream"),
        &[
            "--data-dir",
            s(&no_test),
            "--weights",
            s(weights),
            "--out",
            s(&out.join("dream.png")),
        ],
        &["--data-dir", "test set"],
    );
    assert!(!out.join("dream.png").exists());
}

// 5. Sizes that would abort the process.

/// Sizes no allocation could hold are refused before anything is
/// allocated, naming the flag.
#[test]
fn sizes_beyond_memory_are_refused_naming_the_flag() {
    let huge = "1000000000000";
    for (exe, args, says) in [
        (
            env!("CARGO_BIN_EXE_linear"),
            &["--train", "20", "--test", "5", "--batch-size", huge][..],
            "--batch-size",
        ),
        (
            env!("CARGO_BIN_EXE_linear"),
            &["--iterations", huge][..],
            "--iterations",
        ),
        (
            env!("CARGO_BIN_EXE_hog-svm"),
            &["--iterations", huge][..],
            "--iterations",
        ),
        (
            env!("CARGO_BIN_EXE_edges"),
            &[CHELSEA, "--sigma", huge][..],
            "--sigma",
        ),
        (
            env!("CARGO_BIN_EXE_edges"),
            &["--sigma", "inf"][..],
            "--sigma",
        ),
    ] {
        refused(exe, args, &[says]);
    }
}

/// A small PNG declaring 20,000 x 20,000 pixels is refused from its header
/// by every example that reads a user's image, naming the file, its size
/// and the limit.
#[test]
fn an_image_bomb_is_refused_naming_its_size() {
    let dir = tmp("bomb");
    let bomb = dir.join("bomb.png");
    bomb_png(&bomb, 20_000, 20_000);
    let says = ["bomb.png", "20000x20000", "16384"];
    refused(
        env!("CARGO_BIN_EXE_edges"),
        &[s(&bomb), "--out", s(&dir.join("edges.png"))],
        &says,
    );
    refused(
        env!("CARGO_BIN_EXE_augment"),
        &[s(&bomb), "--out", s(&dir.join("augment.png"))],
        &says,
    );
    refused(
        env!("CARGO_BIN_EXE_style-transfer"),
        &["--content", s(&bomb), "--style", CHELSEA],
        &says,
    );
    // Within each side's limit, too many pixels all the same.
    let wide = dir.join("wide.png");
    bomb_png(&wide, 16_000, 16_000);
    refused(
        env!("CARGO_BIN_EXE_edges"),
        &[s(&wide), "--out", s(&dir.join("edges.png"))],
        &["wide.png", "16000x16000", "67108864"],
    );
    assert!(!dir.join("edges.png").exists());
}

// 6. Nonsense that exited 0.

/// A loss that becomes NaN or infinite stops the linear classifiers with
/// an error naming the flag to lower, and no picture is written.
#[test]
fn diverging_linear_classifiers_stop_naming_the_flag() {
    let out = tmp("linear-nan");
    let small = ["--train", "50", "--test", "10", "--iterations", "20"];
    for (flag, value) in [("--lr", "1e30"), ("--reg", "1e30")] {
        let mut args = small.to_vec();
        args.extend([flag, value, "--batch-size", "10", "--out", s(&out)]);
        stopped(
            env!("CARGO_BIN_EXE_linear"),
            &args,
            &[flag, "became", "lower"],
        );
    }
    assert!(!out.join("linear.png").exists());
    let mut args = small.to_vec();
    args.extend(["--lr", "1e30", "--out", s(&out)]);
    stopped(
        env!("CARGO_BIN_EXE_hog-svm"),
        &args,
        &["--lr", "became", "lower"],
    );
    assert!(!out.join("hog-svm.png").exists());
}

/// Counts and thresholds that make no sense are usage errors naming their
/// flag (knn reported `0 / 0 = NaN`, tsne plotted its random start, edges
/// took thresholds outside the grey levels).
#[test]
fn nonsense_values_are_refused_naming_the_flag() {
    for (exe, args, says) in [
        (env!("CARGO_BIN_EXE_knn"), &["--test", "0"][..], "--test 0"),
        (
            env!("CARGO_BIN_EXE_tsne"),
            &["--iterations", "0", "--pixels"][..],
            "--iterations 0",
        ),
        (env!("CARGO_BIN_EXE_edges"), &["--low=-1"][..], "--low"),
        (
            env!("CARGO_BIN_EXE_edges"),
            &["--high", "NaN"][..],
            "--high",
        ),
        (env!("CARGO_BIN_EXE_edges"), &["--high", "2"][..], "--high"),
        (
            env!("CARGO_BIN_EXE_edges"),
            &["--low", "0.5", "--high", "0.2"][..],
            "--low",
        ),
    ] {
        refused(exe, args, &[says]);
    }
}

/// A class visualisation that turns NaN stops with an error naming --l2,
/// and no (black) picture is written; an --l2 past float32 (the issue's
/// 1e300) is refused before any work.
#[test]
fn dream_stops_on_a_nan_image_naming_l2() {
    let dir = tmp("dream-nan");
    let png = dir.join("dream.png");
    refused(
        env!("CARGO_BIN_EXE_dream"),
        &["--l2", "1e300", "--out", s(&png)],
        &["--l2 1e300", "float32"],
    );
    stopped(
        env!("CARGO_BIN_EXE_dream"),
        &[
            "--l2",
            "3e38",
            "--iterations",
            "4",
            "--weights",
            s(lenet_checkpoint()),
            "--out",
            s(&png),
        ],
        &["--l2", "non-finite"],
    );
    assert!(!png.exists());
}

// 7. Messages that named the wrong flag; pictures under fixed names.

/// Each error names the flag that was given, not a neighbour.
#[test]
fn errors_name_the_flag_that_was_given() {
    let err = refused(env!("CARGO_BIN_EXE_gan"), &["--lr-d", "NaN"], &["--lr-d"]);
    assert!(!err.contains("--lr:"), "{err}");
    let err = refused(
        env!("CARGO_BIN_EXE_linear"),
        &["--iterations", "0"],
        &["--iterations 0"],
    );
    assert!(!err.contains("--epochs"), "{err}");
    let err = refused(
        env!("CARGO_BIN_EXE_hog-svm"),
        &["--iterations", "0"],
        &["--iterations 0"],
    );
    assert!(!err.contains("--epochs"), "{err}");
    let err = refused(
        env!("CARGO_BIN_EXE_rnn"),
        &["--valid-tokens", "0"],
        &["--valid-tokens 0"],
    );
    assert!(!err.contains("--max-tokens"), "{err}");
}

/// hog-svm loads --weights before it trains: a missing file is refused at
/// once, naming it, with no SVM trained.
#[test]
fn hog_svm_checks_its_weights_first() {
    let dir = tmp("hog-weights");
    let missing = dir.join("missing.bpk");
    let (code, stdout, err) = run(
        env!("CARGO_BIN_EXE_hog-svm"),
        &["--weights", s(&missing), "--out", s(&dir)],
    );
    assert_eq!(code, 2, "{stdout}{err}");
    assert!(err.contains("missing.bpk"), "{err}");
    assert!(!stdout.contains("linear SVM"), "{stdout}");
}

/// saliency and tsne name their second picture after --out's stem, so that
/// a file named `filters.png` or `neighbours.png` beside it is left alone.
#[test]
fn second_pictures_are_named_after_out() {
    let dir = tmp("second-pictures");
    for name in ["filters.png", "neighbours.png"] {
        std::fs::write(dir.join(name), b"the user's file").unwrap();
    }
    let (code, stdout, err) = run(
        env!("CARGO_BIN_EXE_saliency"),
        &[
            "--weights",
            s(lenet_checkpoint()),
            "--out",
            s(&dir.join("maps.png")),
        ],
    );
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(dir.join("maps.png").is_file());
    assert!(dir.join("maps-filters.png").is_file(), "{stdout}");
    let (code, stdout, err) = run(
        env!("CARGO_BIN_EXE_tsne"),
        &[
            "--pixels",
            "--images",
            "30",
            "--perplexity",
            "5",
            "--iterations",
            "50",
            "--out",
            s(&dir.join("embedding.png")),
        ],
    );
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(dir.join("embedding.png").is_file());
    assert!(dir.join("embedding-neighbours.png").is_file(), "{stdout}");
    for name in ["filters.png", "neighbours.png"] {
        assert_eq!(std::fs::read(dir.join(name)).unwrap(), b"the user's file");
    }
}
