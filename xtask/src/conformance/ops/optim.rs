//! Optimisers and schedules: zoo-optim.

use burn::optim::Optimizer;
use burn::tensor::Tensor;
use zoo_optim::clip::NormType;
use zoo_optim::schedule::LrSchedule;
use zoo_optim::{AdaDeltaConfig, AdaGradConfig, AdamConfig, RmsPropConfig, SgdConfig};

use super::{Ctx, Outputs};
use crate::conformance::case::HostTensor;
use crate::conformance::value::DynTensor;

fn trajectory<O: Optimizer>(ctx: &Ctx, opt: &O, lr: f64) -> Result<Outputs, String> {
    let p0 = ctx.input_n::<1>("param0")?;
    let grads = ctx.input_n::<2>("grads")?;
    let [steps, p] = grads.dims();
    if p0.dims() != [p] {
        return Err(format!(
            "param0 {:?} and grads {:?} disagree",
            p0.dims(),
            grads.dims()
        ));
    }
    let mut param = p0;
    let mut state = None;
    let mut rows = Vec::with_capacity(steps);
    for t in 0..steps {
        let g = grads.clone().slice([t..t + 1, 0..p]).reshape([p]);
        let (next, s) = opt.step(lr, param, g, state);
        param = next;
        state = s;
        rows.push(param.clone().reshape([1, p]));
    }
    let params = Tensor::cat(rows, 0);
    Ok(Outputs::default().float("params", DynTensor::new(params)))
}

pub fn optimizer_trajectory(ctx: &Ctx) -> Result<Outputs, String> {
    let lr = ctx.f64("lr")?;
    let wd = ctx.f64_or("weight_decay", 0.0)?;
    match ctx.str_or("optimizer", "")? {
        "sgd" => {
            let c = SgdConfig::new()
                .with_momentum(ctx.f64_or("momentum", 0.0)?)
                .with_dampening(ctx.f64_or("dampening", 0.0)?)
                .with_nesterov(ctx.bool_or("nesterov", false)?)
                .with_weight_decay(wd);
            if c.nesterov && (c.momentum <= 0.0 || c.dampening != 0.0) {
                return Err("Nesterov momentum requires a momentum and zero dampening".into());
            }
            trajectory(ctx, &c.build(), lr)
        }
        "adagrad" => {
            let c = AdaGradConfig::new()
                .with_lr_decay(ctx.f64_or("lr_decay", 0.0)?)
                .with_weight_decay(wd)
                .with_initial_accumulator_value(ctx.f64_or("initial_accumulator_value", 0.0)?)
                .with_eps(ctx.f64_or("eps", 1e-10)?);
            trajectory(ctx, &c.build(), lr)
        }
        "rmsprop" => {
            let c = RmsPropConfig::new()
                .with_alpha(ctx.f64_or("alpha", 0.99)?)
                .with_eps(ctx.f64_or("eps", 1e-8)?)
                .with_weight_decay(wd)
                .with_momentum(ctx.f64_or("momentum", 0.0)?)
                .with_centered(ctx.bool_or("centered", false)?);
            trajectory(ctx, &c.build(), lr)
        }
        "adadelta" => {
            let c = AdaDeltaConfig::new()
                .with_rho(ctx.f64_or("rho", 0.9)?)
                .with_eps(ctx.f64_or("eps", 1e-6)?)
                .with_weight_decay(wd);
            trajectory(ctx, &c.build(), lr)
        }
        name @ ("adam" | "adamw") => {
            let betas = ctx.f64_list_or("betas", &[0.9, 0.999])?;
            let [b1, b2] = betas[..] else {
                return Err(format!("betas must be [beta1, beta2], got {betas:?}"));
            };
            let c = AdamConfig::new()
                .with_beta1(b1)
                .with_beta2(b2)
                .with_eps(ctx.f64_or("eps", 1e-8)?)
                .with_weight_decay(
                    ctx.f64_or("weight_decay", if name == "adamw" { 0.01 } else { 0.0 })?,
                )
                .with_decoupled(name == "adamw")
                .with_amsgrad(ctx.bool_or("amsgrad", false)?);
            trajectory(ctx, &c.build(), lr)
        }
        other => Err(format!(
            "unknown optimizer `{other}`: expected sgd, adagrad, rmsprop, adadelta, adam or adamw"
        )),
    }
}

