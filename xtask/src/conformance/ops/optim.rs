//! Optimisers and schedules: zoo-optim.

use burn::optim::Optimizer;
use burn::tensor::Tensor;
use zoo_optim::average::{AverageKind, average_step};
use zoo_optim::clip::NormType;
use zoo_optim::groups::{AnyOptimizer, GroupOptions};
use zoo_optim::schedule::LrSchedule;
use zoo_optim::{AdaDeltaConfig, AdaGradConfig, AdamConfig, RmsPropConfig, SgdConfig};

use super::{Ctx, Outputs};
use crate::conformance::case::HostTensor;
use crate::conformance::value::DynTensor;

/// The parameters after each of the `grads`' steps from `p0`, `[T, P]`.
fn trajectory<O: Optimizer>(opt: &O, lr: f64, p0: Tensor<1>, grads: Tensor<2>) -> Tensor<2> {
    let [steps, p] = grads.dims();
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
    Tensor::cat(rows, 0)
}

fn run_any(opt: &AnyOptimizer, lr: f64, p0: Tensor<1>, grads: Tensor<2>) -> Tensor<2> {
    match opt {
        AnyOptimizer::Sgd(c) => trajectory(&c.build(), lr, p0, grads),
        AnyOptimizer::Adam(c) => trajectory(&c.build(), lr, p0, grads),
        AnyOptimizer::RmsProp(c) => trajectory(&c.build(), lr, p0, grads),
        AnyOptimizer::AdaGrad(c) => trajectory(&c.build(), lr, p0, grads),
        AnyOptimizer::AdaDelta(c) => trajectory(&c.build(), lr, p0, grads),
    }
}

/// The optimizer the case's params name, with torch's defaults.
fn optimizer(ctx: &Ctx) -> Result<AnyOptimizer, String> {
    let wd = ctx.f64_or("weight_decay", 0.0)?;
    let opt = match ctx.str_or("optimizer", "")? {
        "sgd" => AnyOptimizer::Sgd(
            SgdConfig::new()
                .with_momentum(ctx.f64_or("momentum", 0.0)?)
                .with_dampening(ctx.f64_or("dampening", 0.0)?)
                .with_nesterov(ctx.bool_or("nesterov", false)?)
                .with_weight_decay(wd),
        ),
        "adagrad" => AnyOptimizer::AdaGrad(
            AdaGradConfig::new()
                .with_lr_decay(ctx.f64_or("lr_decay", 0.0)?)
                .with_weight_decay(wd)
                .with_initial_accumulator_value(ctx.f64_or("initial_accumulator_value", 0.0)?)
                .with_eps(ctx.f64_or("eps", 1e-10)?),
        ),
        "rmsprop" => AnyOptimizer::RmsProp(
            RmsPropConfig::new()
                .with_alpha(ctx.f64_or("alpha", 0.99)?)
                .with_eps(ctx.f64_or("eps", 1e-8)?)
                .with_weight_decay(wd)
                .with_momentum(ctx.f64_or("momentum", 0.0)?)
                .with_centered(ctx.bool_or("centered", false)?),
        ),
        "adadelta" => AnyOptimizer::AdaDelta(
            AdaDeltaConfig::new()
                .with_rho(ctx.f64_or("rho", 0.9)?)
                .with_eps(ctx.f64_or("eps", 1e-6)?)
                .with_weight_decay(wd),
        ),
        name @ ("adam" | "adamw") => {
            let betas = ctx.f64_list_or("betas", &[0.9, 0.999])?;
            let [b1, b2] = betas[..] else {
                return Err(format!("betas must be [beta1, beta2], got {betas:?}"));
            };
            AnyOptimizer::Adam(
                AdamConfig::new()
                    .with_beta1(b1)
                    .with_beta2(b2)
                    .with_eps(ctx.f64_or("eps", 1e-8)?)
                    .with_weight_decay(
                        ctx.f64_or("weight_decay", if name == "adamw" { 0.01 } else { 0.0 })?,
                    )
                    .with_decoupled(name == "adamw")
                    .with_amsgrad(ctx.bool_or("amsgrad", false)?),
            )
        }
        other => {
            return Err(format!(
                "unknown optimizer `{other}`: expected sgd, adagrad, rmsprop, adadelta, adam or adamw"
            ));
        }
    };
    opt.validate().map_err(|e| e.to_string())?;
    Ok(opt)
}

