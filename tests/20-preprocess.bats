#!/usr/bin/env bats
# ekn-preprocess: every input format (IDX plain/compressed/archived, NPY,
# HDF5, raw, CSV), the transforms checked with numpy, --fit/--apply,
# selection, the npy/h5 outputs, and the failures: exit code, empty stdout,
# one line on stderr naming the file, no output file left behind.
load helper

setup_file() {
    local d=$BATS_FILE_TMPDIR
    # 100 t10k images and their labels as small IDX files, compressed and archived
    ekn_py - "$FMNIST" "$d" <<'EOF'
import gzip, sys, numpy as np
src, d = sys.argv[1:]
img = gzip.open(src + '/t10k-images-idx3-ubyte.gz').read()
lab = gzip.open(src + '/t10k-labels-idx1-ubyte.gz').read()
open(d + '/small-images-idx3-ubyte', 'wb').write(img[:4] + (100).to_bytes(4, 'big') + img[8:16] + img[16:16 + 78400])
open(d + '/small-labels-idx1-ubyte', 'wb').write(lab[:4] + (100).to_bytes(4, 'big') + lab[8:108])
np.save(d + '/small-labels.npy', np.frombuffer(lab[8:108], np.uint8))
EOF
    (
        cd "$d" || exit 1
        gzip -k small-labels-idx1-ubyte
        bzip2 -k small-labels-idx1-ubyte
        xz -k small-labels-idx1-ubyte
        zstd -q -k small-labels-idx1-ubyte
        mkdir -p sub && cp small-labels-idx1-ubyte sub/
        tar cf labels.tar sub/small-labels-idx1-ubyte
        tar czf both.tar.gz small-images-idx3-ubyte small-labels-idx1-ubyte.xz
        zip -q labels.zip sub/small-labels-idx1-ubyte small-labels-idx1-ubyte.gz
    )
}

# check_stream FILE CODE: runs python CODE with the records of FILE loaded:
# recs [(name, array, meta)], x (image/vector records joined), y (label or
# target records joined), meta {name: first metadata}; an assert fails the test.
check_stream() {
    ekn_py -c '
import sys, numpy as np
sys.path.insert(0, sys.argv[2])
from ekn_stream import read
recs = [(n, a, m) for n, a, m, c in read(open(sys.argv[1], "rb"))]
def cat(*names):
    parts = [a for n, a, m in recs if n in names]
    return np.concatenate(parts) if parts else None
x = cat("image", "vector")
y = cat("label", "target")
meta = {}
for n, a, m in recs:
    meta.setdefault(n, dict(l.split("=", 1) for l in m.splitlines()))
exec(sys.argv[3])
' "$1" "$BATS_TEST_DIRNAME" "$2"
}

