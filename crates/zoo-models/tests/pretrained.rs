//! The weights API against torchvision's published values and a loopback
//! HTTP server started inside the test (std's `TcpListener`, honouring
//! `Range`): the category lists against `torchvision/models/_meta.py`, the
//! entries against the `*_Weights` enums of torchvision 0.29.2 and the
//! registry's metadata, the cache's downloads (first fetch, cache hit,
//! resume, corruption, offline), and loading a user's file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use zoo_models::pretrained::categories::{COCO, IMAGENET, VOC};
use zoo_models::pretrained::hub::{self, FetchOptions, HubError};
use zoo_models::pretrained::{
    self, Categories, Interpolation, Metrics, PresetSpec, PretrainedError, WeightsEntry,
};
use zoo_models::registry::{self, ModelArgs};
use zoo_models::weights::export_state_dict;

fn device() -> Device {
    zoo_device::from_name("flex").unwrap()
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zoo-pretrained-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

// ---------------------------------------------------------------- categories

#[test]
fn category_lists_are_torchvisions() {
    // len(_IMAGENET_CATEGORIES), len(_COCO_CATEGORIES), len(_VOC_CATEGORIES).
    assert_eq!(IMAGENET.len(), 1000);
    assert_eq!(COCO.len(), 91);
    assert_eq!(VOC.len(), 21);
    for (i, name) in [
        (0, "tench"),
        (1, "goldfish"),
        (281, "tabby"),
        (285, "Egyptian cat"),
        (999, "toilet tissue"),
    ] {
        assert_eq!(IMAGENET[i], name, "ImageNet {i}");
    }
    assert_eq!(&COCO[..4], ["__background__", "person", "bicycle", "car"]);
    assert_eq!(COCO[90], "toothbrush");
    // The ids COCO leaves unused.
    let na: Vec<usize> = (0..91).filter(|&i| COCO[i] == "N/A").collect();
    assert_eq!(na, [12, 26, 29, 30, 45, 66, 68, 69, 71, 83]);
    assert_eq!(VOC[0], "__background__");
    assert_eq!(VOC[15], "person");
    assert_eq!(VOC[20], "tvmonitor");
    assert_eq!(Categories::Voc.names().len(), 21);
}

// ------------------------------------------------------------------- entries

#[test]
fn entries_carry_torchvisions_numbers() {
    let v1 = pretrained::get_weight("ResNet50_Weights.IMAGENET1K_V1").unwrap();
    let v2 = pretrained::get_weight("ResNet50_Weights.IMAGENET1K_V2").unwrap();
    assert_eq!(
        v1.url,
        "https://download.pytorch.org/models/resnet50-0676ba61.pth"
    );
    assert_eq!(v1.sha256_prefix, "0676ba61");
    assert_eq!(
        v1.metrics,
        Metrics::ImageNet {
            acc1: 76.13,
            acc5: 92.862
        }
    );
    assert_eq!(v2.metrics.get("acc@1"), Some(80.858));
    assert_eq!(v2.metrics.get("acc@5"), Some(95.434));
    assert_eq!((v1.num_params, v2.num_params), (25_557_032, 25_557_032));
    assert_eq!(
        (v1.gflops, v1.file_size_mb, v2.file_size_mb),
        (4.089, 97.781, 97.79)
    );
    assert_eq!(v1.min_size, [1, 1]);
    let imagenet = |crop_size, resize_size| PresetSpec::Classification {
        crop_size,
        resize_size,
        interpolation: Interpolation::Bilinear,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
    };
    assert_eq!(v1.preset, imagenet(224, 256));
    assert_eq!(v2.preset, imagenet(224, 232));
    assert_eq!(
        v2.recipe,
        Some("https://github.com/pytorch/vision/issues/3995#issuecomment-1013906621")
    );
    assert!(v2.is_default() && !v1.is_default());
    assert_eq!(v1.categories, Some(Categories::ImageNet1k));

    let inception = pretrained::default_weights("inception_v3").unwrap();
    assert_eq!(inception.preset, imagenet(299, 342));
    assert_eq!(inception.min_size, [75, 75]);
    assert_eq!(inception.metrics.get("acc@1"), Some(77.294));

    let alexnet = pretrained::default_weights("alexnet").unwrap();
    assert_eq!(alexnet.sha256_prefix, "7be5be79");
    assert_eq!(alexnet.min_size, [63, 63]);

    // VGG-16's second member: feature-only weights, no categories, NaN metrics.
    let vgg16 = pretrained::weights("vgg16").unwrap();
    let tags: Vec<&str> = vgg16.iter().map(|e| e.tag).collect();
    assert_eq!(tags, ["IMAGENET1K_V1", "IMAGENET1K_FEATURES"]);
    let features = &vgg16[1];
    assert_eq!(features.categories, None);
    assert!(features.metrics.get("acc@1").unwrap().is_nan());
    assert!(matches!(
        features.preset,
        PresetSpec::Classification { mean: [0.48235, 0.45882, 0.40784], std, .. }
            if std == [1.0 / 255.0; 3]
    ));

    let fcn = pretrained::default_weights("fcn_resnet50").unwrap();
    assert_eq!(fcn.name(), "FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1");
    assert_eq!(
        fcn.metrics,
        Metrics::CocoVoc {
            miou: 60.5,
            pixel_acc: 91.4
        }
    );
    assert_eq!(fcn.num_params, 35_322_218);
    assert_eq!(fcn.gflops, 152.717);
    assert_eq!(fcn.categories, Some(Categories::Voc));
    assert_eq!(fcn.category_names()[15], "person");
    assert!(matches!(
        fcn.preset,
        PresetSpec::Segmentation {
            resize_size: Some(520),
            ..
        }
    ));
    assert_eq!(
        pretrained::default_weights("fcn_resnet101")
            .unwrap()
            .metrics
            .get("miou"),
        Some(63.7)
    );
}

#[test]
fn v2_members_are_those_torchvision_publishes() {
    // Models whose enum has IMAGENET1K_V2 (and it is their DEFAULT).
    let with_v2: Vec<&str> = pretrained::models()
        .filter(|m| pretrained::weights(m).unwrap().len() == 2 && !m.starts_with("vgg"))
        .collect();
    assert_eq!(
        with_v2,
        [
            "resnet50",
            "resnet101",
            "resnet152",
            "resnext50_32x4d",
            "resnext101_32x8d",
            "wide_resnet50_2",
            "wide_resnet101_2"
        ]
    );
    for m in &with_v2 {
        assert_eq!(pretrained::default_weights(m).unwrap().tag, "IMAGENET1K_V2");
    }
    assert_eq!(pretrained::all().count(), 38);
}

#[test]
fn every_registered_model_with_weights_has_its_entries_and_agrees_with_the_registry() {
    let with_weights: Vec<_> = registry::list()
        .into_iter()
        .filter(|m| m.weights.is_some())
        .collect();
    let classifiers: Vec<&str> = pretrained::models()
        .filter(|m| !m.starts_with("fcn_") && !m.contains("rcnn"))
        .collect();
    let registered: Vec<&str> = with_weights.iter().map(|m| m.name).collect();
    assert_eq!(classifiers, registered);
    for info in &with_weights {
        let w = info.weights.unwrap();
        let v1 = pretrained::weight(info.name, "IMAGENET1K_V1").unwrap();
        assert_eq!(v1.url, w.url, "{}", info.name);
        assert_eq!(v1.sha256_prefix, w.sha256_prefix, "{}", info.name);
        assert_eq!(v1.num_params, w.num_params, "{}", info.name);
        assert_eq!(v1.gflops, w.gflops, "{}", info.name);
        assert_eq!(v1.metrics.get("acc@1"), Some(w.acc1), "{}", info.name);
        assert_eq!(v1.metrics.get("acc@5"), Some(w.acc5), "{}", info.name);
        assert_eq!(v1.file_size_mb, w.file_mb, "{}", info.name);
        assert_eq!(v1.min_size, [info.min_size; 2], "{}", info.name);
        assert_eq!(v1.num_classes(), Some(info.num_classes), "{}", info.name);
        if let PresetSpec::Classification { crop_size, .. } = v1.preset {
            assert_eq!([3, crop_size, crop_size], info.input, "{}", info.name);
        }
    }
    for w in zoo_models::fcn::FCN_WEIGHTS {
        let e = pretrained::default_weights(w.name).unwrap();
        assert_eq!(
            (e.url, e.num_params, e.metrics),
            (
                w.url,
                w.num_params,
                Metrics::CocoVoc {
                    miou: w.miou,
                    pixel_acc: w.pixel_acc
                }
            )
        );
    }
}

#[test]
fn unknown_names_list_the_close_ones() {
    let e = pretrained::weights("resnet5").unwrap_err();
    assert!(matches!(&e, PretrainedError::UnknownModel { close, .. } if close[0] == "resnet50"));
    assert!(e.to_string().contains("did you mean resnet50"), "{e}");
    let e = pretrained::resolve("vgg19bn").unwrap_err();
    assert!(e.to_string().contains("vgg19_bn"), "{e}");
    let e = pretrained::get_weight("Resnet50_Weights.IMAGENET1K_V1").unwrap_err();
    assert!(e.to_string().contains("ResNet50_Weights"), "{e}");
    let e = pretrained::resolve("resnet18.IMAGENET1K_V2").unwrap_err();
    assert!(
        e.to_string().contains("IMAGENET1K_V1") && e.to_string().contains("IMAGENET1K_V2"),
        "{e}"
    );
    let e = pretrained::load_classifier("fcn_resnet50", &device()).unwrap_err();
    assert!(e.to_string().contains("load_fcn"), "{e}");
}

// --------------------------------------------------------------------- cache

/// The served file: `(i * 31 + 7) % 251` for 300,000 bytes. Its SHA-256
/// (python's hashlib):
const BODY_SHA256: &str = "b2aa5e3af4c585ab3845f438c284ba8b277ca8c13130a06435e7deaa3c5680d4";

fn body() -> Vec<u8> {
    (0..300_000u32)
        .map(|i| ((i * 31 + 7) % 251) as u8)
        .collect()
}

/// A weights entry for the served file, named as torchvision names its
/// files (the SHA-256 prefix after the last `-`).
const FIXTURE: WeightsEntry = WeightsEntry {
    model: "fixture",
    enum_name: "Fixture_Weights",
    tag: "TEST_V1",
    url: "https://download.example.invalid/models/fixture-b2aa5e3a.pth",
    sha256_prefix: "b2aa5e3a",
    preset: PresetSpec::Detection,
    categories: None,
    metrics: Metrics::Coco {
        box_map: 0.0,
        mask_map: None,
    },
    num_params: 0,
    gflops: 0.0,
    file_size_mb: 0.3,
    min_size: [1, 1],
    recipe: None,
};

fn options(dir: &Path, mirror: Option<&str>) -> FetchOptions {
    FetchOptions {
        dir: Some(dir.to_path_buf()),
        mirror: mirror.map(str::to_string),
        offline: false,
        progress: false,
        retries: 1,
        backoff: Duration::from_millis(10),
        read_timeout: Duration::from_secs(10),
    }
}

#[test]
fn a_cached_file_is_used_offline_and_a_missing_one_names_the_url_and_path() {
    let dir = temp_dir("offline");
    let offline = FetchOptions {
        offline: true,
        ..options(&dir, None)
    };
    let want = dir.join("fixture-b2aa5e3a.pth");
    let e = hub::fetch(&FIXTURE, &offline).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, HubError::Unavailable { .. }), "{e:?}");
    assert!(text.contains(FIXTURE.url), "{text}");
    assert!(text.contains(&want.display().to_string()), "{text}");
    assert!(text.contains("b2aa5e3a"), "{text}");
    // The published entries too: torchvision's URL and the cache's path.
    let resnet = pretrained::get_weight("ResNet18_Weights.IMAGENET1K_V1").unwrap();
    let e = hub::fetch(resnet, &offline).unwrap_err().to_string();
    assert!(
        e.contains("https://download.pytorch.org/models/resnet18-f37072fd.pth"),
        "{e}"
    );
    assert!(
        e.contains(&dir.join("resnet18-f37072fd.pth").display().to_string()),
        "{e}"
    );
    // Put there, the file is the cache's answer, with no network.
    std::fs::write(&want, body()).unwrap();
    assert_eq!(hub::fetch(&FIXTURE, &offline).unwrap(), want);
    assert_eq!(hub::sha256_file(&want).unwrap(), BODY_SHA256);
    // A file there that is not the published one is refused, both checksums named.
    std::fs::write(&want, b"not the weights").unwrap();
    let e = hub::fetch(&FIXTURE, &offline).unwrap_err();
    assert!(
        matches!(&e, HubError::Checksum { expected, got, .. } if expected == "b2aa5e3a" && got.len() == 64),
        "{e:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_cache_is_zoo_home_or_the_platform_cache() {
    let dir = hub::cache_dir();
    assert!(dir.ends_with("weights"), "{}", dir.display());
    match std::env::var_os(hub::HOME_VAR) {
        Some(home) if !home.is_empty() => assert_eq!(dir, PathBuf::from(home).join("weights")),
        _ => assert!(dir.ends_with("zoo/weights"), "{}", dir.display()),
    }
}

