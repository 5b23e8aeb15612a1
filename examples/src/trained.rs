//! What the classic and explaining examples share: a trained LeNet for
//! those that explain a network (`saliency`, `occlusion`, `tsne`, `dream`,
//! `hog-svm`; the checkpoint the `lenet` example wrote) with test images to
//! look at, the train / test sets and `--reg` check of `linear` and
//! `hog-svm`, and the mean-centred design matrix with CS231n's bias column
//! (`linear`, `hog-svm`).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use zoo_datasets::{FashionMnist, ImageDataset, Split};
use zoo_models::registry::{self, Model, ModelArgs};

use crate::Failure;

/// The `model.bpk` of the newest complete checkpoint under `run` (a `lenet` run
/// directory).
pub fn newest_checkpoint(run: &Path) -> Option<PathBuf> {
    zoo_train::checkpoint::checkpoint_dirs(run)
        .into_iter()
        .rev()
        .map(|(_, d)| d.join("model.bpk"))
        .find(|p| p.is_file())
}

/// The first `train` training and `test` test images of Fashion-MNIST
/// (`data_dir`, else the downloaded or embedded set), as far as the sets
/// go, with those counts; none of either is a usage error.
pub fn train_test_sets(
    data_dir: Option<&Path>,
    train: usize,
    test: usize,
) -> Result<(ImageDataset, ImageDataset, usize, usize), Failure> {
    let (train_set, test_set) = (
        crate::fashion_mnist(data_dir, Split::Train)?,
        crate::fashion_mnist(data_dir, Split::Test)?,
    );
    let (n, m) = (train.min(train_set.len()), test.min(test_set.len()));
    if n == 0 || m == 0 {
        return Err(Failure::Usage(
            "--train and --test must be at least 1".into(),
        ));
    }
    Ok((train_set, test_set, n, m))
}

/// Checks `--reg`: `>= 0` and finite in float32 (the classifiers train in
/// float32).
pub fn check_reg(reg: f64) -> Result<(), Failure> {
    crate::cli::check_f32_flag("--reg", reg, crate::cli::Sign::NonNegative)
}

/// The LeNet of a `lenet` example checkpoint `weights` (default: the newest
/// checkpoint of `runs/lenet`), on `device`. The file is verified against
/// the SHA-256 its `state.json` records, and the model built is the one
/// the run trained (`--relu` or the course's sigmoid LeNet, from the
/// recorded `relu`); a checkpoint of another model is refused. A file with
/// no `state.json` beside it (saved outside the training loop) is loaded
/// with a warning that it cannot be verified.
pub fn lenet(weights: Option<&Path>, device: &Device) -> Result<(Model, PathBuf), Failure> {
    let path = match weights {
        Some(p) => p.to_path_buf(),
        None => newest_checkpoint(Path::new("runs/lenet")).ok_or_else(|| {
            Failure::Usage(
                "no LeNet checkpoint in runs/lenet/checkpoints: run `cargo run -p examples --bin lenet` first, or pass --weights FILE".into(),
            )
        })?,
    };
    if !path.is_file() {
        return Err(Failure::Usage(format!(
            "--weights {}: no such file (expected the model.bpk of a lenet checkpoint)",
            path.display()
        )));
    }
    let info = zoo_train::verified_checkpoint_file(&path)
        .map_err(|e| Failure::Usage(format!("--weights: {e}")))?;
    let relu = match &info {
        Some(info) => {
            let model = info.get("model").unwrap_or("(not recorded)");
            if model != "lenet" {
                return Err(Failure::Usage(format!(
                    "--weights {}: its checkpoint holds a `{model}` model, expected a checkpoint of the lenet example",
                    path.display()
                )));
            }
            match info.get("relu") {
                Some("true") => true,
                Some("false") | None => false,
                Some(other) => {
                    return Err(Failure::Usage(format!(
                        "--weights {}: its state.json records relu `{other}`, expected true or false",
                        path.display()
                    )));
                }
            }
        }
        None => {
            eprintln!(
                "warning: {} has no state.json beside it: its bytes cannot be verified; it is loaded as the course's sigmoid LeNet",
                path.display()
            );
            false
        }
    };
    let args = ModelArgs {
        relu: relu.then_some(true),
        ..ModelArgs::default()
    };
    let model =
        registry::create("d2l_lenet", &args, device).map_err(|e| Failure::Usage(e.to_string()))?;
    // The training loop's checkpoints hold the family's own module (keys
    // `conv1.weight`, ...); a file saved from the registry's enum is tried
    // as such.
    let Model::LeNet(inner) = model.clone() else {
        unreachable!("d2l_lenet is a LeNet")
    };
    match inner.try_load_file(&path) {
        Ok(lenet) => Ok((Model::LeNet(lenet), path)),
        Err(first) => model
            .try_load_file(&path)
            .map(|m| (m, path.clone()))
            .map_err(|_| {
                Failure::Usage(format!(
                    "{}: {first} (expected a checkpoint of the lenet example)",
                    path.display()
                ))
            }),
    }
}

