#!/usr/bin/env python3
"""Times in torchvision v2 and imbalanced-learn (CPU) the work of
`cargo xtask bench augment`, and with `--zoo FILE` (that command's output)
prints zoo / reference ratios (below 1: the zoo is faster).

    cargo xtask bench augment > /tmp/zoo_augment.txt
    python3 scripts/bench_augment.py --zoo /tmp/zoo_augment.txt

Same work: a float batch [128, 3, 256, 256] in [0, 1] through
v2.Compose([RandomResizedCrop(224, antialias=True), RandomHorizontalFlip(),
ColorJitter(0.4, 0.4, 0.4), Normalize(ImageNet)]) (and with hue=0.1), each
stage alone, and SMOTE(k_neighbors=5) on 10,000 x 784 float rows in ten
classes of 1,900 down to 100 rows. Median of `--runs` after a warm-up.

v2 draws one set of parameters per call, so a batch tensor gets one crop,
one flip and one jitter for all 128 images; a per-image pipeline (what the
zoo does, one draw per sample) is timed too, as v2 is used in a DataLoader:
called on each [3, 256, 256] image.
"""
import argparse
import os
import sys

import numpy as np
import torch
from torchvision.transforms import v2

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import median_ms, read_zoo  # noqa: E402


def measure(runs):
    """Per-image v2 times (what the zoo's per-sample draws compare with) of
    the stages `scripts/bench_compare.py augment` interleaves: the crop,
    the flip, the two together as the zoo's `crop_flip_b128_256to224`, and
    the whole pipeline without and with a hue jitter."""
    x = torch.rand(128, 3, 256, 256)
    crop = v2.RandomResizedCrop(224, antialias=True)
    flip = v2.RandomHorizontalFlip()
    both = v2.Compose([crop, flip])
    res = {}
    for name, t in [("random_resized_crop_b128_256to224", crop),
                    ("crop_flip_b128_256to224", both)]:
        res[name] = median_ms(lambda: [t(img) for img in x], 1, runs)
    small = torch.rand(128, 3, 224, 224)
    res["hflip_b128_224"] = median_ms(lambda: [flip(img) for img in small], 1, runs)
    for name, hue in [("augment_pipeline_b128_256to224", 0.0),
                      ("augment_pipeline_hue_b128_256to224", 0.1)]:
        t = pipeline(hue)
        res[name] = median_ms(lambda: [t(img) for img in x], 1, runs)
    return res


def pipeline(hue=0.0):
    """The ImageNet training pipeline of `cargo xtask bench augment`."""
    norm = v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    return v2.Compose([v2.RandomResizedCrop(224, antialias=True), v2.RandomHorizontalFlip(),
                       v2.ColorJitter(0.4, 0.4, 0.4, hue), norm])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--zoo", help="output of `cargo xtask bench augment`")
    args = ap.parse_args()
    torch.manual_seed(0)
    x = torch.rand(128, 3, 256, 256)
    small = torch.rand(128, 3, 224, 224)
    norm = v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    jitter = v2.ColorJitter(0.4, 0.4, 0.4)

    results = {}
    per_image = {}
    for name, t, inp in [
        ("augment_pipeline_b128_256to224", pipeline(), x),
        ("augment_pipeline_hue_b128_256to224", pipeline(0.1), x),
        ("random_resized_crop_b128_256to224", v2.RandomResizedCrop(224, antialias=True), x),
        ("hflip_b128_224", v2.RandomHorizontalFlip(), small),
        ("color_jitter_b128_224", jitter, small),
        ("normalize_b128_224", norm, small),
    ]:
        results[name] = median_ms(lambda: t(inp), 1, args.runs)
        per_image[name] = median_ms(lambda: [t(img) for img in inp], 1, max(1, args.runs // 2))
    try:
        from imblearn.over_sampling import SMOTE
        import imblearn
        rng = np.random.default_rng(0)
        counts = [1900 - 200 * i for i in range(10)]
        y = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
        rows = rng.random((len(y), 784), dtype=np.float32)

        def smote():
            out, _ = SMOTE(k_neighbors=5, random_state=0).fit_resample(rows, y)
            assert out.shape[0] == 19000

        results["smote_10000x784"] = median_ms(smote, 1, min(args.runs, 5))
        smote_version = f", imbalanced-learn {imblearn.__version__}"
    except ImportError:
        smote_version = ", imbalanced-learn not installed: SMOTE skipped"
    zoo = read_zoo(args.zoo)
    import torchvision
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}{smote_version}, "
          f"{torch.get_num_threads()} threads")
    for name, ms in results.items():
        line = f"{name}: reference {ms:.2f} ms (one draw per batch)"
        if name in per_image:
            line += f", {per_image[name]:.2f} ms per image (one draw per image)"
        if name in zoo:
            line += f"; zoo {zoo[name]:.2f} ms, zoo / batch call = {zoo[name] / ms:.2f}"
            if name in per_image:
                line += f", zoo / per-image calls = {zoo[name] / per_image[name]:.2f}"
        print(line)


if __name__ == "__main__":
    main()
