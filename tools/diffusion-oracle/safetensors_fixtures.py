"""Writes the safetensors reader's fixtures with the reference library (safetensors + PyTorch).

    tools/diffusion-oracle/make-fixtures.sh        # runs this in the oracle venv

Writes Tests/Fixtures/diffusion/reference.safetensors (saved by safetensors.torch.save_file) and
reference.json: each tensor's dtype, shape and values as float32 bit patterns (torch's own
conversion with .float()), plus float -> F16 / BF16 bit patterns of torch's rounding (.half(),
.bfloat16()) for the writer.
"""
import json
import sys

import torch
from oracle_io import save_stable

REGENERATE = "tools/diffusion-oracle/make-fixtures.sh"


def f32_bits(t):
    """The float32 bit patterns of torch's conversion of `t` (read by view, not through Python floats)."""
    return [v & 0xFFFFFFFF for v in t.float().contiguous().view(torch.int32).flatten().tolist()]


def bits16(t):
    return [v & 0xFFFF for v in t.contiguous().view(torch.int16).flatten().tolist()]


def main(out_dir):
    g = torch.Generator().manual_seed(20261207)
    tensors = {
        "f32.matrix": torch.randn(2, 3, generator=g),
        "f16.values": torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 6.103515625e-05, 5.960464477539063e-08, 1e-06,
                                    float("inf"), float("-inf"), float("nan"), 0.1], dtype=torch.float16),
        "bf16.values": torch.tensor([1.0, -3.14, 1e30, 1e-30, float("inf"), 0.1], dtype=torch.bfloat16),
        "i64.position_ids": torch.arange(4, dtype=torch.int64).reshape(1, 4),
        "f32.scalar": torch.tensor(2.5),
        "f32.empty": torch.zeros(0, 5),
        "f64.values": torch.tensor([0.1, 1e-50, 3.0], dtype=torch.float64),
    }
    save_stable(tensors, f"{out_dir}/reference.safetensors",
              metadata={"regenerate": REGENERATE, "format": "pt"})
    expected = {"regenerate": REGENERATE, "torch": torch.__version__, "tensors": {}}
    for name, t in tensors.items():
        entry = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape)}
        if t.is_floating_point():
            entry["f32_bits"] = f32_bits(t)
        expected["tensors"][name] = entry
    # Rounding of floats to F16 and BF16, as torch rounds them (nearest, ties to even).
    probes = torch.cat([
        torch.randn(400, generator=g) * 10 ** torch.randint(-9, 6, (400,), generator=g).float(),
        torch.tensor([65504.0, 65519.0, 65520.0, 1e9, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -14, 1.00048828125,
                      1.001953125, -0.0, 3.4e38, float("inf"), float("-inf")]),
    ])
    expected["rounding"] = {
        "f32_bits": f32_bits(probes),
        "f16_bits": bits16(probes.half()),
        "bf16_bits": bits16(probes.bfloat16()),
    }
    with open(f"{out_dir}/reference.json", "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
