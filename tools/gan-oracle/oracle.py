#!/usr/bin/env python3
"""Numpy oracle for studio's native DCGAN face generator (Sources/StudioLocal/DCGANGenerator.swift).

Reads gan-face-generate 1.1.1's weights.tar (a PyTorch zip checkpoint) without torch and without
running anything the file names: a pickle.Unpickler subclass whose find_class allows only the four
globals a state dict needs, and whose persistent_load returns numpy arrays read from the archive's
data/<key> entries with zipfile. The generator is then computed directly in float64 numpy
(transposed convolution written as a plain scatter per kernel tap, BatchNorm by its definition,
ReLU, tanh), and a fixture is written for the Swift parity test.

    python3 tools/gan-oracle/oracle.py --weights $STUDIO_HOME/models/gan_face_generate_weights.tar \
        --out Tests/Fixtures/gan-parity.json

See tools/gan-oracle/README.md.
"""

import argparse
import collections
import datetime
import hashlib
import io
import json
import math
import pickle
import sys
import zipfile

import numpy as np

LATENT = 100
MASK64 = (1 << 64) - 1
DEFAULT_SEEDS = [0, 1, 42, 123456789]
SAMPLE_COUNT = 300
REGENERATE = ("python3 tools/gan-oracle/oracle.py --weights $STUDIO_HOME/models/gan_face_generate_weights.tar "
              "--out Tests/Fixtures/gan-parity.json")


