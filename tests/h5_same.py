#!/usr/bin/python3
"""h5_same.py A B: every dataset under /params, /optimizer and /state (but
the wall-clock /state/elapsed) of checkpoint A is byte-identical in B;
prints the ones that differ and exits 1 if any."""
import sys
import h5py
import numpy as np

a, b = h5py.File(sys.argv[1], 'r'), h5py.File(sys.argv[2], 'r')
names = []
a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
bad = 0
for n in names:
    if n.split('/')[0] not in ('params', 'optimizer', 'state') or n == 'state/elapsed':
        continue
    if n not in b:
        print(f'{n}: missing in {sys.argv[2]}')
        bad += 1
        continue
    x, y = a[n][()], b[n][()]
    # bytes, not values: bit-identical is the claim, and NaN (an unset state) equals itself
    x, y = np.asarray(x), np.asarray(y)
    same = x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()
    if not same:
        print(f'{n}: differs')
        bad += 1
print(f'{len(names)} datasets, {bad} differ')
sys.exit(1 if bad else 0)