pub fn lr_schedule(ctx: &Ctx) -> Result<Outputs, String> {
    let base_lr = ctx.f64("base_lr")?;
    let steps = ctx.usize_or("steps", 0)?;
    let schedule = match ctx.str_or("scheduler", "")? {
        "step" => LrSchedule::Step {
            base_lr,
            step_size: ctx.usize_or("step_size", 0)?.max(1),
            gamma: ctx.f64_or("gamma", 0.1)?,
        },
        "multistep" => LrSchedule::MultiStep {
            base_lr,
            milestones: ctx.usize_list("milestones")?,
            gamma: ctx.f64_or("gamma", 0.1)?,
        },
        "exponential" => LrSchedule::Exponential {
            base_lr,
            gamma: ctx.f64("gamma")?,
        },
        "cosine" => LrSchedule::Cosine {
            base_lr,
            t_max: ctx.usize_or("T_max", 0)?,
            eta_min: ctx.f64_or("eta_min", 0.0)?,
        },
        "linear_warmup_cosine" => LrSchedule::LinearWarmupCosine {
            base_lr,
            start_factor: ctx.f64_or("start_factor", 1.0 / 3.0)?,
            end_factor: ctx.f64_or("end_factor", 1.0)?,
            warmup_iters: ctx.usize_or("warmup_iters", 5)?,
            t_max: ctx.usize_or("T_max", 0)?,
            eta_min: ctx.f64_or("eta_min", 0.0)?,
        },
        other => {
            return Err(format!(
                "unknown scheduler `{other}`: expected step, multistep, exponential, cosine or \
                 linear_warmup_cosine"
            ));
        }
    };
    zoo_device::budget::check("the schedule's learning rates", &[steps])
        .map_err(|e| format!("param `steps`: {e}"))?;
    let lrs: Vec<f32> = schedule.lrs(steps).into_iter().map(|v| v as f32).collect();
    Ok(Outputs::default().host("lrs", HostTensor::from_floats(vec![steps], lrs)))
}

pub fn clip_grad_norm(ctx: &Ctx) -> Result<Outputs, String> {
    let max_norm = ctx.f64("max_norm")?;
    let norm = match ctx.param("norm_type") {
        None => NormType::P(2.0),
        Some(v) if v.as_str().is_some_and(|s| s == "inf") => NormType::Inf,
        Some(v) => match v.as_f64() {
            Some(p) if p.is_infinite() => NormType::Inf,
            Some(p) if p > 0.0 => NormType::P(p),
            _ => {
                return Err(format!(
                    "norm_type must be a positive number or \"inf\", got {v}"
                ));
            }
        },
    };
    // g0, g1, ... in order.
    let mut inputs = Vec::new();
    while ctx.has(&format!("g{}", inputs.len())) {
        inputs.push(ctx.input(&format!("g{}", inputs.len()))?);
    }
    if inputs.is_empty() {
        return Err("no gradients `in.g0`, `in.g1`, ...".into());
    }
    let (clipped, total) =
        zoo_optim::clip::clip_grad_norm(inputs.iter().map(|g| g.flat()).collect(), max_norm, norm);
    let mut out = Outputs::default();
    for (i, (g, orig)) in clipped.into_iter().zip(&inputs).enumerate() {
        out = out.float(
            &format!("g{i}"),
            DynTensor::new(g).with_shape(orig.shape().to_vec()),
        );
    }
    Ok(out.float("total_norm", DynTensor::scalar(total)))
}

pub fn gradient_descent(ctx: &Ctx) -> Result<Outputs, String> {
    let start: Vec<f32> = ctx
        .f64_list_or("start", &[])?
        .iter()
        .map(|&v| v as f32)
        .collect();
    let lr = ctx.f64("lr")?;
    let steps = ctx.usize_or("steps", 0)?;
    let function = ctx.str_or("function", "")?;
    zoo_device::budget::check(
        "the descent's path",
        &[steps as u128 + 1, start.len() as u128],
    )
    .map_err(|e| format!("param `steps`: {e}"))?;
    let path = match (function, start.len()) {
        ("x^2", 1) => zoo_optim::gd::descend(|x| x.square().sum(), &start, lr, steps, ctx.device()),
        ("x^2+2y^2", 2) => zoo_optim::gd::descend(
            |v| {
                let w = Tensor::<1>::from_floats([1.0, 2.0], &v.device());
                (v.square() * w).sum()
            },
            &start,
            lr,
            steps,
            ctx.device(),
        ),
        _ => {
            return Err(format!(
                "function `{function}` with a start of {} coordinates: expected x^2 (1) or \
                 x^2+2y^2 (2)",
                start.len()
            ));
        }
    };
    let dim = start.len();
    let flat: Vec<f32> = path.into_iter().flatten().collect();
    Ok(Outputs::default().host("path", HostTensor::from_floats(vec![steps + 1, dim], flat)))
}
