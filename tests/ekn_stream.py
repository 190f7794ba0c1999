#!/usr/bin/python3
"""Read and write ekn streams with numpy (ekn-stream(5)), for the tests.

The block between the 'ekn-stream(5)' markers is the reader and writer
printed in the man page's EXAMPLES; tests/10-stream.bats checks that the two
copies agree, so the page's code is the code under test.

usage:
  ekn_stream.py write FILE NAME DTYPE [DIM...] [--data seq|random|zeros]
                [--classes K] [--value V] [--meta KEY=VALUE]... [--seed N] [--append]
  ekn_stream.py read FILE           one line per record: name dtype shape sum
  ekn_stream.py roundtrip IN OUT    read every record and write it back
FILE, IN and OUT may be '-' (stdin, stdout).
"""
import argparse
import sys

import numpy as np

# --- begin ekn-stream(5) ---
import struct
MAGIC = b'\x89EKN'
DTYPES = {1: 'u1', 2: 'i1', 3: '<u2', 4: '<i2', 5: '<u4', 6: '<i4', 7: '<u8',
          8: '<i8', 9: '<f2', 10: '<u2', 11: '<f4', 12: '<f8'}  # 10: bf16 bits
CODES = {np.dtype(t).str: c for c, t in DTYPES.items() if c != 10}

def read(f):
    """Yields (name, array, meta, dtype code) for each record of f."""
    while h := f.read(24):
        magic, major, _, code, rank, hlen, _, plen = struct.unpack('<4s4BIIQ', h)
        if magic != MAGIC or major != 1:
            raise ValueError('not an ekn 1.x stream')
        h += f.read(hlen - 24)
        shape = struct.unpack_from(f'<{rank}Q', h, 24)
        o = 24 + 8 * rank
        n, = struct.unpack_from('<H', h, o)
        m, = struct.unpack_from('<I', h, o + 2 + n)
        meta = h[o + 6 + n:o + 6 + n + m].decode()
        data = f.read(plen)
        f.read(-plen % 64)
        if len(h) != hlen or len(data) != plen:
            raise ValueError('truncated stream')
        a = np.frombuffer(data, DTYPES[code]).reshape(shape)
        yield h[o + 2:o + 2 + n].decode(), a, meta, code

def write(f, name, a, meta='', code=None):
    """Writes array a as one record; meta is 'key=value\\n' lines."""
    a = np.asarray(a, a.dtype.newbyteorder('<'), order='C')
    code = code or CODES[a.dtype.str]
    n, m = name.encode(), meta.encode()
    tail = struct.pack(f'<{a.ndim}QH', *a.shape, len(n)) + n
    tail += struct.pack('<I', len(m)) + m
    hlen = (24 + len(tail) + 63) // 64 * 64
    f.write(struct.pack('<4s4BIIQ', MAGIC, 1, 0, code, a.ndim, hlen, 0, a.nbytes))
    f.write(tail + bytes(hlen - 24 - len(tail)))
    f.write(a.tobytes() + bytes(-a.nbytes % 64))
# --- end ekn-stream(5) ---

NAMES = {'u8': 1, 'i8': 2, 'u16': 3, 'i16': 4, 'u32': 5, 'i32': 6, 'u64': 7, 'i64': 8,
         'f16': 9, 'bf16': 10, 'f32': 11, 'f64': 12}
NAME_OF = {c: n for n, c in NAMES.items()}


def as_float(a, code):
    """Values as float64 (bf16 bits widened to f32 first)."""
    if code == 10:
        return (a.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return a.astype(np.float64)


def make_data(dtname, shape, args):
    n = int(np.prod(shape, dtype=np.int64))
    gen = np.random.default_rng(args.seed)
    base = 'f32' if dtname == 'bf16' else dtname
    dt = np.dtype(DTYPES[NAMES[base]])
    if args.value is not None:
        x = np.full(n, float(args.value))
    elif args.classes:
        x = np.arange(n) % args.classes
    elif args.data == 'zeros':
        x = np.zeros(n)
    elif args.data == 'random':
        x = gen.standard_normal(n) if dt.kind == 'f' else gen.integers(0, 100, n)
    else:
        x = np.arange(n)
    if dt.kind == 'f':
        a = x.astype(dt)
    else:
        a = x.astype(np.int64).astype(dt)  # wraps, as C casts do
    if dtname == 'bf16':
        a = (a.astype('<f4').view('<u4') >> 16).astype('<u2')
    return a.reshape(shape)


def opener(path, mode):
    if path == '-':
        return sys.stdin.buffer if 'r' in mode else sys.stdout.buffer
    return open(path, mode)


def main(argv):
    p = argparse.ArgumentParser(prog='ekn_stream.py')
    sub = p.add_subparsers(dest='cmd', required=True)
    w = sub.add_parser('write')
    w.add_argument('file')
    w.add_argument('name')
    w.add_argument('dtype', choices=sorted(NAMES))
    w.add_argument('dims', nargs='*', type=int)
    w.add_argument('--data', choices=['seq', 'random', 'zeros'], default='seq')
    w.add_argument('--classes', type=int, default=0)
    w.add_argument('--value')
    w.add_argument('--meta', action='append', default=[])
    w.add_argument('--seed', type=int, default=1)
    w.add_argument('--append', action='store_true')
    r = sub.add_parser('read')
    r.add_argument('file')
    t = sub.add_parser('roundtrip')
    t.add_argument('input')
    t.add_argument('output')
    args = p.parse_args(argv)

    if args.cmd == 'write':
        a = make_data(args.dtype, tuple(args.dims), args)
        meta = ''.join(m + '\n' for m in args.meta)
        with opener(args.file, 'ab' if args.append else 'wb') as f:
            write(f, args.name, a, meta, NAMES[args.dtype])
    elif args.cmd == 'read':
        with opener(args.file, 'rb') as f:
            for name, a, meta, code in read(f):
                shape = '[' + ','.join(str(d) for d in a.shape) + ']'
                if code < 9:
                    total = str(int(a.astype(object).sum())) if a.size else '0'
                else:
                    total = repr(float(as_float(a, code).sum()))
                print(name, NAME_OF[code], shape, total)
    else:
        with opener(args.input, 'rb') as fin, opener(args.output, 'wb') as fout:
            for name, a, meta, code in read(fin):
                write(fout, name, a, meta, code)
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1:]))
    except (ValueError, struct.error) as e:
        print(f'ekn_stream.py: {e}', file=sys.stderr)
        sys.exit(1)
