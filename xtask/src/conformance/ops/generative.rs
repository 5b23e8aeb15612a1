//! Generative models: d2l's GAN and DCGAN nets and their training step,
//! PyTorch's example VAE.

use burn::module::{Module, Param, ParamId};
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use zoo_layers::params::num_trainable_params;
use zoo_models::gan::{
    DcganDiscriminator, DcganDiscriminatorConfig, DcganGenerator, DcganGeneratorConfig,
    Discriminator, Generator, Mlp, MlpConfig,
};
use zoo_models::vae::Vae;
use zoo_models::weights::{StateDict, export_state_dict};
use zoo_optim::AdamConfig;
use zoo_train::gan::{D_PASSES, G_PASSES, update_d, update_g};

use super::{Ctx, Outputs};
use crate::conformance::case::HostTensor;
use crate::conformance::value::DynTensor;

/// The generative architectures the runner knows.
pub fn known(arch: &str) -> bool {
    matches!(arch, "d2l_dcgan_generator" | "d2l_dcgan_discriminator")
}

fn generator(ctx: &Ctx) -> Result<DcganGeneratorConfig, String> {
    Ok(DcganGeneratorConfig::new()
        .with_n_g(ctx.usize_or("n_G", 64)?)
        .with_latent_dim(ctx.usize_or("latent_dim", 100)?)
        .with_channels(ctx.usize_or("channels", 3)?))
}

fn discriminator(ctx: &Ctx) -> Result<DcganDiscriminatorConfig, String> {
    Ok(DcganDiscriminatorConfig::new()
        .with_n_d(ctx.usize_or("n_D", 64)?)
        .with_channels(ctx.usize_or("channels", 3)?))
}

fn positive(values: &[(&str, usize)]) -> Result<(), String> {
    match values.iter().find(|(_, v)| *v == 0) {
        Some((name, _)) => Err(format!("{name} 0, expected at least 1")),
        None => Ok(()),
    }
}

/// `sum(p.numel())` of d2l's `net_G` / `net_D`.
pub fn model_params(ctx: &Ctx, arch: &str) -> Result<usize, String> {
    if arch == "d2l_dcgan_generator" {
        let c = generator(ctx)?;
        positive(&[
            ("n_G", c.n_g),
            ("latent_dim", c.latent_dim),
            ("channels", c.channels),
        ])?;
        Ok(num_trainable_params(&c.init(ctx.device())))
    } else {
        let c = discriminator(ctx)?;
        positive(&[("n_D", c.n_d), ("channels", c.channels)])?;
        Ok(num_trainable_params(&c.init(ctx.device())))
    }
}

/// d2l's `net_G` / `net_D` with the case's weights, in evaluation mode or
/// (`training`) on batch statistics.
pub fn model_forward(ctx: &Ctx, arch: &str, sd: &StateDict) -> Result<Outputs, String> {
    let training = ctx.bool_or("training", false)?;
    let device = if training {
        ctx.device().clone().autodiff()
    } else {
        ctx.device().clone()
    };
    let err = |e: zoo_models::weights::WeightsError| format!("loading the weights: {e}");
    let x = ctx.input_n::<4>("x")?;
    let x = Tensor::<4>::from_data(x.into_data(), &device);
    let y = if arch == "d2l_dcgan_generator" {
        let c = generator(ctx)?;
        positive(&[
            ("n_G", c.n_g),
            ("latent_dim", c.latent_dim),
            ("channels", c.channels),
        ])?;
        let [_, latent, h, w] = x.dims();
        if latent != c.latent_dim || [h, w] != [1, 1] {
            return Err(format!(
                "x of shape {:?}, expected [N, {}, 1, 1]",
                x.dims(),
                c.latent_dim
            ));
        }
        let net = c.init(&device).load_torch(sd).map_err(err)?;
        let net = if training { net } else { net.valid() };
        net.forward(x)
    } else {
        let c = discriminator(ctx)?;
        positive(&[("n_D", c.n_d), ("channels", c.channels)])?;
        let [_, ch, h, w] = x.dims();
        if ch != c.channels || [h, w] != [64, 64] {
            return Err(format!(
                "x of shape {:?}, expected [N, {}, 64, 64]",
                x.dims(),
                c.channels
            ));
        }
        let net = c.init(&device).load_torch(sd).map_err(err)?;
        let net = if training { net } else { net.valid() };
        net.forward(x)
    };
    let y = Tensor::<4>::from_data(y.into_data(), ctx.device());
    Ok(Outputs::default().float("y", DynTensor::new(y)))
}

/// The case's inputs `<prefix>.<key>` as a state dict keyed `<key>`.
fn inputs_with_prefix(ctx: &Ctx, prefix: &str) -> StateDict {
    let mut sd = StateDict::new();
    for (name, t) in ctx.inputs() {
        if let Some(key) = name.strip_prefix(prefix) {
            sd.insert(key, TensorData::new(t.floats.clone(), t.shape.clone()));
        }
    }
    sd
}

