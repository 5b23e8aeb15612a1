#!/usr/bin/env python3
"""Times the course's style-transfer loop (d2l 14.12) in PyTorch on this
machine, to compare with `cargo run -p examples --bin style-transfer`:

    python3 scripts/bench_style.py [--size 300x450] [--steps 20]
    cargo run -p examples --bin style-transfer -- --content assets/images/chelsea.jpg \
        --style assets/images/hubble_deep_field.jpg --out /tmp/st.png --size 300x450 --steps 20 --every 0

Same work as the zoo's loop: torchvision's vgg19 trunk (random weights: the
time does not depend on them) run up to conv5_1 with taps before ReLU at
conv1_1, conv2_1, conv3_1, conv4_1, conv5_1 (style) and conv4_2 (content),
Gram / content / TV losses weighted 1e4 / 1 / 10, Adam lr 0.3 with the
0.8-every-50 decay, the image clamped to the valid range after each step.
Prints the median seconds per step (after two warm-up steps) and steps/s.
"""
import argparse
import statistics
import time

import torch
import torchvision

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def gram(x):
    n, c, h, w = x.shape
    x = x.reshape(n, c, h * w)
    return x @ x.transpose(1, 2) / (c * h * w)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="300x450")
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    h, w = (int(v) for v in args.size.split("x"))
    torch.manual_seed(0)
    net = torchvision.models.vgg19().features[:29].eval()
    for p in net.parameters():
        p.requires_grad_(False)
    style_idx, content_idx = [0, 5, 10, 19, 28], [21]

    def extract(x):
        out = {}
        for i, layer in enumerate(net):
            x = layer(x)
            if i in style_idx or i in content_idx:
                out[i] = x
        return out

    content = (torch.rand(1, 3, h, w) - MEAN) / STD
    style = (torch.rand(1, 3, h, w) - MEAN) / STD
    with torch.no_grad():
        c_t = {i: v for i, v in extract(content).items() if i in content_idx}
        s_t = {i: gram(v) for i, v in extract(style).items() if i in style_idx}
    x = content.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.3)
    sched = torch.optim.lr_scheduler.StepLR(opt, 50, 0.8)
    lo, hi = (0 - MEAN) / STD, (1 - MEAN) / STD
    times = []
    for step in range(args.steps + 2):
        start = time.perf_counter()
        opt.zero_grad()
        f = extract(x)
        loss = sum(((f[i] - c_t[i]) ** 2).mean() for i in content_idx)
        loss = loss + 1e4 * sum(((gram(f[i]) - s_t[i]) ** 2).mean() for i in style_idx)
        tv = 0.5 * ((x[:, :, 1:, :] - x[:, :, :-1, :]).abs().mean() + (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean())
        loss = loss + 10 * tv
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            x.copy_(torch.max(torch.min(x, hi), lo))
        if step >= 2:
            times.append(time.perf_counter() - start)
    med = statistics.median(times)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {h}x{w}: "
          f"{med * 1e3:.0f} ms per step, {1 / med:.2f} steps/s")


if __name__ == "__main__":
    main()
