#!/usr/bin/python3
"""png_info.py FILE: prints 'WIDTH HEIGHT COLOURS GREY' for an 8-bit PNG
(colour types 0, 2, 4 and 6, no interlace): the size from the IHDR chunk,
the number of distinct colours of the decoded pixels, and 1 when every
pixel is grey (r == g == b), else 0.  Written with zlib and numpy only, so
the tests need no image library; it checks the CRC of every chunk."""
import struct
import sys
import zlib

import numpy as np


def chunks(data):
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise ValueError('not a PNG')
    pos = 8
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc, = struct.unpack('>I', data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f'bad CRC in {kind!r}')
        yield kind, body
        pos += 12 + n


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def decode(path):
    data = open(path, 'rb').read()
    idat = b''
    palette = None
    for kind, body in chunks(data):
        if kind == b'IHDR':
            w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', body)
        elif kind == b'PLTE':
            palette = np.frombuffer(body, np.uint8).reshape(-1, 3)
        elif kind == b'IDAT':
            idat += body
    if depth != 8 or interlace:
        raise ValueError(f'unsupported PNG: depth {depth}, interlace {interlace}')
    bpp = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * bpp)
    out = np.zeros((h, w * bpp), np.int64)
    prev = np.zeros(w * bpp, np.int64)
    for y in range(h):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) % 256
        elif f == 1:
            cur = line.copy()
            for k in range(bpp, len(cur)):
                cur[k] = (cur[k] + cur[k - bpp]) % 256
        else:
            cur = line.tolist()
            up = prev.tolist()
            for k in range(len(cur)):
                a = cur[k - bpp] if k >= bpp else 0
                c = up[k - bpp] if k >= bpp else 0
                pred = (a + up[k]) // 2 if f == 3 else paeth(a, up[k], c)
                cur[k] = (cur[k] + pred) % 256
            cur = np.array(cur, np.int64)
        out[y] = cur
        prev = cur
    px = out.reshape(h, w, bpp)
    if ctype == 3:
        px = palette[px[:, :, 0]].astype(np.int64)
    elif ctype in (0, 4):
        px = np.repeat(px[:, :, :1], 3, axis=2)
    rgb = px[:, :, :3]
    return w, h, rgb


w, h, rgb = decode(sys.argv[1])
flat = (rgb[:, :, 0] << 16 | rgb[:, :, 1] << 8 | rgb[:, :, 2]).ravel()
grey = int(bool(np.all(rgb[:, :, 0] == rgb[:, :, 1]) and np.all(rgb[:, :, 1] == rgb[:, :, 2])))
print(w, h, len(np.unique(flat)), grey)
