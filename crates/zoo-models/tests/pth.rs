//! PyTorch checkpoints (`.pth`, written by torch itself: see
//! `scripts/make_weight_fixtures.py`) load into the registry's models and
//! give torch's logits; bad files are errors naming the key and shapes.

use std::path::{Path, PathBuf};

use burn::tensor::{Tensor, TensorData};
use zoo_models::registry::{self, Model, ModelArgs};
use zoo_models::weights::{StateDict, WeightsError, export_state_dict};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn expected() -> (Vec<f32>, Vec<f32>) {
    let text = std::fs::read_to_string(data("lenet_expected.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let floats = |k: &str| -> Vec<f32> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    };
    (floats("x"), floats("logits"))
}

fn lenet() -> Model {
    let device = zoo_device::from_name("flex").unwrap();
    registry::create("d2l_lenet", &ModelArgs::default(), &device).unwrap()
}

fn logits(model: &Model) -> Vec<f32> {
    let device = zoo_device::from_name("flex").unwrap();
    let (x, _) = expected();
    let x = Tensor::<4>::from_data(TensorData::new(x, [2, 1, 28, 28]), &device);
    model.forward(x).into_data().try_to_vec::<f32>().unwrap()
}

fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 1e-5 + 1e-5 * w.abs(),
            "{got:?} vs torch {want:?}"
        );
    }
}

#[test]
fn torch_checkpoints_in_both_formats_give_torchs_logits() {
    let (_, want) = expected();
    // Saved on its own, in the legacy stream, and nested in a training
    // checkpoint as `{'state_dict': sd, 'epoch': 3}` and `{'model': sd}`.
    for file in [
        "lenet.pth",
        "lenet_legacy.pth",
        "lenet_nested_state_dict.pth",
        "lenet_nested_model.pth",
    ] {
        let sd = StateDict::load(&data(file)).unwrap();
        let model = lenet().load_torchvision(&sd).unwrap();
        assert_close(&logits(&model), &want);
    }
}

#[test]
fn safetensors_round_trip_keeps_the_weights() {
    let sd = StateDict::load(&data("lenet.pth")).unwrap();
    let model = lenet().load_torchvision(&sd).unwrap();
    let dir = std::env::temp_dir().join(format!("zoo-pth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("lenet.safetensors");
    let keys = |p: &str| Some(model.torchvision_key(p));
    export_state_dict(&model, &keys)
        .save_safetensors(&file)
        .unwrap();
    let again = lenet()
        .load_torchvision(&StateDict::load(&file).unwrap())
        .unwrap();
    assert_close(&logits(&again), &expected().1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_weights_name_the_key_and_shapes() {
    let good = StateDict::load(&data("lenet.pth")).unwrap();

    let mut missing = good.clone();
    missing.remove("fc2.bias");
    let e = lenet().load_torchvision(&missing).unwrap_err();
    assert!(matches!(e, WeightsError::Missing { .. }), "{e}");
    assert!(
        e.to_string().contains("`fc2.bias`") && e.to_string().contains("[84]"),
        "{e}"
    );

    let mut extra = good.clone();
    extra.insert("fc4.weight", TensorData::new(vec![0.0f32; 4], [2, 2]));
    let e = lenet().load_torchvision(&extra).unwrap_err();
    assert!(e.to_string().contains("fc4.weight"), "{e}");

    let mut wrong = good.clone();
    wrong.insert(
        "conv2.weight",
        TensorData::new(vec![0.0f32; 16 * 6 * 9], [16, 6, 3, 3]),
    );
    let e = lenet().load_torchvision(&wrong).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("`conv2.weight`")
            && text.contains("[16, 6, 3, 3]")
            && text.contains("[16, 6, 5, 5]"),
        "{text}"
    );

    let e = StateDict::load(&data("lenet_expected.json")).unwrap_err();
    assert!(e.to_string().contains("extension"), "{e}");
    let e = StateDict::load(&data("absent.pth")).unwrap_err();
    assert!(e.to_string().contains("absent.pth"), "{e}");
    let not_torch = std::env::temp_dir().join(format!("zoo-not-torch-{}.pth", std::process::id()));
    std::fs::write(&not_torch, b"definitely not a checkpoint").unwrap();
    let e = StateDict::load(&not_torch).unwrap_err();
    assert!(e.to_string().contains("not a PyTorch checkpoint"), "{e}");
    std::fs::remove_file(&not_torch).unwrap();
}

#[test]
fn an_expanded_view_is_refused_not_materialised() {
    // 1.5 KB on disk, a 30000 x 30000 view with zero strides: 3.6 GB if read
    // (under burn-store's own 10 GiB cap per tensor).
    let path = data("expanded.pth");
    assert!(std::fs::metadata(&path).unwrap().len() < 4096);
    let e = StateDict::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("expanded.pth") && e.contains("[30000, 30000]") && e.contains("refused"),
        "{e}"
    );
}
