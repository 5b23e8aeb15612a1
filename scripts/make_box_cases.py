"""Writes parity cases (the SPEC's format) for the box functions at their
edges, produced by torchvision, into `xtask/cases/` (committed; CI runs them
on every device):

    python3 scripts/make_box_cases.py xtask/cases
    cargo xtask conformance xtask/cases --device wgpu --filter box

- the pairwise functions with an empty first or second set (torchvision
  returns `[0, M]` / `[N, 0]`);
- the three box losses over zero boxes for every reduction (torchvision's
  `mean` of no boxes is 0, not NaN);
- boxes hundreds of pixels apart, with gradients, including one box
  against 32 (the shape for which wgpu's fused kernels once wrote wrong
  DIoU / CIoU values on an autodiff device).
"""

import json
import os
import sys

import torch
import torchvision
from torchvision import ops

sys.path.insert(0, os.path.dirname(__file__))
from make_forward_cases import write  # noqa: E402

SOURCE = f"torchvision {torchvision.__version__} (torch {torch.__version__})"

PAIRWISE = {
    "box_iou": ("iou", lambda a, b, eps: ops.box_iou(a, b), False),
    "generalized_box_iou": ("giou", lambda a, b, eps: ops.generalized_box_iou(a, b), False),
    "distance_box_iou": ("diou", lambda a, b, eps: ops.distance_box_iou(a, b, eps=eps), True),
    "complete_box_iou": ("ciou", lambda a, b, eps: ops.complete_box_iou(a, b, eps=eps), True),
}

LOSSES = {
    "giou_loss": ops.generalized_box_iou_loss,
    "diou_loss": ops.distance_box_iou_loss,
    "ciou_loss": ops.complete_box_iou_loss,
}


def case(out, op, name, params, tensors, rtol=1e-4, atol=1e-5):
    meta = {"op": op, "params": json.dumps(params), "rtol": str(rtol), "atol": str(atol), "source": SOURCE}
    write(os.path.join(out, f"{op}__{name}.safetensors"), tensors, meta)


def far_boxes(g, n, spread):
    """`n` boxes of sides 5-60 with corners spread over `spread` pixels."""
    xy = torch.rand(n, 2, generator=g) * spread
    wh = 5 + torch.rand(n, 2, generator=g) * 55
    return torch.cat([xy, xy + wh], 1)


def main(out):
    os.makedirs(out, exist_ok=True)
    g = torch.Generator().manual_seed(14)
    some = far_boxes(g, 3, 50)
    none = torch.zeros(0, 4)
    for op, (key, f, has_eps) in PAIRWISE.items():
        params = {"eps": 1e-7} if has_eps else {}
        for name, a, b in [("e01_empty_first", none, some), ("e02_empty_second", some[:2], none)]:
            y = f(a, b, 1e-7)
            assert y.shape == (a.shape[0], b.shape[0])
            case(out, op, name, params, {"in.boxes1": a, "in.boxes2": b, f"out.{key}": y})
        # Far apart: hundreds of pixels between the boxes, no overlap, with gradients.
        a = far_boxes(g, 4, 600).requires_grad_()
        b = (far_boxes(g, 5, 600) + torch.tensor([300.0, -200.0, 300.0, -200.0])).requires_grad_()
        y = f(a, b, 1e-7)
        up = torch.randn(y.shape, generator=g)
        ga, gb = torch.autograd.grad((y * up).sum(), [a, b])
        tensors = {"in.boxes1": a.detach(), "in.boxes2": b.detach(), "in.upstream": up, f"out.{key}": y.detach(), "grad.boxes1": ga, "grad.boxes2": gb}
        case(out, op, "e03_far_apart", params, tensors, atol=1e-4)
        # One box against 32: an [N, 1] column broadcast against [1, M], M a multiple of 4.
        a = far_boxes(g, 1, 100).requires_grad_()
        b = far_boxes(g, 32, 1000).requires_grad_()
        y = f(a, b, 1e-7)
        up = torch.randn(y.shape, generator=g)
        ga, gb = torch.autograd.grad((y * up).sum(), [a, b])
        tensors = {"in.boxes1": a.detach(), "in.boxes2": b.detach(), "in.upstream": up, f"out.{key}": y.detach(), "grad.boxes1": ga, "grad.boxes2": gb}
        case(out, op, "e04_one_against_32", params, tensors, atol=1e-4)
    for op, f in LOSSES.items():
        for reduction in ["none", "mean", "sum"]:
            y = f(none, none, reduction=reduction, eps=1e-7)
            assert not torch.isnan(y).any()
            case(out, op, f"e01_no_boxes_{reduction}", {"reduction": reduction, "eps": 1e-7}, {"in.boxes1": none, "in.boxes2": none, "out.loss": y})
        a = far_boxes(g, 6, 800).requires_grad_()
        b = far_boxes(g, 6, 800).requires_grad_()
        y = f(a, b, reduction="mean", eps=1e-7)
        up = torch.randn(y.shape, generator=g)
        ga, gb = torch.autograd.grad((y * up).sum(), [a, b])
        tensors = {"in.boxes1": a.detach(), "in.boxes2": b.detach(), "in.upstream": up, "out.loss": y.detach(), "grad.boxes1": ga, "grad.boxes2": gb}
        case(out, op, "e02_far_apart_mean", {"reduction": "mean", "eps": 1e-7}, tensors, atol=1e-4)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "xtask/cases")
