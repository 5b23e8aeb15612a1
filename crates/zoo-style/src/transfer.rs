//! The transfer loop (d2l 14.12): the synthesised image is the only
//! parameter, initialised from the content image (or noise); each step
//! minimises `content_weight * sum(content losses) + style_weight *
//! sum(style losses) + tv_weight * tv` with Adam (the course: lr 0.3, times
//! 0.8 every 50 steps) or burn's L-BFGS (one iteration per step, history
//! kept), then clamps the image to the valid pixel range.

use std::time::Instant;

use burn::module::{Module, Param};
use burn::optim::ModuleOptimizer;
use burn::optim::{GradientsParams, LBFGS, LBFGSConfig};
use burn::tensor::{Device, Tensor, TensorData};
use zoo_optim::AdamConfig;

use crate::StyleError;
use crate::features::{Vgg19Features, layer_index};
use crate::losses::{content_loss, gram_matrix, style_loss, tv_loss};

/// The optimiser of the loop.
#[derive(Clone, Debug, PartialEq)]
pub enum Optimizer {
    /// Adam with a step decay: `lr * gamma^(step / every)`.
    Adam {
        /// Initial rate (the course: 0.3).
        lr: f64,
        /// Decay factor (the course: 0.8).
        gamma: f64,
        /// Steps between decays (the course: 50).
        every: usize,
    },
    /// burn's L-BFGS (PyTorch's port), `lr` 1, no line search, one iteration per step.
    Lbfgs {
        /// Step size.
        lr: f64,
    },
}

impl Optimizer {
    /// The course's Adam schedule.
    pub fn course_adam() -> Self {
        Self::Adam {
            lr: 0.3,
            gamma: 0.8,
            every: 50,
        }
    }
}

/// How the synthesised image starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// A copy of the content image (the course).
    Content,
    /// Uniform noise in `[0, 1]` from this seed.
    Noise(u64),
}

/// The settings of a transfer.
#[derive(Clone, Debug, PartialEq)]
pub struct TransferConfig {
    /// Style layers (the course: conv1_1, conv2_1, conv3_1, conv4_1, conv5_1).
    pub style_layers: Vec<String>,
    /// Content layers (conv4_2: see [`crate::features`]).
    pub content_layers: Vec<String>,
    /// The course: 1.
    pub content_weight: f64,
    /// The course: 1e4.
    pub style_weight: f64,
    /// The course: 10.
    pub tv_weight: f64,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// The start.
    pub init: Init,
}

impl Default for TransferConfig {
    fn default() -> Self {
        Self {
            style_layers: ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
                .map(String::from)
                .to_vec(),
            content_layers: vec!["conv4_2".into()],
            content_weight: 1.0,
            style_weight: 1e4,
            tv_weight: 10.0,
            optimizer: Optimizer::course_adam(),
            init: Init::Content,
        }
    }
}

/// The loss terms after one step (weighted, as summed into the total).
#[derive(Clone, Debug, PartialEq)]
pub struct StepReport {
    /// Steps done.
    pub step: usize,
    /// Weighted content loss.
    pub content: f64,
    /// Weighted style loss.
    pub style: f64,
    /// Weighted total variation.
    pub tv: f64,
    /// Their sum.
    pub total: f64,
    /// The learning rate used.
    pub lr: f64,
    /// Seconds for the step.
    pub seconds: f64,
}

/// The synthesised image, normalised, as the module the optimiser updates.
#[derive(Module, Debug)]
pub struct Synthesized {
    /// `[1, 3, H, W]`, ImageNet-normalised.
    pub image: Param<Tensor<4>>,
}

/// The optimiser's state with its settings.
enum Opt {
    Adam {
        opt: ModuleOptimizer,
        lr: f64,
        gamma: f64,
        every: usize,
    },
    Lbfgs {
        opt: Box<LBFGS>,
        lr: f64,
    },
}

/// A style transfer in progress.
pub struct Transfer {
    extractor: Vgg19Features,
    config: TransferConfig,
    style_idx: Vec<usize>,
    content_idx: Vec<usize>,
    layers: Vec<usize>,
    content_targets: Vec<Tensor<4>>,
    style_targets: Vec<Tensor<3>>,
    synthesized: Option<Synthesized>,
    opt: Option<Opt>,
    steps: usize,
    lo: Tensor<4>,
    hi: Tensor<4>,
}

fn check_image(name: &str, image: &Tensor<4>) -> Result<(), StyleError> {
    match image.dims() {
        [1, 3, h, w] if h >= 16 && w >= 16 => Ok(()),
        d => Err(StyleError::Invalid(format!(
            "{name} image of shape {d:?}, expected [1, 3, H, W] with H, W >= 16"
        ))),
    }
}

