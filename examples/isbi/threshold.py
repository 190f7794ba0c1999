#!/usr/bin/python3
"""Baseline for examples/isbi: the grey-value threshold that best separates
membrane (dark) from the rest on slices 0-19, scored on slices 25-29 on
every pixel and on the net's output grid (offset 16, stride 4, 120x120)."""
import sys
import numpy as np

data = sys.argv[1]
img = np.fromfile(f"{data}/train-volume.u8", np.uint8).reshape(30, 512, 512)
lab = np.fromfile(f"{data}/train-labels.u8", np.uint8).reshape(30, 512, 512)
train_i, train_l = img[:20].ravel(), lab[:20].ravel()
# accuracy of "membrane iff value <= t" for every t, from histograms
mem = np.bincount(train_i[train_l == 1], minlength=256).cumsum()
rest = np.bincount(train_i[train_l == 0], minlength=256).cumsum()
acc = (mem + (rest[-1] - rest)) / train_i.size
t = int(acc.argmax())
test_i, test_l = img[25:], lab[25:]
pred = test_i <= t
grid = (slice(None), slice(16, 16 + 4 * 120, 4), slice(16, 16 + 4 * 120, 4))
print(f"threshold\t{t}\t(membrane iff grey value <= {t}, fitted on slices 0-19)")
print(f"threshold accuracy, all pixels\t{(pred == test_l).mean():.4f}")
print(f"threshold accuracy, output grid\t{(pred[grid] == test_l[grid]).mean():.4f}")
print(f"majority class accuracy, output grid\t{(test_l[grid] == 0).mean():.4f}")
