"""Shared by the fixture scripts: safetensors files with a byte-stable header.

safetensors serialises `__metadata__` from a hash map, so its key order (and the file's bytes) changes
from run to run. `save_stable` saves, then rewrites the header with sorted keys at the same length.
"""
import json
import struct

from safetensors.torch import save_file


def save_stable(tensors, path, metadata):
    save_file(tensors, path, metadata=metadata)
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    assert len(text) <= n, "sorted header longer than the original"
    with open(path, "wb") as f:
        f.write(data[:8] + text + b" " * (n - len(text)) + data[8 + n:])


def randomize(model, f16=False):
    """Every parameter random (norms included, whose defaults are ones and zeros), scaled by 1/sqrt(fan-in)
    so activations stay near unit size; with f16, rounded to half precision (and stored so)."""
    import torch
    with torch.no_grad():
        for p in model.parameters():
            fan_in = p[0].numel() if p.dim() > 1 else 1
            p.copy_(torch.randn_like(p) * (1.0 / fan_in ** 0.5 if p.dim() > 1 else 0.5))
            if f16:
                p.copy_(p.half().float())
