//! The GAN training step (d2l 20.1 `update_D` / `update_G`, used by its
//! DCGAN too): the discriminator learns to tell real samples (target 1)
//! from generated ones (target 0), with the generator's output detached,
//! then the generator learns to make the updated discriminator say 1. Both
//! losses are `BCEWithLogitsLoss(reduction="sum")`, the discriminator's
//! halved; each net has its own optimizer (the course: Adam).
//!
//! Batch norm in training mode updates its running statistics at every
//! forward pass, as in PyTorch: a discriminator step runs `net_D` twice
//! (real, fake) and `net_G` once, a generator step runs each once, so one
//! training iteration counts [`D_PASSES`] batches in `net_D`'s statistics and
//! [`G_PASSES`] in `net_G`'s (PyTorch's `num_batches_tracked`).
//!
//! [`GanTask`] runs the step on the shared training loop (checkpoints of
//! both nets and both optimizers, exact resume, the curves).

use std::path::Path;
use std::sync::Arc;

use burn::data::dataloader::DataLoader;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;
use zoo_losses::{Reduction, bce_with_logits};
use zoo_models::gan::{Discriminator, Generator};
use zoo_rng::Rng;

use crate::checkpoint::{load_named, save_named};
use crate::loader::IndexLoader;
use crate::task::{Step, Task};
use crate::trainer::{TrainError, weights_finite};

/// Forward passes of the discriminator per iteration (`update_D` then `update_G`).
pub const D_PASSES: usize = 3;
/// Forward passes of the generator per iteration.
pub const G_PASSES: usize = 2;

/// The loss's value on the plain device, read before the backward pass.
///
/// On wgpu over Mesa's OpenGL driver (burn 0.22.1), keeping a detached clone of the loss alive across
/// `backward` and the optimizer step made that step move the weights
/// differently from flex and ndarray (the gradients themselves agreed;
/// `tests/tests/gan_cross_device.rs` shows it); reading the one value first
/// avoids it, at the cost of one device synchronisation per step.
fn read_loss(loss: &Tensor<1>) -> Tensor<1> {
    Tensor::from_data(loss.clone().into_data(), &loss.device().inner())
}

/// d2l's `update_D`: one step of `net_d` on real samples `x` and the
/// generator's samples of noise `z` (detached). Returns the updated
/// discriminator and its loss before the step (`[1]`, on the plain device).
pub fn update_d<G, D, const Z: usize, const X: usize>(
    net_d: D,
    net_g: &G,
    x: Tensor<X>,
    z: Tensor<Z>,
    optim: &mut ModuleOptimizer,
    lr: f64,
) -> (D, Tensor<1>)
where
    G: Generator<Z, X>,
    D: Discriminator<X>,
{
    let device = x.device();
    let n = x.dims()[0];
    let real = net_d.logit(x);
    let fake = net_d.logit(net_g.generate(z).detach());
    let loss = (bce_with_logits(real, Tensor::ones([n], &device), Reduction::Sum)
        + bce_with_logits(fake, Tensor::zeros([n], &device), Reduction::Sum))
    .div_scalar(2.0);
    let value = read_loss(&loss);
    let grads = GradientsParams::from_grads(loss.backward(), &net_d);
    let net_d = optim.step(lr, net_d, grads);
    (net_d, value)
}

/// d2l's `update_G`: one step of `net_g` so that `net_d` takes its samples
/// of noise `z` for real. Returns the updated generator and its loss before
/// the step (`[1]`, on the plain device).
pub fn update_g<G, D, const Z: usize, const X: usize>(
    net_g: G,
    net_d: &D,
    z: Tensor<Z>,
    optim: &mut ModuleOptimizer,
    lr: f64,
) -> (G, Tensor<1>)
where
    G: Generator<Z, X>,
    D: Discriminator<X>,
{
    let device = z.device();
    let n = z.dims()[0];
    let fake = net_d.logit(net_g.generate(z));
    let loss = bce_with_logits(fake, Tensor::ones([n], &device), Reduction::Sum);
    let value = read_loss(&loss);
    let grads = GradientsParams::from_grads(loss.backward(), &net_g);
    let net_g = optim.step(lr, net_g, grads);
    (net_g, value)
}

/// Makes a batch: the real samples of the given item indices and the noise
/// for them, drawn from the given generator (seeded by the loop, so a resumed
/// run draws the same noise).
pub type MakeGanBatch<const Z: usize, const X: usize> =
    Arc<dyn Fn(&[usize], &mut Rng) -> (Tensor<X>, Tensor<Z>) + Send + Sync>;

/// What the task calls after each epoch with the generator (on the plain
/// device, evaluation mode) to show its samples: returns a line to print.
pub type OnEpoch<G> = Box<dyn FnMut(usize, &G) -> Option<String>>;

/// A GAN as a task of the shared loop: each batch is d2l's `update_D` then
/// `update_G`; the measures are both losses per sample (d2l's `loss_D`,
/// `loss_G`) and, on held-out real samples and fixed noise, the
/// discriminator's mean probability of "real" for each (`d_real`,
/// `d_fake`); a checkpoint holds both nets and both optimizers.
pub struct GanTask<G, D, const Z: usize, const X: usize> {
    net_g: Option<G>,
    net_d: Option<D>,
    opt_g: ModuleOptimizer,
    opt_d: ModuleOptimizer,
    /// The generator's learning rate as a multiple of the loop's (which is the discriminator's).
    g_ratio: f64,
    items: usize,
    batch_size: usize,
    make: MakeGanBatch<Z, X>,
    /// Held-out real samples and fixed noise, on the plain device.
    valid: (Tensor<X>, Tensor<Z>),
    on_epoch: Option<OnEpoch<G>>,
}

