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