impl Transfer {
    /// Starts a transfer of `style` onto `content` (both `[1, 3, H, W]` in
    /// `[0, 1]`; the style may have another size) on `device` (an autodiff
    /// device is made from it), with `extractor`'s weights.
    pub fn new(
        extractor: Vgg19Features,
        content: Tensor<4>,
        style: Tensor<4>,
        config: TransferConfig,
        device: &Device,
    ) -> Result<Self, StyleError> {
        check_image("content", &content)?;
        check_image("style", &style)?;
        for w in [config.content_weight, config.style_weight, config.tv_weight] {
            // Finite in float32, the precision the losses are computed in.
            if !((w as f32).is_finite() && w >= 0.0) {
                return Err(StyleError::Invalid(format!(
                    "loss weights {}, {}, {}: expected non-negative numbers finite in float32 (at most 3.4e38)",
                    config.content_weight, config.style_weight, config.tv_weight
                )));
            }
        }
        let names = |v: &[String]| {
            v.iter()
                .map(|n| layer_index(n))
                .collect::<Result<Vec<_>, _>>()
        };
        let style_idx = names(&config.style_layers)?;
        let content_idx = names(&config.content_layers)?;
        let ad = device.clone().autodiff();
        let extractor = extractor.fork(&ad).no_grad();
        let layers: Vec<usize> = style_idx.iter().chain(&content_idx).copied().collect();
        // Re-made on the autodiff device (a tensor moved there keeps its plain kind).
        let content = Vgg19Features::preprocess(Tensor::from_data(content.into_data(), &ad));
        let style = Vgg19Features::preprocess(Tensor::from_data(style.into_data(), &ad));
        let content_targets = extractor
            .extract(content.clone(), &content_idx)
            .into_iter()
            .map(|t| t.detach())
            .collect();
        let style_targets = extractor
            .extract(style, &style_idx)
            .into_iter()
            .map(|t| gram_matrix(t).detach())
            .collect();
        let [_, _, h, w] = content.dims();
        let start = match config.init {
            Init::Content => content.detach(),
            Init::Noise(seed) => {
                let mut s = seed;
                let v: Vec<f32> = (0..3 * h * w)
                    .map(|_| {
                        s = s
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        (s >> 40) as f32 / (1u64 << 24) as f32
                    })
                    .collect();
                Vgg19Features::preprocess(Tensor::from_data(TensorData::new(v, [1, 3, h, w]), &ad))
            }
        };
        // The valid pixel range [0, 1], normalised.
        let lo = Vgg19Features::preprocess(Tensor::zeros([1, 3, 1, 1], &ad));
        let hi = Vgg19Features::preprocess(Tensor::ones([1, 3, 1, 1], &ad));
        let opt = match &config.optimizer {
            Optimizer::Adam { lr, gamma, every } => {
                if !(*lr > 0.0 && *gamma > 0.0 && *every > 0) {
                    return Err(StyleError::Invalid(format!(
                        "Adam lr {lr}, gamma {gamma}, every {every}: expected positive values"
                    )));
                }
                Opt::Adam {
                    opt: AdamConfig::new().init(),
                    lr: *lr,
                    gamma: *gamma,
                    every: *every,
                }
            }
            Optimizer::Lbfgs { lr } => {
                if lr.is_nan() || *lr <= 0.0 {
                    return Err(StyleError::Invalid(format!("L-BFGS lr {lr}, expected > 0")));
                }
                Opt::Lbfgs {
                    opt: Box::new(LBFGSConfig::new().with_max_iter(1).init()),
                    lr: *lr,
                }
            }
        };
        Ok(Self {
            extractor,
            config,
            style_idx,
            content_idx,
            layers,
            content_targets,
            style_targets,
            synthesized: Some(Synthesized {
                image: Param::from_tensor(start.require_grad()),
            }),
            opt: Some(opt),
            steps: 0,
            lo,
            hi,
        })
    }

    /// The unweighted content and style losses of `image`, layer by layer.
    fn layer_losses(&self, image: Tensor<4>) -> (Vec<Tensor<1>>, Vec<Tensor<1>>) {
        let feats = self.extractor.extract(image, &self.layers);
        let (style, content) = feats.split_at(self.style_idx.len());
        let content = content
            .iter()
            .zip(&self.content_targets)
            .map(|(f, t)| content_loss(f.clone(), t.clone()))
            .collect();
        let style = style
            .iter()
            .zip(&self.style_targets)
            .map(|(f, t)| style_loss(f.clone(), t.clone()))
            .collect();
        (content, style)
    }

    /// The weighted loss terms of `image` (content, style, tv) and their sum.
    fn losses(&self, image: Tensor<4>) -> ([Tensor<1>; 3], Tensor<1>) {
        let (content, style) = self.layer_losses(image.clone());
        let device = image.device();
        let sum = |v: Vec<Tensor<1>>, weight: f64| {
            v.into_iter()
                .fold(Tensor::<1>::zeros([1], &device), |a, b| a + b)
                .mul_scalar(weight)
        };
        let c = sum(content, self.config.content_weight);
        let s = sum(style, self.config.style_weight);
        let tv = tv_loss(image).mul_scalar(self.config.tv_weight);
        let total = c.clone() + s.clone() + tv.clone();
        ([c, s, tv], total)
    }

