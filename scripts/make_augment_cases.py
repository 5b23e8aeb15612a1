"""Writes the parity cases (the SPEC's format) for the augmentation ops the
shared cases do not cover, `rotate` and `gaussian_noise`, produced by
torchvision's `transforms.v2.functional`, into `xtask/cases/` (committed;
CI runs them on every device):

    python3 scripts/make_augment_cases.py xtask/cases
    cargo xtask conformance xtask/cases --device flex

`rotate`: in.image [C,H,W] or [N,C,H,W], optional in.boxes [K,4] (XYXY);
params angle (degrees, counter-clockwise), interpolation, fill (null, a
number or one per channel); out.image, out.boxes (`F.rotate`, expand=False,
about the centre). `gaussian_noise`: in.image, in.noise (the standard-normal
draws torch made, recovered by re-seeding); params mean, sigma, clip;
out.image (`F.gaussian_noise`).
"""

import json
import os
import sys

import torch
import torchvision
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as F

sys.path.insert(0, os.path.dirname(__file__))
from make_forward_cases import write  # noqa: E402

SOURCE = f"torchvision {torchvision.__version__} (torch {torch.__version__})"


def case(out, name, op, params, tensors, atol=1e-5):
    meta = {"op": op, "params": json.dumps(params), "rtol": "1e-4", "atol": str(atol), "source": SOURCE}
    write(os.path.join(out, f"{op}__{name}.safetensors"), tensors, meta)


def main(out):
    os.makedirs(out, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    rotations = [
        ("01_30_nearest_nofill", [3, 9, 12], 30.0, "nearest", None),
        ("02_-45_bilinear_nofill", [2, 3, 10, 8], -45.0, "bilinear", None),
        ("03_17.3_bilinear_fill0", [3, 11, 11], 17.3, "bilinear", 0.0),
        ("04_90_bilinear_fill_rgb", [3, 6, 10], 90.0, "bilinear", [0.2, 0.5, 0.8]),
        ("05_-120_nearest_fill", [1, 9, 7], -120.0, "nearest", 0.5),
        ("06_180_bilinear_fill", [2, 1, 5, 6], 180.0, "bilinear", 1.0),
        ("07_7.5_nearest_fill_rgb", [3, 12, 9], 7.5, "nearest", [1.0, 0.0, 0.25]),
        ("08_90_nearest_even", [3, 8, 8], 90.0, "nearest", None),
        ("09_-60_nearest_batch", [2, 3, 7, 10], -60.0, "nearest", 0.0),
        ("10_180_nearest_odd", [1, 5, 7], 180.0, "nearest", None),
    ]
    for name, shape, angle, interp, fill in rotations:
        x = torch.rand(shape, generator=g)
        h, w = shape[-2:]
        boxes = torch.tensor([[1.0, 2.0, 5.0, 6.0], [0.0, 0.0, w, h], [w - 3.0, 1.5, w - 0.5, h - 1.0]])
        y = F.rotate(x, angle, interpolation=F.InterpolationMode(interp), fill=fill)
        b = F.rotate(tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=(h, w)), angle)
        params = {"angle": angle, "interpolation": interp, "fill": fill}
        case(out, name, "rotate", params, {"in.image": x, "in.boxes": boxes, "out.image": y, "out.boxes": b.as_subclass(torch.Tensor)})
    noises = [
        ("01_default", [3, 6, 7], 0.0, 0.1, True),
        ("02_mean_noclip", [2, 3, 5, 5], 0.2, 0.3, False),
        ("03_grey_clip", [1, 8, 8], -0.1, 0.5, True),
    ]
    for k, (name, shape, mean, sigma, clip) in enumerate(noises):
        x = torch.rand(shape, generator=g)
        torch.manual_seed(100 + k)
        y = F.gaussian_noise(x, mean=mean, sigma=sigma, clip=clip)
        torch.manual_seed(100 + k)
        noise = torch.randn_like(x)
        assert torch.allclose(y, (x + mean + noise * sigma).clamp(0, 1) if clip else x + mean + noise * sigma)
        params = {"mean": mean, "sigma": sigma, "clip": clip}
        case(out, name, "gaussian_noise", params, {"in.image": x, "in.noise": noise, "out.image": y})


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "xtask/cases")
