//! Classic machine learning and vision: kNN, CS231n's linear-classifier
//! losses, Sobel (zoo-classic).

use zoo_classic::{canny, edges, hog, knn, linear};

use super::super::case::HostTensor;
use super::super::value::DynTensor;
use super::{Ctx, Outputs};

fn labels(ctx: &Ctx, name: &str) -> Result<Vec<usize>, String> {
    ctx.host(name)?
        .ints
        .iter()
        .map(|&v| usize::try_from(v).map_err(|_| format!("in.{name}: label {v} is negative")))
        .collect()
}

/// scikit-learn's brute-force `KNeighborsClassifier` and the distances.
pub fn knn(ctx: &Ctx) -> Result<Outputs, String> {
    let metric: knn::Metric = ctx
        .str_or("metric", "l2")?
        .parse()
        .map_err(|e: zoo_classic::ClassicError| e.to_string())?;
    let k = ctx.usize_or("k", 1)?;
    let train = ctx.input_n::<2>("train_x")?;
    let test = ctx.input_n::<2>("test_x")?;
    let y = labels(ctx, "train_y")?;
    let m = test.dims()[0];
    let distances =
        knn::distances(test.clone(), train.clone(), metric).map_err(|e| e.to_string())?;
    let model = knn::KNearest::fit(train, &y, metric).map_err(|e| e.to_string())?;
    let pred = model.predict(test, k).map_err(|e| e.to_string())?;
    Ok(Outputs::default()
        .host(
            "pred",
            HostTensor::from_ints(vec![m], pred.into_iter().map(|p| p as i64).collect()),
        )
        .float("distances", DynTensor::new(distances)))
}

/// CS231n's `svm_loss_vectorized` / `softmax_loss_vectorized`.
pub fn linear_classifier_loss(ctx: &Ctx) -> Result<Outputs, String> {
    let kind: linear::LinearLoss = ctx
        .str_or("kind", "softmax")?
        .parse()
        .map_err(|e: zoo_classic::ClassicError| e.to_string())?;
    let reg = ctx.f64_or("reg", 0.0)?;
    let w = ctx.input_n::<2>("W")?;
    let x = ctx.input_n::<2>("X")?;
    let y = ctx.int_input_n::<1>("y")?;
    let loss = linear::loss(kind, w, x, y, reg).map_err(|e| e.to_string())?;
    Ok(Outputs::default().float("loss", DynTensor::scalar(loss)))
}

/// OpenCV's `Sobel(ksize=3)` and the magnitude.
pub fn sobel(ctx: &Ctx) -> Result<Outputs, String> {
    let kind: edges::Magnitude = ctx
        .str_or("magnitude", "l1")?
        .parse()
        .map_err(|e: zoo_classic::ClassicError| e.to_string())?;
    let clamp = ctx.bool_or("clamp", false)?;
    let image = ctx.input_n::<4>("image")?;
    let g = edges::sobel(image, kind, clamp).map_err(|e| e.to_string())?;
    Ok(Outputs::default()
        .float("magnitude", DynTensor::new(g.magnitude))
        .float("gx", DynTensor::new(g.gx))
        .float("gy", DynTensor::new(g.gy)))
}

/// scikit-image's `feature.canny` (float image, no mask).
pub fn canny(ctx: &Ctx) -> Result<Outputs, String> {
    let config = canny::CannyConfig {
        sigma: ctx.f64_or("sigma", 1.0)?,
        low_threshold: ctx.f64_or("low_threshold", 0.1)?,
        high_threshold: ctx.f64_or("high_threshold", 0.2)?,
    };
    let image = ctx.input_n::<4>("image")?;
    let [n, c, h, w] = image.dims();
    let edges = canny::canny_batch(image, &config).map_err(|e| e.to_string())?;
    let ints = edges
        .into_data()
        .try_into_vec_as::<i64>()
        .map_err(|e| format!("{e:?}"))?;
    Ok(Outputs::default().host("edges", HostTensor::from_ints(vec![n, c, h, w], ints)))
}

/// scikit-image's `feature.hog(..., feature_vector=True)` of one grey image.
pub fn hog(ctx: &Ctx) -> Result<Outputs, String> {
    let config = hog::HogConfig {
        orientations: ctx.usize_or("orientations", 9)?,
        pixels_per_cell: ctx.pair_or("pixels_per_cell", [8, 8])?,
        cells_per_block: ctx.pair_or("cells_per_block", [3, 3])?,
        block_norm: ctx
            .str_or("block_norm", "L2-Hys")?
            .parse()
            .map_err(|e: zoo_classic::ClassicError| e.to_string())?,
    };
    let image = ctx.input_n::<4>("image")?;
    let [n, _, _, _] = image.dims();
    if n != 1 {
        return Err(format!(
            "{n} images; the hog case takes one image [1, 1, H, W]"
        ));
    }
    let f = config.features_batch(image).map_err(|e| e.to_string())?;
    let [_, len] = f.dims();
    Ok(Outputs::default().float("features", DynTensor::new(f.reshape([len]))))
}
