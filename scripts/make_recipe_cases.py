"""Writes parity cases (the SPEC's format) for the recipe and AutoAugment
ops beyond the shared `cases2`: AutoAugment's ops at other values and on
other shapes (torchvision's `transforms.v2.functional`), parameter groups of
every optimizer with the options a group may override (`torch.optim`), and
weight averages (`torch.optim.swa_utils.AveragedModel`), into
`xtask/cases/` (committed; CI runs them on every device):

    python3 scripts/make_recipe_cases.py xtask/cases
    cargo xtask conformance xtask/cases --device flex

The ops and their inputs / params / outputs are those of the SPEC's
`Recipes` and `AutoAugment ops` sections.
"""

import json
import os
import sys

import torch
import torchvision
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torchvision.transforms.v2 import functional as F

sys.path.insert(0, os.path.dirname(__file__))
from make_forward_cases import write  # noqa: E402

TV = f"torchvision {torchvision.__version__} (torch {torch.__version__})"
TORCH = f"torch {torch.__version__} (float64)"


def image_case(out, name, op, params, x, y, atol=1e-5):
    write(
        os.path.join(out, f"{op}__{name}.safetensors"),
        {"in.image": x.float().clone(), "out.image": y.float().clone()},
        {"op": op, "params": json.dumps(params), "atol": str(atol), "rtol": "1e-5", "source": TV},
    )


def augment_cases(out):
    torch.manual_seed(5)
    affines = [
        ((3, 9, 11), dict(angle=33.0, translate=[1, 2], scale=0.8, shear=[10.0, -5.0], interpolation="bilinear", fill=None)),
        ((1, 12, 10), dict(angle=-7.0, translate=[-3, 0], scale=1.3, shear=[0.0, 0.0], interpolation="nearest", fill=[0.3])),
        ((3, 8, 8), dict(angle=0.0, translate=[0, 0], scale=1.0, shear=[16.7, 0.0], interpolation="nearest", fill=None, center=[0, 0])),
        ((2, 3, 7, 9), dict(angle=90.0, translate=[2, 2], scale=1.0, shear=[0.0, 12.0], interpolation="bilinear", fill=[0.1, 0.2, 0.3], center=[2, 5])),
    ]
    for i, (shape, kw) in enumerate(affines, 1):
        x = torch.rand(shape)
        image_case(out, f"r{i:02d}", "affine", kw, x, F.affine(x, **kw), 2e-5)
    for b in [0, 1, 4, 8]:
        x = torch.rand(3, 5, 6)
        image_case(out, f"r_bits{b}", "posterize", {"bits": b}, x, F.posterize(x, b))
    for s in [(3, 16, 16), (1, 20, 13), (2, 3, 9, 9)]:
        x = torch.rand(s) ** 2
        if len(s) == 3:
            x[0] = 0.4  # a constant channel
        tag = "x".join(map(str, s))
        image_case(out, f"r_{tag}", "equalize", {}, x, F.equalize(x))
        image_case(out, f"r_{tag}", "autocontrast", {}, x, F.autocontrast(x))
        for f in [0.0, 0.5, 2.5]:
            image_case(out, f"r_{tag}_{f}", "adjust_sharpness", {"factor": f}, x, F.adjust_sharpness(x, f))
    x = torch.rand(3, 2, 5)
    image_case(out, "r_side2", "adjust_sharpness", {"factor": 2.0}, x, F.adjust_sharpness(x, 2.0))
    x = torch.rand(3, 6, 6)
    image_case(out, "r_gain", "adjust_gamma", {"gamma": 2.2, "gain": 1.3}, x, F.adjust_gamma(x, 2.2, 1.3))
    x = torch.rand(3, 6, 6)
    image_case(out, "r_at1", "solarize", {"threshold": 1.0}, x, F.solarize(x, 1.0))
    x = torch.rand(1, 6, 6)
    image_case(out, "r_at0", "solarize", {"threshold": 0.0}, x, F.solarize(x, 0.0))
    x = torch.rand(3, 40, 40) * 0.5 + 0.2
    image_case(out, "r_40x40", "equalize", {}, x, F.equalize(x))
    x = torch.rand(2, 3, 4, 5)
    image_case(out, "r_batch", "invert", {}, x, F.invert(x))


OPTIMIZERS = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
    "adadelta": torch.optim.Adadelta,
}