    /// Runs one optimisation step and reports the loss terms before it.
    pub fn step(&mut self) -> StepReport {
        let start = Instant::now();
        let synth = self.synthesized.take().expect("a synthesised image");
        let mut opt = self.opt.take().expect("an optimiser");
        let (lr, report, synth) = match &mut opt {
            Opt::Adam {
                opt,
                lr,
                gamma,
                every,
            } => {
                let lr = *lr * gamma.powi((self.steps / *every) as i32);
                let ([c, s, tv], total) = self.losses(synth.image.val());
                let grads = GradientsParams::from_grads(total.backward(), &synth);
                let values = [c, s, tv].map(|t| t.into_scalar::<f32>() as f64);
                (lr, values, opt.step(lr, synth, grads))
            }
            Opt::Lbfgs { opt, lr } => {
                let lr = *lr;
                let mut first: Option<[f64; 3]> = None;
                let this = &*self;
                let closure = |m: Synthesized| {
                    let ([c, s, tv], total) = this.losses(m.image.val());
                    if first.is_none() {
                        first = Some([c, s, tv].map(|t| t.into_scalar::<f32>() as f64));
                    }
                    let loss = total.clone().into_scalar::<f32>() as f64;
                    (loss, GradientsParams::from_grads(total.backward(), &m))
                };
                let (synth, _) = opt.step(lr, synth, closure);
                (lr, first.unwrap_or([0.0; 3]), synth)
            }
        };
        let (lo, hi) = (self.lo.clone(), self.hi.clone());
        let image = synth.image.map(|t| {
            let dims = t.dims();
            t.detach()
                .max_pair(lo.expand(dims))
                .min_pair(hi.expand(dims))
                .detach()
                .require_grad()
        });
        self.synthesized = Some(Synthesized { image });
        self.opt = Some(opt);
        self.steps += 1;
        let [content, style, tv] = report;
        StepReport {
            step: self.steps,
            content,
            style,
            tv,
            total: content + style + tv,
            lr,
            seconds: start.elapsed().as_secs_f64(),
        }
    }

    /// The synthesised image in `[0, 1]`, `[1, 3, H, W]`, off the autodiff graph.
    pub fn image(&self) -> Tensor<4> {
        let synth = self.synthesized.as_ref().expect("a synthesised image");
        Vgg19Features::postprocess(synth.image.val().detach()).inner()
    }

    /// The Gram matrices of the synthesised image at the style layers and
    /// the style's targets, and the content features and their targets (for
    /// checking how far the result has moved).
    pub fn distances(&self) -> (Vec<f64>, Vec<f64>) {
        let synth = self.synthesized.as_ref().expect("a synthesised image");
        let (content, style) = self.layer_losses(synth.image.val().detach());
        let read = |v: Vec<Tensor<1>>| -> Vec<f64> {
            v.into_iter()
                .map(|t| t.into_scalar::<f32>() as f64)
                .collect()
        };
        (read(style), read(content))
    }

    /// The settings it runs with.
    pub fn config(&self) -> &TransferConfig {
        &self.config
    }

    /// Steps done.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The synthesised image as the optimiser sees it (normalised, on the
    /// autodiff device): what a checkpoint saves.
    pub fn synthesized(&self) -> &Synthesized {
        self.synthesized.as_ref().expect("a synthesised image")
    }

    /// Adam's state (moments and step counts); `None` for L-BFGS, whose
    /// history burn keeps in memory only.
    pub fn adam(&self) -> Option<&ModuleOptimizer> {
        match self.opt.as_ref().expect("an optimiser") {
            Opt::Adam { opt, .. } => Some(opt),
            Opt::Lbfgs { .. } => None,
        }
    }

    /// Puts back what [`Self::synthesized`] and [`Self::adam`] gave after
    /// `steps` steps (a checkpoint), so the next [`Self::step`] continues as
    /// the uninterrupted transfer would. Refused for L-BFGS (its history is
    /// not kept) and for an image of another shape.
    pub fn restore(
        &mut self,
        synthesized: Synthesized,
        adam: ModuleOptimizer,
        steps: usize,
    ) -> Result<(), StyleError> {
        let dims = self.synthesized().image.val().dims();
        let got = synthesized.image.val().dims();
        if got != dims {
            return Err(StyleError::Invalid(format!(
                "a synthesised image of shape {got:?}, expected {dims:?}"
            )));
        }
        match self.opt.as_mut().expect("an optimiser") {
            Opt::Adam { opt, .. } => *opt = adam,
            Opt::Lbfgs { .. } => {
                return Err(StyleError::Invalid(
                    "an L-BFGS transfer cannot be restored: burn's L-BFGS keeps its history in memory only"
                        .into(),
                ));
            }
        }
        let image = synthesized.image.map(|t| t.detach().require_grad());
        self.synthesized = Some(Synthesized { image });
        self.steps = steps;
        Ok(())
    }

    /// The content layers' indices (see [`layer_index`]).
    pub fn content_layers(&self) -> &[usize] {
        &self.content_idx
    }
}
