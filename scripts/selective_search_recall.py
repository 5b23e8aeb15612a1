"""Recall of OpenCV's selective search (`cv2.ximgproc.segmentation`,
`switchToSelectiveSearchFast()`) on the images the zoo's selective-search
test writes (`zoo_datasets::detection::fashion_on_photos`, 256 x 256, their
true boxes in `boxes.json`), beside the zoo's own recall from the same test
(`zoo_recall.json`): the fraction of true boxes that one of the first N
proposals covers with IoU >= 0.5, and the time per image.

    cargo test -p zoo-classic --test selective_search -- --nocapture   # prints DIR
    pip install opencv-contrib-python-headless
    python3 scripts/selective_search_recall.py DIR [--strategy fast|quality|single] [--threads N]

OpenCV ranks its proposals with the C library's `rand()`, which it never
seeds: the same draws on every run of this script.
"""

import argparse
import json
import os
import time

import cv2

TOPS = [100, 300, 1000, 2000]


def iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir")
    p.add_argument("--strategy", default="fast", choices=["fast", "quality", "single"])
    p.add_argument("--threads", type=int, default=None, help="cv2.setNumThreads (default: OpenCV's)")
    args = p.parse_args()
    if args.threads is not None:
        cv2.setNumThreads(args.threads)
    with open(os.path.join(args.dir, "boxes.json")) as f:
        data = json.load(f)
    covered = [0] * len(TOPS)
    total = 0
    proposals = 0
    seconds = 0.0
    for item in data["images"]:
        img = cv2.imread(os.path.join(args.dir, item["file"]))  # BGR, as OpenCV expects
        ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
        start = time.perf_counter()
        ss.setBaseImage(img)
        {"fast": ss.switchToSelectiveSearchFast,
         "quality": ss.switchToSelectiveSearchQuality,
         "single": ss.switchToSingleStrategy}[args.strategy]()
        rects = ss.process()
        seconds += time.perf_counter() - start
        proposals += len(rects)
        found = [(x, y, x + w, y + h) for x, y, w, h in rects]
        for g in item["boxes"]:
            total += 1
            for i, top in enumerate(TOPS):
                if any(iou(b, g) >= 0.5 for b in found[:top]):
                    covered[i] += 1
    n = len(data["images"])
    ours = None
    path = os.path.join(args.dir, "zoo_recall.json")
    if os.path.exists(path):
        with open(path) as f:
            ours = json.load(f)
    print(f"{n} images, {total} true boxes; OpenCV {cv2.__version__} ({args.strategy})")
    print("| proposals | " + " | ".join(str(t) for t in TOPS) + " | proposals / image | s / image |")
    print("|---" * (len(TOPS) + 3) + "|")
    print(
        "| OpenCV | "
        + " | ".join(f"{c / total:.3f}" for c in covered)
        + f" | {proposals / n:.0f} | {seconds / n:.3f} |"
    )
    if ours is not None:
        print(
            "| zoo | "
            + " | ".join(f"{ours['recall'][str(t)]:.3f}" for t in TOPS)
            + f" | {ours['proposals_per_image']:.0f} | {ours['seconds_per_image']:.3f} |"
        )


if __name__ == "__main__":
    main()
