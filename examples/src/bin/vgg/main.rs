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

use clap::Parser;
use examples::{Failure, Flags, Plan};

fn main() -> ExitCode {
    examples::exit(run(&Flags::parse()))
}

fn run(flags: &Flags) -> Result<(), Failure> {
    // The course's settings (model, input side, learning rate, batch,
    // epochs) are the registry's, `zoo_models::vgg`'s course model; a
    // flag overrides one.
    let plan = Plan::new("vgg", &[], flags)?;
    // Fashion-MNIST, resized to the plan's side.
    let data = plan.data(flags)?;
    // The model from the registry: the course's Xavier-uniform start, or
    // --weights (with --reset-head / --freeze-features for fine-tuning).
    let model = plan.model(flags, &data)?;
    // The loop: SGD, per-epoch test accuracy, checkpoints, metrics.jsonl
    // and curves.png under runs/<model>; then the inference rate.
    plan.fit(model, data, flags)
}