/// `x [S, N, ...]` as `S` tensors `[N, ...]` on `device`.
fn steps<const D: usize, const E: usize>(
    ctx: &Ctx,
    name: &str,
    device: &Device,
) -> Result<Vec<Tensor<E>>, String> {
    let h = ctx.host(name)?;
    if h.shape.len() != D || h.shape[0] == 0 {
        return Err(format!(
            "in.{name} of shape {:?}, expected rank {D} with at least one step",
            h.shape
        ));
    }
    let s = h.shape[0];
    let per = h.floats.len() / s;
    let dims: [usize; E] = h.shape[1..].try_into().expect("rank checked");
    Ok((0..s)
        .map(|i| {
            Tensor::from_data(
                TensorData::new(h.floats[i * per..(i + 1) * per].to_vec(), dims),
                device,
            )
        })
        .collect())
}

/// A net's torch key of a parameter path.
type KeyFn<'a> = &'a dyn Fn(&str) -> String;

/// Runs `S` iterations of `update_D` then `update_G` and exports both nets.
#[allow(clippy::too_many_arguments)]
fn train_pair<G, D, const Z: usize, const X: usize>(
    mut net_g: G,
    mut net_d: D,
    xs: Vec<Tensor<X>>,
    zs: Vec<Tensor<Z>>,
    lrs: (f64, f64),
    betas: (f64, f64),
    keys: (KeyFn, KeyFn),
    bn_layers: (usize, usize),
) -> Result<Outputs, String>
where
    G: Generator<Z, X>,
    D: Discriminator<X>,
{
    if xs.len() != zs.len() {
        return Err(format!(
            "{} real batches for {} noise batches",
            xs.len(),
            zs.len()
        ));
    }
    let adam = AdamConfig::new().with_beta1(betas.0).with_beta2(betas.1);
    adam.validate().map_err(|e| e.to_string())?;
    let (mut opt_d, mut opt_g) = (adam.init(), adam.init());
    let (mut loss_d, mut loss_g) = (Vec::new(), Vec::new());
    let s = xs.len();
    for (x, z) in xs.into_iter().zip(zs) {
        let (d, l) = update_d(net_d, &net_g, x, z.clone(), &mut opt_d, lrs.0);
        net_d = d;
        loss_d.push(l);
        let (g, l) = update_g(net_g, &net_d, z, &mut opt_g, lrs.1);
        net_g = g;
        loss_g.push(l);
    }
    let mut out = Outputs::default()
        .float("loss_D", DynTensor::new(Tensor::cat(loss_d, 0)))
        .float("loss_G", DynTensor::new(Tensor::cat(loss_g, 0)));
    let export = |out: Outputs, prefix: &str, sd: StateDict| -> Result<Outputs, String> {
        let mut out = out;
        for key in sd.keys() {
            let data = sd.get(key).expect("listed").clone();
            let shape = data.shape().to_vec();
            let floats = data
                .try_into_vec_as::<f32>()
                .map_err(|e| format!("{e:?}"))?;
            out = out.host(
                &format!("{prefix}{key}"),
                HostTensor::from_floats(shape, floats),
            );
        }
        Ok(out)
    };
    out = export(
        out,
        "net_G.",
        export_state_dict(&net_g, &|p| Some((keys.0)(p))),
    )?;
    out = export(
        out,
        "net_D.",
        export_state_dict(&net_d, &|p| Some((keys.1)(p))),
    )?;
    // PyTorch's num_batches_tracked: one per training-mode forward pass.
    for (prefix, layers, passes) in [
        ("net_G", bn_layers.0, G_PASSES),
        ("net_D", bn_layers.1, D_PASSES),
    ] {
        for l in 0..layers {
            out = out.host(
                &format!("{prefix}.{l}.batch_norm.num_batches_tracked"),
                HostTensor::from_ints(vec![], vec![(s * passes) as i64]),
            );
        }
    }
    Ok(out)
}

