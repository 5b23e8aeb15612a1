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
//! and the first layer's six 5x5 filters beside (`<stem>-filters.png`,
//! `saliency-filters.png` for the default `--out`).

use std::path::{Path, PathBuf};
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
    /// The picture (PNG); conv1's filters go beside it as
    /// `<stem>-filters.png`.
    #[arg(long, default_value = "runs/saliency/saliency.png")]
    out: PathBuf,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

/// conv1's filter grid beside `out`: `<stem>-filters.png`, so that no
/// file of a fixed name is overwritten.
fn filters_path(out: &Path) -> PathBuf {
    let stem = out.file_stem().unwrap_or_default().to_string_lossy();
    out.with_file_name(format!("{stem}-filters.png"))
}

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Failure> {
    examples::check_png_out(&args.out)?;
    let (backend, device) = examples::device(args.device.as_deref())?;
    let ad = device.clone().autodiff();
    let (model, path) = trained::lenet(args.weights.as_deref(), &ad)?;
    let set = examples::fashion_mnist(args.data_dir.as_deref(), zoo_datasets::Split::Test)?;
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
    examples::images::save_grid(both, n, 4, &args.out).map_err(Failure::run)?;
    let zoo_models::registry::Model::LeNet(lenet) = frozen.valid() else {
        return Err(Failure::Usage(format!("{}: not a LeNet", path.display())));
    };
    let filters = filter_images(lenet.conv1.weight.val()).map_err(Failure::run)?;
    let fpath = filters_path(&args.out);
    examples::images::save_grid(filters, 6, 12, &fpath).map_err(Failure::run)?;
    println!(
        "wrote {} (images above their saliency) and {} (conv1's filters)",
        args.out.display(),
        fpath.display()
    );
    Ok(())
}
