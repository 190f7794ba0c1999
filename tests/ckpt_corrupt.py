# ckpt_corrupt.py SRC PREFIX N SEED: N corrupted copies of checkpoint SRC (PREFIX000.h5 ...):
# random bytes, 0xff runs in the first 4 KiB (huge sizes), truncations, single bytes set
# to 0, 0x80 or 0xff.  The same SEED gives the same files.
import sys, random
src, out, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = open(src, 'rb').read()
rng = random.Random(seed)
for i in range(n):
    b = bytearray(data)
    kind = i % 4
    if kind == 0:   # a few random bytes
        for _ in range(rng.randint(1, 8)): b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind == 1: # a run of 0xff (huge sizes) in the first 4 KiB (superblock, object headers)
        o = rng.randrange(min(4096, len(b) - 8)); b[o:o + 8] = b'\xff' * 8
    elif kind == 2: # truncated
        b = b[:rng.randrange(len(b))]
    else:           # a byte anywhere set to 0xff, 0x00 or 0x80
        for _ in range(rng.randint(1, 3)): b[rng.randrange(len(b))] = rng.choice([0, 0x80, 0xff])
    open('%s%03d.h5' % (out, i), 'wb').write(bytes(b))
