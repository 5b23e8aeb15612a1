//! Plain gradient descent on a function, with the gradient from autodiff:
//! the worked examples of the course notes' optimisation chapter (d2l 12.3).

use burn::tensor::{Device, Tensor};

/// Runs `steps` of `x <- x - lr * grad f(x)` from `start`, the gradient of
/// the scalar `f` taken with the device's autodiff. Returns the path: the
/// `steps + 1` points visited, `start` first.
pub fn descend(
    f: impl Fn(Tensor<1>) -> Tensor<1>,
    start: &[f32],
    lr: f64,
    steps: usize,
    device: &Device,
) -> Vec<Vec<f32>> {
    let device = device.clone().autodiff();
    let mut x = Tensor::<1>::from_floats(start, &device);
    let mut path = vec![start.to_vec()];
    for _ in 0..steps {
        let leaf = x.detach().require_grad();
        let grads = f(leaf.clone()).backward();
        let g = leaf.grad(&grads).expect("f must depend on x");
        x = leaf.detach() - g.mul_scalar(lr);
        path.push(x.clone().into_data().try_into_vec_as::<f32>().unwrap());
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x_squared_contracts_by_one_minus_two_lr() {
        // d2l: f(x) = x^2 from 10 with eta 0.2: x_t = 10 * 0.6^t.
        let device = zoo_device::from_name("flex").unwrap();
        let path = descend(|x| x.square().sum(), &[10.0], 0.2, 3, &device);
        let want = [10.0, 6.0, 3.6, 2.16];
        for (p, w) in path.iter().zip(want) {
            assert!((p[0] - w).abs() < 1e-5, "{path:?}");
        }
    }
}
