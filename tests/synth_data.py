#!/usr/bin/python3
"""Synthetic streams for tests/60-train.bats and tests/70-predict.bats,
written with tests/ekn_stream.py.  Usage: synth_data.py DIR
  img*.ekn   img-scalar, (N,1,4,8,8) f32, 2 classes: the bright half is
             the top rows (class 1) or the bottom rows (class 0), in noise
  vec*.ekn   vect-scalar, (N,10) f32, class = sign of a fixed projection
  reg*.ekn   vect-scalar regression, (N,10) -> (N,2) f32 targets
  seg*.ekn   img-img, (N,1,24,24) smooth noise, label (N,24,24) = image > 0
and broken ones: img-nolabel (no label records), shape (4x9x9 volumes),
wide (4x10x10), count (labels for 3 of 4 examples), nanin (one NaN pixel),
empty, trunc (cut in a payload)."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np
import ekn_stream as es

d = sys.argv[1]

def put(name, *records):
    with open(os.path.join(d, name), 'wb') as f:
        for rec in records:
            es.write(f, *rec)

def img(n, seed):
    g = np.random.default_rng(seed)
    y = g.integers(0, 2, n).astype(np.int32)
    x = g.normal(0, 0.5, (n, 1, 4, 8, 8)).astype(np.float32)
    x[y == 1, :, :, :4, :] += 0.7
    x[y == 0, :, :, 4:, :] += 0.7
    return [('image', x), ('label', y, 'classes=2\n')]

W = np.linspace(-1, 1, 10)

def vec(n, seed):
    x = np.random.default_rng(seed).normal(0, 1, (n, 10)).astype(np.float32)
    return [('vector', x), ('label', (x @ W > 0).astype(np.int32))]

def reg(n, seed):
    x = np.random.default_rng(seed).normal(0, 1, (n, 10)).astype(np.float32)
    t = 0.5 * np.stack([x @ W, x[:, 0] - x[:, 1]], 1)
    return [('vector', x), ('target', t.astype(np.float32))]

def seg(n, seed):
    x = np.random.default_rng(seed).normal(0, 1, (n, 1, 28, 28))
    k = np.ones(5) / 5
    for ax in (2, 3):
        x = np.apply_along_axis(lambda v: np.convolve(v, k, 'valid'), ax, x)
    x = (x / x.std()).astype(np.float32)
    return [('image', x), ('label', (x[:, 0] > 0).astype(np.int32))]

put('img.ekn', *img(256, 1))
put('img-test.ekn', *img(128, 2))
put('img-nolabel.ekn', img(40, 12)[0])
put('vec.ekn', *vec(512, 3))
put('vec-test.ekn', *vec(256, 4))
put('reg.ekn', *reg(256, 5))
put('reg-test.ekn', *reg(128, 6))
put('seg.ekn', *seg(64, 7))
put('seg-test.ekn', *seg(32, 8))
z = np.zeros
put('shape.ekn', ('image', z((4, 1, 4, 9, 9), np.float32)), ('label', z(4, np.int32)))
put('wide.ekn', ('image', np.random.default_rng(9).normal(0, 1, (8, 1, 4, 10, 10)).astype(np.float32)),
    ('label', np.arange(8, dtype=np.int32) % 2))
put('count.ekn', ('image', z((4, 1, 4, 8, 8), np.float32)), ('label', z(3, np.int32)))
x = np.random.default_rng(10).normal(0, 1, (16, 1, 4, 8, 8)).astype(np.float32)
x[3, 0, 1, 2, 3] = np.nan
put('nanin.ekn', ('image', x), ('label', np.arange(16, dtype=np.int32) % 2))
open(os.path.join(d, 'empty.ekn'), 'wb').close()
with open(os.path.join(d, 'img.ekn'), 'rb') as f:
    data = f.read(100000)
with open(os.path.join(d, 'trunc.ekn'), 'wb') as f:
    f.write(data)
