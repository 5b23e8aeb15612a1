"""Writes the PyTorch checkpoints the zoo-models weight tests load.

    python3 scripts/make_weight_fixtures.py crates/zoo-models/tests/data

The course's LeNet (d2l 7.6: sigmoid, average pooling, conv1 padding 2) as a
torch module whose attribute names are the zoo's (`conv1`, `conv2`, `fc1`,
`fc2`, `fc3`), seeded, saved with `torch.save(model.state_dict())` in the ZIP
format (torch >= 1.6) and in the legacy pickle stream
(`_use_new_zipfile_serialization=False`), plus a fixed input and torch's
logits for it in `lenet_expected.json`.

Also the bad and nested files the loader must handle: the same `state_dict`
nested as `torch.save({'state_dict': sd, 'epoch': 3})` and
`torch.save({'model': sd})`, and `expanded.pth`, a 40-byte storage viewed as
a 30000 x 30000 tensor with strides (0, 0) (`expand`), which a loader must
not materialise (3.6 GB from a 1.5 KB file, under burn-store's own 10 GiB cap).
"""

import json
import sys

import torch
from torch import nn


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        pool = nn.functional.avg_pool2d
        x = pool(torch.sigmoid(self.conv1(x)), 2, 2)
        x = pool(torch.sigmoid(self.conv2(x)), 2, 2)
        x = torch.sigmoid(self.fc1(x.flatten(1)))
        x = torch.sigmoid(self.fc2(x))
        return self.fc3(x)


def main(out):
    torch.manual_seed(7)
    model = LeNet().eval()
    torch.save(model.state_dict(), f"{out}/lenet.pth")
    torch.save(model.state_dict(), f"{out}/lenet_legacy.pth", _use_new_zipfile_serialization=False)
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        y = model(x)
    with open(f"{out}/lenet_expected.json", "w") as f:
        json.dump({"torch": torch.__version__, "x": x.flatten().tolist(), "logits": y.flatten().tolist()}, f)
    nested_and_expanded(out, model)


def nested_and_expanded(out, model):
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, f"{out}/lenet_nested_state_dict.pth")
    torch.save({"model": model.state_dict()}, f"{out}/lenet_nested_model.pth")
    torch.save({"weight": torch.ones(10)[:1].expand(30000, 30000)}, f"{out}/expanded.pth")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "crates/zoo-models/tests/data")
