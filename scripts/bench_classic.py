#!/usr/bin/env python3
"""Times scikit-learn and scikit-image on the work of `cargo xtask bench
classic`: kNN prediction (k = 5, Euclidean, `algorithm='brute'`) of the
10,000 Fashion-MNIST test images against the 60,000 training images (the
Debian package's files), Canny (sigma 2, thresholds 0.05 / 0.15) and HOG (9
orientations, 8x8 cells, 2x2 blocks, L2-Hys) of the grey
`assets/images/chelsea.jpg`, and exact t-SNE (`method='exact'`,
`init='random'`, perplexity 30, 1,000 iterations) of the first 2,000 test
images' pixels.

    python3 scripts/bench_compare.py classic --rounds 1 --runs 3
"""
import gzip
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import median_ms  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = "/usr/share/datasets/fashion-mnist"


def idx(name):
    path = os.path.join(DATA, name)
    with gzip.open(path, "rb") as f:
        b = f.read()
    return np.frombuffer(b, np.uint8)


def measure(runs):
    from skimage.feature import canny, hog
    from sklearn.manifold import TSNE
    from sklearn.neighbors import KNeighborsClassifier

    results = {}
    train = idx("train-images-idx3-ubyte.gz")[16:].reshape(-1, 784).astype(np.float32) / 255.0
    labels = idx("train-labels-idx1-ubyte.gz")[8:]
    test = idx("t10k-images-idx3-ubyte.gz")[16:].reshape(-1, 784).astype(np.float32) / 255.0
    knn = KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(train, labels)
    n, m = len(train), len(test)
    results[f"knn_predict_{m}x{n}_l2_k5"] = median_ms(lambda: knn.predict(test), 0, 1)
    rgb = np.asarray(Image.open(os.path.join(ROOT, "assets/images/chelsea.jpg")).convert("RGB")).astype(np.float32)
    grey = ((rgb[..., 0] * 0.2989 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114) / 255.0).astype(np.float32)
    results["canny_451x300_s2"] = median_ms(
        lambda: canny(grey, sigma=2.0, low_threshold=0.05, high_threshold=0.15), 1, runs)
    results["hog_451x300_o9_c8_b2"] = median_ms(
        lambda: hog(grey, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), block_norm="L2-Hys"),
        1, runs)
    x = test[:2000].astype(np.float64)
    tsne = TSNE(method="exact", init="random", perplexity=30, max_iter=1000, random_state=0)
    results["tsne_exact_2000x784"] = median_ms(lambda: tsne.fit(x), 0, 1)
    return results


if __name__ == "__main__":
    for k, v in measure(3).items():
        print(f"{k}: {v:.2f} ms")
