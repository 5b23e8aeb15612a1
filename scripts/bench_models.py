#!/usr/bin/env python3
"""Times in PyTorch (CPU) the work of `cargo xtask bench models`, and with
`--zoo FILE` (that command's output) prints zoo / PyTorch ratios.

    cargo xtask bench models > /tmp/zoo.txt
    python3 scripts/bench_models.py --zoo /tmp/zoo.txt

Same work: a LeNet-5 (d2l 7.6, sigmoid, avg pool, padding 2) training step
with SGD and cross-entropy at batch 256 on 1x28x28; torchvision's resnet18
inference (eval, no_grad) at batch 8 on 3x224x224 and batch 128 on 3x32x32,
resnet50 at batch 8 on 3x224x224, fcn_resnet50 (21 classes, aux_loss=True,
both heads) at batch 1 on 3x520x520; a resnet18 training step (SGD,
momentum 0.9) at batch 32 on 3x64x64. Median of `--runs` after warm-up,
like the Rust side. `ZOO_BENCH_ONLY` (comma-separated name prefixes) picks
some, as it does for `cargo xtask bench models`.
"""
import argparse
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import median_ms, read_zoo, wanted  # noqa: E402


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
        nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def measure(runs):
    results = {}
    if wanted("lenet_train_step_b256"):
        net = lenet()
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        x = torch.rand(256, 1, 28, 28)
        y = torch.arange(256) % 10

        def step():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()

        results["lenet_train_step_b256"] = median_ms(step, 3, runs)
    try:
        import torchvision
    except ImportError:
        print("torchvision not installed: resnet18 skipped")
        return results
    for depth, b, side in [(18, 8, 224), (18, 128, 32), (50, 8, 224)]:
        name = f"resnet{depth}_infer_b{b}_{side}"
        if not wanted(name):
            continue
        resnet = getattr(torchvision.models, f"resnet{depth}")().eval()
        xb = torch.rand(b, 3, side, side)

        def infer():
            with torch.no_grad():
                resnet(xb)

        results[name] = median_ms(infer, 2, runs)
    name = "fcn_resnet50_infer_b1_520"
    if wanted(name):
        from torchvision.models.segmentation import fcn_resnet50
        fcn = fcn_resnet50(weights=None, weights_backbone=None, aux_loss=True).eval()
        xs = torch.rand(1, 3, 520, 520)

        def segment():
            with torch.no_grad():
                fcn(xs)

        results[name] = median_ms(segment, 1, runs)
    if wanted("resnet18_train_step_b32_64"):
        train = torchvision.models.resnet18().train()
        opt = torch.optim.SGD(train.parameters(), lr=0.01, momentum=0.9)
        xt = torch.rand(32, 3, 64, 64)
        yt = torch.arange(32) * 31 % 1000

        def train_step():
            opt.zero_grad()
            nn.functional.cross_entropy(train(xt), yt).backward()
            opt.step()

        results["resnet18_train_step_b32_64"] = median_ms(train_step, 2, runs)
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--zoo", help="output of `cargo xtask bench models`")
    args = ap.parse_args()
    results = measure(args.runs)
    zoo = read_zoo(args.zoo)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, ms in results.items():
        ratio = f", zoo / torch = {zoo[name] / ms:.2f}" if name in zoo else ""
        print(f"{name}: torch {ms:.2f} ms{ratio}")


if __name__ == "__main__":
    main()
