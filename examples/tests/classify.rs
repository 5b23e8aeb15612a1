//! The `classify` example end to end against torchvision: the photos in
//! `assets/images` through torchvision's whole pipeline (PIL decode,
//! `weights.transforms()` of the DEFAULT weights, the model in eval mode,
//! softmax, top 5), expected output in `tests/data/classify_e2e.json`
//! written by `scripts/make_classify_e2e.py`. The weights are a
//! deterministic formula of each `state_dict` key and element (the script's
//! docstring), computed here bit for bit, written as a `.safetensors` and
//! given to `classify --weights`: the same top-5 indices, probabilities
//! within 1e-4, on every device. And the bad inputs of the issue, each a
//! usage error (exit 2) naming the file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn::tensor::TensorData;
use zoo_models::registry;
use zoo_models::weights::{StateDict, export_state_dict};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zoo-classify-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn fnv1a64(key: &str) -> u64 {
    key.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// `u` in [0, 1) of element `i` of `key` (the script's `uniform`).
fn uniform(h: u64, i: u64) -> f32 {
    let mut z = h ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 40) as f32 / (1u32 << 24) as f32
}

/// The script's `formula`: the value of every element of `key`.
fn formula(key: &str, shape: &[usize], head: &str) -> Vec<f32> {
    let h = fnv1a64(key);
    let n: usize = shape.iter().product();
    let bound = (shape.len() >= 2).then(|| {
        let fan_in: usize = shape[1..].iter().product();
        let gain = if key == format!("{head}weight") {
            16.0
        } else {
            1.0
        };
        (gain * (6.0 / fan_in as f64).sqrt()) as f32
    });
    (0..n as u64)
        .map(|i| {
            let u = uniform(h, i);
            let v = u * 2.0 - 1.0;
            match bound {
                Some(b) => v * b,
                None if key.ends_with("running_var") => u * 0.5 + 1.0,
                None if key.ends_with("running_mean") => v * 0.1,
                None if key == format!("{head}bias") => v,
                None if key.ends_with("weight") => v * 0.25 + 0.5,
                None => v * 0.1,
            }
        })
        .collect()
}

fn flex() -> burn::tensor::Device {
    zoo_device::resolve(Some("flex"), "flex")
        .unwrap()
        .device()
        .unwrap()
}

/// Writes `name`'s formula weights (torchvision's keys and shapes) to `path`.
fn formula_weights(name: &str, path: &Path) {
    let device = flex();
    let info = registry::info(name).unwrap();
    let model = registry::create(name, &info.weights_args(), &device).unwrap();
    let sd = export_state_dict(&model, &|p| Some(model.torchvision_key(p)));
    let head = format!("{}.", model.torchvision_key(model.head_prefixes()[0]));
    save_formula(&sd, &head, path);
}

/// The formula's values for every key of `sd`, written to `path`.
fn save_formula(sd: &StateDict, head: &str, path: &Path) {
    let mut out = StateDict::new();
    for key in sd.keys() {
        let shape = sd.get(key).unwrap().shape().to_vec();
        let values = formula(key, &shape, head);
        out.insert(key, TensorData::new(values, shape));
    }
    out.save_safetensors(path).unwrap();
}

fn classify(args: &[&str], paths: &[&Path]) -> Output {
    example(env!("CARGO_BIN_EXE_classify"), args, paths)
}

fn example(exe: &str, args: &[&str], paths: &[&Path]) -> Output {
    let mut c = Command::new(exe);
    c.args(args).args(paths).env("ZOO_HOME", tmp("home"));
    c.output().unwrap()
}

