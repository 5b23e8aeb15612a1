//! The variational autoencoder's loss (Kingma & Welling 2014; PyTorch's
//! `examples/vae`): reconstruction plus the KL divergence of the encoder's
//! Gaussian from the standard normal prior.

use burn::tensor::Tensor;

use crate::bce::binary_cross_entropy;
use crate::reduction::{Reduction, check_same_shape};

/// `KL(N(mu, exp(logvar)) || N(0, I))` summed over the batch and the latent
/// dimensions: `-0.5 * sum(1 + logvar - mu^2 - exp(logvar))`. Shape `[1]`.
///
/// # Panics
/// When `mu` and `logvar` differ in shape.
pub fn gaussian_kl(mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<1> {
    check_same_shape("gaussian_kl", &mu, &logvar);
    (logvar.clone().add_scalar(1.0) - mu.powi_scalar(2) - logvar.exp())
        .sum()
        .mul_scalar(-0.5)
}

/// The negative ELBO of PyTorch's VAE example (`loss_function`): the summed
/// binary cross-entropy of the reconstruction `recon` (probabilities)
/// against the input `x` (in `[0, 1]`), plus [`gaussian_kl`]. Shape `[1]`.
///
/// # Panics
/// When shapes differ.
pub fn vae_loss(recon: Tensor<2>, x: Tensor<2>, mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<1> {
    binary_cross_entropy(recon, x, Reduction::Sum) + gaussian_kl(mu, logvar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kl_term_is_zero_at_the_prior_and_closed_form_elsewhere() {
        let d = zoo_device::from_name("flex").unwrap();
        let zeros = Tensor::<2>::zeros([2, 3], &d);
        assert_eq!(
            gaussian_kl(zeros.clone(), zeros.clone()).into_scalar::<f32>(),
            0.0
        );
        // KL(N(1, e^1) || N(0, 1)) per dimension = 0.5 (e + 1 - 1 - 1) = 0.5 (e - 1).
        let ones = Tensor::<2>::ones([1, 1], &d);
        let kl = gaussian_kl(ones.clone(), ones).into_scalar::<f32>() as f64;
        assert!(
            (kl - 0.5 * (std::f64::consts::E - 1.0)).abs() < 1e-6,
            "{kl}"
        );
        // A reconstruction of exactly 0 where the input is 1: log clamped at -100.
        let recon = Tensor::<2>::from_floats([[0.0, 0.5]], &d);
        let x = Tensor::<2>::from_floats([[1.0, 1.0]], &d);
        let z = Tensor::<2>::zeros([1, 1], &d);
        let loss = vae_loss(recon, x, z.clone(), z).into_scalar::<f32>() as f64;
        assert!((loss - (100.0 + 2f64.ln())).abs() < 1e-4, "{loss}");
    }
}
