"""Writes `felzenszwalb` parity cases (the SPEC's format: `in.image [3,H,W]`
F32 in [0, 1], `out.labels [H,W]` I64 renumbered by first appearance, exact)
from scikit-image's `segmentation.felzenszwalb` into `xtask/cases/`
(committed; CI runs them on every device):

    python3 scripts/make_felzenszwalb_cases.py xtask/cases
    cargo xtask conformance xtask/cases --device flex --ops felzenszwalb

Beyond the shared cases (24x32 to 30x30 random images): 64x96 crops of the
photographs in `assets/images` (8-bit, so at `sigma` 0 many edges have equal
weights), `sigma` 0, 0.5 and 0.8, small and large `scale` and `min_size`.

numpy's `argsort` is not stable (on AVX-512 machines it sorts with a SIMD
kernel), so the order scikit-image takes equal weights in is the machine's.
A case is written only when its labels do not depend on that order: the
script re-runs the algorithm (a line-for-line Python copy of
`_felzenszwalb_cy.pyx`, checked equal to scikit-image) with equal weights
taken in edge order and in 8 random orders, and skips a case whose labels
change. It also checks that numpy's `exp` gives the C library's values for
the Gaussian kernel (numpy's AVX-512 `exp` is one unit in the last place
apart for some sigmas), so every case means the same on every machine.
"""

import json
import math
import os
import struct
import sys

import numpy as np
import scipy
import skimage
from scipy import ndimage as ndi
from skimage import io
from skimage.segmentation import felzenszwalb

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SOURCE = (
    "skimage.segmentation.felzenszwalb(image.transpose(1, 2, 0), scale, sigma, min_size, "
    f"channel_axis=-1), scikit-image {skimage.__version__} (scipy {scipy.__version__}, float64), "
    "labels renumbered by first appearance in row-major order; "
    "checked independent of the order of equal edge weights"
)


def write(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, t in tensors.items():
        t = np.ascontiguousarray(t)
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[t.dtype]
        raw = t.tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def canonical(labels):
    """Labels renumbered by first appearance in row-major order."""
    _, first, inverse = np.unique(labels.ravel(), return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse].reshape(labels.shape)


def graph(image, sigma):
    """scikit-image's smoothed image, edge weights and edges (its order)."""
    image = ndi.gaussian_filter(image.astype(np.float64), [sigma, sigma, 0], mode="reflect")
    h, w = image.shape[:2]

    def dist(a, b):
        return np.sqrt(np.sum((a - b) * (a - b), axis=-1))

    costs = np.hstack([
        dist(image[:, 1:], image[:, :-1]).ravel(),
        dist(image[1:], image[:-1]).ravel(),
        dist(image[1:, 1:], image[:-1, :-1]).ravel(),
        dist(image[1:, :-1], image[:-1, 1:]).ravel(),
    ])
    seg = np.arange(h * w).reshape(h, w)
    edges = np.vstack([
        np.c_[seg[:, 1:].ravel(), seg[:, :-1].ravel()],
        np.c_[seg[1:, :].ravel(), seg[:-1, :].ravel()],
        np.c_[seg[1:, 1:].ravel(), seg[:-1, :-1].ravel()],
        np.c_[seg[:-1, 1:].ravel(), seg[1:, :-1].ravel()],
    ])
    return costs, edges


def segment(image, scale, sigma, min_size, order):
    """`_felzenszwalb_cython` with the edges taken in `order`."""
    h, w = image.shape[:2]
    k = float(scale) / 255.0
    costs, edges = graph(image, sigma)
    parent = list(range(h * w))
    size = [1] * (h * w)
    internal = [0.0] * (h * w)

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for e in order:
        a, b = find(edges[e, 0]), find(edges[e, 1])
        if a == b:
            continue
        ta = float(np.float32(internal[a] + k / size[a]))
        tb = float(np.float32(internal[b] + k / size[b]))
        if costs[e] < min(ta, tb):
            parent[b] = a
            size[a] += size[b]
            internal[a] = costs[e]
    for e in order:
        a, b = find(edges[e, 0]), find(edges[e, 1])
        if a != b and (size[a] < min_size or size[b] < min_size):
            parent[b] = a
            size[a] += size[b]
    return canonical(np.array([find(i) for i in range(h * w)]).reshape(h, w))


def kernel_is_portable(sigma):
    if sigma <= 1e-15:
        return True
    r = int(4 * sigma + 0.5)
    arg = -0.5 / (sigma * sigma) * np.arange(-r, r + 1) ** 2
    return [float(v) for v in np.exp(arg)] == [math.exp(v) for v in arg]


def photo(name):
    return io.imread(os.path.join(ROOT, "assets", "images", name))


def main(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    chelsea, hubble = photo("chelsea.jpg"), photo("hubble_deep_field.jpg")
    noise = np.clip(rng.normal(0.5, 0.2, (64, 96, 3)), 0, 1)
    # (name, image [H, W, 3] in [0, 1], scale, sigma, min_size)
    specs = [
        ("r_chelsea_64x96_scale100_sigma0_min10", chelsea[0:64, 0:96] / 255.0, 100.0, 0.0, 10),
        ("r_chelsea_64x96_scale300_sigma0.8_min20", chelsea[100:164, 150:246] / 255.0, 300.0, 0.8, 20),
        ("r_chelsea_64x96_scale50_sigma0.5_min5", chelsea[200:264, 300:396] / 255.0, 50.0, 0.5, 5),
        ("r_hubble_64x96_scale100_sigma0.8_min10", hubble[150:214, 200:296] / 255.0, 100.0, 0.8, 10),
        ("r_hubble_64x96_scale60_sigma0_min8", hubble[100:164, 300:396] / 255.0, 60.0, 0.0, 8),
        ("r_noise_64x96_scale200_sigma0_min30", noise, 200.0, 0.0, 30),
        ("r_chelsea_96x64_scale500_sigma1.0_min40", chelsea[50:146, 250:314] / 255.0, 500.0, 1.0, 40),
    ]
    written = 0
    for name, image, scale, sigma, min_size in specs:
        image = image.astype(np.float32)
        if not kernel_is_portable(sigma):
            print(f"skip {name}: numpy's exp differs from the C library's for sigma {sigma}")
            continue
        labels = canonical(felzenszwalb(image, scale, sigma, min_size, channel_axis=-1))
        costs, _ = graph(image, sigma)
        _, counts = np.unique(costs, return_counts=True)
        orders = [np.argsort(costs, kind="stable")]
        orders += [np.lexsort((rng.permutation(costs.size), costs)) for _ in range(8)]
        if any((segment(image, scale, sigma, min_size, o) != labels).any() for o in orders):
            print(f"skip {name}: the labels depend on the order of equal weights")
            continue
        params = {"scale": scale, "sigma": sigma, "min_size": min_size}
        meta = {"op": "felzenszwalb", "params": json.dumps(params), "rtol": "0.0", "atol": "0.0", "source": SOURCE}
        write(
            os.path.join(out, f"felzenszwalb__{name}.safetensors"),
            {"in.image": image.transpose(2, 0, 1), "out.labels": labels},
            meta,
        )
        written += 1
        print(f"{name}: {labels.max() + 1} segments, {int((counts > 1).sum())} groups of equal weights")
    print(f"{written} cases written to {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "xtask", "cases"))
