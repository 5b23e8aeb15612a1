//! Lists the devices compiled into the zoo's binaries and checks that each
//! one starts and computes: `cargo run -p examples --bin devices`.
//!
//! Useful to see whether `--device wgpu` will work on this machine (on one
//! without a GPU it needs Mesa's lavapipe: `apt-get install mesa-vulkan-drivers`).

use std::process::ExitCode;

use burn::tensor::Tensor;
use clap::Parser;
use zoo_device::Backend;

#[derive(Parser)]
#[command(about = "Check that each compiled-in device starts and computes")]
struct Args {}

fn main() -> ExitCode {
    // No arguments: an unknown one is an error (exit 2), not ignored.
    let Args {} = Args::parse();
    let mut ok = true;
    for backend in Backend::ALL {
        if !backend.is_available() {
            println!("{backend:8} not compiled in");
            continue;
        }
        let device = match backend.device() {
            Ok(d) => d,
            Err(e) => {
                ok = false;
                println!("{backend:8} FAILED  {e}");
                continue;
            }
        };
        let result = std::panic::catch_unwind(|| {
            // sum of squares 1..=4 = 30, and its gradient 2x.
            let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.0], &device.clone().autodiff())
                .require_grad();
            let y = x.clone().square().sum();
            let grads = y.backward();
            let value: Vec<f32> = y.into_data().try_into_vec_as::<f32>().unwrap();
            let grad: Vec<f32> = x
                .grad(&grads)
                .unwrap()
                .into_data()
                .try_into_vec_as::<f32>()
                .unwrap();
            (format!("{device:?}"), value[0], grad)
        });
        match result {
            Ok((name, value, grad)) if value == 30.0 && grad == [2.0, 4.0, 6.0, 8.0] => {
                println!("{backend:8} ok      {name}");
            }
            Ok((name, value, grad)) => {
                ok = false;
                println!(
                    "{backend:8} WRONG   {name}: sum x^2 = {value} (expected 30), grad {grad:?}"
                );
            }
            Err(_) => {
                ok = false;
                println!("{backend:8} FAILED  to start or compute (see the message above)");
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
