#!/usr/bin/env python3
"""The classify example's whole pipeline against torchvision's, in images/s:
decode the JPEG (PIL's `convert("RGB")`), the weights' preset
(`ResNet50_Weights.DEFAULT.transforms()`: resize 232 antialiased, centre
crop 224, rescale, normalise), resnet50 in evaluation mode, softmax, top 5;
batch 1 and batch 32 (stacked), over 32 images (16 copies of each photo
of assets/images in a temporary folder).

    cargo build -p examples --bin classify
    python3 scripts/bench_compare.py classify --rounds 3 --runs 1

The weights are the formula weights of `scripts/make_classify_e2e.py` as
a torch.save'd `.pth` (`--pth DIR` there; `$ZOO_CLASSIFY_PTH`, else
/tmp/e2e_pth/resnet50_formula.pth, written when missing), read by both
sides.

Two measurements, each side its own clock:

- `classify_resnet50_b{B}_loop32`: the loop over the 32 images alone.
  PyTorch: timed inside this process (model and weights loaded before).
  The zoo: the `classify` binary cannot report its loop's time, so it is
  run on 64 and on 32 images (`--json`, the picture to a temporary
  `--out`) and the difference of the two process times is the time of
  32 images in its loop: process start, weight loading and the picture
  (which shows at most 24 images: the same in both runs) cancel.
- `classify_resnet50_b{B}_process32`: the whole process on the 32 images,
  both sides: `classify ...` against `python3 bench_classify.py
  --process` (import torch and torchvision, load the `.pth`, the same
  loop). The zoo's process also draws its picture of 24 images.

`zoo_measure(runs)` times the zoo's side (`scripts/bench_compare.py`
calls it instead of `xtask bench`); `measure(runs)` PyTorch's.
"""
import argparse
import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from benchlib import wanted  # noqa: E402

IMAGES = 32
BATCHES = (1, 32)
PHOTOS = os.path.join(ROOT, "assets", "images")


def names():
    for b in BATCHES:
        for kind in ("loop", "process"):
            name = f"classify_resnet50_b{b}_{kind}{IMAGES}"
            if wanted(name):
                yield b, kind, name


def weights_file():
    path = os.environ.get("ZOO_CLASSIFY_PTH", "/tmp/e2e_pth/resnet50_formula.pth")
    if not os.path.exists(path):
        out = os.path.dirname(path) or "."
        subprocess.run(
            [sys.executable, os.path.join(HERE, "make_classify_e2e.py"),
             os.path.join(out, "e2e.json"), "--pth", out, "--models", "resnet50",
             "--segment", ""],
            check=True, cwd=ROOT, capture_output=True)
    return path


_folders = {}


@atexit.register
def _remove_folders():
    for d in _folders.values():
        shutil.rmtree(d, ignore_errors=True)


def folder(n):
    """A temporary folder of `n` photos: copies of assets/images/*.jpg in turn."""
    if n not in _folders:
        d = tempfile.mkdtemp(prefix=f"zoo_classify_{n}_")
        photos = sorted(f for f in os.listdir(PHOTOS) if f.lower().endswith(".jpg"))
        for i in range(n):
            src = photos[i % len(photos)]
            shutil.copy(os.path.join(PHOTOS, src), os.path.join(d, f"{i:03d}_{src}"))
        _folders[n] = d
    return _folders[n]


def files(n):
    d = folder(n)
    return [os.path.join(d, f) for f in sorted(os.listdir(d))]


def classify_binary():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/zoo/target"))
    path = os.environ.get("ZOO_CLASSIFY_BIN", os.path.join(target, "debug", "classify"))
    if not os.access(path, os.X_OK):
        sys.exit(f"{path}: no classify binary (cargo build -p examples --bin classify)")
    return path


def run_seconds(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def zoo_process(batch, n, out):
    return run_seconds([classify_binary(), "--model", "resnet50", "--weights", weights_file(),
                        "--batch-size", str(batch), "--json", "--out", out, folder(n)])


def zoo_measure(runs):
    """The zoo's side: `{name: ms}`."""
    results = {}
    out = os.path.join(tempfile.gettempdir(), f"zoo_classify_bench_{os.getpid()}.png")
    for b, kind, name in names():
        if kind == "loop":
            # 32 and 64 images in turn; the medians' difference.
            small, large = [], []
            for _ in range(runs):
                small.append(zoo_process(b, IMAGES, out))
                large.append(zoo_process(b, 2 * IMAGES, out))
            results[name] = 1e3 * (statistics.median(large) - statistics.median(small))
        else:
            results[name] = 1e3 * statistics.median(
                zoo_process(b, IMAGES, out) for _ in range(runs))
    return results


def torch_pipeline(pth):
    import torch
    import torchvision
    model = torchvision.models.resnet50()
    model.load_state_dict(torch.load(pth))
    model.eval()
    preprocess = torchvision.models.ResNet50_Weights.DEFAULT.transforms()
    return model, preprocess


def torch_loop(model, preprocess, paths, batch):
    """torchvision's pipeline over `paths`, `batch` images per forward pass."""
    import torch
    from PIL import Image
    with torch.no_grad():
        for i in range(0, len(paths), batch):
            x = torch.stack([preprocess(Image.open(f).convert("RGB"))
                             for f in paths[i:i + batch]])
            torch.topk(torch.softmax(model(x), dim=1), 5)


def measure(runs):
    """PyTorch's side: `{name: ms}`."""
    results = {}
    model = preprocess = None
    for b, kind, name in names():
        if kind == "loop":
            if model is None:
                model, preprocess = torch_pipeline(weights_file())
                torch_loop(model, preprocess, files(IMAGES)[:2], 1)  # warm-up
            samples = []
            for _ in range(runs):
                start = time.perf_counter()
                torch_loop(model, preprocess, files(IMAGES), b)
                samples.append(time.perf_counter() - start)
            results[name] = 1e3 * statistics.median(samples)
        else:
            cmd = [sys.executable, os.path.abspath(__file__), "--process",
                   "--batch-size", str(b), folder(IMAGES)]
            results[name] = 1e3 * statistics.median(run_seconds(cmd) for _ in range(runs))
    return results


def rates(results):
    """Images/s of each time."""
    return {name: IMAGES / (ms / 1e3) for name, ms in results.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--process", action="store_true",
                    help="one whole run of torchvision's pipeline (timed by the caller)")
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("folder", nargs="?")
    args = ap.parse_args()
    if args.process:
        model, preprocess = torch_pipeline(weights_file())
        paths = sorted(os.path.join(args.folder, f) for f in os.listdir(args.folder))
        torch_loop(model, preprocess, paths, args.batch_size)
        return
    z, t = zoo_measure(args.runs), measure(args.runs)
    for name in t:
        print(f"{name}: zoo {z[name]:.0f} ms ({rates(z)[name]:.1f} images/s), "
              f"torch {t[name]:.0f} ms ({rates(t)[name]:.1f} images/s), "
              f"zoo / torch = {z[name] / t[name]:.2f}")


if __name__ == "__main__":
    main()
