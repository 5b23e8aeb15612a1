//! The variational autoencoder of PyTorch's `examples/vae` (Kingma &
//! Welling 2014): `fc1` (input to hidden, ReLU), `fc21` / `fc22` (hidden to
//! the mean and log-variance of the latent Gaussian), the reparameterisation
//! `z = mu + eps * exp(logvar / 2)`, `fc3` (latent to hidden, ReLU) and `fc4`
//! (hidden to the input, sigmoid). Field names are the example's keys. The
//! loss is `zoo_losses::vae_loss`.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Distribution, Tensor};
use zoo_layers::trace;

/// Configuration of a [`Vae`] (the example's sizes by default).
#[derive(Config, Debug)]
pub struct VaeConfig {
    /// Input size (28 x 28 = 784).
    #[config(default = 784)]
    pub input_size: usize,
    /// Hidden width (400).
    #[config(default = 400)]
    pub hidden_size: usize,
    /// Latent size (20).
    #[config(default = 20)]
    pub latent_size: usize,
}

/// PyTorch's example VAE.
#[derive(Module, Debug)]
pub struct Vae {
    /// Input to hidden.
    pub fc1: Linear,
    /// Hidden to the latent mean.
    pub fc21: Linear,
    /// Hidden to the latent log-variance.
    pub fc22: Linear,
    /// Latent to hidden.
    pub fc3: Linear,
    /// Hidden to the reconstruction.
    pub fc4: Linear,
}

/// What [`Vae::forward`] returns.
#[derive(Debug, Clone)]
pub struct VaeOutput {
    /// The reconstruction, probabilities `[N, input]`.
    pub recon: Tensor<2>,
    /// The latent mean `[N, latent]`.
    pub mu: Tensor<2>,
    /// The latent log-variance `[N, latent]`.
    pub logvar: Tensor<2>,
}

impl VaeConfig {
    /// The network with PyTorch's default `Linear` initialisation.
    ///
    /// # Panics
    /// When a size is 0.
    pub fn init(&self, device: &Device) -> Vae {
        let (i, h, l) = (self.input_size, self.hidden_size, self.latent_size);
        assert!(
            i > 0 && h > 0 && l > 0,
            "VaeConfig: sizes {i}, {h}, {l}: expected positive sizes"
        );
        let lin = |a: usize, b: usize| {
            LinearConfig::new(a, b)
                .with_initializer(Initializer::KaimingUniform {
                    gain: 1.0 / 3f64.sqrt(),
                    fan_out_only: false,
                })
                .init(device)
        };
        Vae {
            fc1: lin(i, h),
            fc21: lin(h, l),
            fc22: lin(h, l),
            fc3: lin(l, h),
            fc4: lin(h, i),
        }
    }
}

impl Vae {
    /// The latent Gaussian's mean and log-variance of inputs `[N, input]`.
    pub fn encode(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = relu(trace::linear(&self.fc1, x));
        (
            trace::linear(&self.fc21, h.clone()),
            trace::linear(&self.fc22, h),
        )
    }

    /// `mu + eps * exp(logvar / 2)` with the standard-normal draws `eps`.
    pub fn reparameterize(mu: Tensor<2>, logvar: Tensor<2>, eps: Tensor<2>) -> Tensor<2> {
        mu + eps * logvar.mul_scalar(0.5).exp()
    }

    /// Reconstruction probabilities `[N, input]` of latents `[N, latent]`.
    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        sigmoid(trace::linear(&self.fc4, relu(trace::linear(&self.fc3, z))))
    }

    /// Encode, sample with the given `eps` `[N, latent]`, decode.
    pub fn forward_with(&self, x: Tensor<2>, eps: Tensor<2>) -> VaeOutput {
        let (mu, logvar) = self.encode(x);
        let z = Self::reparameterize(mu.clone(), logvar.clone(), eps);
        VaeOutput {
            recon: self.decode(z),
            mu,
            logvar,
        }
    }

    /// Encode, sample `eps` from the device's RNG (`torch.randn_like`), decode.
    pub fn forward(&self, x: Tensor<2>) -> VaeOutput {
        let [n, _] = x.dims();
        let latent = self.latent_size();
        let eps = Tensor::random([n, latent], Distribution::Normal(0.0, 1.0), &x.device());
        self.forward_with(x, eps)
    }

    /// The latent size.
    pub fn latent_size(&self) -> usize {
        self.fc21.weight.lazy_shape().dims::<2>()[1]
    }
}
