//! The training loop: a run interrupted after two epochs and resumed from
//! its checkpoint ends with exactly the numbers of an uninterrupted
//! three-epoch run; the log, curves and checkpoints are written; bad
//! configurations are errors that name the value.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{SERIAL, data, device, forward, model, weights};
use zoo_datasets::ImageBatcher;
use zoo_optim::SgdConfig;
use zoo_optim::schedule::LrSchedule;
use zoo_train::{TrainConfig, TrainError, fit};

fn config(epochs: usize, out: &Path, resume: bool) -> TrainConfig {
    TrainConfig {
        schedule: LrSchedule::Step {
            base_lr: 0.1,
            step_size: 2,
            gamma: 0.5,
        },
        seed: 3,
        out_dir: Some(out.to_path_buf()),
        resume,
        progress: false,
        ..TrainConfig::new(epochs, 64, 0.1)
    }
}

#[test]
fn resumed_run_matches_the_uninterrupted_one() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (train, valid) = data(600, 200);
    let batcher = ImageBatcher::new();
    let root = std::env::temp_dir().join(format!("zoo-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (a, b) = (root.join("a"), root.join("b"));
    let optim = || SgdConfig::new().with_momentum(0.9).init();

    let full = fit(
        model(1),
        optim(),
        &forward,
        train.clone(),
        &valid,
        &batcher,
        config(3, &a, false),
        &device(),
    )
    .unwrap();
    assert_eq!(full.history.len(), 3);
    assert!(full.history[2].get("train_loss") < full.history[0].get("train_loss"));
    assert_eq!(full.history[2].lr, 0.05);

    // "Interrupted" after two epochs, then resumed by a fresh process whose
    // model starts from other weights: the checkpoint must replace them.
    let first = fit(
        model(1),
        optim(),
        &forward,
        train.clone(),
        &valid,
        &batcher,
        config(2, &b, false),
        &device(),
    )
    .unwrap();
    assert_eq!(
        first.history[..],
        full.history[..2]
            .iter()
            .cloned()
            .map(|mut r| {
                r.items_per_sec = first.history[r.epoch - 1].items_per_sec;
                r.seconds = first.history[r.epoch - 1].seconds;
                r
            })
            .collect::<Vec<_>>()[..]
    );
    let resumed = fit(
        model(99),
        optim(),
        &forward,
        train,
        &valid,
        &batcher,
        config(3, &b, true),
        &device(),
    )
    .unwrap();
    assert_eq!(resumed.resumed_from, Some(2));
    assert_eq!(resumed.history.len(), 3);
    let (x, y) = (&full.history[2], &resumed.history[2]);
    assert_eq!((&x.metrics, x.lr), (&y.metrics, y.lr));
    assert_eq!(weights(&full.model), weights(&resumed.model));

    // Files: one JSON line per epoch, a decodable PNG, the newest two checkpoints.
    let log = std::fs::read_to_string(b.join("metrics.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 3);
    let line: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(line["epoch"], 3);
    let png = image::open(b.join("curves.png")).unwrap();
    assert_eq!((png.width(), png.height()), zoo_train::plot::SIZE);
    let mut ckpts: Vec<String> = std::fs::read_dir(b.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    ckpts.sort();
    assert_eq!(ckpts, ["epoch-0002", "epoch-0003"]);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn bad_configurations_name_the_value() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (train, valid) = data(600, 200);
    let out = std::env::temp_dir().join("zoo-never-written");
    let run = |c: TrainConfig| {
        fit(
            model(1),
            SgdConfig::new().init(),
            &forward,
            train.clone(),
            &valid,
            &ImageBatcher::new(),
            &c,
            &device(),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
    };
    let mut c = config(1, &out, false);
    c.out_dir = None;
    c.schedule = LrSchedule::Exponential {
        base_lr: -0.1,
        gamma: 0.9,
    };
    assert!(run(c).contains("lr -0.1"));
    let mut c = TrainConfig::new(0, 64, 0.1);
    c.progress = false;
    assert!(run(c).contains("epochs 0"));
    let mut c = TrainConfig::new(1, 64, 0.1);
    c.resume = true;
    assert!(run(c).contains("resume needs an out_dir"));
    let mut c = zoo_train::ClassifyConfig::new(TrainConfig::new(1, 64, 0.1));
    c.label_smoothing = 1.5;
    assert!(matches!(
        fit(model(1), SgdConfig::new().init(), &forward, train.clone(), &valid, &ImageBatcher::new(), &c, &device()),
        Err(TrainError::Config(m)) if m.contains("label_smoothing 1.5")
    ));
}

/// Rewrites `state.json` of checkpoint `dir` with `edit` applied.
fn edit_state(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("state.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
}

#[test]
fn resume_checks_what_it_finds() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (train, valid) = data(600, 200);
    let batcher = ImageBatcher::new();
    let root = std::env::temp_dir().join(format!("zoo-resume-checks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let run = |c: &TrainConfig| {
        fit(
            model(1),
            SgdConfig::new().init(),
            &forward,
            train.clone(),
            &valid,
            &batcher,
            c,
            &device(),
        )
    };
    let out = root.join("run");
    let ckpt = |e: usize| out.join("checkpoints").join(format!("epoch-{e:04}"));
    // No checkpoint yet: --resume trains from epoch 1 (and says so on stderr).
    let first = run(&config(2, &out, true)).unwrap();
    assert_eq!(first.resumed_from, None);
    assert_eq!(first.history.len(), 2);

    // Another configuration: refused, naming the field and both values.
    let mut other = config(3, &out, true);
    other.seed = 4;
    other.identity = vec![("relu".into(), "true".into())];
    let e = run(&other).err().unwrap().to_string();
    assert!(e.contains("seed: checkpoint `3`, this run `4`"), "{e}");
    assert!(
        e.contains("relu: checkpoint (not set), this run `true`"),
        "{e}"
    );

    // A damaged newest checkpoint (one byte of the model changed): the
    // previous one is used.
    let model_file = ckpt(2).join("model.bpk");
    let mut bytes = std::fs::read(&model_file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&model_file, &bytes).unwrap();
    let resumed = run(&config(3, &out, true)).unwrap();
    assert_eq!(resumed.resumed_from, Some(1));
    assert_eq!(
        resumed.history.iter().map(|r| r.epoch).collect::<Vec<_>>(),
        [1, 2, 3]
    );

    // An inconsistent state.json (epoch 0; an epoch that would overflow) is
    // damage too; when every kept checkpoint is damaged, the run stops.
    edit_state(&ckpt(3), |v| v["epoch"] = 0.into());
    edit_state(&ckpt(2), |v| v["epoch"] = u64::MAX.into());
    let e = run(&config(4, &out, true)).err().unwrap().to_string();
    assert!(e.contains("every kept checkpoint is damaged"), "{e}");
    assert!(
        e.contains("says epoch 0") && e.contains("says epoch 18446744073709551615"),
        "{e}"
    );

    // Nothing to train on is an error, not a run at 0 images/s.
    let e = fit(
        model(1),
        SgdConfig::new().init(),
        &forward,
        Arc::new(train.subset(&[])),
        &valid,
        &batcher,
        config(1, &root.join("empty"), false),
        &device(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("0 training"), "{e}");
    assert!(!root.join("empty").join("checkpoints").exists());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_run_that_diverges_saves_nothing_of_that_epoch() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (train, valid) = data(600, 200);
    let out = std::env::temp_dir().join(format!("zoo-diverge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    // 3e38 is finite in float32 (so the flags accept it), but one step
    // takes the weights past float32's range.
    let mut c = config(2, &out, false);
    c.schedule = LrSchedule::Step {
        base_lr: 3.0e38,
        step_size: usize::MAX,
        gamma: 1.0,
    };
    let e = fit(
        model(1),
        SgdConfig::new().init(),
        &forward,
        train,
        &valid,
        &ImageBatcher::new(),
        &c,
        &device(),
    )
    .err()
    .unwrap();
    assert!(matches!(e, TrainError::Diverged { epoch: 1, .. }), "{e}");
    assert!(
        e.to_string().contains("nothing of this epoch was saved"),
        "{e}"
    );
    assert!(!out.join("checkpoints").join("epoch-0001").exists());
    assert!(!out.join("metrics.jsonl").exists());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_fresh_run_never_touches_a_folder_another_run_wrote() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (train, valid) = data(300, 100);
    let batcher = ImageBatcher::new();
    let root = std::env::temp_dir().join(format!("zoo-fresh-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let run = |c: &TrainConfig| {
        fit(
            model(1),
            SgdConfig::new().init(),
            &forward,
            train.clone(),
            &valid,
            &batcher,
            c,
            &device(),
        )
    };
    let out = root.join("run");
    run(&config(3, &out, false)).unwrap();
    let listing = |dir: &Path| {
        let mut v: Vec<(String, Vec<u8>)> = walk(dir);
        v.sort();
        v
    };
    let before = listing(&out);
    // A second fresh run (fewer epochs, another seed) into the same folder:
    // refused before anything is written; the first run's files are intact.
    let mut second = config(1, &out, false);
    second.seed = 7;
    let e = run(&second).err().unwrap();
    assert!(
        matches!(
            e,
            TrainError::OutInUse {
                newest: Some(3),
                ..
            }
        ),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("checkpoints") && msg.contains("metrics.jsonl") && msg.contains("--resume"),
        "{msg}"
    );
    assert_eq!(listing(&out), before);
    // A folder of someone else's files: refused, resumed or not.
    let other = root.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), b"mine").unwrap();
    for resume in [false, true] {
        let e = run(&config(1, &other, resume)).err().unwrap().to_string();
        assert!(e.contains("notes.txt"), "{e}");
    }
    assert_eq!(
        std::fs::read_dir(&other).unwrap().count(),
        1,
        "nothing written beside notes.txt"
    );
    // An empty folder is fine.
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    run(&config(1, &empty, false)).unwrap();
    std::fs::remove_dir_all(&root).unwrap();
}

/// Every file under `dir` with its bytes, by path relative to `dir`.
fn walk(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            for (name, bytes) in walk(&p) {
                out.push((
                    format!("{}/{name}", p.file_name().unwrap().to_string_lossy()),
                    bytes,
                ));
            }
        } else {
            out.push((
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            ));
        }
    }
    out
}

#[test]
fn one_file_of_a_checkpoint_is_verified_against_its_state() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (train, valid) = data(300, 100);
    let root = std::env::temp_dir().join(format!("zoo-verify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut c = config(1, &root, false);
    c.identity = vec![("model".into(), "lenet".into())];
    fit(
        model(1),
        SgdConfig::new().init(),
        &forward,
        train,
        &valid,
        &ImageBatcher::new(),
        &c,
        &device(),
    )
    .unwrap();
    let file = root.join("checkpoints/epoch-0001/model.bpk");
    let info = zoo_train::verified_checkpoint_file(&file).unwrap().unwrap();
    assert_eq!((info.epoch, info.get("model")), (1, Some("lenet")));
    assert_eq!(info.get("seed"), Some("3"));
    // The bytes changed: refused, naming the file.
    let mut bytes = std::fs::read(&file).unwrap();
    let third = bytes.len() / 3;
    bytes[third] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let e = zoo_train::verified_checkpoint_file(&file).unwrap_err();
    assert!(e.contains("model.bpk") && e.contains("SHA-256"), "{e}");
    // A file the state does not list, and one with no state beside it.
    let stray = root.join("checkpoints/epoch-0001/other.bpk");
    std::fs::write(&stray, b"x").unwrap();
    assert!(
        zoo_train::verified_checkpoint_file(&stray)
            .unwrap_err()
            .contains("records no SHA-256 for other.bpk")
    );
    let alone = root.join("alone.bpk");
    std::fs::write(&alone, b"x").unwrap();
    assert!(
        zoo_train::verified_checkpoint_file(&alone)
            .unwrap()
            .is_none()
    );
    std::fs::remove_dir_all(&root).unwrap();
}
