//! The course's VGG-11 (d2l 8.2) on Fashion-MNIST, with the course's channel ratio 4.
//!
//!     cargo run -p examples --bin vgg -- [--input-size N] [--epochs N] [--device D]
//!         [--model NAME] [--weights FILE] [--freeze-features] [--limit N]
//!
//! Trains on Fashion-MNIST as the course does (resized to 224, SGD lr 0.05, batch 128, 10 epochs; the network is VGG-11 with a quarter of the channels, as the course trains it), from the embedded
//! subset by default or the full set with `--data-dir`; prints per epoch the
//! loss, train and test accuracy and images/s, then the inference rate;
//! writes checkpoints, `metrics.jsonl` and `curves.png` to `runs/<model>`.
//! See `examples::Flags` for every flag.

use std::process::ExitCode;

use examples::{Course, run};
use zoo_models::registry::ModelArgs;

/// The course's `ratio = 4` VGG-11: `((1, 16), (1, 32), (2, 64), (2, 128), (2, 128))`.
fn small_vgg() -> ModelArgs {
    ModelArgs {
        blocks: Some(vec![
            vec![1, 16],
            vec![1, 32],
            vec![2, 64],
            vec![2, 128],
            vec![2, 128],
        ]),
        ..ModelArgs::default()
    }
}

fn main() -> ExitCode {
    run(
        "vgg",
        Course {
            model: "d2l_vgg11",
            input_size: 224,
            lr: 0.05,
            batch_size: 128,
            epochs: 10,
            args: small_vgg,
        },
    )
}
