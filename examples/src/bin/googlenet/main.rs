//! The course's GoogLeNet (d2l 8.4) on Fashion-MNIST.
//!
//!     cargo run -p examples --bin googlenet -- [--input-size N] [--epochs N] [--device D]
//!         [--model NAME] [--weights FILE] [--freeze-features] [--limit N]
//!
//! Trains on Fashion-MNIST as the course does (resized to 96, SGD lr 0.1, batch 128, 10 epochs), from the embedded
//! subset by default or the full set with `--data-dir`; prints per epoch the
//! loss, train and test accuracy and images/s, then the inference rate;
//! writes checkpoints, `metrics.jsonl` and `curves.png` to `runs/<model>`.
//! See `examples::Flags` for every flag.

use std::process::ExitCode;

fn main() -> ExitCode {
    // The course's settings (model, input side, learning rate, batch,
    // epochs) are the registry's: `zoo_models::googlenet`'s course model.
    // `--model inception_v3` trains its successor (registered as the
    // `inception` family) with the same flags.
    examples::run_with("googlenet", &["inception"])
}
