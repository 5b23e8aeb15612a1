//! Saliency maps of a trained LeNet (Simonyan et al. 2014; CS231n lecture
//! 12 and assignment 3):
//!
//! ```text
//! cargo run -p examples --bin saliency -- [--weights FILE] [--data-dir DIR] \
//!     [--out runs/saliency/saliency.png] [--device D]
//! ```
//!
//! For the first test image of each class: the gradient of the true
//! class's score with respect to the pixels, its absolute value (the
//! largest over channels), through the `lenet` example's newest checkpoint
//! frozen on an autodiff device (evaluation mode, no parameter gradients).
//! Draws the images above their maps (each scaled by its own maximum),
//! and the first layer's six 5x5 filters beside (`filters.png`).

use std::path::PathBuf;
use std::process::ExitCode;

use burn::module::Module;
use burn::tensor::Tensor;
use clap::Parser;
use examples::Failure;
use examples::trained;
use zoo_explain::features::filter_images;
use zoo_explain::saliency::saliency_map;

#[derive(Parser)]
#[command(about = "Saliency maps of the lenet example's network")]
struct Args {
    /// A checkpoint of the lenet example (default: the newest in runs/lenet).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Where a downloaded Fashion-MNIST is.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The picture (PNG).
    #[arg(long, default_value = "runs/saliency/saliency.png")]
    out: PathBuf,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Failure> {
    examples::check_png_out(&args.out)?;
    let (backend, device) = examples::device(args.device.as_deref())?;
    let ad = device.clone().autodiff();
    let (model, path) = trained::lenet(args.weights.as_deref(), &ad)?;
    let set = trained::test_set(args.data_dir.as_deref())?;
    let (x, y) = trained::one_per_class(&set, &ad);
    let pred = trained::predictions(&model, x.clone());
    println!(
        "LeNet from {} on {backend}: {} images, one per class",
        path.display(),
        y.len()
    );
    let frozen = model.freeze();
    let t = std::time::Instant::now();
    let maps = saliency_map(|x| frozen.forward(x), x.clone(), &y).map_err(Failure::run)?;
    println!(
        "saliency of {} images: {:.1} ms",
        y.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    for (k, (&c, &p)) in y.iter().zip(&pred).enumerate() {
        println!(
            "  {:<11} predicted {:<11} {}",
            set.classes()[c],
            set.classes()[p],
            if c == p { "" } else { "(wrong)" }
        );
        let _ = k;
    }
    let [n, h, w] = maps.dims();
    let maps = trained::per_image_max(maps.inner().reshape([n, 1, h, w]));
    let both = Tensor::cat(vec![x.inner(), maps], 0);
    let grid = examples::images::grid(both, n, 0.0, 1.0).map_err(Failure::run)?;
    let big = image::imageops::resize(
        &grid,
        grid.width() * 4,
        grid.height() * 4,
        image::imageops::FilterType::Nearest,
    );
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::run(format!("cannot create {}: {e}", dir.display())))?;
    }
    zoo_plot::png::save(&big, &args.out).map_err(Failure::run)?;
    let zoo_models::registry::Model::LeNet(lenet) = frozen.valid() else {
        return Err(Failure::Usage(format!("{}: not a LeNet", path.display())));
    };
    let filters = filter_images(lenet.conv1.weight.val()).map_err(Failure::run)?;
    let grid = examples::images::grid(filters, 6, 0.0, 1.0).map_err(Failure::run)?;
    let big = image::imageops::resize(
        &grid,
        grid.width() * 12,
        grid.height() * 12,
        image::imageops::FilterType::Nearest,
    );
    let fpath = args.out.with_file_name("filters.png");
    zoo_plot::png::save(&big, &fpath).map_err(Failure::run)?;
    println!(
        "wrote {} (images above their saliency) and {} (conv1's filters)",
        args.out.display(),
        fpath.display()
    );
    Ok(())
}
