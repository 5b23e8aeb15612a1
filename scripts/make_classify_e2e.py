"""torchvision's whole classification and segmentation pipelines on the photos
in assets/images, the expected output of the `classify` and `segment`
examples' end-to-end tests (the segmentation's class maps as PNGs beside
OUT: `<OUT stem>_<model>_<image stem>.png`, 8-bit class indices).

    python3 scripts/make_classify_e2e.py examples/tests/data/classify_e2e.json

The weights are not torchvision's published ones (which cannot be downloaded
here) but a deterministic formula of each `state_dict` key and element index
(below), which the Rust test computes bit for bit in float32, writes as a
weight file and hands to `classify --weights`; so the file committed is the
expected output (a few kB), not 100 MB of weights. With `--pth DIR` the
weights are also written as torch.save'd `.pth` files (the same format as
torchvision's downloads), for trying `classify` on them by hand.

The formula, per key (FNV-1a 64 of its UTF-8 bytes, `h`) and element `i`
(row-major, torch layout): `z = splitmix64(h ^ (i * 0x9E3779B97F4A7C15))`,
`u = (z >> 40) / 2^24` (float32, in [0, 1)), `v = 2u - 1`; then
 - a weight of 2 or more dimensions: `v * float32(sqrt(6 / fan_in))`
   (Kaiming-uniform for ReLU);
 - `running_var`: `u * 0.5 + 1`; `running_mean`: `v * 0.1`;
 - a batch norm's `weight`: `v * 0.25 + 0.5`; its `bias`: `v * 0.1`;
 - the classifier's (`fc`) weight 16 times the Kaiming bound and its bias
   `v`, so that the logits spread (standard deviation about 3) and no two of
   the top five are within 1e-3 of each other.
Then, as a user of torchvision would: `PIL.Image.open(f).convert("RGB")`,
`weights.transforms()` of the DEFAULT weights, the model in eval mode,
softmax, top 5.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision.models import get_model, get_model_weights

MIX = np.uint64(0x9E3779B97F4A7C15)


def fnv1a64(key: str) -> np.uint64:
    h = 0xCBF29CE484222325
    for b in key.encode():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return np.uint64(h)


def uniform(key: str, n: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        i = np.arange(n, dtype=np.uint64)
        z = fnv1a64(key) ^ (i * MIX)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float32) / np.float32(2**24)


def formula(key: str, shape, head: str) -> np.ndarray:
    n = int(np.prod(shape)) if len(shape) else 1
    u = uniform(key, n)
    v = u * np.float32(2) - np.float32(1)
    f32 = np.float32
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        gain = 16.0 if key == head + "weight" else 1.0
        out = v * f32(gain * math.sqrt(6.0 / fan_in))
    elif key.endswith("running_var"):
        out = u * f32(0.5) + f32(1)
    elif key.endswith("running_mean"):
        out = v * f32(0.1)
    elif key == head + "bias":
        out = v
    elif key.endswith("weight"):
        out = v * f32(0.25) + f32(0.5)
    else:
        out = v * f32(0.1)
    return out.astype(np.float32).reshape(shape)


def formula_model(name: str, head=None):
    extra = {"aux_loss": True, "weights_backbone": None} if head else {}
    model = get_model(name, weights=None, **extra)
    sd = model.state_dict()
    # The classifier: the module of the last key (`fc.`), unless named.
    head = head or list(sd)[-1].rsplit(".", 1)[0] + "."
    new = {}
    for k, t in sd.items():
        if k.endswith("num_batches_tracked"):
            new[k] = t
        else:
            new[k] = torch.from_numpy(formula(k, tuple(t.shape), head))
    model.load_state_dict(new)
    return model.eval(), new


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--models", default="resnet50,resnet18")
    ap.add_argument("--images", default="assets/images")
    ap.add_argument("--pth", default=None)
    ap.add_argument(
        "--segment",
        default="fcn_resnet50",
        help="segmentation models: their class maps as PNGs beside OUT",
    )
    a = ap.parse_args()
    files = sorted(
        os.path.join(a.images, f)
        for f in os.listdir(a.images)
        if f.lower().endswith((".jpg", ".jpeg", ".png"))
    )
    result = {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "images": [os.path.basename(f) for f in files],
        "models": {},
    }
    for name in a.models.split(","):
        model, sd = formula_model(name)
        if a.pth:
            os.makedirs(a.pth, exist_ok=True)
            torch.save(sd, os.path.join(a.pth, f"{name}_formula.pth"))
        weights = get_model_weights(name).DEFAULT
        preprocess = weights.transforms()
        cats = weights.meta["categories"]
        rows = []
        with torch.no_grad():
            for f in files:
                x = preprocess(Image.open(f).convert("RGB")).unsqueeze(0)
                p = torch.softmax(model(x), dim=1)[0]
                top = torch.topk(p, 5)
                rows.append(
                    {
                        "file": os.path.basename(f),
                        "top": [
                            {"index": int(i), "label": cats[int(i)], "prob": float(v)}
                            for v, i in zip(top.values, top.indices)
                        ],
                    }
                )
                probs = [r["prob"] for r in rows[-1]["top"]]
                gaps = [probs[j] - probs[j + 1] for j in range(4)]
                assert probs[0] < 0.95 and min(gaps) > 1e-3, (name, f, probs)
        result["models"][name] = {"weights": str(weights), "top5": rows}
        print(name, json.dumps(rows, indent=1)[:2000])
    result["segment"] = {}
    for name in filter(None, a.segment.split(",")):
        # The main head's weight 16 times the Kaiming bound, as the
        # classifiers': the classes' scores spread.
        model, sd = formula_model(name, head="classifier.4.")
        if a.pth:
            torch.save(sd, os.path.join(a.pth, f"{name}_formula.pth"))
        weights = get_model_weights(name).DEFAULT
        preprocess = weights.transforms()
        cats = weights.meta["categories"]
        rows = []
        with torch.no_grad():
            for f in files:
                x = preprocess(Image.open(f).convert("RGB")).unsqueeze(0)
                out = model(x)["out"][0]
                top2 = torch.topk(out, 2, dim=0).values
                classes = out.argmax(0).to(torch.uint8).numpy()
                stem = os.path.splitext(os.path.basename(f))[0]
                png = f"{os.path.splitext(a.out)[0]}_{name}_{stem}.png"
                Image.fromarray(classes, mode="L").save(png, optimize=True)
                counts = np.bincount(classes.ravel(), minlength=len(cats))
                shares = {
                    cats[k]: counts[k] / classes.size
                    for k in np.argsort(-counts, kind="stable")
                    if counts[k] > 0
                }
                rows.append(
                    {
                        "file": os.path.basename(f),
                        "size": list(classes.shape),
                        "classes_png": os.path.basename(png),
                        "classes": shares,
                        # Pixels whose two best scores are within 1e-4: where
                        # float rounding may pick either.
                        "near_ties": int(((top2[0] - top2[1]) < 1e-4).sum()),
                    }
                )
        result["segment"][name] = {"weights": str(weights), "maps": rows}
        print(name, json.dumps(rows, indent=1))
    with open(a.out, "w") as fh:
        json.dump(result, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    sys.exit(main())
