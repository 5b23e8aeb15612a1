#!/usr/bin/env python3
"""Times in PyTorch (CPU) the work of `cargo xtask bench models`, and with
`--zoo FILE` (that command's output) prints zoo / PyTorch ratios.

    cargo xtask bench models > /tmp/zoo.txt
    python3 scripts/bench_models.py --zoo /tmp/zoo.txt

Same work: a LeNet-5 (d2l 7.6, sigmoid, avg pool, padding 2) training step
with SGD and cross-entropy at batch 256 on 1x28x28; torchvision's resnet18
inference (eval, no_grad) at batch 8 on 3x224x224 and batch 128 on 3x32x32;
a resnet18 training step (SGD, momentum 0.9) at batch 32 on 3x64x64.
Median of `--runs` after warm-up, like the Rust side.
"""
import argparse
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import median_ms, read_zoo  # noqa: E402


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
        nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def measure(runs):
    results = {}
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
        resnet = torchvision.models.resnet18().eval()
        for b, side in [(8, 224), (128, 32)]:
            xb = torch.rand(b, 3, side, side)

            def infer():
                with torch.no_grad():
                    resnet(xb)

            results[f"resnet18_infer_b{b}_{side}"] = median_ms(infer, 2, runs)
        train = torchvision.models.resnet18().train()
        opt = torch.optim.SGD(train.parameters(), lr=0.01, momentum=0.9)
        xt = torch.rand(32, 3, 64, 64)
        yt = torch.arange(32) * 31 % 1000

        def train_step():
            opt.zero_grad()
            nn.functional.cross_entropy(train(xt), yt).backward()
            opt.step()

        results["resnet18_train_step_b32_64"] = median_ms(train_step, 2, runs)
    except ImportError:
        print("torchvision not installed: resnet18 skipped")
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
