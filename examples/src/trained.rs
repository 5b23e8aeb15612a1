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

/// A model the examples trained, loaded from its checkpoint into the
/// registry's [`Model`] by [`checkpoint`].
pub struct Trained {
    /// The model, on the device asked for.
    pub model: Model,
    /// The registry name it was built as (`d2l_lenet` for the lenet example).
    pub name: String,
    /// The input side it trained at.
    pub input_size: usize,
    /// The input channels it takes (1, or 3 for torchvision's models, which
    /// the examples feed the grey images repeated to RGB).
    pub channels: usize,
    /// The categories of its outputs (Fashion-MNIST's, the set every
    /// classification example trains on).
    pub categories: Vec<String>,
    /// The checkpoint file loaded.
    pub path: PathBuf,
    /// The epoch of the checkpoint.
    pub epoch: usize,
}

impl Trained {
    /// The batcher of its run: Fashion-MNIST's 28x28 images resized to
    /// the side it trained at.
    pub fn batcher(&self) -> zoo_datasets::ImageBatcher {
        let b = zoo_datasets::ImageBatcher::new();
        if self.input_size == 28 {
            b
        } else {
            b.resize(self.input_size, self.input_size)
        }
    }

    /// Logits `[N, classes]` of a batch from [`Trained::batcher`] (grey
    /// images in `[0, 1]`), in evaluation mode, as its run evaluated.
    pub fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.model
            .valid()
            .forward(crate::classifier::model_input(x.inner(), self.channels))
    }
}

/// The `model.bpk` that `path` names: the file itself, a checkpoint folder
/// holding one, or a run folder (its newest complete checkpoint).
pub fn checkpoint_file(path: &Path) -> Result<PathBuf, Failure> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if !path.is_dir() {
        return Err(Failure::Usage(format!(
            "{}: no such file or folder (expected a run folder of the examples, e.g. runs/lenet, or a checkpoint's model.bpk)",
            path.display()
        )));
    }
    let here = path.join("model.bpk");
    if here.is_file() {
        return Ok(here);
    }
    newest_checkpoint(path).ok_or_else(|| {
        Failure::Usage(format!(
            "{}: no checkpoint in it (expected a run folder of the examples with checkpoints/epoch-NNNN/model.bpk)",
            path.display()
        ))
    })
}

/// The one loader of what the examples train: any classification
/// checkpoint they write (`lenet`, `alexnet`, `vgg`, `nin`, `googlenet`,
/// `resnet`, `densenet`; a run folder, a checkpoint folder or its
/// `model.bpk`) into the registry's [`Model`] on `device`. The file is
/// verified against the SHA-256 its `state.json` records, and the model is
/// built as the run recorded it (model name, input side, `--relu`, `--aux`,
/// the course's arguments), so the checkpoint's keys fit.
pub fn checkpoint(path: &Path, device: &Device) -> Result<Trained, Failure> {
    let file = checkpoint_file(path)?;
    let usage = |m: String| Failure::Usage(format!("{}: {m}", file.display()));
    let info = zoo_train::verified_checkpoint_file(&file)
        .map_err(Failure::Usage)?
        .ok_or_else(|| {
            usage("no state.json beside it, so which model it holds is unknown (expected a checkpoint the examples wrote)".into())
        })?;
    let recorded = info.get("model").unwrap_or("(not recorded)");
    // The lenet example trains the course's LeNet under its own name.
    let name = if recorded == "lenet" {
        "d2l_lenet"
    } else {
        recorded
    };
    let model_info = registry::info(name).ok_or_else(|| {
        usage(format!(
            "its checkpoint holds a `{recorded}` model, expected one of the registry's classifiers (a classification example's run)"
        ))
    })?;
    let flag = |key: &str| match info.get(key) {
        Some("true") => Ok(true),
        Some("false") | None => Ok(false),
        Some(other) => Err(usage(format!(
            "its state.json records {key} `{other}`, expected true or false"
        ))),
    };
    let input_size = match info.get("input_size") {
        None => model_info.input[1],
        Some(s) => s.parse::<usize>().map_err(|_| {
            usage(format!(
                "its state.json records input_size `{s}`, expected a whole number"
            ))
        })?,
    };
    let mut args = match registry::course_model(model_info.family) {
        Some(course) if course.name == name => model_info.course_args(),
        _ => ModelArgs::default(),
    };
    args.num_classes = Some(FashionMnist::CLASSES.len());
    if model_info.takes("input_size") {
        args.input_size = Some([input_size, input_size]);
    }
    if model_info.takes("relu") {
        args.relu = flag("relu")?.then_some(true);
    }
    if model_info.takes("aux_logits") {
        args.aux_logits = Some(flag("aux")?);
    }
    let model = registry::create(name, &args, device).map_err(|e| usage(e.to_string()))?;
    let model = model.load_file(&file).map_err(Failure::Usage)?;
    Ok(Trained {
        model,
        name: name.to_string(),
        input_size,
        channels: model_info.input[0],
        categories: FashionMnist::CLASSES
            .iter()
            .map(|c| c.to_string())
            .collect(),
        path: file,
        epoch: info.epoch,
    })
}

/// The LeNet of a `lenet` example checkpoint `weights` (default: the newest
/// checkpoint of `runs/lenet`), on `device`, through [`checkpoint`]: the
/// file is verified and the model built is the one the run trained
/// (`--relu` or the course's sigmoid LeNet); a checkpoint of another model
/// is refused. A file with no `state.json` beside it (saved outside the
/// training loop) is loaded as the course's sigmoid LeNet with a warning
/// that it cannot be verified.
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
    if path.with_file_name("state.json").is_file() {
        let trained =
            checkpoint(&path, device).map_err(|e| Failure::Usage(format!("--weights: {e}")))?;
        if trained.name != "d2l_lenet" {
            return Err(Failure::Usage(format!(
                "--weights {}: its checkpoint holds a `{}` model, expected a checkpoint of the lenet example",
                path.display(),
                trained.name
            )));
        }
        return Ok((trained.model, path));
    }
    eprintln!(
        "warning: {} has no state.json beside it: its bytes cannot be verified; it is loaded as the course's sigmoid LeNet",
        path.display()
    );
    registry::create("d2l_lenet", &ModelArgs::default(), device)
        .map_err(|e| Failure::Usage(e.to_string()))?
        .load_file(&path)
        .map(|m| (m, path.clone()))
        .map_err(|e| Failure::Usage(format!("{e} (expected a checkpoint of the lenet example)")))
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
