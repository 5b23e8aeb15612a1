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

use clap::Parser;
use examples::{Failure, Flags, Plan};

fn main() -> ExitCode {
    examples::exit(run(&Flags::parse()))
}

fn run(flags: &Flags) -> Result<(), Failure> {
    // The course's settings (model, input side, learning rate, batch,
    // epochs) are the registry's, `zoo_models::resnet`'s course model; a
    // flag overrides one.
    let plan = Plan::new("resnet", &[], flags)?;
    // Fashion-MNIST, resized to the plan's side.
    let data = plan.data(flags)?;
    // The model from the registry: the course's Xavier-uniform start, or
    // --weights (with --reset-head / --freeze-features for fine-tuning).
    let model = plan.model(flags, &data)?;
    // The loop: SGD, per-epoch test accuracy, checkpoints, metrics.jsonl
    // and curves.png under runs/<model>; then the inference rate.
    plan.fit(model, data, flags)
}