/// One `param_groups` entry: `size` and the options it overrides.
fn group_options(g: &serde_json::Value, i: usize) -> Result<(usize, GroupOptions), String> {
    let obj = g
        .as_object()
        .ok_or_else(|| format!("param_groups[{i}] is {g}, expected an object"))?;
    let num = |k: &str| -> Result<Option<f64>, String> {
        obj.get(k)
            .map(|v| {
                v.as_f64()
                    .ok_or_else(|| format!("param_groups[{i}].{k} is {v}, expected a number"))
            })
            .transpose()
    };
    let size = obj
        .get("size")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| format!("param_groups[{i}] has no `size` (a count of parameters)"))?
        as usize;
    let betas = match obj.get("betas") {
        None => None,
        Some(v) => match v
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_f64()).collect::<Vec<_>>())
        {
            Some(b) if b.len() == 2 => Some([b[0], b[1]]),
            _ => {
                return Err(format!(
                    "param_groups[{i}].betas is {v}, expected [beta1, beta2]"
                ));
            }
        },
    };
    for k in obj.keys() {
        if ![
            "size",
            "lr",
            "weight_decay",
            "momentum",
            "dampening",
            "nesterov",
            "betas",
            "eps",
            "alpha",
            "amsgrad",
            "centered",
            "lr_decay",
            "initial_accumulator_value",
            "rho",
        ]
        .contains(&k.as_str())
        {
            return Err(format!(
                "param_groups[{i}].{k}: an option this runner does not know"
            ));
        }
    }
    Ok((
        size,
        GroupOptions {
            lr: num("lr")?,
            weight_decay: num("weight_decay")?,
            momentum: num("momentum")?,
            dampening: num("dampening")?,
            nesterov: obj.get("nesterov").and_then(|v| v.as_bool()),
            betas,
            eps: num("eps")?,
            alpha: num("alpha")?,
            amsgrad: obj.get("amsgrad").and_then(|v| v.as_bool()),
            centered: obj.get("centered").and_then(|v| v.as_bool()),
            lr_decay: num("lr_decay")?,
            initial_accumulator_value: num("initial_accumulator_value")?,
            rho: num("rho")?,
        },
    ))
}

pub fn optimizer_trajectory(ctx: &Ctx) -> Result<Outputs, String> {
    let lr = ctx.f64("lr")?;
    let opt = optimizer(ctx)?;
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
    let groups = match ctx.param("param_groups") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, g)| group_options(g, i))
            .collect::<Result<Vec<_>, _>>()?,
        Some(v) => return Err(format!("params.param_groups is {v}, expected a list")),
    };
    if groups.is_empty() {
        let params = run_any(&opt, lr, p0, grads);
        return Ok(Outputs::default().float("params", DynTensor::new(params)));
    }
    let total: usize = groups.iter().map(|(n, _)| n).sum();
    if total != p {
        return Err(format!(
            "param_groups hold {total} parameters, param0 has {p}"
        ));
    }
    // Each slice of param0 is one torch parameter group: the optimizer with
    // the group's options (zoo_optim::groups, as a module's groups get them).
    let mut columns = Vec::with_capacity(groups.len());
    let mut start = 0;
    for (i, (size, options)) in groups.iter().enumerate() {
        let group_opt = opt
            .with_options(options)
            .map_err(|e| format!("param_groups[{i}]: {e}"))?;
        let group_lr = options.lr.unwrap_or(lr);
        let range = start..start + size;
        let g = grads.clone().slice([0..steps, range.clone()]);
        columns.push(run_any(&group_opt, group_lr, p0.clone().slice([range]), g));
        start += size;
    }
    Ok(Outputs::default().float("params", DynTensor::new(Tensor::cat(columns, 1))))
}

pub fn weight_average(ctx: &Ctx) -> Result<Outputs, String> {
    let kind = match ctx.str_or("kind", "")? {
        "ema" => AverageKind::Ema {
            decay: ctx.f64_or("decay", 0.999)?,
        },
        "swa" => AverageKind::Swa,
        other => return Err(format!("kind `{other}`, expected ema or swa")),
    };
    kind.validate().map_err(|e| e.to_string())?;
    let params = ctx.input_n::<2>("params")?;
    let [steps, p] = params.dims();
    let mut avg: Option<Tensor<1>> = None;
    let mut rows = Vec::with_capacity(steps);
    for t in 0..steps {
        let now = params.clone().slice([t..t + 1, 0..p]).reshape([p]);
        let next = match avg.take() {
            None => average_step(now.clone(), now, kind, 0),
            Some(a) => average_step(a, now, kind, t),
        };
        rows.push(next.clone().reshape([1, p]));
        avg = Some(next);
    }
    Ok(Outputs::default().float("averaged", DynTensor::new(Tensor::cat(rows, 0))))
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
