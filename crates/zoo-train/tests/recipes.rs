//! The recipes in the loop: a run with EMA and MixUp resumed from its
//! checkpoint ends with the uninterrupted run's averaged weights and
//! numbers; SWA's average is the mean of the epoch-end weights; the
//! auxiliary losses enter the training loss with their weights.

mod common;

use std::path::Path;

use burn::module::Module;
use burn::tensor::Tensor;
use common::{SERIAL, data, device, forward, model, weights};
use zoo_datasets::ImageBatcher;
use zoo_models::lenet::LeNet;
use zoo_optim::SgdConfig;
use zoo_train::recipes::{Averaging, Mix};
use zoo_train::{ClassifyConfig, TrainConfig, fit, fit_with_aux};

fn config(
    epochs: usize,
    out: &Path,
    resume: bool,
    average: Averaging,
    mix: Option<Mix>,
) -> ClassifyConfig {
    ClassifyConfig {
        average: Some(average),
        mix,
        ..ClassifyConfig::new(TrainConfig {
            seed: 5,
            out_dir: Some(out.to_path_buf()),
            resume,
            progress: false,
            ..TrainConfig::new(epochs, 32, 0.1)
        })
    }
}

#[test]
fn ema_with_mixup_resumes_to_the_same_average() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (train, valid) = data(320, 100);
    let batcher = ImageBatcher::new();
    let root = std::env::temp_dir().join(format!("zoo-recipes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let ema = Averaging::Ema { decay: 0.9 };
    let mix = Some(Mix::MixUp { alpha: 0.4 });
    let run = |epochs, dir: &Path, resume, seed| {
        fit(
            model(seed),
            SgdConfig::new().with_momentum(0.9).init(),
            &forward,
            train.clone(),
            &valid,
            &batcher,
            config(epochs, dir, resume, ema.clone(), mix.clone()),
            &device(),
        )
        .unwrap()
    };
    let full = run(3, &root.join("a"), false, 1);
    run(2, &root.join("b"), false, 1);
    let resumed = run(3, &root.join("b"), true, 9);
    assert_eq!(resumed.resumed_from, Some(2));
    let (fa, ra) = (full.averaged.unwrap(), resumed.averaged.unwrap());
    assert_eq!(weights(&fa), weights(&ra));
    assert_eq!(weights(&full.model), weights(&resumed.model));
    let (f, r) = (&full.history[2], &resumed.history[2]);
    for key in ["train_loss", "valid_acc", "valid_raw_acc", "valid_loss"] {
        assert_eq!(f.get(key), r.get(key), "{key}");
    }
    // The average lags the raw weights: they differ.
    assert_ne!(weights(&fa), weights(&full.model));
    // Another averaging is another run: resume refuses it, naming it.
    let other = fit(
        model(1),
        SgdConfig::new().with_momentum(0.9).init(),
        &forward,
        train.clone(),
        &valid,
        &batcher,
        config(
            4,
            &root.join("b"),
            true,
            Averaging::Ema { decay: 0.5 },
            mix.clone(),
        ),
        &device(),
    );
    let e = other.err().unwrap().to_string();
    assert!(e.contains("average"), "{e}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn swa_is_the_mean_of_the_epoch_end_weights() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (train, valid) = data(320, 100);
    let batcher = ImageBatcher::new();
    let root = std::env::temp_dir().join(format!("zoo-swa-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    // The weights at the end of epochs 2 and 3 of a plain run (checkpoints).
    let swa = Averaging::Swa { start_epoch: 2 };
    let out = fit(
        model(2),
        SgdConfig::new().init(),
        &forward,
        train.clone(),
        &valid,
        &batcher,
        &{
            let mut c = config(3, &root, false, swa, None);
            c.train.keep_checkpoints = 3;
            c
        },
        &device(),
    )
    .unwrap();
    let at = |epoch: usize| {
        let m = model(0).valid();
        let path = root.join(format!("checkpoints/epoch-{epoch:04}/model.bpk"));
        weights(&m.try_load_file(path).unwrap())
    };
    let (w2, w3) = (at(2), at(3));
    let avg = weights(out.averaged.as_ref().unwrap());
    for i in 0..avg.len() {
        let want = (w2[i] + w3[i]) / 2.0;
        assert!((avg[i] - want).abs() < 1e-6, "{i}: {} vs {want}", avg[i]);
    }
    // Epoch 1 had no average yet: its validation is the raw model's.
    assert!(!out.history[0].metrics.contains_key("valid_raw_acc"));
    assert!(out.history[2].metrics.contains_key("valid_raw_acc"));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn auxiliary_losses_enter_the_training_loss_with_their_weights() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (train, valid) = data(320, 100);
    let batcher = ImageBatcher::new();
    // An "auxiliary head" that is the main logits themselves with weight
    // 0.5: one step on the whole set (one batch) from the same weights
    // records 1.5x the plain run's loss.
    let whole = TrainConfig {
        progress: false,
        seed: 1,
        ..TrainConfig::new(1, 320, 1e-9)
    };
    let aux = |m: &LeNet, x: Tensor<4>| {
        let y = m.forward(x);
        (y.clone(), vec![(0.5, y)])
    };
    let plain = fit(
        model(3),
        SgdConfig::new().init(),
        &forward,
        train.clone(),
        &valid,
        &batcher,
        &whole,
        &device(),
    )
    .unwrap();
    let with = fit_with_aux(
        model(3),
        SgdConfig::new().init(),
        &forward,
        Some(&aux),
        train.clone(),
        &valid,
        &batcher,
        &whole,
        &device(),
    )
    .unwrap();
    let (a, b) = (
        plain.history[0].get("train_loss"),
        with.history[0].get("train_loss"),
    );
    assert!((b / a - 1.5).abs() < 1e-5, "{a} {b}");
}

#[test]
fn a_head_group_holds_the_registry_models_classifier_and_nothing_else() {
    use zoo_optim::groups::{AnyOptimizer, GroupOptions, ParamGroupSpec, parameter_paths};
    let d = device();
    // The examples' --head-lr-mult groups the registry's head prefixes.
    for name in ["resnet18", "densenet121", "vgg11", "d2l_lenet"] {
        let args = zoo_models::registry::ModelArgs {
            num_classes: Some(10),
            ..Default::default()
        };
        let m = zoo_models::registry::create(name, &args, &d).unwrap();
        let head = m.head_prefixes()[0];
        let spec = ParamGroupSpec::new(head, GroupOptions::default());
        let held: Vec<String> = parameter_paths(&m)
            .into_iter()
            .filter(|p| spec.matches(p))
            .collect();
        assert_eq!(held.len(), 2, "{name}: {held:?}");
        assert!(
            held.iter()
                .all(|p| p.ends_with(&format!("{head}.weight"))
                    || p.ends_with(&format!("{head}.bias"))),
            "{name}: {held:?}"
        );
        let base = AnyOptimizer::Sgd(SgdConfig::new());
        assert!(zoo_optim::groups::grouped_optimizer(&m, &base, 0.1, &[spec]).is_ok());
    }
}
