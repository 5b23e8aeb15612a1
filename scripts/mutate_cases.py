"""Writes mutated copies of parity cases: every param of every case set, in
turn, to a bad value (huge, negative, zero, 2^63, a string, null, a huge
pair, an empty list, 1e300), the tensors unchanged.

    python3 scripts/mutate_cases.py ../shared/conformance/cases /tmp/mutated
    cargo xtask conformance /tmp/mutated --device flex --timeout-s 10 | grep -E 'died|still running'

Every mutated case must end as one PASS / FAIL / UNSUPPORTED line with a
reason; a line saying the worker died (an abort, a crash) or ran past the
time limit is a defect of the op, and the run must still end with its
summary line.
"""

import glob
import json
import os
import struct
import sys

BAD = [10**9, -1, 0, 10**6, 2**63, "x", None, [10**6, 10**6], [], 1e300]


def main(src, out):
    os.makedirs(out, exist_ok=True)
    n = 0
    for path in sorted(glob.glob(os.path.join(src, "*.safetensors"))):
        raw = open(path, "rb").read()
        hlen = struct.unpack("<Q", raw[:8])[0]
        header = json.loads(raw[8 : 8 + hlen])
        meta = header.get("__metadata__", {})
        params = json.loads(meta.get("params", "{}") or "{}")
        for key in params:
            for bad in BAD:
                p = dict(params, **{key: bad})
                h = dict(header, __metadata__=dict(meta, params=json.dumps(p)))
                hb = json.dumps(h).encode()
                hb += b" " * ((8 - len(hb) % 8) % 8)
                name = os.path.basename(path).replace(".safetensors", f"__{key}_{n}.safetensors")
                with open(os.path.join(out, name), "wb") as f:
                    f.write(struct.pack("<Q", len(hb)) + hb + raw[8 + hlen :])
                n += 1
    print(f"{n} mutated cases in {out}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
