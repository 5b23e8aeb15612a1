//! Loading torchvision-keyed weights: a round trip through a `.safetensors`
//! file made here reproduces the model exactly; a missing key, an extra key
//! and a wrong shape are errors that name the key and the shapes.

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use zoo_models::resnet::{ResNet, ResNetConfig};
use zoo_models::vgg::VggConfig;
use zoo_models::weights::{StateDict, WeightsError, export_state_dict, load_state_dict};

fn device() -> Device {
    zoo_device::from_name("flex").unwrap()
}

fn keys(p: &str) -> Option<String> {
    Some(ResNet::torchvision_key(p))
}

#[test]
fn safetensors_round_trip_reproduces_the_model() {
    let d = device();
    let a = ResNetConfig::torchvision(18, 10).unwrap().init(&d);
    let sd = export_state_dict(&a, &keys);
    // torchvision's resnet18 state_dict has 122 keys: 62 parameters and,
    // for each of its 20 batch norms, running_mean, running_var and
    // num_batches_tracked (which the zoo does not keep): 122 - 20 = 102.
    // The projection is `downsample.0` / `.1`.
    assert_eq!(sd.tensors.len(), 102);
    assert!(sd.tensors.contains_key("layer2.0.downsample.0.weight"));
    assert!(sd.tensors.contains_key("layer2.0.downsample.1.running_var"));
    // torch's [out, in] layout for the classifier.
    assert_eq!(sd.tensors["fc.weight"].shape().to_vec(), vec![10, 512]);
    let path = std::env::temp_dir().join(format!("zoo-weights-{}.safetensors", std::process::id()));
    sd.save_safetensors(&path).unwrap();
    let read = StateDict::from_safetensors(&path).unwrap();
    let b = load_state_dict(
        ResNetConfig::torchvision(18, 10).unwrap().init(&d),
        &read,
        &keys,
    )
    .unwrap();
    // Every value comes back bit for bit...
    let again = export_state_dict(&b, &keys);
    for (k, v) in &sd.tensors {
        assert_eq!(v, &again.tensors[k], "{k}");
    }
    // ...and the outputs agree (the transposed classifier weight may be
    // laid out differently in memory, so the summation order may differ).
    let x = Tensor::<4>::random([2, 3, 32, 32], Distribution::Uniform(0.0, 1.0), &d);
    let (ya, yb) = (a.valid().forward(x.clone()), b.valid().forward(x));
    let diff: f32 = (ya - yb).abs().max().into_scalar::<f32>();
    assert!(diff < 1e-6, "{diff}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn bad_weights_name_the_key_and_the_shapes() {
    let d = device();
    let model = || ResNetConfig::torchvision(18, 10).unwrap().init(&d);
    let full = export_state_dict(&model(), &keys);

    let mut missing = full.clone();
    missing.tensors.remove("layer3.1.bn2.running_mean");
    match load_state_dict(model(), &missing, &keys) {
        Err(e @ WeightsError::Missing { .. }) => {
            assert_eq!(
                e.to_string(),
                "missing key `layer3.1.bn2.running_mean` (for the model's `layer3.1.bn2.running_mean`, shape [256])"
            );
        }
        other => panic!("{:?}", other.err()),
    }

    let mut extra = full.clone();
    extra.insert("head.weight", TensorData::new(vec![0f32; 4], [2, 2]));
    extra.insert("bn1.num_batches_tracked", TensorData::new(vec![5i64], [1]));
    let e = load_state_dict(model(), &extra, &keys)
        .err()
        .unwrap()
        .to_string();
    assert_eq!(e, "unexpected key(s) in the weights: head.weight");

    let mut wrong = full;
    wrong.insert(
        "fc.weight",
        TensorData::new(vec![0f32; 1000 * 512], [1000, 512]),
    );
    let e = load_state_dict(model(), &wrong, &keys)
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        e,
        "key `fc.weight` has shape [1000, 512] in the file, the model's `fc.weight` expects [10, 512]"
    );

    let e = StateDict::from_safetensors(std::path::Path::new("/nonexistent.safetensors"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("/nonexistent.safetensors"), "{e}");
}

#[test]
fn vgg_keys_follow_torchvisions_sequential_indices() {
    let d = device();
    let plain = VggConfig::torchvision(11, false, 10).unwrap().init(&d);
    let keys: Vec<String> = export_state_dict(&plain, &|p| Some(plain.torchvision_key(p)))
        .tensors
        .into_keys()
        .filter(|k| k.ends_with("weight"))
        .collect();
    // torchvision vgg11: convs at features.0, 3, 6, 8, 11, 13, 16, 18;
    // linear layers at classifier.0, 3, 6.
    let mut want: Vec<String> = [0, 3, 6, 8, 11, 13, 16, 18]
        .iter()
        .map(|i| format!("features.{i}.weight"))
        .chain([0, 3, 6].iter().map(|i| format!("classifier.{i}.weight")))
        .collect();
    want.sort();
    assert_eq!(keys, want);
    let bn = VggConfig::torchvision(11, true, 10).unwrap().init(&d);
    let sd = export_state_dict(&bn, &|p| Some(bn.torchvision_key(p)));
    // vgg11_bn: conv 0, bn 1, conv 4, bn 5, ...
    assert!(sd.tensors.contains_key("features.4.weight"));
    assert!(sd.tensors.contains_key("features.5.running_var"));
}
