#!/usr/bin/python3
"""Benchmark input for ekn-augment, in the shapes ekn-batch sends
(ekn-stream(5), the numpy writer of tests/ekn_stream.py).

usage: augment_data.py OUTDIR ISBI_DIR FMNIST_DIR
  OUTDIR/isbi-patches.ekn   8 records of one 1x23x185x185 f32 patch of the ISBI
                            training volume (treated as 3D) with full i32 labels
  OUTDIR/fmnist-batches.ekn 40 records of 64 Fashion-MNIST 1x28x28 images, f32, labels
Without the data (a missing file), random values of the same shapes are used
and a note goes to stderr."""
import gzip
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests'))
import ekn_stream as es  # noqa: E402

out, isbi, fmnist = sys.argv[1:4]
rng = np.random.default_rng(0)
try:
    vol = np.fromfile(os.path.join(isbi, 'train-volume.u8'), np.uint8).reshape(30, 512, 512)
    lab = (np.fromfile(os.path.join(isbi, 'train-labels.u8'), np.uint8).reshape(30, 512, 512) != 0).astype(np.int32)  # 1 = membrane
except OSError:
    print('augment_data.py: no ISBI volume, random data instead', file=sys.stderr)
    vol = rng.integers(0, 256, (30, 512, 512), dtype=np.uint8)
    lab = rng.integers(0, 2, (30, 512, 512), dtype=np.int32)
with open(os.path.join(out, 'isbi-patches.ekn'), 'wb') as f:
    for i in range(8):
        z, y, x = rng.integers(0, 30 - 23 + 1), rng.integers(0, 512 - 185 + 1), rng.integers(0, 512 - 185 + 1)
        img = vol[z:z + 23, y:y + 185, x:x + 185].astype(np.float32)[None, None] / 255
        es.write(f, 'image', img, 'axes=NCZYX\nspacing=50,4,4\nbatch=%d\n' % i)
        es.write(f, 'label', lab[None, z:z + 23, y:y + 185, x:x + 185].copy(), 'classes=2\n')
try:
    with gzip.open(os.path.join(fmnist, 'train-images-idx3-ubyte.gz')) as g:
        imgs = np.frombuffer(g.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:2560]
    with gzip.open(os.path.join(fmnist, 'train-labels-idx1-ubyte.gz')) as g:
        labs = np.frombuffer(g.read(), np.uint8, offset=8)[:2560].astype(np.int32)
except OSError:
    print('augment_data.py: no Fashion-MNIST, random data instead', file=sys.stderr)
    imgs = rng.integers(0, 256, (2560, 1, 28, 28), dtype=np.uint8)
    labs = rng.integers(0, 10, 2560, dtype=np.int32)
with open(os.path.join(out, 'fmnist-batches.ekn'), 'wb') as f:
    for i in range(40):
        es.write(f, 'image', imgs[i * 64:(i + 1) * 64].astype(np.float32) / 255, 'axes=NCYX\nbatch=%d\n' % i)
        es.write(f, 'label', labs[i * 64:(i + 1) * 64], 'classes=10\n')
