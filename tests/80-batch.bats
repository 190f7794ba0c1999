#!/usr/bin/env bats
# ekn-batch: whole-example batches (every example once per epoch, shuffle,
# short last batch, pipes through the shuffle buffer), img-img patches
# (label lattice aligned with the net's output, full labels with a margin,
# regions, weights, class-aware sampling, --max-ignored), determinism, and
# every class of bad input.  Synthetic streams made with numpy.
load helper

# py ARGS... < SCRIPT: Debian's python, the script on stdin
py() {
    ekn_py - "$@"
}

setup_file() {
    ekn_py - "$BATS_FILE_TMPDIR" "$BATS_TEST_DIRNAME" <<'EOF'
import os, sys
d = sys.argv[1]
sys.path.insert(0, sys.argv[2])
import numpy as np
import ekn_stream as es

def put(name, *records):
    with open(os.path.join(d, name), 'wb') as f:
        for rec in records:
            es.write(f, *rec)

# 103 vectors whose first feature and label are the example's index, in two record pairs
x = np.zeros((103, 5), np.float32); x[:, 0] = np.arange(103)
y = np.arange(103, dtype=np.int32)
put('vec.ekn', ('vector', x[:60]), ('label', y[:60]), ('vector', x[60:]), ('label', y[60:]))
# the same with lazy labels: example i is labelled for class i % 3, absent for (i + 1) % 3
lz = np.eye(3, dtype=np.uint8)[y % 3]; ab = np.eye(3, dtype=np.uint8)[(y + 1) % 3]
put('lazy.ekn', ('vector', x[:60]), ('label', y[:60] % 3), ('labelled', lz[:60]), ('absent', ab[:60]),
    ('vector', x[60:]), ('label', y[60:] % 3), ('labelled', lz[60:]), ('absent', ab[60:]))

# a 3D volume whose labels encode their own coordinates, image = the same numbers
Z, Y, X = 12, 40, 36
z, yy, xx = np.meshgrid(np.arange(Z), np.arange(Y), np.arange(X), indexing='ij')
code = (z * 65536 + yy * 256 + xx).astype(np.int32)
put('coord3d.ekn', ('image', code[None, None].astype(np.float32)), ('label', code[None]))
# the same in 2D, two volumes of one shape
c2 = (yy[0] * 256 + xx[0]).astype(np.int32)
put('coord2d.ekn', ('image', np.stack([c2, c2 + 100000])[:, None].astype(np.float32)),
    ('label', np.stack([c2, c2 + 100000])))

# about 0.3% foreground (class 1) in 2x2 squares of a 2D 400x400 volume
lab = np.zeros((400, 400), np.int32)
g = np.random.default_rng(5)
for cy, cx in g.integers(0, 398, (120, 2)):
    lab[cy:cy + 2, cx:cx + 2] = 1
print('foreground', lab.mean(), file=sys.stderr)
img = g.normal(0, 1, (1, 1, 400, 400)).astype(np.float32)
put('rare.ekn', ('image', img), ('label', lab[None], 'classes=2\n'))
# ignored labels (-1) on the left half
ign = lab.copy(); ign[:, :200] = -1
put('ignored.ekn', ('image', img), ('label', ign[None]))
# two constant volumes of different shapes for the weights
put('ones.ekn', ('image', np.ones((1, 1, 30, 30), np.float32)), ('label', np.zeros((1, 30, 30), np.int32)))
put('twos.ekn', ('image', np.full((1, 1, 50, 40), 2, np.float32)), ('label', np.zeros((1, 50, 40), np.int32)))
# broken inputs
put('mismatch.ekn', ('image', np.zeros((1, 1, 20, 20), np.float32)), ('label', np.zeros((1, 20, 19), np.int32)))
put('small.ekn', ('image', np.zeros((1, 1, 20, 20), np.float32)), ('label', np.zeros((1, 20, 20), np.int32)))
open(os.path.join(d, 'empty.ekn'), 'wb').close()
EOF
}

setup() {
    ekn_test_dir
}