#[test]
fn classify_prints_what_torchvision_prints() {
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/tests/data/classify_e2e.json")).unwrap(),
    )
    .unwrap();
    let dir = tmp("e2e");
    let images = root().join("assets/images");
    for (name, want) in expected["models"].as_object().unwrap() {
        let weights = dir.join(format!("{name}.safetensors"));
        formula_weights(name, &weights);
        let want = want["top5"].as_array().unwrap();
        // Batches of 1 and 2 on flex; the other devices at 2 (lavapipe
        // takes a minute a ResNet-50 run).
        for (device, batch) in [
            ("flex", "1"),
            ("flex", "2"),
            ("ndarray", "2"),
            ("wgpu", "2"),
        ] {
            {
                let png = dir.join(format!("{name}-{device}-{batch}.png"));
                let o = classify(
                    &[
                        "--model",
                        name,
                        "--json",
                        "--device",
                        device,
                        "--batch-size",
                        batch,
                        "--out",
                    ],
                    &[&png, Path::new("--weights"), &weights, &images],
                );
                assert!(o.status.success(), "{}", text(&o));
                assert!(png.is_file(), "{name} on {device}: no picture");
                let got: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                assert_eq!(got.len(), want.len(), "{}", text(&o));
                for (g, w) in got.iter().zip(want) {
                    let file = g["file"].as_str().unwrap();
                    assert!(file.ends_with(w["file"].as_str().unwrap()), "{file}");
                    for (gt, wt) in g["top"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .zip(w["top"].as_array().unwrap())
                    {
                        assert_eq!(
                            gt["index"], wt["index"],
                            "{name} {device} {file}: {g} vs {w}"
                        );
                        assert_eq!(gt["label"], wt["label"]);
                        let (gp, wp) = (gt["prob"].as_f64().unwrap(), wt["prob"].as_f64().unwrap());
                        assert!(
                            (gp - wp).abs() < 1e-4,
                            "{name} on {device}, {file}: prob {gp}, torchvision {wp}"
                        );
                    }
                }
            }
        }
    }
}

/// `segment` against torchvision's `fcn_resnet50` (formula weights, the
/// main head's weight spread as the classifiers'): the class of each
/// pixel equal on at least 99.9% of the pixels, and the shares of the
/// classes present within 1e-3, on flex and ndarray. On wgpu without a GPU
/// (lavapipe) the two 520-pixel images take over 15 minutes of one core,
/// so the test runs there only with `ZOO_SEGMENT_WGPU=1` (the FCN's forward
/// is checked on wgpu by the parity cases of cases2).
#[test]
fn segment_gives_torchvision_classes() {
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/tests/data/classify_e2e.json")).unwrap(),
    )
    .unwrap();
    let dir = tmp("segment");
    let images = root().join("assets/images");
    for (name, want) in expected["segment"].as_object().unwrap() {
        let depth = if name == "fcn_resnet50" { 50 } else { 101 };
        let model = zoo_models::fcn::FcnConfig::new(depth)
            .with_num_classes(21)
            .with_aux_loss(true)
            .init(&flex());
        let sd = export_state_dict(&model, &|p| Some(zoo_models::fcn::Fcn::torch_key(p)));
        let weights = dir.join(format!("{name}.safetensors"));
        save_formula(&sd, "classifier.4.", &weights);
        let want = want["maps"].as_array().unwrap();
        let wgpu = std::env::var("ZOO_SEGMENT_WGPU").is_ok_and(|v| v == "1");
        let devices: &[&str] = if wgpu {
            &["flex", "ndarray", "wgpu"]
        } else {
            &["flex", "ndarray"]
        };
        for &device in devices {
            let png = dir.join(format!("{name}-{device}.png"));
            let masks = dir.join(format!("{name}-{device}-masks"));
            let o = example(
                env!("CARGO_BIN_EXE_segment"),
                &["--model", name, "--json", "--device", device, "--masks"],
                &[
                    &masks,
                    Path::new("--out"),
                    &png,
                    Path::new("--weights"),
                    &weights,
                    &images,
                ],
            );
            assert!(o.status.success(), "{}", text(&o));
            assert!(png.is_file(), "{name} on {device}: no picture");
            let got: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(got.len(), want.len(), "{}", text(&o));
            for (g, w) in got.iter().zip(want) {
                let file = g["file"].as_str().unwrap();
                assert!(file.ends_with(w["file"].as_str().unwrap()), "{file}");
                let (gc, wc) = (
                    g["classes"].as_object().unwrap(),
                    w["classes"].as_object().unwrap(),
                );
                assert_eq!(
                    gc.keys().collect::<Vec<_>>(),
                    wc.keys().collect::<Vec<_>>(),
                    "{name} on {device}, {file}: {g} vs {w}"
                );
                for (k, v) in wc {
                    let (gs, ws) = (gc[k].as_f64().unwrap(), v.as_f64().unwrap());
                    assert!(
                        (gs - ws).abs() < 1e-3,
                        "{name} on {device}, {file}: {k} {gs}, torchvision {ws}"
                    );
                }
                // The argmax of torchvision's scores, pixel by pixel.
                let want_map = image::open(
                    root()
                        .join("examples/tests/data")
                        .join(w["classes_png"].as_str().unwrap()),
                )
                .unwrap()
                .to_luma8();
                let stem = Path::new(file)
                    .file_stem()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let got_map = image::open(masks.join(format!("{stem}.png")))
                    .unwrap()
                    .to_luma8();
                assert_eq!(got_map.dimensions(), want_map.dimensions(), "{file}");
                let differ = got_map
                    .pixels()
                    .zip(want_map.pixels())
                    .filter(|(a, b)| a != b)
                    .count();
                let pixels = (want_map.width() * want_map.height()) as f64;
                assert!(
                    differ as f64 / pixels <= 1e-3,
                    "{name} on {device}, {file}: {differ} of {pixels} pixels differ"
                );
            }
        }
    }
}