/// The test set (embedded unless `data_dir` or a download has the full one).
pub fn test_set(data_dir: Option<&Path>) -> Result<ImageDataset, Failure> {
    FashionMnist::load(data_dir, Split::Test).map_err(|e| Failure::Usage(e.to_string()))
}

/// The first test image of each class, `[classes, 1, 28, 28]` in [0, 1],
/// and the classes.
pub fn one_per_class(set: &ImageDataset, device: &Device) -> (Tensor<4>, Vec<usize>) {
    let classes = set.classes().len();
    let mut picked = Vec::new();
    for c in 0..classes {
        if let Some(i) = (0..set.len()).find(|&i| set.label(i) == c) {
            picked.push(i);
        }
    }
    images(set, &picked, device)
}

/// Images `indices` of `set` as `[n, 1, H, W]` in [0, 1], and their labels.
pub fn images(set: &ImageDataset, indices: &[usize], device: &Device) -> (Tensor<4>, Vec<usize>) {
    let [c, h, w] = set.shape();
    let px: Vec<f32> = indices
        .iter()
        .flat_map(|&i| set.pixels(i).iter().map(|&p| p as f32 / 255.0))
        .collect();
    let labels = indices.iter().map(|&i| set.label(i)).collect();
    (
        Tensor::from_data(TensorData::new(px, [indices.len(), c, h, w]), device),
        labels,
    )
}

/// Rescales each image of `maps [n, 1, H, W]` to [0, 1] by its own maximum
/// (a map of zeros stays zero).
pub fn per_image_max(maps: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = maps.dims();
    let max = maps
        .clone()
        .reshape([n, c * h * w])
        .max_dim(1)
        .clamp_min(1e-12)
        .reshape([n, 1, 1, 1]);
    maps / max
}

/// Whether the model's prediction for each image is its label.
pub fn predictions(model: &Model, x: Tensor<4>) -> Vec<usize> {
    let p: Vec<i64> = model
        .valid()
        .forward(x.inner())
        .argmax(1)
        .into_data()
        .try_into_vec_as::<i64>()
        .unwrap_or_default();
    p.into_iter().map(|v| v as usize).collect()
}

/// The mean of each column of row-major `rows [n, d]`.
pub fn column_mean(rows: &[f32], d: usize) -> Vec<f32> {
    let n = (rows.len() / d).max(1) as f32;
    let mut m = vec![0.0f32; d];
    for r in rows.chunks(d) {
        for (a, &v) in m.iter_mut().zip(r) {
            *a += v / n;
        }
    }
    m
}

/// `[n, d + 1]`: `rows [n, d]` less `mean`, then a 1 (CS231n's bias trick).
pub fn centred_with_bias(rows: &[f32], mean: &[f32], device: &Device) -> Tensor<2> {
    let d = mean.len();
    let n = rows.len() / d;
    let mut v = Vec::with_capacity(n * (d + 1));
    for r in rows.chunks(d) {
        v.extend(r.iter().zip(mean).map(|(x, m)| x - m));
        v.push(1.0);
    }
    Tensor::from_data(TensorData::new(v, [n, d + 1]), device)
}
