#!/usr/bin/env python3
"""Makes the embedded Fashion-MNIST subset from the genuine files.

    python3 scripts/make_fashion_mnist_subset.py /usr/share/datasets/fashion-mnist

(the Debian package `dataset-fashion-mnist` installs them there). Takes the
first 1000 training and the first 200 test images of each class, in file
order, and writes them as gzip IDX files, so the same IDX reader loads the
subset and the full set. Deterministic: the same input gives the same bytes.
"""
import gzip
import os
import struct
import sys

PER_CLASS = {"train": 1000, "t10k": 200}


def read(path):
    with gzip.open(path, "rb") as f:
        return f.read()


def main(src, dst):
    os.makedirs(dst, exist_ok=True)
    for split, per_class in PER_CLASS.items():
        images = read(os.path.join(src, f"{split}-images-idx3-ubyte.gz"))
        labels = read(os.path.join(src, f"{split}-labels-idx1-ubyte.gz"))
        magic, n, rows, cols = struct.unpack(">IIII", images[:16])
        assert magic == 0x803 and struct.unpack(">II", labels[:8]) == (0x801, n)
        size = rows * cols
        taken = {c: 0 for c in range(10)}
        keep = []
        for i in range(n):
            c = labels[8 + i]
            if taken[c] < per_class:
                taken[c] += 1
                keep.append(i)
        out_images = struct.pack(">IIII", 0x803, len(keep), rows, cols) + b"".join(
            images[16 + i * size : 16 + (i + 1) * size] for i in keep
        )
        out_labels = struct.pack(">II", 0x801, len(keep)) + bytes(labels[8 + i] for i in keep)
        for name, data in [("images-idx3", out_images), ("labels-idx1", out_labels)]:
            path = os.path.join(dst, f"{split}-{name}-ubyte.gz")
            with open(path, "wb") as raw:
                # mtime=0 keeps the output byte-identical across runs.
                with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
                    f.write(data)
        print(split, len(keep), "images")


if __name__ == "__main__":
    src = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
    dst = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "datasets", "data", "fashion-mnist-subset")
    main(src, dst)
