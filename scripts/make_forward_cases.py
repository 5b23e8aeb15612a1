"""Writes `model_forward` parity cases (the SPEC's format) for any
torchvision architecture, to check the zoo's builders and key translation
beyond the shared cases:

    python3 scripts/make_forward_cases.py /tmp/cases inception_v3 resnext50_32x4d
    cargo xtask conformance /tmp/cases --device flex

Weights are torchvision's initialisation with the batch-norm statistics and
affine parameters perturbed (so a wrong eps, momentum or key mapping shows),
the reference is evaluated in float64, inputs are 2 x 3 x S x S (S = 160,
299 for Inception v3).
"""

import json
import struct
import sys

import torch
import torchvision


def write(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        raw = t.numpy().tobytes()
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


def main(out, archs):
    for i, arch in enumerate(archs, 1):
        torch.manual_seed(i)
        kwargs = {"num_classes": 10}
        if arch in ("googlenet", "inception_v3"):
            kwargs.update(aux_logits=False, init_weights=True)
        model = torchvision.models.get_model(arch, weights=None, **kwargs)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 2.0)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
        model.eval()
        side = 299 if arch == "inception_v3" else 160
        x = torch.rand(2, 3, side, side)
        sd = {k: v.float() if v.is_floating_point() else v for k, v in model.state_dict().items()}
        with torch.no_grad():
            y = model.double()(x.double()).float()
        tensors = {"in.x": x, "out.logits": y}
        tensors.update({f"w.{k}": v for k, v in sd.items()})
        params = {"arch": arch, **{k: v for k, v in kwargs.items() if k != "init_weights"}}
        write(
            f"{out}/model_forward__{i:02d}_{arch}.safetensors",
            tensors,
            {
                "op": "model_forward",
                "params": json.dumps(params),
                "rtol": "0.001",
                "atol": "0.001",
                "source": f"torchvision.models.{arch} {torchvision.__version__}, eval, float64 on torch {torch.__version__}",
            },
        )
        print(f"wrote {arch}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