# ----------------------------------------------------------------------------- seeded latents
class SplitMix64:
    """SplitMix64 exactly as Sources/StudioKit/SplitMix64.swift."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)


def latent(seed):
    """DCGANGenerator.latent(seed:): Box-Muller in double on SplitMix64, rounded once to float32."""
    g = SplitMix64(seed)
    z = []
    for _ in range(LATENT // 2):
        u1 = ((g.next() >> 11) + 1) * 2.0 ** -53      # (0, 1]
        u2 = (g.next() >> 11) * 2.0 ** -53            # [0, 1)
        r = math.sqrt(-2.0 * math.log(u1))
        theta = 2.0 * math.pi * u2
        z.append(r * math.cos(theta))
        z.append(r * math.sin(theta))
    return np.array(z, dtype=np.float32)


# ----------------------------------------------------------------------------- checkpoint
class _OrderedDict(collections.OrderedDict):
    pass


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    """Builds a numpy array from a storage (a flat array) -- contiguous tensors only."""
    size, stride = tuple(size), tuple(stride)
    expected, acc = [], 1
    for d in reversed(size):
        expected.insert(0, acc)
        acc *= d
    for d, s, e in zip(size, stride, expected):
        if d != 1 and s != e:
            raise ValueError(f"non-contiguous tensor: size {size} stride {stride}")
    count = int(np.prod(size, dtype=np.int64)) if size else 1
    if storage_offset < 0 or storage_offset + count > storage.size:
        raise ValueError("tensor lies outside its storage")
    return storage[storage_offset:storage_offset + count].reshape(size)


class _StorageType:
    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype


ALLOWED = {
    ("collections", "OrderedDict"): _OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch", "FloatStorage"): _StorageType("FloatStorage", np.dtype("<f4")),
    ("torch", "LongStorage"): _StorageType("LongStorage", np.dtype("<i8")),
}


class RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, data, archive, prefix):
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix = archive, prefix

    def find_class(self, module, name):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"forbidden global {module}.{name}") from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, stype, key, _location, numel = pid
        raw = self.archive.read(f"{self.prefix}data/{key}")
        if len(raw) != numel * stype.dtype.itemsize:
            raise pickle.UnpicklingError(f"storage {key}: {len(raw)} bytes for {numel} elements")
        return np.frombuffer(raw, dtype=stype.dtype).copy()


def load_state_dict(path):
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"{info.filename} is compressed")
        pkls = [n for n in z.namelist() if n.count("/") == 1 and n.endswith("/data.pkl")]
        if len(pkls) != 1:
            raise ValueError("expected exactly one <archive>/data.pkl")
        prefix = pkls[0][: -len("data.pkl")]
        if f"{prefix}byteorder" in z.namelist() and z.read(f"{prefix}byteorder") != b"little":
            raise ValueError("byteorder is not little")
        obj = RestrictedUnpickler(z.read(pkls[0]), z, prefix).load()
    return obj["netG_state_dict"]


# ----------------------------------------------------------------------------- generator
def conv_transpose2d(x, w, stride, padding):
    """x [n, inC, H, W], w [inC, outC, kh, kw] (PyTorch's layout), float64.

    Each kernel tap (i, j) sends input pixel (y, x) to output (y*stride + i, x*stride + j) of the
    uncropped output; the padding is then cropped from every side."""
    n, cin, h, wd = x.shape
    _, cout, kh, kw = w.shape
    full = np.zeros((n, cout, (h - 1) * stride + kh, (wd - 1) * stride + kw))
    for i in range(kh):
        for j in range(kw):
            # contribution[n, o, y, x] = sum_c x[n, c, y, x] * w[c, o, i, j]
            contribution = np.einsum("ncyx,co->noyx", x, w[:, :, i, j])
            full[:, :, i:i + (h - 1) * stride + 1:stride, j:j + (wd - 1) * stride + 1:stride] += contribution
    oh, ow = full.shape[2] - 2 * padding, full.shape[3] - 2 * padding
    return full[:, :, padding:padding + oh, padding:padding + ow]


def batch_norm(x, sd, prefix, eps=1e-5):
    g = lambda k: sd[prefix + k].astype(np.float64)[None, :, None, None]
    return (x - g("running_mean")) / np.sqrt(g("running_var") + eps) * g("weight") + g("bias")


PLAN = [(0, 1, 0), (3, 2, 1), (6, 2, 1), (9, 2, 1), (12, 2, 1)]   # (module, stride, padding)


def generate(sd, z):
    """z [n, 100] -> [n, 3, 64, 64] in float64."""
    x = np.asarray(z, dtype=np.float64).reshape(-1, LATENT, 1, 1)
    for k, (m, stride, padding) in enumerate(PLAN):
        x = conv_transpose2d(x, sd[f"main.{m}.weight"].astype(np.float64), stride, padding)
        if k < len(PLAN) - 1:
            x = np.maximum(batch_norm(x, sd, f"main.{m + 1}."), 0.0)
        else:
            x = np.tanh(x)
    return x


def to_bytes(sample):
    """[3, 64, 64] in [-1, 1] -> interleaved RGB bytes, DCGANGenerator.byte in float32:
    round-half-away-from-zero(((v + 1) * 0.5) * 255) clamped to 0...255."""
    v = sample.astype(np.float32)
    s = ((v + np.float32(1)) * np.float32(0.5)) * np.float32(255)
    s = s.astype(np.float64)     # exact; the +-0.5 below is then exact too
    s = np.where(s >= 0, np.floor(s + 0.5), np.ceil(s - 0.5))
    return np.clip(s, 0, 255).astype(np.uint8).transpose(1, 2, 0).tobytes()


def sample_indices(seed, total, count):
    """`count` distinct indices below `total`, drawn with SplitMix64(seed), sorted."""
    if count >= total:
        return list(range(total))
    g, picked = SplitMix64(seed), set()
    while len(picked) < count:
        picked.add(g.next() % total)
    return sorted(picked)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True, help="gan_face_generate_weights.tar")
    ap.add_argument("--out", required=True, help="fixture JSON to write")
    ap.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=DEFAULT_SEEDS,
                    help="comma-separated seeds (latents by the documented SplitMix64 + Box-Muller procedure)")
    ap.add_argument("--z", help="JSON file with a list of latent vectors (100 numbers each) instead of seeds")
    ap.add_argument("--png-dir", help="also write each face as PNG here (needs nothing but zlib)")
    args = ap.parse_args()

    sd = load_state_dict(args.weights)
    params = sum(int(np.prod(v.shape, dtype=np.int64)) for v in sd.values())
    if args.z:
        with open(args.z) as f:
            zs = [np.array(v, dtype=np.float32) for v in json.load(f)]
        seeds = [None] * len(zs)
    else:
        seeds = args.seeds
        zs = [latent(s) for s in seeds]
    for z in zs:
        if z.shape != (LATENT,):
            sys.exit(f"each latent needs {LATENT} values")

    out = generate(sd, np.stack(zs))
    cases = []
    for k, (seed, z) in enumerate(zip(seeds, zs)):
        y = out[k]
        flat = y.reshape(-1)
        idx = sample_indices(0x6A4 + k, flat.size, SAMPLE_COUNT)
        img = to_bytes(y)
        cases.append({
            "seed": seed,
            "z": [float(v) for v in z],
            "channel_mean": [float(y[c].mean()) for c in range(3)],
            "min": float(flat.min()), "max": float(flat.max()),
            "sample_index": [int(i) for i in idx],
            "sample_value": [float(flat[i]) for i in idx],
            "image_first_bytes": list(img[:48]),
            "image_byte_sum": int(sum(img)),
            "image_sha256": hashlib.sha256(img).hexdigest(),
        })
        if args.png_dir:
            write_png(f"{args.png_dir}/gan-oracle-{seed if seed is not None else k}.png", img, 64, 64)

    doc = {
        "generator": "tools/gan-oracle/oracle.py (numpy, float64; restricted unpickler, no torch)",
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "regenerate": REGENERATE,
        "weights": "gan_face_generate_weights.tar from PyPI gan-face-generate==1.1.1 (sha256 "
                   + hashlib.sha256(open(args.weights, "rb").read()).hexdigest() + ")",
        "licence": "code MIT; weights trained on DigiFace-1M (research/non-commercial licence)",
        "state_dict": {k: list(v.shape) for k, v in sd.items()},
        "parameters": params,
        "output": "[3, 64, 64] float64, flat index = (c * 64 + y) * 64 + x; image bytes interleaved RGB, row-major",
        "latent_procedure": "SplitMix64(seed); 50 x (u1 = ((next() >> 11) + 1) * 2^-53, u2 = (next() >> 11) * 2^-53, "
                            "r = sqrt(-2 ln u1), t = 2 pi u2, z += [float32(r cos t), float32(r sin t)])",
        "cases": cases,
    }
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out}: {len(cases)} cases, {params} parameters")


def write_png(path, rgb, w, h):
    import struct
    import zlib
    raw = b"".join(b"\x00" + rgb[y * w * 3:(y + 1) * w * 3] for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


if __name__ == "__main__":
    main()
