//! The registry against torchvision's published metadata: every torchvision
//! model's trainable parameter count equals `Weights.meta["num_params"]`, and
//! the traced multiply-adds at the default input equal its `_ops` (GFLOPS).

use burn::module::Module;
use zoo_layers::params::num_trainable_params;
use zoo_models::registry::{self, ModelArgs};

#[test]
fn parameter_counts_equal_torchvisions() {
    let device = zoo_device::from_name("flex").unwrap();
    for info in registry::list() {
        let Some(w) = info.weights else { continue };
        // The largest ones take seconds each to initialise; the shared
        // parity cases count VGG-16/19, and the summary example prints all.
        if w.num_params > 80_000_000 {
            continue;
        }
        // torchvision's count is of the model its weights load into.
        let model = registry::create(info.name, &info.weights_args(), &device).unwrap();
        assert_eq!(num_trainable_params(&model), w.num_params, "{}", info.name);
    }
}

/// Loading weights on a device without autodiff keeps every parameter
/// trainable (the count stays torchvision's), so the model fine-tunes once
/// it moves to an autodiff device.
#[test]
fn loaded_weights_stay_trainable() {
    let device = zoo_device::from_name("flex").unwrap();
    let model = registry::create("resnet18", &ModelArgs::default(), &device).unwrap();
    let sd = zoo_models::weights::export_state_dict(&model, &|p| Some(model.torchvision_key(p)));
    let loaded = model.clone().load_torchvision(&sd).unwrap();
    assert_eq!(num_trainable_params(&loaded), 11_689_512);
    let trained = loaded.fork(&device.clone().autodiff());
    assert_eq!(num_trainable_params(&trained), 11_689_512);
}

#[test]
fn traced_multiply_adds_equal_torchvisions_gflops() {
    let device = zoo_device::from_name("flex").unwrap();
    for name in [
        "alexnet",
        "googlenet",
        "inception_v3",
        "resnet18",
        "resnext50_32x4d",
        "densenet121",
    ] {
        let info = registry::info(name).unwrap();
        let w = info.weights.unwrap();
        let model = registry::create(name, &ModelArgs::default(), &device).unwrap();
        let [c, h, wd] = info.input;
        let rows = registry::summary(&model, [1, c, h, wd], false, &device).unwrap();
        let macs: u64 = rows.iter().filter(|r| r.leaf).map(|r| r.macs).sum();
        let gflops = macs as f64 / 1e9;
        // torchvision rounds to three decimals.
        assert!(
            (gflops - w.gflops).abs() < 6e-4,
            "{name}: {gflops} vs {}",
            w.gflops
        );
        let last = rows.last().unwrap();
        assert_eq!(last.output, vec![1, 1000], "{name}");
    }
}

#[test]
fn names_and_arguments_are_checked() {
    let device = zoo_device::from_name("flex").unwrap();
    let e = registry::create("resnet19", &ModelArgs::default(), &device).unwrap_err();
    assert!(e.to_string().contains("resnet18"), "{e}");
    let aux = ModelArgs {
        aux_logits: Some(true),
        ..ModelArgs::default()
    };
    let e = registry::create("resnet18", &aux, &device).unwrap_err();
    assert!(e.to_string().contains("aux_logits"), "{e}");
    let tiny = ModelArgs {
        input_size: Some([8, 8]),
        ..ModelArgs::default()
    };
    let e = registry::create("d2l_lenet", &tiny, &device).unwrap_err();
    assert!(e.to_string().contains("input_size"), "{e}");
    assert_eq!(
        registry::info("resnet18")
            .unwrap()
            .weights
            .unwrap()
            .sha256_prefix,
        "f37072fd"
    );
}