/// d2l's GAN training iterations with the data and noise given.
pub fn gan_train(ctx: &Ctx) -> Result<Outputs, String> {
    let device = ctx.device().clone().autodiff();
    let arch = ctx.str_or("arch", "")?;
    let lrs = (ctx.f64("lr_D")?, ctx.f64("lr_G")?);
    let betas = ctx.f64_list_or("betas", &[0.9, 0.999])?;
    let betas = match betas.as_slice() {
        [a, b] => (*a, *b),
        other => return Err(format!("betas {other:?}: expected two numbers")),
    };
    let err = |e: zoo_models::weights::WeightsError| format!("loading the initial weights: {e}");
    let sd_g = inputs_with_prefix(ctx, "net_G.");
    let sd_d = inputs_with_prefix(ctx, "net_D.");
    match arch {
        "d2l_gan_mlp" => {
            let latent = ctx.usize_or("latent_dim", 2)?;
            let g = MlpConfig::new(vec![latent, 2])
                .init(&device)
                .load_torch(&sd_g)
                .map_err(err)?;
            let d = MlpConfig::d2l_discriminator()
                .init(&device)
                .load_torch(&sd_d)
                .map_err(err)?;
            let xs = steps::<3, 2>(ctx, "x", &device)?;
            let zs = steps::<3, 2>(ctx, "z", &device)?;
            train_pair(
                g,
                d,
                xs,
                zs,
                lrs,
                betas,
                (&Mlp::torch_key, &Mlp::torch_key),
                (0, 0),
            )
        }
        "d2l_dcgan" => {
            let gc = generator(ctx)?;
            let dc = discriminator(ctx)?;
            positive(&[
                ("n_G", gc.n_g),
                ("n_D", dc.n_d),
                ("latent_dim", gc.latent_dim),
                ("channels", gc.channels),
            ])?;
            let g = gc.init(&device).load_torch(&sd_g).map_err(err)?;
            let d = dc.init(&device).load_torch(&sd_d).map_err(err)?;
            let xs = steps::<5, 4>(ctx, "x", &device)?;
            let zs = steps::<5, 4>(ctx, "z", &device)?;
            let blocks = (g.blocks.len(), d.blocks.len());
            train_pair(
                g,
                d,
                xs,
                zs,
                lrs,
                betas,
                (&DcganGenerator::torch_key, &DcganDiscriminator::torch_key),
                blocks,
            )
        }
        other => Err(format!("arch `{other}`: expected d2l_gan_mlp or d2l_dcgan")),
    }
}

fn linear(ctx: &Ctx, name: &str) -> Result<Linear, String> {
    let weight = ctx.input_n::<2>(&format!("{name}.weight"))?;
    let bias = ctx.input_n::<1>(&format!("{name}.bias"))?;
    let [o, _] = weight.dims();
    if bias.dims() != [o] {
        return Err(format!(
            "{name}.bias of shape {:?}, expected [{o}]",
            bias.dims()
        ));
    }
    Ok(Linear {
        weight: Param::initialized(ParamId::new(), weight.transpose()),
        bias: Some(Param::initialized(ParamId::new(), bias)),
    })
}

/// PyTorch's example VAE forward and loss with `eps` given; the weights are
/// inputs, so their gradients are checked.
pub fn vae(ctx: &Ctx) -> Result<Outputs, String> {
    let vae = Vae {
        fc1: linear(ctx, "fc1")?,
        fc21: linear(ctx, "fc21")?,
        fc22: linear(ctx, "fc22")?,
        fc3: linear(ctx, "fc3")?,
        fc4: linear(ctx, "fc4")?,
    };
    let x = ctx.input_n::<2>("x")?;
    let eps = ctx.input_n::<2>("eps")?;
    let sizes = (
        ctx.usize_or("input_size", 784)?,
        ctx.usize_or("hidden_size", 400)?,
        ctx.usize_or("latent_size", 20)?,
    );
    let [n, i] = x.dims();
    let dims = |l: &Linear| l.weight.val().dims();
    let shapes_fit = i == sizes.0
        && dims(&vae.fc1) == [sizes.0, sizes.1]
        && dims(&vae.fc21) == [sizes.1, sizes.2]
        && dims(&vae.fc22) == [sizes.1, sizes.2]
        && dims(&vae.fc3) == [sizes.2, sizes.1]
        && dims(&vae.fc4) == [sizes.1, sizes.0]
        && eps.dims() == [n, sizes.2];
    if !shapes_fit {
        return Err(format!(
            "x {:?}, eps {:?} and the weights do not fit input {}, hidden {}, latent {}",
            x.dims(),
            eps.dims(),
            sizes.0,
            sizes.1,
            sizes.2
        ));
    }
    let out = vae.forward_with(x.clone(), eps);
    let loss = zoo_losses::vae_loss(out.recon.clone(), x, out.mu.clone(), out.logvar.clone());
    Ok(Outputs::default()
        .float("loss", DynTensor::scalar(loss))
        .float("recon", DynTensor::new(out.recon))
        .float("mu", DynTensor::new(out.mu))
        .float("logvar", DynTensor::new(out.logvar)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torch_keys_of_the_sequentials() {
        assert_eq!(Mlp::torch_key("layers.2.weight"), "4.weight");
        assert_eq!(
            DcganGenerator::torch_key("blocks.3.batch_norm.running_var"),
            "3.batch_norm.running_var"
        );
        assert_eq!(DcganDiscriminator::torch_key("last.weight"), "4.weight");
    }
}
