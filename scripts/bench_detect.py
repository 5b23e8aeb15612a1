#!/usr/bin/env python3
"""Times torchvision's CPU `nms` and `batched_nms` on the work of
`cargo xtask bench detect`, and with `--zoo FILE` (that command's output)
prints zoo / torchvision ratios.

    cargo xtask bench detect > /tmp/zoo_detect.txt
    python3 scripts/bench_detect.py --zoo /tmp/zoo_detect.txt

10,000 boxes with centres uniform in 1000x1000, sides 10-110, scores
uniform, IoU threshold 0.5; batched: 20 categories. (The boxes are drawn
with numpy here, the zoo uses its own seeded generator: the same
distribution, not the same boxes; the kept counts are printed to compare.)
"""
import argparse
import os
import sys

import numpy as np
import torch
import torchvision
from torchvision.ops import batched_nms, nms

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import median_ms, read_zoo  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--zoo", help="output of `cargo xtask bench detect`")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = 10_000
    c = rng.random((n, 2)) * 1000
    wh = 10 + rng.random((n, 2)) * 100
    boxes = torch.tensor(np.concatenate([c - wh / 2, c + wh / 2], 1), dtype=torch.float32)
    scores = torch.tensor(rng.random(n), dtype=torch.float32)
    idxs = torch.tensor(rng.integers(0, 20, n))
    results = {
        "nms_10000": (median_ms(lambda: nms(boxes, scores, 0.5), 1, args.runs), len(nms(boxes, scores, 0.5))),
        "batched_nms_10000_20cls": (
            median_ms(lambda: batched_nms(boxes, scores, idxs, 0.5), 1, args.runs),
            len(batched_nms(boxes, scores, idxs, 0.5)),
        ),
    }
    zoo = read_zoo(args.zoo)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.get_num_threads()} threads")
    for name, (ms, kept) in results.items():
        ratio = f", zoo {zoo[name]:.2f} ms, zoo / torchvision = {zoo[name] / ms:.2f}" if name in zoo else ""
        print(f"{name}: torchvision {ms:.2f} ms ({kept} kept){ratio}")


if __name__ == "__main__":
    main()