def trajectory(out, name, opt, defaults, groups, steps=5):
    p = sum(g["size"] for g in groups)
    p0 = torch.randn(p, dtype=torch.float64)
    grads = torch.randn(steps, p, dtype=torch.float64)
    params, start = [], 0
    for g in groups:
        t = p0[start : start + g["size"]].clone().requires_grad_(True)
        start += g["size"]
        d = {k: (tuple(v) if k == "betas" else v) for k, v in g.items() if k != "size"}
        d["params"] = [t]
        params.append(d)
    kw = {k: (tuple(v) if k == "betas" else v) for k, v in defaults.items()}
    o = OPTIMIZERS[opt](params, **kw)
    rows = []
    for s in range(steps):
        start = 0
        for g in params:
            n = g["params"][0].numel()
            g["params"][0].grad = grads[s, start : start + n].clone()
            start += n
        o.step()
        rows.append(torch.cat([g["params"][0].detach() for g in params]))
    ps = dict(defaults, optimizer=opt, param_groups=groups)
    write(
        os.path.join(out, f"optimizer_trajectory__{name}.safetensors"),
        {"in.param0": p0.float(), "in.grads": grads.float(), "out.params": torch.stack(rows).float()},
        {"op": "optimizer_trajectory", "params": json.dumps(ps), "atol": "1e-5", "rtol": "1e-5", "source": TORCH},
    )


def optimizer_cases(out):
    torch.manual_seed(1)
    trajectory(out, "r_rmsprop_groups", "rmsprop", dict(lr=0.01, momentum=0.5), [{"size": 3}, {"size": 2, "momentum": 0.0, "alpha": 0.9}, {"size": 2, "lr": 0.1, "weight_decay": 0.01}])
    trajectory(out, "r_adamw_groups", "adamw", dict(lr=0.01, weight_decay=0.05), [{"size": 2, "betas": [0.5, 0.9]}, {"size": 4, "lr": 0.001, "weight_decay": 0.0}])
    trajectory(out, "r_nesterov_groups", "sgd", dict(lr=0.05, momentum=0.9, nesterov=True), [{"size": 3, "lr": 0.5}, {"size": 3, "momentum": 0.5}])
    trajectory(out, "r_adagrad_groups", "adagrad", dict(lr=0.1), [{"size": 3, "eps": 1e-3}, {"size": 3, "lr": 1.0}])
    trajectory(out, "r_amsgrad_group", "adam", dict(lr=0.01), [{"size": 3, "amsgrad": True}, {"size": 2}])
    trajectory(out, "r_centered_group", "rmsprop", dict(lr=0.01), [{"size": 3, "centered": True, "momentum": 0.3}, {"size": 2}])
    # torch ignores a group's initial_accumulator_value (its __init__ reads the argument).
    trajectory(out, "r_adagrad_decay_group", "adagrad", dict(lr=0.1), [{"size": 3, "lr_decay": 0.1, "initial_accumulator_value": 0.5}, {"size": 2}])
    trajectory(out, "r_adadelta_groups", "adadelta", dict(lr=1.0), [{"size": 3, "rho": 0.5}, {"size": 2, "weight_decay": 0.1}])


def average_cases(out):
    torch.manual_seed(3)
    for kind, decay, steps, p in [("ema", 0.0, 4, 3), ("ema", 0.5, 6, 2), ("swa", None, 9, 4)]:
        x = torch.randn(steps, p)
        m = torch.nn.Linear(p, 1, bias=False)
        if kind == "ema":
            avg = AveragedModel(m, multi_avg_fn=get_ema_multi_avg_fn(decay))
        else:
            avg = AveragedModel(m)
        rows = []
        for t in range(steps):
            with torch.no_grad():
                m.weight.copy_(x[t].view(1, p))
            avg.update_parameters(m)
            rows.append(avg.module.weight.detach().view(p).clone())
        ps = {"kind": kind} if decay is None else {"kind": kind, "decay": decay}
        write(
            os.path.join(out, f"weight_average__r_{kind}{'' if decay is None else decay}_T{steps}.safetensors"),
            {"in.params": x, "out.averaged": torch.stack(rows)},
            {"op": "weight_average", "params": json.dumps(ps), "atol": "1e-6", "rtol": "1e-5", "source": f"torch {torch.__version__}"},
        )


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "xtask/cases"
    os.makedirs(out, exist_ok=True)
    augment_cases(out)
    optimizer_cases(out)
    average_cases(out)