#[cfg(feature = "download")]
mod downloads {
    use super::*;
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    /// The SHA-256 of the served file with its middle byte XOR 0x55
    /// (python's hashlib).
    const ALTERED_SHA256: &str = "81fbbad718238193491f1f8b9bbdd6c2f60a58e570efac81e00d44597d0d9bcc";

    #[derive(Clone, Copy, PartialEq)]
    enum Behaviour {
        Honest,
        /// One byte in the middle of the file is flipped.
        Altered,
    }

    /// (path, range start) of every request.
    type Log = Mutex<Vec<(String, Option<u64>)>>;

    struct Server {
        base: String,
        log: Arc<Log>,
    }

    impl Server {
        fn requests(&self) -> Vec<(String, Option<u64>)> {
            self.log.lock().unwrap().clone()
        }
    }

    fn serve(behaviour: Behaviour) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/mirror/", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let files: Arc<HashMap<String, Vec<u8>>> =
            Arc::new([(FIXTURE.file_name().to_string(), body())].into());
        let thread_log = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (files, log) = (files.clone(), thread_log.clone());
                std::thread::spawn(move || handle(stream, &files, behaviour, &log));
            }
        });
        Server { base, log }
    }

    fn handle(
        mut stream: TcpStream,
        files: &HashMap<String, Vec<u8>>,
        behaviour: Behaviour,
        log: &Log,
    ) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut first = String::new();
        if reader.read_line(&mut first).is_err() {
            return;
        }
        let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut range = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                range = v.trim().trim_end_matches('-').parse::<u64>().ok();
            }
        }
        log.lock().unwrap().push((path.clone(), range));
        let Some(body) = files.get(path.trim_start_matches("/mirror/")) else {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        };
        let mut body = body.clone();
        if behaviour == Behaviour::Altered {
            let mid = body.len() / 2;
            body[mid] ^= 0x55;
        }
        let start = range.unwrap_or(0) as usize;
        let (status, part) = if start > 0 {
            (
                format!(
                    "206 Partial Content\r\nContent-Range: bytes {start}-{}/{}",
                    body.len() - 1,
                    body.len()
                ),
                &body[start..],
            )
        } else {
            ("200 OK".to_string(), &body[..])
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n",
            part.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(part);
    }

    #[test]
    fn the_first_fetch_downloads_and_verifies_the_second_is_a_cache_hit() {
        let server = serve(Behaviour::Honest);
        let dir = temp_dir("first");
        let opts = options(&dir, Some(&server.base));
        let path = hub::fetch(&FIXTURE, &opts).unwrap();
        assert_eq!(path, dir.join("fixture-b2aa5e3a.pth"));
        assert_eq!(hub::sha256_file(&path).unwrap(), BODY_SHA256);
        assert_eq!(
            server.requests(),
            [("/mirror/fixture-b2aa5e3a.pth".to_string(), None)]
        );
        assert!(!hub::partial_path(&path).exists());
        // The second fetch asks nothing of the server.
        assert_eq!(hub::fetch(&FIXTURE, &opts).unwrap(), path);
        assert_eq!(server.requests().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_truncated_part_is_resumed_with_a_range_request() {
        let server = serve(Behaviour::Honest);
        let dir = temp_dir("resume");
        let path = dir.join(FIXTURE.file_name());
        std::fs::write(hub::partial_path(&path), &body()[..100_000]).unwrap();
        let got = hub::fetch(&FIXTURE, &options(&dir, Some(&server.base))).unwrap();
        assert_eq!(got, path);
        assert_eq!(
            server.requests(),
            [("/mirror/fixture-b2aa5e3a.pth".to_string(), Some(100_000))]
        );
        assert_eq!(hub::sha256_file(&path).unwrap(), BODY_SHA256);
        assert!(!hub::partial_path(&path).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_corrupted_download_is_refused_naming_both_checksums_and_nothing_is_kept() {
        let server = serve(Behaviour::Altered);
        let dir = temp_dir("corrupt");
        let path = dir.join(FIXTURE.file_name());
        // A stale wrong file under the final name goes too.
        std::fs::write(&path, b"stale").unwrap();
        let e = hub::fetch(&FIXTURE, &options(&dir, Some(&server.base))).unwrap_err();
        let text = e.to_string();
        match &e {
            HubError::Checksum { expected, got, .. } => {
                assert_eq!(expected, "b2aa5e3a");
                assert_eq!(got, ALTERED_SHA256);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            text.contains("b2aa5e3a") && text.contains(ALTERED_SHA256),
            "{text}"
        );
        assert!(text.contains(&server.base), "{text}");
        assert!(!path.exists());
        assert!(!hub::partial_path(&path).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_download_names_the_url_and_the_path() {
        // A port nothing listens on.
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mirror = format!("http://127.0.0.1:{port}/models");
        let dir = temp_dir("refused");
        let e = hub::fetch(&FIXTURE, &options(&dir, Some(&mirror))).unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, HubError::Unavailable { .. }), "{e:?}");
        assert!(
            text.contains(&format!("{mirror}/fixture-b2aa5e3a.pth")),
            "{text}"
        );
        assert!(
            text.contains(&dir.join("fixture-b2aa5e3a.pth").display().to_string()),
            "{text}"
        );
        // A server without the file: its status.
        let server = serve(Behaviour::Honest);
        let missing = WeightsEntry {
            url: "https://download.example.invalid/models/other-0123abcd.pth",
            sha256_prefix: "0123abcd",
            ..FIXTURE
        };
        let e = hub::fetch(&missing, &options(&dir, Some(&server.base)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("404") && e.contains("other-0123abcd.pth"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

// ------------------------------------------------------------------- loading

#[test]
fn a_users_file_loads_with_its_class_count_and_another_architecture_is_named() {
    let d = device();
    let args = ModelArgs {
        num_classes: Some(10),
        ..ModelArgs::default()
    };
    let trained = registry::create("resnet18", &args, &d).unwrap();
    let sd = export_state_dict(&trained, &|p| Some(trained.torchvision_key(p)));
    let dir = temp_dir("user");
    let path = dir.join("resnet18-10.safetensors");
    sd.save_safetensors(&path).unwrap();

    let loaded = pretrained::load_classifier_file("resnet18", &path, &d).unwrap();
    assert!(loaded.entry.is_none() && loaded.categories.is_empty());
    let x = Tensor::<4>::random([2, 3, 64, 64], Distribution::Uniform(0.0, 1.0), &d);
    let want = trained.valid().forward(x.clone());
    let got = loaded.model.valid().forward(x);
    assert_eq!(got.dims(), [2, 10]);
    let diff: f32 = (want - got).abs().max().into_scalar::<f32>();
    assert!(diff < 1e-5, "{diff}");

    // ResNet-18's file into ResNet-50: the first key whose shape differs.
    let e = pretrained::load_classifier_file("resnet50", &path, &d).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("layer1.0.conv1.weight"), "{text}");
    assert!(
        text.contains("[64, 64, 3, 3]") && text.contains("[64, 64, 1, 1]"),
        "{text}"
    );
    assert!(text.contains(&path.display().to_string()), "{text}");

    let e = pretrained::load_classifier_file("resnt18", &path, &d).unwrap_err();
    assert!(e.to_string().contains("resnet18"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_classifier_offline_names_what_to_download() {
    let dir = temp_dir("load-offline");
    let offline = FetchOptions {
        offline: true,
        ..options(&dir, None)
    };
    let e = pretrained::load_classifier_with("googlenet", &device(), &offline).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("https://download.pytorch.org/models/googlenet-1378be20.pth"),
        "{text}"
    );
    assert!(
        text.contains(&dir.join("googlenet-1378be20.pth").display().to_string()),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_users_googlenet_keeps_its_auxiliary_heads_and_class_count() {
    let d = device();
    let args = ModelArgs {
        num_classes: Some(5),
        aux_logits: Some(true),
        ..ModelArgs::default()
    };
    let trained = registry::create("googlenet", &args, &d).unwrap();
    let sd = export_state_dict(&trained, &|p| Some(trained.torchvision_key(p)));
    assert!(sd.keys().any(|k| k.starts_with("aux1.")));
    let dir = temp_dir("googlenet");
    let path = dir.join("googlenet-5.safetensors");
    sd.save_safetensors(&path).unwrap();
    let loaded = pretrained::load_classifier_file("googlenet", &path, &d).unwrap();
    // Every key of the file found its parameter (the aux heads included),
    // and the main output is the trained model's.
    let x = Tensor::<4>::random([1, 3, 64, 64], Distribution::Uniform(0.0, 1.0), &d);
    let want = trained.valid().forward(x.clone());
    let got = loaded.model.valid().forward(x);
    assert_eq!(got.dims(), [1, 5]);
    let diff: f32 = (want - got).abs().max().into_scalar::<f32>();
    assert!(diff < 1e-5, "{diff}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_users_fcn_loads_with_its_class_count_and_without_the_auxiliary_head() {
    use zoo_models::fcn::{Fcn, FcnConfig};
    let d = device();
    let trained = FcnConfig::new(50).with_num_classes(3).init(&d);
    let sd = export_state_dict(&trained, &|p| Some(Fcn::torch_key(p)));
    assert_eq!(
        sd.get("classifier.4.weight").unwrap().shape().to_vec(),
        [3, 512, 1, 1]
    );
    let dir = temp_dir("fcn");
    let path = dir.join("fcn-3.safetensors");
    sd.save_safetensors(&path).unwrap();
    let loaded = pretrained::load_fcn_file("fcn_resnet50", &path, &d).unwrap();
    assert!(loaded.model.aux_classifier.is_none());
    let x = Tensor::<4>::random([1, 3, 32, 32], Distribution::Uniform(0.0, 1.0), &d);
    let want = trained.valid().forward(x.clone()).out;
    let got = loaded.model.valid().forward(x).out;
    assert_eq!(got.dims(), [1, 3, 32, 32]);
    let diff: f32 = (want - got).abs().max().into_scalar::<f32>();
    assert!(diff < 1e-5, "{diff}");
    // The same file is no fcn_resnet101 (stage 3 has 23 blocks there) and
    // no classifier.
    let e = pretrained::load_fcn_file("fcn_resnet101", &path, &d).unwrap_err();
    assert!(e.to_string().contains("backbone.layer3.6"), "{e}");
    let e = pretrained::load_fcn_file("fcn_resnet34", &path, &d).unwrap_err();
    assert!(e.to_string().contains("fcn_resnet50"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
