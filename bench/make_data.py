#!/usr/bin/python3
"""Random data of the benchmark nets' shapes, written as ekn streams
(the numpy writer of ekn-stream(5)).  Usage: make_data.py OUTDIR"""
import struct, sys
import numpy as np

def record(f, name, a, meta=b""):
    code = {np.dtype(np.float32): 11, np.dtype(np.int32): 6}[a.dtype]
    nm = name.encode()
    hlen = -(-(24 + 8 * a.ndim + 2 + len(nm) + 4 + len(meta)) // 64) * 64
    h = bytearray(hlen)
    h[0:8] = b"\x89EKN" + bytes([1, 0, code, a.ndim])
    struct.pack_into("<IIQ", h, 8, hlen, 0, a.nbytes)
    o = 24
    for d in a.shape:
        struct.pack_into("<Q", h, o, d); o += 8
    struct.pack_into("<H", h, o, len(nm)); h[o + 2:o + 2 + len(nm)] = nm; o += 2 + len(nm)
    struct.pack_into("<I", h, o, len(meta)); h[o + 4:o + 4 + len(meta)] = meta
    f.write(h); f.write(a.tobytes()); f.write(b"\0" * (-a.nbytes % 64))

rng = np.random.default_rng(0)
out = sys.argv[1]
with open(f"{out}/fmnist-random.ekn", "wb") as f:
    record(f, "image", rng.random((6400, 1, 28, 28), dtype=np.float32))
    record(f, "label", rng.integers(0, 10, 6400, dtype=np.int32), b"classes=10\n")
with open(f"{out}/aniso-random.ekn", "wb") as f:
    record(f, "image", rng.random((1, 1, 30, 160, 160), dtype=np.float32))
    record(f, "label", rng.integers(0, 2, (1, 30, 160, 160), dtype=np.int32), b"classes=2\n")
with open(f"{out}/isbi-random.ekn", "wb") as f:  # 2D slices for the U-Net's 92x92 patches
    record(f, "image", rng.random((4, 1, 256, 256), dtype=np.float32))
    record(f, "label", rng.integers(0, 2, (4, 256, 256), dtype=np.int32), b"classes=2\n")