# records FILE: "name shape meta" per record, metadata lines joined by ';'
records() {
    py "$BATS_TEST_DIRNAME" "$1" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import ekn_stream as es
with open(sys.argv[2], 'rb') as f:
    for name, a, meta, _ in es.read(f):
        print(name, 'x'.join(map(str, a.shape)), meta.strip().replace('\n', ';'))
EOF
}

@test "every example appears once per epoch, shuffled, each epoch in a new order" {
    run --separate-stderr ekn-batch -b 10 --epochs 3 --seed 4 -o out.ekn "$D/vec.ekn"
    assert_success
    py "$BATS_TEST_DIRNAME" out.ekn <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
recs = list(es.read(open(sys.argv[2], 'rb')))
assert [r[0] for r in recs[:2]] == ['vector', 'label'], [r[0] for r in recs[:2]]
orders = {}
for i in range(0, len(recs), 2):
    (n1, x, m1, _), (n2, y, m2, _) = recs[i], recs[i + 1]
    assert n1 == 'vector' and n2 == 'label' and x.shape[1] == 5
    assert (x[:, 0] == y).all(), 'labels travel with their examples'
    assert f'batch={i // 2}\n' in m1 and f'batch={i // 2}\n' in m2, m1
    e = int(m1.split('epoch=')[1].split()[0])
    orders.setdefault(e, []).extend(y.tolist())
    assert len(y) == (3 if (i // 2) % 11 == 10 else 10), (i, len(y))
assert sorted(orders) == [0, 1, 2]
for e, o in orders.items():
    assert sorted(o) == list(range(103)), f'epoch {e} is not a permutation'
assert orders[0] != list(range(103)), 'not shuffled'
assert orders[0] != orders[1] != orders[2], 'not reshuffled per epoch'
EOF
}

@test "--drop-last drops the short batch; --no-shuffle keeps the order" {
    run --separate-stderr ekn-batch -b 10 --drop-last --no-shuffle -o out.ekn "$D/vec.ekn"
    assert_success
    run records out.ekn
    assert_success
    [[ $(grep -c '^label 10 ' <<<"$output") == 10 ]]
    refute_output --partial 'label 3 '
    assert_line --index 1 --partial 'label 10 batch=0;epoch=0'
    ekn-batch -b 103 --no-shuffle -o all.ekn "$D/vec.ekn"
    py "$BATS_TEST_DIRNAME" all.ekn <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
ys = [a for n, a, m, _ in es.read(open(sys.argv[2], 'rb')) if n == 'label']
assert len(ys) == 1 and ys[0].tolist() == list(range(103)), ys
EOF
}

@test "a mask record turns its masked labels into -1, which batches carry on" {
    py "$BATS_TEST_DIRNAME" masked.ekn <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
x = np.arange(12, dtype=np.float32).reshape(6, 2)
with open(sys.argv[2], 'wb') as f:
    es.write(f, 'vector', x)
    es.write(f, 'label', np.array([0, 1, 2, 3, 4, 5], np.int32))
    es.write(f, 'mask', np.array([1, 0, 1, 0, 0, 1], np.uint8))
EOF
    run --separate-stderr ekn-batch -b 6 --no-shuffle -o out.ekn masked.ekn
    assert_success
    py "$BATS_TEST_DIRNAME" out.ekn <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import ekn_stream as es
ys = [a for n, a, m, _ in es.read(open(sys.argv[2], 'rb')) if n == 'label']
assert ys[0].tolist() == [0, -1, 2, -1, -1, 5], ys
EOF
    # a mask of another shape than the labels is an error naming it
    py "$BATS_TEST_DIRNAME" bad.ekn <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
with open(sys.argv[2], 'wb') as f:
    es.write(f, 'vector', np.zeros((4, 2), np.float32))
    es.write(f, 'label', np.zeros(4, np.int32))
    es.write(f, 'mask', np.ones(3, np.uint8))
EOF
    run --separate-stderr ekn-batch -b 4 -o out2.ekn bad.ekn
    assert_failure 1
    [[ $stderr == *"a mask must have its labels' shape"* ]]
    [ ! -e out2.ekn ]
}

@test "a pipe is read once through the shuffle buffer: a permutation, not the input order" {
    run --separate-stderr bash -c "cat '$D/vec.ekn' | ekn-batch -b 7 --shuffle-buffer 20 --seed 3 > out.ekn"
    assert_success
    py "$BATS_TEST_DIRNAME" out.ekn <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
ys = [a for n, a, m, _ in es.read(open(sys.argv[2], 'rb')) if n == 'label']
o = np.concatenate(ys).tolist()
assert sorted(o) == list(range(103)) and o != list(range(103)), o
# a buffer of 20 cannot emit an example before 19 later ones have come in
assert all(p >= y - 19 for p, y in enumerate(o)), o
EOF
    run --separate-stderr ekn-batch --shuffle-buffer 20 --epochs 2 "$D/vec.ekn"
    assert_failure 2
    assert_no_stdout
}

@test "the same seed gives the same bytes, another seed other bytes (examples and patches)" {
    ekn-batch -b 8 --epochs 2 --seed 11 -o a.ekn "$D/vec.ekn"
    ekn-batch -b 8 --epochs 2 --seed 11 -o b.ekn "$D/vec.ekn"
    ekn-batch -b 8 --epochs 2 --seed 12 -o c.ekn "$D/vec.ekn"
    cmp a.ekn b.ekn
    ! cmp -s a.ekn c.ekn
    local p=(--patch 5,9,9 --offset 2,4,4 --stride 1,2,2 -b 4 --patches-per-epoch 20 --class 332820 --class-share 0.25)  # class: voxel (5,20,20)
    ekn-batch "${p[@]}" --seed 11 -o pa.ekn "$D/coord3d.ekn"
    ekn-batch "${p[@]}" --seed 11 -o pb.ekn "$D/coord3d.ekn"
    ekn-batch "${p[@]}" --seed 12 -o pc.ekn "$D/coord3d.ekn"
    cmp pa.ekn pb.ekn
    ! cmp -s pa.ekn pc.ekn
}

@test "lazy labels travel with their examples, from a file and through the shuffle buffer" {
    ekn-batch -b 16 --seed 5 -o mem.ekn "$D/lazy.ekn"
    ekn-batch -b 16 --seed 5 < "$D/lazy.ekn" > pipe.ekn
    py "$BATS_TEST_DIRNAME" mem.ekn pipe.ekn <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
for path in sys.argv[2:]:
    recs = list(es.read(open(path, 'rb')))
    assert [r[0] for r in recs[:4]] == ['vector', 'label', 'labelled', 'absent'], path
    seen = []
    for (_, x, _, _), (_, y, _, _), (_, lz, _, _), (_, ab, _, _) in zip(*[iter(recs)] * 4):
        i = x[:, 0].astype(int)
        assert lz.shape == ab.shape == (len(i), 3)
        assert (y == i % 3).all() and (lz.argmax(1) == i % 3).all() and (ab.argmax(1) == (i + 1) % 3).all(), path
        seen += i.tolist()
    assert sorted(seen) == list(range(103)), path
EOF
}

# aligned FILE: label[k] equals the image value at offset + stride * k (from
# the label's metadata) in every patch; with full labels, label == image.
aligned() {
    py "$BATS_TEST_DIRNAME" "$1" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
recs = list(es.read(open(sys.argv[2], 'rb')))
assert recs, 'no records'
corners = set()
for (n1, x, m1, _), (n2, y, m2, _) in zip(recs[::2], recs[1::2]):
    assert (n1, n2) == ('image', 'label') and y.dtype == np.int32
    meta = dict(l.split('=', 1) for l in m2.split())
    img = x[:, 0]
    sp = img.ndim - 1
    if 'offset' in meta:
        off = [int(v) for v in meta['offset'].split(',')]
        st = [int(v) for v in meta['stride'].split(',')]
        assert len(off) == len(st) == sp == y.ndim - 1
        idx = tuple(slice(o, o + s * (k - 1) + 1, s) for o, s, k in zip(off, st, y.shape[1:]))
        assert (img[(slice(None),) + idx] == y).all(), 'label lattice misaligned'
    else:
        assert y.shape == img.shape and (img == y).all(), 'full labels differ from the image region'
    corners.update(img.reshape(len(img), -1)[:, 0].tolist())
assert len(corners) > 10, f'only {len(corners)} distinct patch corners'
EOF
}

@test "3D: the label patch is the output lattice at the offset and stride (coordinate-encoded volume)" {
    run --separate-stderr ekn-batch --patch 5,17,15 --offset 2,4,3 --stride 1,2,3 -b 6 --patches-per-epoch 60 -o out.ekn "$D/coord3d.ekn"
    assert_success
    run aligned out.ekn
    assert_success
    run records out.ekn
    assert_line --index 0 --partial 'image 6x1x5x17x15 '
    assert_line --index 1 --partial 'label 6x1x5x3 '
    assert_line --index 1 --partial 'offset=2,4,3;stride=1,2,3'
}

@test "2D: --net and --calc give the same lattice, aligned with the net's output" {
    ekn-calc "$NETS/tiny-img-img.spec" --format shell > tiny.sh
    ekn-batch --net "$NETS/tiny-img-img.spec" -b 5 --patches-per-epoch 40 --seed 2 -o net.ekn "$D/coord2d.ekn"
    ekn-batch --calc tiny.sh -b 5 --patches-per-epoch 40 --seed 2 -o calc.ekn "$D/coord2d.ekn"
    cmp net.ekn calc.ekn
    run aligned net.ekn
    assert_success
    run records net.ekn
    # tiny-img-img: input 15x15, offset 3, stride 2, 5x5 outputs
    assert_line --index 0 --partial 'image 5x1x15x15 '
    assert_line --index 1 --partial 'label 5x5x5 '
    assert_line --index 1 --partial 'offset=3,3;stride=2,2'
}

@test "--margin enlarges the image patch and gives full labels of the same region" {
    ekn-batch --net "$NETS/tiny-img-img.spec" --margin 4 -b 3 --patches-per-epoch 30 -o out.ekn "$D/coord2d.ekn"
    run aligned out.ekn
    assert_success
    run records out.ekn
    assert_line --index 0 --partial 'image 3x1x23x23 '
    assert_line --index 1 --partial 'label 3x23x23 '
    refute_line --index 1 --partial 'offset='
}

@test "--region keeps whole patches inside the box: train and val regions never overlap" {
    local p=(--patch 3,8,8 -b 10 --patches-per-epoch 200 --full-labels)
    ekn-batch "${p[@]}" --region 0:6 -o train.ekn "$D/coord3d.ekn"
    ekn-batch "${p[@]}" --region 6: -o val.ekn "$D/coord3d.ekn"
    py "$BATS_TEST_DIRNAME" train.ekn val.ekn <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
def zs(path):
    v = np.concatenate([a.ravel() for n, a, m, _ in es.read(open(path, 'rb')) if n in ('image', 'label')])
    return set((v.astype(np.int64) // 65536).ravel().tolist())
t, v = zs(sys.argv[2]), zs(sys.argv[3])
assert t == set(range(6)) and v == set(range(6, 12)), (t, v)
EOF
    run --separate-stderr ekn-batch "${p[@]}" --region 0:2 "$D/coord3d.ekn"
    assert_failure 3
    assert_no_stdout
    assert_one_line_error ekn-batch
}

@test "input weights set how often each volume is drawn" {
    ekn-batch --patch 10,10 -b 50 --patches-per-epoch 400 -i "$D/ones.ekn:3" "$D/twos.ekn@1" -o out.ekn
    py "$BATS_TEST_DIRNAME" out.ekn <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
v = np.concatenate([a for n, a, m, _ in es.read(open(sys.argv[2], 'rb')) if n == 'image'])
ones = int((v[:, 0, 0, 0] == 1).sum())
assert len(v) == 400 and 255 <= ones <= 345, ones   # expected 300, sd 8.7
EOF
}

# share FILE: fraction of patches whose labels contain class 1, the worst
# batch's fraction, and the number of patches
share() {
    py "$BATS_TEST_DIRNAME" "$1" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
ys = [a for n, a, m, _ in es.read(open(sys.argv[2], 'rb')) if n == 'label']
per_batch = [(y.reshape(len(y), -1) == 1).any(1) for y in ys]
print(f'{np.concatenate(per_batch).mean():.4f} {min(b.mean() for b in per_batch):.4f} {sum(map(len, per_batch))}')
EOF
}

@test "class-aware sampling: 0.3% foreground, --class-share 0.5 gives >= 50% of patches with the class" {
    local p=(--patch 9,9 --offset 2 --stride 2 -b 20 --patches-per-epoch 400 --seed 9)
    ekn-batch "${p[@]}" -o plain.ekn "$D/rare.ekn"
    ekn-batch "${p[@]}" --class 1 --class-share 0.5 -o cls.ekn "$D/rare.ekn"
    read -r plain_all plain_min n <<<"$(share plain.ekn)"
    read -r cls_all cls_min n2 <<<"$(share cls.ekn)"
    echo "without: $plain_all, with: $cls_all (worst batch $cls_min), $n2 patches"
    [[ $n == 400 && $n2 == 400 ]]
    # every batch meets the share; without the option far fewer patches hold the class
    awk -v m="$cls_min" -v p="$plain_all" 'BEGIN { exit !(m >= 0.5 && p < 0.1) }'
}

@test "--max-ignored 0 never gives a patch with an ignored label" {
    ekn-batch --patch 16,16 -b 20 --patches-per-epoch 200 --max-ignored 0 -o out.ekn "$D/ignored.ekn"
    ekn-batch --patch 16,16 -b 20 --patches-per-epoch 200 -o all.ekn "$D/ignored.ekn"
    run ekn-info out.ekn
    refute_output --regexp 'label .* min -1'
    run ekn-info all.ekn
    assert_output --regexp 'label .* min -1'
}

@test "bad input: a clear one-line error, empty stdout and the documented exit code" {
    run --separate-stderr ekn-batch --patch 8,8 "$D/mismatch.ekn"
    assert_failure 1
    assert_no_stdout
    assert_one_line_error ekn-batch
    [[ $stderr == *mismatch.ekn*'do not match'* ]]

    run --separate-stderr ekn-batch --patch 30,30 "$D/small.ekn"
    assert_failure 3
    assert_no_stdout
    assert_one_line_error ekn-batch
    [[ $stderr == *'larger than'* ]]

    run --separate-stderr ekn-batch --patch 8,8 --class 1 --class-share 0.5 "$D/small.ekn"
    assert_failure 1
    assert_no_stdout
    assert_one_line_error ekn-batch
    [[ $stderr == *'impossible'* ]]

    run --separate-stderr ekn-batch --patch 8,8 --class 1 --class-share 1.5 "$D/small.ekn"
    assert_failure 2
    assert_no_stdout

    run --separate-stderr ekn-batch "$D/empty.ekn"
    assert_failure 1
    assert_no_stdout
    assert_one_line_error ekn-batch
    run --separate-stderr bash -c "ekn-batch < '$D/empty.ekn'"
    assert_failure 1
    assert_no_stdout
    run --separate-stderr ekn-batch --patch 8,8 "$D/empty.ekn"
    assert_failure 1
    assert_no_stdout

    run --separate-stderr ekn-batch --net "$NETS/tiny-img-img.spec" --offset 1 "$D/coord2d.ekn"
    assert_failure 2
    run --separate-stderr ekn-batch --class 1 --class-share 0.5 "$D/vec.ekn"
    assert_failure 2
    printf 'EKN_MODE=img-img\n' > bad.sh
    run --separate-stderr ekn-batch --calc bad.sh "$D/coord2d.ekn"
    assert_failure 3
    assert_one_line_error ekn-batch
    refute_crash
}

@test "an endless supply ends quietly when the consumer closes the pipe; a full disk is one error" {
    run --separate-stderr bash -c "set -o pipefail; ekn-batch --repeat -b 4 '$D/vec.ekn' | head -c 100000 | wc -c"
    [[ $status == 0 || $status == 141 ]]
    assert_output 100000
    [[ -z $stderr ]]
    run --separate-stderr bash -c "ekn-batch --patch 4,8,8 --repeat -b 4 '$D/coord3d.ekn' | head -c 1000 > /dev/null"
    assert_success
    [[ -z $stderr ]]
    run --separate-stderr ekn-batch -b 4 -o /dev/full "$D/vec.ekn"
    assert_failure 1
    assert_one_line_error ekn-batch
}
