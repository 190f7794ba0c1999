#!/usr/bin/env bats
# ekn-predict --dense: one prediction per position where the field of view
# fits (or per voxel with --pad), stitched from tiles run at every shift.
# The oracle is ekn-predict itself, without --dense, on every window of the
# field of view cut with numpy: dense output q must be the net applied to
# the window that starts at q.  tiny-img-img.spec (field of view 7, stride
# 2) is trained briefly in 2D, and a 3D variant of it on "label = voxel < 0"
# (the weights need not be good, only fixed and not constant in output).
load helper

# py SCRIPT ARGS...: ekn_py_stream (helper.bash) with these helpers in front.
PY_PRELUDE='def meta(rec):
    return dict(l.split("=", 1) for l in rec[2].splitlines())
def windows(img, fov):
    """Every fov-sized window of img (N,C,*spatial) -> (N*positions, C, fov...), and the positions'\'' shape."""
    sp = img.shape[2:]
    out = tuple(n - f + 1 for n, f in zip(sp, fov))
    w = [img[(slice(None), slice(None)) + tuple(slice(q, q + f) for q, f in zip(pos, fov))]
         for pos in np.ndindex(*out)]
    return np.stack(w, 1).reshape((-1, img.shape[1]) + tuple(fov)), out
'
py() { ekn_py_stream "$@"; }

setup_file() {
    local d=$BATS_FILE_TMPDIR
    ekn_py "$BATS_TEST_DIRNAME/synth_data.py" "$d"
    ekn-train --spec "$NETS/tiny-img-img.spec" --batch 8 --lr 0.05 --seed 7 --steps 60 -o "$d/seg.h5" "$d/seg.ekn"
    ekn-train --spec "$NETS/tiny-img-scalar.spec" --batch 8 --lr 0.05 --seed 7 --steps 2 -o "$d/img.h5" "$d/img.ekn"
    # the same net in 3D
    sed -e 's/shape = 15,15/shape = 9,9,9/' -e 's/size = 2,2$/size = 2,2,2/' -e 's/size = 3,3$/size = 3,3,3/' \
        -e 's/size = 1,1$/size = 1,1,1/' "$NETS/tiny-img-img.spec" >"$d/tiny3d.spec"
    grep -q 'shape = 9,9,9' "$d/tiny3d.spec"
    ekn_py - "$BATS_TEST_DIRNAME" "$d/vol3d.ekn" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
rng = np.random.default_rng(3)
with open(sys.argv[2], 'wb') as f:
    img = rng.standard_normal((8, 1, 9, 9, 9)).astype(np.float32)
    es.write(f, "image", img)
    es.write(f, "label", (img[:, 0] < 0).astype(np.int32))
EOF
    ekn-train --spec "$d/tiny3d.spec" --batch 4 --lr 0.05 --seed 7 --steps 40 -o "$d/seg3d.h5" "$d/vol3d.ekn"
    # both with max fragment pooling (mfp = 1 in the pool, as examples/nets/isbi-2d.spec has)
    sed '/^\[pool\]/a mfp = 1' "$NETS/tiny-img-img.spec" >"$d/mfp.spec"
    sed '/^\[pool\]/a mfp = 1' "$d/tiny3d.spec" >"$d/mfp3d.spec"
    grep -q 'mfp = 1' "$d/mfp.spec"
    ekn-train --spec "$d/mfp.spec" --batch 8 --lr 0.05 --seed 7 --steps 60 -o "$d/mfp.h5" "$d/seg.ekn"
    ekn-train --spec "$d/mfp3d.spec" --batch 4 --lr 0.05 --seed 7 --steps 40 -o "$d/mfp3d.h5" "$d/vol3d.ekn"
    # volumes whose sizes are multiples of nothing in particular
    ekn_py - "$BATS_TEST_DIRNAME" "$d" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
rng = np.random.default_rng(5)
d = sys.argv[2]
img = rng.standard_normal((2, 1, 19, 26)).astype(np.float32)
with open(f"{d}/vol2d.ekn", "wb") as f:
    es.write(f, "image", img)
with open(f"{d}/lab2d.ekn", "wb") as f:
    es.write(f, "image", img)
    es.write(f, "label", (img[:, 0] < 0).astype(np.int32))
with open(f"{d}/vol3d-odd.ekn", "wb") as f:
    es.write(f, "image", rng.standard_normal((1, 1, 10, 11, 13)).astype(np.float32))
with open(f"{d}/small.ekn", "wb") as f:
    es.write(f, "image", rng.standard_normal((1, 1, 5, 12)).astype(np.float32))
EOF
}