impl<G, D, const Z: usize, const X: usize> GanTask<G, D, Z, X>
where
    G: Generator<Z, X> + 'static,
    D: Discriminator<X> + 'static,
{
    /// `net_g` and `net_d` (on an autodiff device) trained with `opt_g` at
    /// `g_ratio` times the loop's rate and `opt_d` at the loop's rate, on
    /// `items` samples made in batches of `batch_size` by `make`; `valid`
    /// holds real samples and noise on the plain device.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        net_g: G,
        net_d: D,
        opt_g: ModuleOptimizer,
        opt_d: ModuleOptimizer,
        g_ratio: f64,
        items: usize,
        batch_size: usize,
        make: MakeGanBatch<Z, X>,
        valid: (Tensor<X>, Tensor<Z>),
    ) -> Result<Self, TrainError> {
        if items == 0 || batch_size == 0 {
            return Err(TrainError::Config(format!(
                "{items} training samples in batches of {batch_size}: expected both > 0"
            )));
        }
        if !(g_ratio.is_finite() && g_ratio > 0.0) {
            return Err(TrainError::Config(format!(
                "generator learning-rate ratio {g_ratio}, expected a positive number"
            )));
        }
        Ok(Self {
            net_g: Some(net_g),
            net_d: Some(net_d),
            opt_g,
            opt_d,
            g_ratio,
            items,
            batch_size,
            make,
            valid,
            on_epoch: None,
        })
    }

    /// Calls `f(epoch, generator)` after each epoch (to draw its samples).
    pub fn on_epoch(mut self, f: OnEpoch<G>) -> Self {
        self.on_epoch = Some(f);
        self
    }

    /// The generator (on the training device).
    pub fn generator(&self) -> &G {
        self.net_g.as_ref().expect("between steps")
    }

    /// The discriminator (on the training device).
    pub fn discriminator(&self) -> &D {
        self.net_d.as_ref().expect("between steps")
    }
}

impl<G, D, const Z: usize, const X: usize> Task for GanTask<G, D, Z, X>
where
    G: Generator<Z, X> + 'static,
    D: Discriminator<X> + 'static,
{
    type Batch = (Tensor<X>, Tensor<Z>);

    fn train_loader(&self, _epoch: usize, seed: u64) -> Arc<dyn DataLoader<Self::Batch>> {
        let order = Rng::new(seed).permutation(self.items);
        let make = self.make.clone();
        Arc::new(IndexLoader::new(
            order,
            self.batch_size,
            Arc::new(move |ix: &[usize]| {
                // The noise of a batch depends on the epoch's seed and its
                // first item only, so any replay draws the same.
                let mut rng = Rng::for_batch(seed, ix[0]);
                make(ix, &mut rng)
            }),
        ))
    }

    fn batches_per_epoch(&self) -> usize {
        self.items.div_ceil(self.batch_size)
    }

    fn step(&mut self, (x, z): Self::Batch, lr: f64) -> Step {
        let n = x.dims()[0];
        let net_d = self.net_d.take().expect("between steps");
        let net_g = self.net_g.take().expect("between steps");
        let (net_d, loss_d) = update_d(net_d, &net_g, x, z.clone(), &mut self.opt_d, lr);
        let (net_g, loss_g) = update_g(net_g, &net_d, z, &mut self.opt_g, lr * self.g_ratio);
        self.net_d = Some(net_d);
        self.net_g = Some(net_g);
        Step {
            count: n,
            sums: vec![("loss_D", loss_d), ("loss_G", loss_g)],
        }
    }

    fn validate(&mut self) -> Vec<(&'static str, f64)> {
        let g = self.generator().valid();
        let d = self.discriminator().valid();
        let (x, z) = self.valid.clone();
        let mean_prob =
            |logits: Tensor<1>| -> f64 { sigmoid(logits).mean().into_scalar::<f32>() as f64 };
        let real = mean_prob(d.logit(x));
        let fake = mean_prob(d.logit(g.generate(z)));
        vec![("d_real", real), ("d_fake", fake)]
    }

    fn monitor(&self) -> (&'static str, bool) {
        ("d_real", true)
    }

    fn unit(&self) -> &'static str {
        "samples"
    }

    fn recorded(&self) -> Vec<(String, String)> {
        vec![
            ("train_samples".into(), self.items.to_string()),
            ("g_lr_ratio".into(), self.g_ratio.to_string()),
        ]
    }

    fn report(&mut self, epoch: usize) -> Option<String> {
        let g = self.generator().valid();
        self.on_epoch.as_mut().and_then(|f| f(epoch, &g))
    }

    fn save(&self, dir: &Path) -> Result<Vec<String>, TrainError> {
        let mut files = save_named(
            dir,
            "generator",
            "optim_generator",
            self.generator(),
            &self.opt_g,
        )?;
        files.extend(save_named(
            dir,
            "discriminator",
            "optim_discriminator",
            self.discriminator(),
            &self.opt_d,
        )?);
        Ok(files)
    }

    fn load(&mut self, dir: &Path) -> Result<(), String> {
        let (g, og) = load_named(
            dir,
            "generator",
            "optim_generator",
            self.generator().clone(),
            self.opt_g.clone(),
        )?;
        let (d, od) = load_named(
            dir,
            "discriminator",
            "optim_discriminator",
            self.discriminator().clone(),
            self.opt_d.clone(),
        )?;
        self.net_g = Some(g);
        self.net_d = Some(d);
        self.opt_g = og;
        self.opt_d = od;
        Ok(())
    }

    fn weights_finite(&self) -> bool {
        weights_finite(self.generator()) && weights_finite(self.discriminator())
    }
}