# expect_error STATUS WORD COMMAND...: fails unless the command exits with
# STATUS, prints nothing on stdout and one line on stderr that contains WORD
# (a usage error, status 2, has the --help hint as a second line).
expect_error() {
    local want=$1 word=$2
    shift 2
    run -"$want" --separate-stderr "$@"
    refute_crash
    assert_no_stdout
    if ((want == 2)); then
        ((${#stderr_lines[@]} == 2)) || fail "expected 2 lines on stderr: $stderr"
        [[ ${stderr_lines[1]} == "Try 'ekn-preprocess --help' for more information." ]] || fail "no hint: $stderr"
        stderr=${stderr_lines[0]}
    else
        assert_one_line_error ekn-preprocess
    fi
    [[ $stderr == "ekn-preprocess: "*"$word"* ]] || fail "stderr lacks '$word': $stderr"
}

@test "Fashion-MNIST train: 60000 images 1x28x28 f32 in [0,1], 6000 labels per class" {
    ekn-preprocess "$FMNIST/train-images-idx3-ubyte.gz" --labels "$FMNIST/train-labels-idx1-ubyte.gz" \
        -o "$BATS_TEST_TMPDIR/train.ekn"
    check_stream "$BATS_TEST_TMPDIR/train.ekn" '
assert x.shape == (60000, 1, 28, 28) and x.dtype == np.float32, x.shape
assert x.min() == 0 and x.max() == 1, (x.min(), x.max())
assert abs(x.mean(dtype=np.float64) - 0.2860406) < 1e-6, x.mean()
assert y.dtype == np.int32 and (np.bincount(y) == 6000).all() and len(np.bincount(y)) == 10
assert [n for n, a, m in recs[:4]] == ["image", "label", "image", "label"] and len(recs) == 120
assert meta["image"]["axes"] == "NCYX" and meta["image"]["transform"] == "u8/255", meta
assert meta["label"]["classes"] == "10"
'
}

@test "Fashion-MNIST t10k: 10000 examples in pairs of --chunk records, labels as in the file" {
    ekn-preprocess "$FMNIST/t10k-images-idx3-ubyte.gz" --labels "$FMNIST/t10k-labels-idx1-ubyte.gz" --chunk 4096 \
        > "$BATS_TEST_TMPDIR/t.ekn"
    check_stream "$BATS_TEST_TMPDIR/t.ekn" "
import gzip
want = np.frombuffer(gzip.open('$FMNIST/t10k-labels-idx1-ubyte.gz').read()[8:], np.uint8)
img = np.frombuffer(gzip.open('$FMNIST/t10k-images-idx3-ubyte.gz').read()[16:], np.uint8)
assert [a.shape[0] for n, a, m in recs] == [4096, 4096, 4096, 4096, 1808, 1808]
assert (y == want).all()
assert np.array_equal(x.ravel(), (img.astype(np.float32) * np.float32(1 / 255)))
"
}

@test "IDX labels read the same from .gz .bz2 .xz .zst and tar/zip members" {
    local d=$BATS_FILE_TMPDIR s
    for s in small-labels-idx1-ubyte small-labels-idx1-ubyte.gz small-labels-idx1-ubyte.bz2 \
        small-labels-idx1-ubyte.xz small-labels-idx1-ubyte.zst labels.tar:sub/small-labels-idx1-ubyte \
        labels.zip:sub/small-labels-idx1-ubyte labels.zip:small-labels-idx1-ubyte.gz \
        both.tar.gz:small-labels-idx1-ubyte.xz; do
        ekn-preprocess "$d/small-images-idx3-ubyte" --labels "$d/$s" -o "$BATS_TEST_TMPDIR/o.ekn"
        check_stream "$BATS_TEST_TMPDIR/o.ekn" "
assert (y == np.load('$d/small-labels.npy')).all(), '$s'
assert x.shape == (100, 1, 28, 28)
assert meta['label']['source'] == '$d/$s'
"
    done
    # the images from a member of a compressed tar
    ekn-preprocess "$d/both.tar.gz:small-images-idx3-ubyte" -o "$BATS_TEST_TMPDIR/m.ekn"
    ekn-preprocess "$d/small-images-idx3-ubyte" -o "$BATS_TEST_TMPDIR/p.ekn"
    cmp <(tail -c +1000 "$BATS_TEST_TMPDIR/m.ekn") <(tail -c +1000 "$BATS_TEST_TMPDIR/p.ekn")
    # --format overrides detection: a file without a telling name
    cp "$d/small-labels-idx1-ubyte.gz" "$BATS_TEST_TMPDIR/anon"
    run -0 ekn-preprocess "$d/small-images-idx3-ubyte" --labels "$BATS_TEST_TMPDIR/anon" --format idx -o "$BATS_TEST_TMPDIR/anon.ekn"
}

@test "archives: a missing member and an archive without a member are errors naming the file" {
    local d=$BATS_FILE_TMPDIR
    expect_error 1 "no member 'nope'" ekn-preprocess "$d/labels.tar:nope"
    [[ $stderr == *"'$d/labels.tar'"* ]]
    expect_error 1 "name a member as '$d/labels.zip:MEMBER'" ekn-preprocess "$d/labels.zip"
}

@test "NPY from numpy: u8 images with labels, f32 images, f64 vectors, header v2" {
    local d=$BATS_TEST_TMPDIR
    ekn_py - "$d" <<'EOF'
import sys, numpy as np
d = sys.argv[1]
r = np.random.default_rng(1)
np.save(d + '/u8.npy', r.integers(0, 256, (6, 3, 4, 5), dtype=np.uint8))
np.save(d + '/lab.npy', np.array([0, 1, 2, 1, 0, 4], np.int64))
np.save(d + '/f4.npy', r.standard_normal((7, 4, 5)).astype(np.float32))
np.save(d + '/vec.npy', r.standard_normal((9, 3)))
with open(d + '/v2.npy', 'wb') as f:
    np.lib.format.write_array(f, np.arange(24, dtype='<i2').reshape(2, 3, 4), version=(2, 0))
EOF
    ekn-preprocess "$d/u8.npy" --labels "$d/lab.npy" -o "$d/a.ekn"
    check_stream "$d/a.ekn" "
s = np.load('$d/u8.npy')
assert x.shape == (6, 3, 4, 5) and np.array_equal(x, s.astype(np.float32) * np.float32(1 / 255))
assert y.tolist() == [0, 1, 2, 1, 0, 4] and meta['label']['classes'] == '5'
"
    ekn-preprocess "$d/f4.npy" -o "$d/b.ekn"
    check_stream "$d/b.ekn" "assert x.shape == (7, 1, 4, 5) and np.array_equal(x[:, 0], np.load('$d/f4.npy'))"
    ekn-preprocess "$d/vec.npy" -o "$d/c.ekn"
    check_stream "$d/c.ekn" "
assert recs[0][0] == 'vector' and meta['vector']['axes'] == 'NF'
assert np.array_equal(x, np.load('$d/vec.npy').astype(np.float32))
"
    ekn-preprocess "$d/v2.npy" --no-scale -o "$d/e.ekn"
    check_stream "$d/e.ekn" "assert x.shape == (2, 1, 3, 4) and x.ravel().tolist() == list(range(24))"
}

@test "HDF5 from h5py: zyx and xyz axes, channels first and last, --slices" {
    local d=$BATS_TEST_TMPDIR
    ekn_py - "$d" <<'EOF'
import sys, numpy as np, h5py
r = np.random.default_rng(2)
vol = r.integers(0, 65536, (4, 5, 6)).astype(np.uint16)   # z, y, x
lab = (vol % 3).astype(np.uint8)
np.save(sys.argv[1] + '/vol.npy', vol)
with h5py.File(sys.argv[1] + '/v.h5', 'w') as f:
    f['raw/zyx'] = vol
    f['raw/xyz'] = vol.transpose(2, 1, 0)
    f['cfirst'] = np.stack([vol, 65535 - vol])                # c, z, y, x
    f['clast'] = np.stack([vol, 65535 - vol], axis=-1)        # z, y, x, c
    f['lab'] = lab
    f['labxyz'] = lab.transpose(2, 1, 0)
EOF
    local v="$d/v.h5"
    ekn-preprocess "$v:/raw/zyx" --labels "$v:/lab" -o "$d/zyx.ekn"
    check_stream "$d/zyx.ekn" "
vol = np.load('$d/vol.npy')
assert x.shape == (1, 1, 4, 5, 6) and meta['image']['axes'] == 'NCZYX'
assert np.array_equal(x[0, 0], vol.astype(np.float32) * np.float32(1 / 65535))
assert y.shape == (1, 4, 5, 6) and (y[0] == vol % 3).all()
"
    ekn-preprocess "$v:/raw/xyz" --axes xyz --labels "$v:/labxyz" -o "$d/xyz.ekn"
    cmp <(check_stream "$d/zyx.ekn" 'print(x.tobytes().hex(), y.tobytes().hex())') \
        <(check_stream "$d/xyz.ekn" 'print(x.tobytes().hex(), y.tobytes().hex())')
    ekn-preprocess "$v:/cfirst" --channels first --labels "$v:/lab" -o "$d/cf.ekn"
    ekn-preprocess "$v:/clast" --channels last --labels "$v:/lab" -o "$d/cl.ekn"
    check_stream "$d/cf.ekn" "assert x.shape == (1, 2, 4, 5, 6) and abs(x[0, 0] + x[0, 1] - 1).max() < 1e-6"
    cmp <(check_stream "$d/cf.ekn" 'print(x.tobytes().hex())') <(check_stream "$d/cl.ekn" 'print(x.tobytes().hex())')
    ekn-preprocess "$v:/clast" --channels last --slices --labels "$v:/lab" -o "$d/sl.ekn"
    check_stream "$d/sl.ekn" "
vol = np.load('$d/vol.npy')
assert x.shape == (4, 2, 5, 6) and y.shape == (4, 5, 6) and meta['image']['axes'] == 'NCYX'
assert np.array_equal(x[:, 0], vol.astype(np.float32) * np.float32(1 / 65535))
"
    expect_error 1 "holds several datasets" ekn-preprocess "$v"
    expect_error 1 "no dataset '/nope'" ekn-preprocess "$v:/nope"
    expect_error 1 "do not match the images" ekn-preprocess "$v:/raw/zyx" --labels "$v:/labxyz"
}

@test "raw ISBI volume: one img-img example 30x512x512, labels 0/1 with 21.96% membrane" {
    local i=$SHARED/data/isbi2012
    ekn_need_file "$i/train-volume.u8"
    ekn-preprocess "$i/train-volume.u8" --shape 30,512,512 --labels "$i/train-labels.u8" \
        --spacing 50,4,4 -o "$BATS_TEST_TMPDIR/isbi.ekn"
    check_stream "$BATS_TEST_TMPDIR/isbi.ekn" '
assert [(n, a.shape) for n, a, m in recs] == [("image", (1, 1, 30, 512, 512)), ("label", (1, 30, 512, 512))]
assert set(np.unique(y)) == {0, 1} and int(y.sum()) == 1727250, y.sum()
assert abs(x.mean(dtype=np.float64) * 255 - 126.16) < 0.01
assert meta["image"]["axes"] == "NCZYX" and meta["image"]["spacing"] == "50,4,4" and meta["label"]["classes"] == "2"
'
    ekn-preprocess "$i/train-volume.u8" --shape 30,512,512 --labels "$i/train-labels.u8" --slices --chunk 30 \
        -o "$BATS_TEST_TMPDIR/slices.ekn"
    check_stream "$BATS_TEST_TMPDIR/slices.ekn" '
assert [(n, a.shape) for n, a, m in recs] == [("image", (30, 1, 512, 512)), ("label", (30, 512, 512))]
assert int(y.sum()) == 1727250
'
    expect_error 1 "7864320 bytes, but shape [30,512,511]" ekn-preprocess "$i/train-volume.u8" --shape 30,512,511
}

@test "Adult CSV: one-hot vectors, 24.08% positive; adult.test through --apply has the same features" {
    local a=$SHARED/data/adult d=$BATS_TEST_TMPDIR
    ekn_need_file "$a/adult.data"
    ekn-preprocess "$a/adult.data" --fit "$d/adult.stats" -o "$d/train.ekn"
    check_stream "$d/train.ekn" '
assert x.shape == (32561, 105) and recs[0][0] == "vector", x.shape
assert int(y.sum()) == 7841 and len(y) == 32561
assert meta["label"]["class_names"] == "<=50K|>50K"
# numeric columns (age, fnlwgt, education-num, capital-gain/loss, hours) standardised, one-hot 0/1
num = [i for i, f in enumerate(meta["vector"]["features"].split(",")) if "=" not in f]
assert num == [0, 9, 26, 61, 62, 63], num
assert np.abs(x[:, num].mean(0)).max() < 1e-5 and np.abs(x[:, num].var(0, dtype=np.float64) - 1).max() < 1e-3
onehot = np.delete(x, num, axis=1)
assert set(np.unique(onehot)) == {0, 1} and (onehot.sum(1) <= 8).all()
'
    ekn-preprocess "$a/adult.test" --apply "$d/adult.stats" -o "$d/test.ekn"
    check_stream "$d/test.ekn" '
assert x.shape == (16281, 105), x.shape
assert int(y.sum()) == 3846 and (y >= 0).all()
'
    # the statistics are an ekn stream: mean, std, min, max with the schema in metadata
    check_stream "$d/adult.stats" '
assert [n for n, a, m in recs] == ["mean", "std", "min", "max"]
assert meta["mean"]["csv.columns"] == "15" and meta["mean"]["csv.labels"] == "<=50K|>50K"
'
}

@test "standardise global and per-feature: mean 0, variance 1 to float32 precision" {
    local d=$BATS_TEST_TMPDIR
    ekn-preprocess "$BATS_FILE_TMPDIR/small-images-idx3-ubyte" --standardise global -o "$d/g.ekn"
    check_stream "$d/g.ekn" '
v = x.astype(np.float64)
assert abs(v.mean()) < 1e-6 and abs(v.var() - 1) < 1e-5, (v.mean(), v.var())
assert meta["image"]["transform"].startswith("u8/255 standardise-global mean=")
'
    ekn_py -c "import numpy as np; r = np.random.default_rng(4); np.save('$d/c3.npy', (r.random((50, 3, 6, 7)) * [[[[1]], [[10]], [[0.1]]]] + [[[[0]], [[5]], [[-3]]]]).astype('f4'))"
    ekn-preprocess "$d/c3.npy" --standardise per-feature -o "$d/f.ekn"
    check_stream "$d/f.ekn" '
v = x.astype(np.float64)
m, s = v.mean(axis=(0, 2, 3)), v.var(axis=(0, 2, 3))
assert np.abs(m).max() < 1e-6 and np.abs(s - 1).max() < 1e-5, (m, s)
'
    ekn-preprocess "$d/c3.npy" --standardise per-pixel -o "$d/p.ekn"
    check_stream "$d/p.ekn" '
v = x.astype(np.float64)
assert np.abs(v.mean(0)).max() < 1e-5 and np.abs(v.var(0) - 1).max() < 1e-4
'
    ekn-preprocess "$d/c3.npy" --normalise -o "$d/n.ekn"
    check_stream "$d/n.ekn" 'assert x.min() == 0 and abs(x.max() - 1) < 1e-6'
}

@test "whitening: identity covariance (within 1e-3) on correlated random vectors" {
    local d=$BATS_TEST_TMPDIR
    ekn_py -c "
import numpy as np
r = np.random.default_rng(5)
np.save('$d/corr.npy', (r.standard_normal((4000, 10)) @ r.standard_normal((10, 10)) + 3).astype('f4'))"
    ekn-preprocess "$d/corr.npy" --whiten 1e-7 --fit "$d/w.stats" -o "$d/w.ekn"
    check_stream "$d/w.ekn" '
c = np.cov(x.astype(np.float64).T, bias=True)
assert np.abs(c - np.eye(10)).max() < 1e-3, np.abs(c - np.eye(10)).max()
assert np.abs(x.mean(0)).max() < 1e-4
'
    check_stream "$d/w.stats" 'assert [n for n, a, m in recs][-2:] == ["zca_mean", "zca"] and recs[-1][1].shape == (10, 10)'
    [[ -r $SHARED/data/isbi2012/train-labels.u8 ]] || skip "no shared ISBI data next to the repository"
    expect_error 1 "--whiten needs at most 4096 features" ekn-preprocess "$SHARED/data/isbi2012/train-labels.u8" --shape 30,512,512 --whiten 1
}

@test "--fit then --apply: the statistics of the training part, applied unchanged" {
    local d=$BATS_TEST_TMPDIR s=$BATS_FILE_TMPDIR/small-images-idx3-ubyte
    ekn-preprocess "$s" --split val=0.2 --part train --standardise per-pixel --fit "$d/st.ekn" -o "$d/train.ekn"
    ekn-preprocess "$s" --split val=0.2 --part train --apply "$d/st.ekn" -o "$d/again.ekn"
    cmp "$d/train.ekn" "$d/again.ekn"
    ekn-preprocess "$s" --split val=0.2 --part val --apply "$d/st.ekn" -o "$d/val.ekn"
    check_stream "$d/st.ekn" 'assert recs[0][1].shape == (1, 28, 28) and meta["mean"]["granularity"] == "per-pixel"'
    check_stream "$d/val.ekn" "
import gzip
raw = np.frombuffer(open('$s', 'rb').read()[16:], np.uint8).reshape(100, 784).astype(np.float32) / np.float32(255)
st = {n: a for n, a, m, c in __import__('ekn_stream').read(open('$d/st.ekn', 'rb'))}
assert x.shape == (20, 1, 28, 28)
# val examples transformed with the training statistics (std 0 counts as 1)
sd = np.where(st['std'] > 0, st['std'], 1).reshape(784)
mine = (x.reshape(20, 784).astype(np.float64) * sd + st['mean'].reshape(784))
rows = [int(np.argmin(np.abs(raw - r).sum(1))) for r in mine]
assert np.abs(raw[rows] - mine).max() < 1e-5 and len(set(rows)) == 20
"
    ekn_py -c "import numpy as np; np.save('$d/other.npy', np.zeros((5, 1, 10, 10), np.uint8))"
    expect_error 1 "'$d/other.npy': examples of shape [1,10,10] do not fit the statistics in '$d/st.ekn' ([1,28,28])" \
        ekn-preprocess "$d/other.npy" --apply "$d/st.ekn"
    [[ ! -e $d/a ]]
    run -2 --separate-stderr ekn-preprocess "$s" --fit "$d/a" --apply "$d/st.ekn"
    assert_no_stdout
    [[ ${stderr_lines[0]} == "ekn-preprocess: --fit and --apply exclude each other" ]]
}

@test "--split: train and val are disjoint and complementary; --range, --subset, --shuffle" {
    local d=$BATS_TEST_TMPDIR
    ekn_py -c "import numpy as np; np.save('$d/ids.npy', np.arange(500, dtype=np.float32).reshape(500, 1) * [1, 1])"
    ekn-preprocess "$d/ids.npy" --split val=0.1 --part train --seed 9 -o "$d/tr.ekn"
    ekn-preprocess "$d/ids.npy" --split val=0.1 --part val --seed 9 -o "$d/va.ekn"
    ekn-preprocess "$d/ids.npy" --split 0.1 --seed 9 -o "$d/tr2.ekn"
    cmp "$d/tr.ekn" "$d/tr2.ekn"
    check_stream "$d/va.ekn" "
va = x[:, 0].astype(int)
tr = np.concatenate([a for n, a, m, c in __import__('ekn_stream').read(open('$d/tr.ekn', 'rb'))])[:, 0].astype(int)
assert len(va) == 50 and len(tr) == 450
assert not set(va) & set(tr) and sorted(set(va) | set(tr)) == list(range(500))
"
    ekn-preprocess "$d/ids.npy" --split val=0.1 --part val --seed 10 -o "$d/va10.ekn"
    ! cmp -s "$d/va.ekn" "$d/va10.ekn"
    ekn-preprocess "$d/ids.npy" --range 100:150 -o "$d/r.ekn"
    check_stream "$d/r.ekn" 'assert x[:, 0].tolist() == list(range(100, 150))'
    ekn-preprocess "$d/ids.npy" --subset 40 --seed 3 -o "$d/s.ekn"
    check_stream "$d/s.ekn" 'v = x[:, 0].tolist(); assert len(set(v)) == 40 and v == sorted(v)'
    ekn-preprocess "$d/ids.npy" --shuffle --seed 3 -o "$d/sh.ekn"
    check_stream "$d/sh.ekn" 'v = x[:, 0].tolist(); assert sorted(v) == list(range(500)) and v != sorted(v)'
    expect_error 1 "has only 500 examples" ekn-preprocess "$d/ids.npy" --range 0:501
    expect_error 2 "--range must be A:B" ekn-preprocess "$d/ids.npy" --range 5
}

@test "--output-format npy and h5 write files numpy and h5py read" {
    local d=$BATS_TEST_TMPDIR s=$BATS_FILE_TMPDIR
    ekn-preprocess "$s/small-images-idx3-ubyte" --labels "$s/small-labels-idx1-ubyte" --output-format npy -o "$d/o.npy"
    ekn-preprocess "$s/small-images-idx3-ubyte" --labels "$s/small-labels-idx1-ubyte" --output-format h5 -o "$d/o.h5" --chunk 7
    ekn_py -c "
import numpy as np, h5py
x, y = np.load('$d/o.npy'), np.load('$d/o.labels.npy')
assert x.shape == (100, 1, 28, 28) and x.dtype == np.float32 and (y == np.load('$s/small-labels.npy')).all()
with h5py.File('$d/o.h5') as f:
    assert np.array_equal(f['image'][:], x) and np.array_equal(f['label'][:], y)
    assert f['image'].attrs['axes'] == b'NCYX' and f['label'].attrs['classes'] == b'10'
"
    [[ ! -e $d/o.npy.tmp.* && ! -e $d/o.h5.tmp.* ]]
    expect_error 2 "needs -o FILE" ekn-preprocess "$s/small-images-idx3-ubyte" --output-format npy
}

@test "bad IDX input: truncated, wrong magic, absurd dimensions, empty" {
    local d=$BATS_TEST_TMPDIR s=$BATS_FILE_TMPDIR
    head -c 5000 "$s/small-images-idx3-ubyte" > "$d/cut-images-idx3-ubyte"
    expect_error 1 "'$d/cut-images-idx3-ubyte': truncated IDX data" ekn-preprocess "$d/cut-images-idx3-ubyte"
    head -c 6 "$s/small-images-idx3-ubyte" > "$d/tiny-idx3-ubyte"
    expect_error 1 "truncated IDX header" ekn-preprocess "$d/tiny-idx3-ubyte"
    printf '\x00\x00\x07\x03\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01x' > "$d/magic-idx3-ubyte"
    expect_error 1 "'$d/magic-idx3-ubyte': bad IDX magic" ekn-preprocess "$d/magic-idx3-ubyte"
    printf '\x00\x00\x08\x02\x80\x00\x00\x00\x80\x00\x00\x00abcd' > "$d/huge-idx2-ubyte"
    expect_error 1 "has too many elements" ekn-preprocess "$d/huge-idx2-ubyte"
    [[ $stderr == *"'$d/huge-idx2-ubyte'"* ]]
    : > "$d/empty-idx3-ubyte"
    expect_error 1 "'$d/empty-idx3-ubyte': empty file" ekn-preprocess "$d/empty-idx3-ubyte"
    printf '' | gzip -c > "$d/empty.idx.gz"
    expect_error 1 "empty file" ekn-preprocess "$d/empty.idx.gz"
    gzip -c "$s/small-images-idx3-ubyte" | head -c 3000 > "$d/cut.idx.gz"
    expect_error 1 "'$d/cut.idx.gz'" ekn-preprocess "$d/cut.idx.gz"
}

@test "bad files: missing, unreadable, a directory, unknown format" {
    local d=$BATS_TEST_TMPDIR
    expect_error 1 "'$d/nope.idx': cannot open: No such file or directory" ekn-preprocess "$d/nope.idx"
    expect_error 1 "'$d': is a directory" ekn-preprocess "$d"
    head -c 300 /dev/urandom > "$d/noise.bin"
    printf '\x01' | dd of="$d/noise.bin" bs=1 seek=0 conv=notrunc 2>/dev/null
    expect_error 1 "cannot tell the format" ekn-preprocess "$d/noise.bin"
    cp "$BATS_FILE_TMPDIR/small-labels-idx1-ubyte" "$d/locked-idx1-ubyte"
    chmod 000 "$d/locked-idx1-ubyte"
    if [[ -r $d/locked-idx1-ubyte ]]; then skip "running as root: permissions do not stop reading"; fi
    expect_error 1 "'$d/locked-idx1-ubyte': cannot open: Permission denied" ekn-preprocess "$d/locked-idx1-ubyte"
}

@test "bad NPY input: fortran order, unknown dtype, big-endian" {
    local d=$BATS_TEST_TMPDIR
    ekn_py -c "
import numpy as np
np.save('$d/f.npy', np.asfortranarray(np.zeros((3, 4, 5), 'f4')))
np.save('$d/c.npy', np.zeros((3, 4, 5), np.complex64))
np.save('$d/b.npy', np.zeros((3, 4, 5), '>f4'))"
    expect_error 1 "'$d/f.npy': fortran_order=True is not supported" ekn-preprocess "$d/f.npy"
    expect_error 1 "'$d/c.npy': unsupported dtype '<c8'" ekn-preprocess "$d/c.npy"
    expect_error 1 "'$d/b.npy': big-endian dtype" ekn-preprocess "$d/b.npy"
    run -2 --separate-stderr ekn-preprocess "$d/f.npy" --shape 3,4 --dtype q7
    assert_no_stdout
    [[ ${stderr_lines[0]} == "ekn-preprocess: --dtype: unknown dtype 'q7'" ]]
}

@test "bad CSV input: NaN and text in a numeric column name file:line:column" {
    local d=$BATS_TEST_TMPDIR
    printf '1, 2, a\n3, 4, b\n5, nan, a\n' > "$d/nan.csv"
    expect_error 1 "'$d/nan.csv':3:2: 'nan' is not a finite number" ekn-preprocess "$d/nan.csv"
    printf '1, 2, a\n3, 4, b\n' > "$d/ok.csv"
    ekn-preprocess "$d/ok.csv" --fit "$d/ok.stats" -o "$d/ok.ekn"
    printf '1, 2, a\n3, four, b\n' > "$d/text.csv"
    expect_error 1 "'$d/text.csv':2:2: 'four' is not a number" ekn-preprocess "$d/text.csv" --apply "$d/ok.stats"
    expect_error 1 "'$d/text.csv':2:2: 'four' is not a number" ekn-preprocess "$d/text.csv" --categorical 3
    printf '1, 2, a\n3, 4\n' > "$d/ragged.csv"
    expect_error 1 "'$d/ragged.csv':2: 2 fields, expected 3" ekn-preprocess "$d/ragged.csv"
}

@test "label count or shape mismatch names both files" {
    local s=$BATS_FILE_TMPDIR
    expect_error 1 "'$FMNIST/t10k-labels-idx1-ubyte.gz': 10000 labels for 100 examples in '$s/small-images-idx3-ubyte'" \
        ekn-preprocess "$s/small-images-idx3-ubyte" --labels "$FMNIST/t10k-labels-idx1-ubyte.gz"
    local i=$SHARED/data/isbi2012
    [[ -r $i/train-volume.u8 ]] || skip "no shared ISBI data next to the repository"
    expect_error 1 "'$s/small-labels.npy': 100 labels for 1 examples in '$i/train-volume.u8'" ekn-preprocess "$i/train-volume.u8" --shape 30,512,512 --labels "$s/small-labels.npy"
}

@test "output failures: /dev/full, read-only directory, failing input: one error, no file left" {
    local d=$BATS_TEST_TMPDIR s=$BATS_FILE_TMPDIR/small-images-idx3-ubyte
    run -1 --separate-stderr bash -c 'ekn-preprocess "$1" > /dev/full' _ "$s"
    assert_no_stdout
    assert_one_line_error ekn-preprocess
    [[ $stderr == *"write error"*"No space left on device"* ]]
    expect_error 1 "'$d/missing/x.ekn': cannot create" ekn-preprocess "$s" -o "$d/missing/x.ekn"
    expect_error 1 "'$d/no-such-input': cannot open" ekn-preprocess "$d/no-such-input" -o "$d/out.ekn"
    [[ -z $(ls -A "$d" | grep -F out.ekn) ]]
    printf '1, x\nnan, y\n' > "$d/bad.csv"
    expect_error 1 "'$d/bad.csv':2:1" ekn-preprocess "$d/bad.csv" -o "$d/out2.ekn" --fit "$d/out2.stats"
    [[ -z $(ls -A "$d" | grep -F out2) ]]
    # a device is written in place, never renamed over (as root that would replace /dev/null)
    run --separate-stderr ekn-preprocess "$s" -o /dev/null
    assert_success
    [[ -c /dev/null ]]
    mkdir "$d/ro"
    chmod 555 "$d/ro"
    if touch "$d/ro/probe" 2>/dev/null; then
        rm -f "$d/ro/probe"
        skip "running as root: a read-only directory is writable"
    fi
    expect_error 1 "'$d/ro/x.ekn': cannot create: Permission denied" ekn-preprocess "$s" -o "$d/ro/x.ekn"
    [[ -z $(ls -A "$d/ro") ]]
}

@test "usage errors exit 2 with the --help hint and nothing on stdout" {
    local s=$BATS_FILE_TMPDIR/small-images-idx3-ubyte
    run -2 --separate-stderr ekn-preprocess
    assert_no_stdout
    [[ ${stderr_lines[0]} == "ekn-preprocess: no INPUT given" && ${stderr_lines[1]} == *"--help"* ]]
    run -2 --separate-stderr ekn-preprocess "$s" --normalise --standardise global
    [[ ${stderr_lines[0]} == *"exclude each other"* ]]
    run -2 --separate-stderr ekn-preprocess "$s" --apply x --whiten 0.1
    [[ ${stderr_lines[0]} == *"--apply takes the transform"* ]]
    run -2 --separate-stderr ekn-preprocess "$s" --whiten 0
    [[ ${stderr_lines[0]} == *"--whiten must be"* ]]
    run -2 --separate-stderr ekn-preprocess "$s" --split val=2
    [[ ${stderr_lines[0]} == *"--split must be val=F"* ]]
    run -2 --separate-stderr ekn-preprocess "$s" --part val
    assert_no_stdout
}

@test "the man page's EXAMPLES pipeline runs" {
    local d=$BATS_TEST_TMPDIR
    run -0 bash -c "ekn-preprocess '$FMNIST/t10k-images-idx3-ubyte.gz' --labels '$FMNIST/t10k-labels-idx1-ubyte.gz' \
        --split val=0.1 --part train --standardise global --fit '$d/fmnist.stats' --chunk 500 | cat > '$d/p.ekn'"
    check_stream "$d/p.ekn" 'assert x.shape == (9000, 1, 28, 28) and len(recs) == 36'
    grep -q 'ekn-preprocess' "$EKN_SRC/man/ekn-preprocess.1"
    mandoc -Tlint -Wwarning "$EKN_SRC/man/ekn-preprocess.1"
}

@test "decompression is bounded: an IDX header's own size, --max-input, and an error naming the file" {
    cd "$BATS_TEST_TMPDIR"
    # a 50 KB gzip whose IDX header claims 10 bytes but that expands to 50 MiB
    ekn_py -c "
import gzip, struct
h = b'\0\0\x08\x02' + struct.pack('>II', 2, 5)
with gzip.open('bomb.idx.gz', 'wb') as f:
    f.write(h + bytes(10) + bytes(50 << 20))
with gzip.open('big.raw.gz', 'wb') as f:
    f.write(bytes(30 << 20))
with gzip.open('ok.idx.gz', 'wb') as f:
    f.write(h + bytes(range(10)))
"
    expect_error 1 "more than the 22 bytes its header claims (stopped decompressing there)" ekn-preprocess bomb.idx.gz
    # no header to believe: --max-input caps it
    expect_error 1 "'big.raw.gz': more than 10485760 bytes of input (--max-input)" \
        ekn-preprocess --shape 30,1024,1024 --max-input 10 big.raw.gz
    run --separate-stderr ekn-preprocess --shape 30,1024,1024 --max-input 31 big.raw.gz
    assert_success
    # a raw file: the size --shape and --dtype give bounds it as well
    expect_error 1 "'big.raw.gz': more than the 10485760 bytes --shape and --dtype give (stopped decompressing there)" \
        ekn-preprocess --shape 10,1024,1024 big.raw.gz
    # what the header claims exactly still reads
    run --separate-stderr ekn-preprocess ok.idx.gz
    assert_success
}

@test "decompression is bounded inside archives and in compressed HDF5 datasets" {
    cd "$BATS_TEST_TMPDIR"
    # zip members (deflated, and a gzip inside the zip) and a tar.gz member, each a few KB expanding to 50 MiB;
    # an 8 KB HDF5 file whose gzip-chunked dataset claims 200 MiB
    ekn_py -c "
import gzip, io, struct, tarfile, zipfile, h5py
h = b'\0\0\x08\x02' + struct.pack('>II', 2, 5)
bomb = h + bytes(10) + bytes(50 << 20)
with zipfile.ZipFile('b.zip', 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('x.idx', bomb)
    z.writestr('y.csv', b'1,2\n' + b'0' * (30 << 20))
    z.writestr('z.idx.gz', gzip.compress(bomb))
with tarfile.open('b.tar.gz', 'w:gz') as t:
    i = tarfile.TarInfo('x.idx')
    i.size = len(bomb)
    t.addfile(i, io.BytesIO(bomb))
with h5py.File('v.h5', 'w') as f:
    f.create_dataset('v', shape=(50, 1024, 1024), dtype='f4', chunks=(1, 1024, 1024), compression='gzip')
"
    [[ $(stat -c %s b.zip) -lt 1000000 && $(stat -c %s v.h5) -lt 100000 ]]
    expect_error 1 "'b.zip:x.idx': more than the 22 bytes its header claims (stopped decompressing there)" \
        ekn-preprocess b.zip:x.idx
    expect_error 1 "'b.zip:z.idx.gz': more than the 22 bytes its header claims" ekn-preprocess b.zip:z.idx.gz
    expect_error 1 "'b.tar.gz:x.idx': more than the 22 bytes its header claims" ekn-preprocess b.tar.gz:x.idx
    expect_error 1 "'b.zip:y.csv': more than 10485760 bytes of input (--max-input)" \
        ekn-preprocess --max-input 10 b.zip:y.csv
    expect_error 1 "'v.h5:/v': shape [50,1024,1024] of f32 needs 209715200 bytes, more than 10485760 bytes of input (--max-input)" \
        ekn-preprocess --max-input 10 v.h5
    run --separate-stderr ekn-preprocess --max-input 201 v.h5 -o v.ekn
    assert_success
}