setup() {
    ekn_test_dir
}

# check_against_windows MODEL VOLUME FOV...: dense output == the net on each window
check_against_windows() {
    local model=$1 vol=$2
    shift 2
    ekn-predict -m "$model" --dense "$vol" >dense.ekn
    py '
img = records(args[0])[0][1]
w, out = windows(img, [int(a) for a in args[1:]])
es.write(open("win.ekn", "wb"), "image", w)
' "$vol" "$@"
    ekn-predict -m "$model" win.ekn >win-out.ekn
    run py '
d, r = records(args[0]), records(args[1])
img = records(args[2])[0][1]
fov = [int(a) for a in args[3:]]
n, sp = img.shape[0], img.shape[2:]
out = tuple(s - f + 1 for s, f in zip(sp, fov))
assert [(x[0], x[1].shape) for x in d] == [("prob", (n, 2) + out), ("class", (n,) + out)], [(x[0], x[1].shape) for x in d]
off = ",".join(str(v) for v in [0] * (3 - len(fov)) + [f // 2 for f in fov])
for rec in d:
    assert meta(rec) == {"offset": off, "stride": "1,1,1"}, rec[2]
ref = r[0][1].reshape((n,) + out + (2,))
ref = np.moveaxis(ref, -1, 1)
diff = np.abs(d[0][1] - ref).max()
assert diff <= 1e-5, diff
assert (d[1][1] == d[0][1].argmax(1)).all()
# the outputs vary from position to position (the check would otherwise be weak)
spread = d[0][1][:, 0].std()
assert spread > 1e-3, spread
print("ok", diff, spread)
' dense.ekn win-out.ekn "$vol" "$@"
    echo "$output"
    assert_success
}

@test "2D: dense output at every position equals the net on the 7x7 window there" {
    check_against_windows "$D/seg.h5" "$D/vol2d.ekn" 7 7
}

@test "3D: dense output at every position equals the net on the 7x7x7 window there" {
    check_against_windows "$D/seg3d.h5" "$D/vol3d-odd.ekn" 7 7 7
}

@test "max fragment pooling, 2D and 3D: dense output at every position equals the net on the window there" {
    run --separate-stderr ekn-predict -v -m "$D/mfp.h5" --dense -o /dev/null "$D/vol2d.ekn"
    [[ $stderr == *"max fragment pooling"* ]]
    check_against_windows "$D/mfp.h5" "$D/vol2d.ekn" 7 7
    check_against_windows "$D/mfp3d.h5" "$D/vol3d-odd.ekn" 7 7 7
}

@test "max fragment pooling gives what shift and stitch gives, for any tile and padding (|d| <= 1e-5)" {
    run --separate-stderr ekn-predict -v -m "$D/mfp.h5" --dense --no-mfp -o /dev/null "$D/vol2d.ekn"
    [[ $stderr == *"shift and stitch"* ]]
    # model; options with max fragment pooling; with shift and stitch; input
    local runs=(
        "mfp.h5;;;vol2d.ekn"
        "mfp.h5;--tile 8,8;--tile 7,7;vol2d.ekn"
        "mfp.h5;--tile 10,14 -b 1;--tile 9,13;vol2d.ekn"
        "mfp.h5;--pad mirror;--pad mirror;vol2d.ekn"
        "mfp.h5;--pad zero --max-memory 1;--pad zero;small.ekn"
        "mfp3d.h5;;;vol3d-odd.ekn"
        "mfp3d.h5;--tile 8,10,8 --pad mirror;--pad mirror;vol3d-odd.ekn"
    )
    local i=0 r model mfp stitch input
    for r in "${runs[@]}"; do
        IFS=';' read -r model mfp stitch input <<<"$r"
        # shellcheck disable=SC2086
        ekn-predict -m "$D/$model" --dense $mfp "$D/$input" >mfp$i.ekn
        # shellcheck disable=SC2086
        ekn-predict -m "$D/$model" --dense --no-mfp $stitch "$D/$input" >stitch$i.ekn
        i=$((i + 1))
    done
    run py '
for i in range(int(args[0])):
    a, b = records(f"mfp{i}.ekn"), records(f"stitch{i}.ekn")
    assert [x[1].shape for x in a] == [x[1].shape for x in b], (i, [x[1].shape for x in a], [x[1].shape for x in b])
    d = np.abs(a[0][1] - b[0][1]).max()
    assert d <= 1e-5, (i, d)
    assert a[0][2] == b[0][2], (a[0][2], b[0][2])
print("ok")
' $i
    echo "$output"
    assert_success
}

@test "progress on a terminal: output voxels done, their rate and the time left; nothing of it without one" {
    command -v script >/dev/null || skip "no script(1) to give ekn-predict a terminal"
    # small tiles, so that there are many of them
    script -qfec "ekn-predict -m '$D/seg.h5' --dense --tile 1,9,9 -o p.ekn '$D/seg.ekn'" /dev/null >tty.txt 2>&1
    grep -aqE '[0-9]+/[0-9]+ voxels +[0-9]+% [0-9.]+/s eta [0-9]+s' tty.txt || fail "$(cat -v tty.txt | head -c 600)"
    run --separate-stderr ekn-predict -m "$D/seg.h5" --dense --tile 1,9,9 -o q.ekn "$D/seg.ekn"
    assert_success
    [[ -z $stderr ]] || fail "stderr: $stderr"
    cmp p.ekn q.ekn
}

@test "a 2D model predicts a 3D volume slice by slice; a Z tile other than 1 exits 3" {
    py '
img = records(args[0])[0][1]                       # (2, 1, 19, 26)
vol = np.stack([img, img[:, :, ::-1], img[:, :, :, ::-1]], 2)   # (2, 1, 3, 19, 26)
es.write(open("vol.ekn", "wb"), "image", vol)
es.write(open("slices.ekn", "wb"), "image", vol.transpose(0, 2, 1, 3, 4).reshape(6, 1, 19, 26))
' "$D/vol2d.ekn"
    local m
    for m in seg mfp; do
        ekn-predict -m "$D/$m.h5" --dense --pad mirror vol.ekn >v.ekn
        ekn-predict -m "$D/$m.h5" --dense --pad mirror slices.ekn >s.ekn
        run py '
v, s = records(args[0]), records(args[1])
assert v[0][1].shape == (2, 2, 3, 19, 26) and v[1][1].shape == (2, 3, 19, 26), (v[0][1].shape, v[1][1].shape)
want = s[0][1].reshape(2, 3, 2, 19, 26).transpose(0, 2, 1, 3, 4)
d = np.abs(v[0][1] - want).max()
assert d <= 1e-5, d
print("ok")
' v.ekn s.ekn
        assert_success
    done
    run --separate-stderr ekn-predict -m "$D/seg.h5" --dense --tile 2,7,7 vol.ekn
    assert_failure 3
    assert_no_stdout
    assert_one_line_error ekn-predict
}

@test "tiles of different sizes, batches and the reference kernels give the same outputs (|d| <= 1e-5)" {
    ekn-predict -m "$D/seg.h5" --dense "$D/vol2d.ekn" >auto.ekn
    ekn-predict -m "$D/seg.h5" --dense --tile 7,7 "$D/vol2d.ekn" >t7.ekn
    ekn-predict -m "$D/seg.h5" --dense --tile 9,13 -b 1 "$D/vol2d.ekn" >t913.ekn
    ekn-predict -m "$D/seg.h5" --dense --tile 1,11,99 "$D/vol2d.ekn" >t11.ekn
    EKN_KERNELS=ref ekn-predict -m "$D/seg.h5" --dense --max-memory 1 -b 3 "$D/vol2d.ekn" >ref.ekn
    ekn-predict -m "$D/seg3d.h5" --dense "$D/vol3d-odd.ekn" >a3.ekn
    ekn-predict -m "$D/seg3d.h5" --dense --tile 9,7,11 "$D/vol3d-odd.ekn" >b3.ekn
    run py '
a = records(args[0])
for other in args[1:5]:
    o = records(other)
    d = np.abs(a[0][1] - o[0][1]).max()
    assert d <= 1e-5, (other, d)
    assert (a[1][1] == o[1][1]).mean() > 0.999, other
a, b = records(args[5]), records(args[6])
d = np.abs(a[0][1] - b[0][1]).max()
assert a[0][1].shape == (1, 2, 4, 5, 7) and d <= 1e-5, (a[0][1].shape, d)
print("ok")
' auto.ekn t7.ekn t913.ekn t11.ekn ref.ekn a3.ekn b3.ekn
    echo "$output"
    assert_success
    # -v names the tiles: the explicit tile is the one used
    run --separate-stderr ekn-predict -v -m "$D/seg.h5" --dense --tile 9,13 -o /dev/null "$D/vol2d.ekn"
    assert_success
    [[ $stderr == *"tiles of 1x9x13"* ]]
}

@test "--pad mirror and zero: the input's shape, equal to padding with numpy first" {
    ekn-predict -m "$D/seg.h5" --dense --pad mirror "$D/vol2d.ekn" >m.ekn
    ekn-predict -m "$D/seg.h5" --dense --pad zero "$D/vol2d.ekn" >z.ekn
    ekn-predict -m "$D/seg3d.h5" --dense --pad mirror "$D/vol3d-odd.ekn" >m3.ekn
    py '
for src, dst, mode in ((args[0], "pm.ekn", "reflect"), (args[0], "pz.ekn", "constant"), (args[1], "pm3.ekn", "reflect")):
    img = records(src)[0][1]
    pad = [(0, 0), (0, 0)] + [(3, 3)] * (img.ndim - 2)
    es.write(open(dst, "wb"), "image", np.pad(img, pad, mode=mode))
' "$D/vol2d.ekn" "$D/vol3d-odd.ekn"
    ekn-predict -m "$D/seg.h5" --dense pm.ekn >pm-out.ekn
    ekn-predict -m "$D/seg.h5" --dense pz.ekn >pz-out.ekn
    ekn-predict -m "$D/seg3d.h5" --dense pm3.ekn >pm3-out.ekn
    run py '
for mine, numpys, shape in ((args[0], args[3], (2, 2, 19, 26)), (args[1], args[4], (2, 2, 19, 26)),
                            (args[2], args[5], (1, 2, 10, 11, 13))):
    a, b = records(mine), records(numpys)
    assert a[0][1].shape == shape, (mine, a[0][1].shape)
    assert a[1][1].shape == shape[:1] + shape[2:]
    assert meta(a[0])["offset"] == "0,0,0" and meta(a[0])["stride"] == "1,1,1", a[0][2]
    d = np.abs(a[0][1] - b[0][1]).max()
    assert d <= 1e-5, (mine, d)
za, ma = records(args[1])[0][1], records(args[0])[0][1]
assert np.abs(za - ma).max() > 1e-3  # the two paddings differ at the border
print("ok")
' m.ekn z.ekn m3.ekn pm-out.ekn pz-out.ekn pm3-out.ekn
    echo "$output"
    assert_success
}

@test "a volume smaller than the field of view exits 3 naming it; --pad mirror predicts it" {
    run --separate-stderr ekn-predict -m "$D/seg.h5" --dense "$D/small.ekn"
    refute_crash
    assert_failure 3
    assert_no_stdout
    assert_one_line_error ekn-predict
    [[ $stderr == *small.ekn*"field of view 7"* ]]
    run --separate-stderr ekn-predict -m "$D/seg.h5" --dense --pad mirror -o m.ekn "$D/small.ekn"
    assert_success
    run py 'assert records(args[0])[1][1].shape == (1, 5, 12); print("ok")' m.ekn
    assert_success
}

@test "--dense with a model that is not img-img is a usage error (2)" {
    run --separate-stderr ekn-predict -m "$D/img.h5" --dense "$D/img-test.ekn"
    refute_crash
    assert_failure 2
    assert_no_stdout
    assert_one_line_error ekn-predict
    [[ $stderr == *img.h5*img-img* ]]
}

@test "--tile, --pad and --no-mfp need --dense (2); a tile that is not a valid size exits 3" {
    for o in "--tile 9,9" "--pad mirror" "--no-mfp"; do
        run --separate-stderr ekn-predict -m "$D/seg.h5" $o "$D/vol2d.ekn"
        assert_failure 2
        assert_no_stdout
        [[ ${stderr_lines[0]} == *--dense* ]]
    done
    run --separate-stderr ekn-predict -m "$D/seg.h5" --dense --tile 8,9 "$D/vol2d.ekn"
    refute_crash
    assert_failure 3
    assert_no_stdout
    assert_one_line_error ekn-predict
    [[ $stderr == *"tile of 8"* ]]
    run --separate-stderr ekn-predict -m "$D/seg.h5" --dense --tile 0,9 "$D/vol2d.ekn"
    assert_failure 2
    assert_no_stdout
}

@test "--dense --eval scores every predicted voxel: cropped labels, or all of them with --pad" {
    for pad in none mirror; do
        run --separate-stderr ekn-predict -m "$D/seg.h5" --dense --pad $pad --eval -o out.ekn "$D/lab2d.ekn"
        assert_success
        echo "$output"
        [[ ${lines[0]} =~ ^accuracy$'\t'[01]\.[0-9]{4}$'\t'\(([0-9]+)\ of\ ([0-9]+)\)$ ]]
        run py '
c = records(args[0])[1][1]
lab = records(args[1])[1][1]
if c.shape != lab.shape:
    lab = lab[:, 3:-3, 3:-3]
assert c.shape == lab.shape, (c.shape, lab.shape)
print((c == lab).sum(), lab.size)
' out.ekn "$D/lab2d.ekn"
        assert_success
        [[ $output == "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}" ]]
    done
    # 2 x 19 x 26 labels, all of them with --pad
    ((BASH_REMATCH[2] == 988))
}

@test "--dense --eval with labels of another shape exits 1" {
    py '
img = records(args[0])[0][1]
es.write(open("bad.ekn", "wb"), "image", img)
es.write(open("bad.ekn", "ab"), "label", np.zeros((2, 13, 20), np.int32))
' "$D/vol2d.ekn"
    run --separate-stderr ekn-predict -m "$D/seg.h5" --dense --eval bad.ekn
    refute_crash
    assert_failure 1
    assert_no_stdout
    assert_one_line_error ekn-predict
    [[ $stderr == *bad.ekn*"image's shape"* ]]
}

@test "bash completion offers --dense, --tile=, --max-memory= and the --pad modes" {
    complete_words ekn-predict --den
    [[ ${COMPREPLY[*]} == --dense ]]
    complete_words ekn-predict --ti
    [[ ${COMPREPLY[*]} == --tile= ]]
    complete_words ekn-predict --max-m
    [[ ${COMPREPLY[*]} == --max-memory= ]]
    complete_words ekn-predict --pad = m
    [[ ${COMPREPLY[*]} == mirror ]]
    complete_words ekn-predict --pad ''
    [[ " ${COMPREPLY[*]} " == *" zero "* && " ${COMPREPLY[*]} " == *" none "* ]]
}

@test "regression (linear output): an 'output' record of the image's shape; --eval's mse is numpy's on it" {
    sed -e 's/^filters = 2$/filters = 1/' -e 's/^act = softmax$/act = linear/' "$NETS/tiny-img-img.spec" >reg.spec
    grep -q 'act = linear' reg.spec
    py '
rng = np.random.default_rng(1)
x = rng.standard_normal((6, 1, 20, 21)).astype(np.float32)
es.write(open("reg.ekn", "wb"), "image", x)
es.write(open("reg.ekn", "ab"), "target", 2 * x + 1)
'
    ekn-train --spec reg.spec --batch 4 --lr 0.01 --steps 20 -o reg.h5 reg.ekn
    run --separate-stderr ekn-predict -m reg.h5 --dense --pad zero --eval -o out.ekn reg.ekn
    assert_success
    [[ ${lines[0]} =~ ^mse$'\t'([0-9.e+-]+)$ ]]
    [[ ${lines[1]} == "examples"$'\t'6 ]] # examples, not their 6 x 20 x 21 values
    run py '
o = records(args[0])
t = records(args[1])[1][1]
assert [(r[0], r[1].shape) for r in o] == [("output", (6, 1, 20, 21))], [(r[0], r[1].shape) for r in o]
m = float(((o[0][1].astype(np.float64) - t) ** 2).mean())
assert abs(m - float(args[2])) <= 1e-5 + 1e-4 * m, (m, args[2])
print("ok")
' out.ekn reg.ekn "${BASH_REMATCH[1]}"
    assert_success
}

@test "a graph network (a small U-Net): --dense at any tile size equals the plain net on the whole image (|d| <= 1e-5)" {
    local d=$BATS_FILE_TMPDIR
    printf '%s\n' '[input]' 'mode = img-img' 'shape = 12,12' '[conv]' 'name = c1' 'filters = 3' 'size = 3,3' \
        '[pool]' 'size = 2,2' '[conv]' 'filters = 4' 'size = 3,3' '[upconv]' 'name = up' 'filters = 3' 'size = 2,2' \
        'act = linear' '[concat]' 'input = up, c1' '[norm]' 'act = relu' '[conv]' 'filters = 2' 'size = 1,1' \
        'act = softmax' >unet.spec
    ekn-train --spec unet.spec --batch 4 --lr 0.05 --seed 7 --steps 5 -o unet.h5 "$d/seg.ekn"
    # 24 is a valid input (12 + 2k): the plain net gives its 18x18 centre, as --dense does without padding
    py '
rng = np.random.default_rng(5)
with open("img24.ekn", "wb") as f:
    es.write(f, "image", rng.standard_normal((2, 1, 24, 24)).astype(np.float32))
'
    ekn-predict -m unet.h5 img24.ekn >plain.ekn
    for opts in "" "--tile 12,12" "--tile 14,16 -b 1" "--max-memory 1"; do
        ekn-predict -m unet.h5 --dense $opts img24.ekn >dense.ekn
        py '
a = [r for r in records("plain.ekn") if r[0] == "prob"][0][1]
b = [r for r in records("dense.ekn") if r[0] == "prob"][0][1]
assert a.shape == b.shape == (2, 2, 18, 18), (a.shape, b.shape)
d = np.abs(a - b).max()
print("max |d|", d)
assert d <= 1e-5, d
'
    done
    # mirror padding gives every pixel
    ekn-predict -m unet.h5 --dense --pad mirror img24.ekn >padded.ekn
    py '
b = [r for r in records("padded.ekn") if r[0] == "prob"][0][1]
assert b.shape == (2, 2, 24, 24), b.shape
'
}
