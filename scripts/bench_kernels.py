#!/usr/bin/env python3
"""Times in PyTorch (CPU) the work of `cargo xtask bench kernels`: a 64->64
3x3 convolution (padding 1) on [8, 64, 56, 56] forward (no_grad) and forward
+ backward; a 3x3/2 max pool (padding 1) on [8, 64, 112, 112]; training batch
norm on [32, 64, 56, 56]; a 4x4/2 transposed convolution (padding 1) 64->32
on [16, 64, 16, 16]. Each backward is that of sum(y * r), the gradients of
every input taken. `scripts/bench_compare.py` interleaves it with the zoo.
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import median_ms, read_zoo  # noqa: E402


def u(*shape, grad=False):
    return (torch.rand(*shape) * 2 - 1).requires_grad_(grad)


def measure(runs):
    res = {}
    x, w = u(8, 64, 56, 56), u(64, 64, 3, 3)

    def fwd():
        with torch.no_grad():
            F.conv2d(x, w, padding=1)

    res["conv3x3_64_fwd_b8_56"] = median_ms(fwd, 2, runs)
    xg, wg, r = u(8, 64, 56, 56, grad=True), u(64, 64, 3, 3, grad=True), u(8, 64, 56, 56)

    def fwdbwd():
        xg.grad = wg.grad = None
        (F.conv2d(xg, wg, padding=1) * r).sum().backward()

    res["conv3x3_64_fwdbwd_b8_56"] = median_ms(fwdbwd, 2, runs)
    xp, rp = u(8, 64, 112, 112, grad=True), u(8, 64, 56, 56)

    def pool():
        xp.grad = None
        (F.max_pool2d(xp, 3, 2, 1) * rp).sum().backward()

    res["maxpool3x3s2_fwdbwd_b8_64_112"] = median_ms(pool, 2, runs)
    xb, rb = u(32, 64, 56, 56, grad=True), u(32, 64, 56, 56)
    g = torch.ones(64, requires_grad=True)
    b = torch.zeros(64, requires_grad=True)

    def bn():
        xb.grad = g.grad = b.grad = None
        (F.batch_norm(xb, None, None, g, b, training=True) * rb).sum().backward()

    res["batchnorm_fwdbwd_b32_64_56"] = median_ms(bn, 2, runs)
    xt, wt, rt = u(16, 64, 16, 16, grad=True), u(64, 32, 4, 4, grad=True), u(16, 32, 32, 32)

    def convt():
        xt.grad = wt.grad = None
        (F.conv_transpose2d(xt, wt, stride=2, padding=1) * rt).sum().backward()

    res["convT4x4s2_64to32_fwdbwd_b16_16"] = median_ms(convt, 2, runs)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--zoo", help="output of `cargo xtask bench kernels`")
    args = ap.parse_args()
    results = measure(args.runs)
    zoo = read_zoo(args.zoo)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, ms in results.items():
        ratio = f", zoo / torch = {zoo[name] / ms:.2f}" if name in zoo else ""
        print(f"{name}: torch {ms:.2f} ms{ratio}")


if __name__ == "__main__":
    main()
