//! The course's ResNet-18 (d2l 8.6) on Fashion-MNIST.
//!
//!     cargo run -p examples --bin resnet -- [--input-size N] [--epochs N] [--device D]
//!         [--model NAME] [--weights FILE] [--freeze-features] [--limit N]
//!
//! Trains on Fashion-MNIST as the course does (resized to 96, SGD lr 0.05, batch 256, 10 epochs), from the embedded
//! subset by default or the full set with `--data-dir`; prints per epoch the
//! loss, train and test accuracy and images/s, then the inference rate;
//! writes checkpoints, `metrics.jsonl` and `curves.png` to `runs/<model>`.
//! See `examples::Flags` for every flag.

use std::process::ExitCode;

use examples::{Course, run};
use zoo_models::registry::ModelArgs;

fn main() -> ExitCode {
    run(
        "resnet",
        Course {
            model: "d2l_resnet18",
            input_size: 96,
            lr: 0.05,
            batch_size: 256,
            epochs: 10,
            args: ModelArgs::default,
        },
    )
}