/// The bad inputs of the issue: each a usage error (exit 2) whose message
/// names what was wrong; a 1x1 image is classified, as torchvision's preset
/// resizes it like any other.
#[test]
fn bad_inputs_are_named() {
    let dir = tmp("bad");
    let chelsea = root().join("assets/images/chelsea.jpg");
    let weights = dir.join("resnet18.safetensors");
    formula_weights("resnet18", &weights);
    let png = dir.join("out.png");
    let refused = |args: &[&str], paths: &[&Path], says: &[&str]| {
        let o = classify(args, paths);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        for s in says {
            assert!(err.contains(s), "expected `{s}` in: {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
    };
    // An unknown model lists the close names.
    refused(
        &["--model", "resnet5"],
        &[&chelsea],
        &["resnet5", "resnet50"],
    );
    // Weights of another architecture: the first key whose shape differs.
    refused(
        &["--model", "resnet50", "--weights"],
        &[&weights, &chelsea],
        &[
            "resnet18.safetensors",
            "layer1.0.conv1.weight",
            "[64, 64, 3, 3]",
        ],
    );
    // Not an image; a folder without images; a file that is not there.
    let text_file = dir.join("notes.jpg");
    std::fs::write(&text_file, b"not a picture").unwrap();
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for (path, says) in [
        (&text_file, "notes.jpg"),
        (&empty, "no images"),
        (&dir.join("missing.png"), "missing.png"),
    ] {
        refused(
            &["--model", "resnet18", "--out"],
            &[&png, Path::new("--weights"), &weights, path],
            &[says],
        );
    }
    // Offline without the file in the cache: the URL and where to put it.
    refused(
        &["--model", "resnet18", "--offline", "--out"],
        &[&png, &chelsea],
        &[
            "https://download.pytorch.org/models/resnet18-f37072fd.pth",
            "weights/resnet18-f37072fd.pth",
        ],
    );
    // A 1x1 image is resized to 256 and cropped, as torchvision does.
    let one = dir.join("one.png");
    image::RgbImage::from_pixel(1, 1, image::Rgb([200, 30, 90]))
        .save(&one)
        .unwrap();
    let o = classify(
        &["--model", "resnet18", "--json", "--out"],
        &[&png, Path::new("--weights"), &weights, &one],
    );
    assert!(o.status.success(), "{}", text(&o));
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
    assert_eq!(line["top"].as_array().unwrap().len(), 5);
}
