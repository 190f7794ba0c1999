#!/usr/bin/python3
"""params_close.py A B RTOL ATOL: every parameter (/params) of checkpoint A
is within |a - b| <= ATOL + RTOL |a| of B's; prints the worst element's
absolute and relative difference (|a - b| / |a|, over |a| >= ATOL) and
exits 1 if one is farther."""
import sys
import h5py
import numpy as np

a, b = h5py.File(sys.argv[1], 'r'), h5py.File(sys.argv[2], 'r')
rtol, atol = float(sys.argv[3]), float(sys.argv[4])
names = []
a['params'].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
worst_abs = worst_rel = 0.0
bad = 0
for n in names:
    x = np.asarray(a['params'][n][()], np.float64)
    y = np.asarray(b['params'][n][()], np.float64)
    if x.shape != y.shape:
        print(f'params/{n}: shape {x.shape} vs {y.shape}')
        bad += 1
        continue
    d = np.abs(x - y)
    worst_abs = max(worst_abs, float(d.max(initial=0)))
    big = np.abs(x) >= atol
    if big.any():
        worst_rel = max(worst_rel, float((d[big] / np.abs(x[big])).max()))
    far = int((d > atol + rtol * np.abs(x)).sum())
    if far:
        print(f'params/{n}: {far} elements beyond {atol} + {rtol} |a|')
        bad += far
print(f'{len(names)} tensors, max abs diff {worst_abs:.3g}, max rel diff {worst_rel:.3g}, {bad} beyond')
sys.exit(1 if bad or not names else 0)
