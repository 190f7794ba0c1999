#!/usr/bin/env bats
# ekn-augment: pass-through, determinism, joint geometry of images, labels and
# masks, --warp-fraction, crops and the outside rule, anisotropy, labels at
# the output grid, vectors, and every class of bad input.  Synthetic streams
# made with numpy (tests/ekn_stream.py); the exact inverses, closed forms and
# distributions are in tests/unit/test_augment.c.
load helper

setup() {
    ekn_need_bin ekn-augment
    cd "$BATS_TEST_TMPDIR"
}

# py SCRIPT...: python with numpy and the stream reader/writer imported as es
py() {
    ekn_py -c "import sys; sys.path.insert(0, '$BATS_TEST_DIRNAME'); import numpy as np, ekn_stream as es
$1" "${@:2}"
}

# A 2D stream: N smooth images, labels = image > 0.5, a mask, lazy-label records.
smooth_2d() { # FILE N SIZE
    py '
n, s = int(sys.argv[2]), int(sys.argv[3])
y, x = np.mgrid[0:s, 0:s].astype(np.float64)
rng = np.random.default_rng(1)
img = np.stack([0.5 + 0.25 * np.sin(a * y + b) + 0.25 * np.cos(c * x + 0.05 * y)
                for a, b, c in rng.uniform(0.1, 0.25, (n, 3))])[:, None].astype(np.float32)
with open(sys.argv[1], "wb") as f:
    es.write(f, "image", img, "axes=NCYX\nbatch=7\n")
    es.write(f, "label", (img[:, 0] > 0.5).astype(np.int32), "classes=2\n")
    es.write(f, "mask", np.ones((n, s, s), np.uint8))
    es.write(f, "labelled", np.eye(n, 2, dtype=np.uint8))
    es.write(f, "absent", np.zeros((n, 2), np.uint8))
' "$@"
}

@test "without transforms the stream passes through byte for byte, metadata and all" {
    smooth_2d in.ekn 4 16
    run --separate-stderr ekn-augment in.ekn
    assert_success
    ekn-augment in.ekn > out.ekn
    cmp in.ekn out.ekn
    ekn-augment -o out2.ekn < in.ekn
    cmp in.ekn out2.ekn
}

@test "integer images become f32 of the same values; metadata stays" {
    ekn_write_stream in.ekn image u8 3 2 5 7 --data random --meta spacing=1,1 --meta source=x.png
    ekn-augment --flip x --seed 3 in.ekn > out.ekn
    run py '
(n1, a, m1, c1), = es.read(open("in.ekn", "rb"))
(n2, b, m2, c2), = es.read(open("out.ekn", "rb"))
assert c2 == 11 and m1 == m2 and n1 == n2, (c2, m1, m2)
# every example is itself or its mirror
for i in range(3):
    assert (b[i] == a[i]).all() or (b[i] == a[i][..., ::-1]).all(), i
print("ok")
'
    assert_success
    assert_output ok
}

@test "the same seed gives the same stream, another seed another, however examples are grouped" {
    smooth_2d one.ekn 8 24
    py '
recs = list(es.read(open("one.ekn", "rb")))
with open("two.ekn", "wb") as f:
    for lo, hi in ((0, 3), (3, 8)):
        for name, a, meta, code in recs:
            es.write(f, name, a[lo:hi], meta)
'
    opts=(--flip yx --rotate 30 --elastic 1.5,4 --noise 0.05 --brightness 0.1 --crop 16,16)
    ekn-augment "${opts[@]}" --seed 5 one.ekn > a.ekn
    ekn-augment "${opts[@]}" --seed 5 one.ekn > b.ekn
    cmp a.ekn b.ekn
    ekn-augment "${opts[@]}" --seed 6 one.ekn > c.ekn
    ! cmp -s a.ekn c.ekn
    ekn-augment "${opts[@]}" --seed 5 two.ekn > d.ekn
    run py '
a = {n: x for n, x, m, c in es.read(open("a.ekn", "rb"))}
d = {}
for n, x, m, c in es.read(open("d.ekn", "rb")):
    d.setdefault(n, []).append(x)
for n in a:
    assert (np.concatenate(d[n]) == a[n]).all(), n
print("ok")
'
    assert_output ok
}

@test "warped labels equal the threshold of the warped image except within interpolation distance of edges" {
    smooth_2d in.ekn 16 64
    ekn-augment --rotate 45 --scale 0.8:1.25 --shear 0.1 --perspective 0.1 --elastic 2,5 --flip yx --rot90 \
        --crop 40,40 --seed 2 in.ekn > out.ekn
    run py '
r = {n: x for n, x, m, c in es.read(open("out.ekn", "rb"))}
img, lab, mask = r["image"][:, 0], r["label"], r["mask"]
assert img.shape == (16, 40, 40) and lab.shape == img.shape and mask.shape == img.shape
# the test images change by at most 0.25*(0.25 + 0.25) per voxel; the nearest grid
# point lies within sqrt(2)/2 voxels; 0.01 for the bilinear error
band = 0.125 * 2 ** 0.5 + 0.01
ok = lab >= 0
bad = ok & (lab != (img > 0.5)) & (np.abs(img - 0.5) > band)
print(int(bad.sum()), int((lab != (img > 0.5))[ok].sum()), int(ok.sum()))
assert not bad.any()
assert (mask[ok] == 1).all() and (mask[~ok] == 0).all()
'
    assert_success
    [[ ${lines[0]} == "0 "* ]]
}

@test "mirrors, transposes and quarter turns are exact: labels stay the threshold everywhere, values are kept" {
    ekn_write_stream in.ekn image f32 20 1 9 9 --data random
    py '
(n, a, m, c), = es.read(open("in.ekn", "rb"))
with open("in.ekn", "ab") as f:
    es.write(f, "label", (a[:, 0] > 0.5).astype(np.int32))
'
    ekn-augment --flip yx --transpose --rot90 --seed 4 in.ekn > out.ekn
    run py '
a = [x for n, x, m, c in es.read(open("in.ekn", "rb"))][0]
r = {n: x for n, x, m, c in es.read(open("out.ekn", "rb"))}
b, lab = r["image"], r["label"]
assert (lab == (b[:, 0] > 0.5)).all()
assert all((np.sort(a[i].ravel()) == np.sort(b[i].ravel())).all() for i in range(20))
# each example is one of the 8 symmetries of the square
def syms(x):
    for k in range(4):
        for t in (x, x.T):
            yield np.rot90(t, k)
assert all(any((s == b[i, 0]).all() for s in syms(a[i, 0])) for i in range(20))
changed = sum(not (a[i] == b[i]).all() for i in range(20))
print(changed)
'
    assert_success
    ((lines[0] > 10))
}

@test "--warp-fraction warps that fraction of the examples" {
    ekn_write_stream in.ekn image f32 2000 1 8 8 --data random
    ekn-augment --rotate 45 --warp-fraction 0.25 --seed 8 in.ekn > out.ekn
    run py '
a = [x for n, x, m, c in es.read(open("in.ekn", "rb"))][0]
b = [x for n, x, m, c in es.read(open("out.ekn", "rb"))][0]
warped = int(sum(not (a[i] == b[i]).all() for i in range(len(a))))
se = (0.25 * 0.75 / 2000) ** 0.5
print(warped, abs(warped / 2000 - 0.25) <= 5 * se)
'
    assert_success
    [[ $output == *" True" ]]
}

@test "labels sampled outside the image become -1, or --outside reject drops the example and its rows" {
    smooth_2d in.ekn 40 20
    # a margin of 4 and shifts up to 6: about (4/6)^2 of the examples stay inside
    ekn-augment --translate 6 --crop 12,12 --seed 1 in.ekn > ign.ekn
    ekn-augment --translate 6 --crop 12,12 --seed 1 --outside reject in.ekn > rej.ekn
    run py '
g = {n: x for n, x, m, c in es.read(open("ign.ekn", "rb"))}
r = {n: x for n, x, m, c in es.read(open("rej.ekn", "rb"))}
assert (g["label"] == -1).any()
assert (r["label"] >= 0).all()
n = len(r["image"])
assert 0 < n < 40 and all(len(r[k]) == n for k in ("label", "mask", "labelled", "absent"))
kept = [i for i in range(40) if (g["label"][i] >= 0).all()]
assert len(kept) == n
assert (r["image"] == g["image"][kept]).all() and (r["labelled"] == np.eye(40, 2, dtype=np.uint8)[kept]).all()
print(n)
'
    assert_success
}

@test "a coarse Z (spacing=) is never interpolated; --in-plane no warps Z too" {
    py '
v = np.repeat(np.arange(12, dtype=np.float32)[:, None, None], 40, 1).repeat(40, 2)[None, None]
with open("vol.ekn", "wb") as f:
    es.write(f, "image", v, "axes=NCZYX\nspacing=50,4,4\n")
    es.write(f, "label", v[:, 0].astype(np.int32))
'
    ekn-augment --rotate 30 --scale 0.8:0.9 --elastic 2,4 --flip z --crop 12,24,24 --seed 3 vol.ekn > a.ekn
    ekn-augment --rotate 30 --scale 0.8:0.9 --flip z --crop 12,24,24 --in-plane no --seed 3 vol.ekn > b.ekn
    run py '
a = [x for n, x, m, c in es.read(open("a.ekn", "rb"))]
b = [x for n, x, m, c in es.read(open("b.ekn", "rb"))]
assert a[0].shape == (1, 1, 12, 24, 24) and a[1].shape == (1, 12, 24, 24)
z = a[0][0, 0]
assert all((z[k] == z[k, 0, 0]).all() for k in range(12))            # each slice one source slice
assert sorted(z[:, 0, 0]) == list(range(12))                         # all of them, mirrored or not
assert (a[1][0] == z).all()                                          # labels follow
w = b[0][0, 0]
assert (w != np.round(w)).any()                                      # zoomed in Z: interpolated
print("ok")
'
    assert_output ok
}

@test "labels at the output grid (offset=, stride=) take mirrors and turns, and refuse warps" {
    py '
rng = np.random.default_rng(2)
img = rng.random((30, 1, 11, 11)).astype(np.float32)
lab = (img[:, 0, 2:9, 2:9] > 0.5).astype(np.int32)    # offset 2, stride 1: 2 + 6 = 10 - 2
with open("grid.ekn", "wb") as f:
    es.write(f, "image", img)
    es.write(f, "label", lab, "offset=2,2\nstride=1,1\n")
    es.write(f, "mask", np.ones_like(lab, np.uint8))
'
    ekn-augment --flip yx --transpose --rot90 --seed 1 grid.ekn > out.ekn
    run py '
r = {n: (x, m) for n, x, m, c in es.read(open("out.ekn", "rb"))}
img, (lab, meta) = r["image"][0], r["label"]
assert meta == "offset=2,2\nstride=1,1\n" and lab.shape == (30, 7, 7)
assert (lab == (img[:, 0, 2:9, 2:9] > 0.5)).all()
print("ok")
'
    assert_output ok
    run --separate-stderr ekn-augment --rotate 10 grid.ekn
    assert_failure 2
    assert_no_stdout
    assert_one_line_error ekn-augment
    assert_output --partial ""
    [[ $stderr == *"ekn-batch --margin"* ]]
}

@test "img-scalar labels pass unchanged through geometric transforms" {
    ekn_write_stream in.ekn image f32 10 3 12 12 --data random
    ekn_write_stream in.ekn label i32 10 --classes 5 --append
    ekn-augment --rotate 20 --flip x --per-channel --brightness 0.2 in.ekn > out.ekn
    run py '
a = [x for n, x, m, c in es.read(open("in.ekn", "rb"))]
b = [x for n, x, m, c in es.read(open("out.ekn", "rb"))]
assert (a[1] == b[1]).all() and b[0].shape == a[0].shape and not (a[0] == b[0]).all()
print("ok")
'
    assert_output ok
}

@test "vectors take --noise and --dropout; geometric or image-only options on them are a usage error" {
    ekn_write_stream in.ekn vector f32 50 6 --data random
    ekn_write_stream in.ekn label i32 50 --classes 2 --append
    ekn-augment --noise 0.1 --dropout 0.1 in.ekn > out.ekn
    run py '
a = [x for n, x, m, c in es.read(open("in.ekn", "rb"))]
b = [x for n, x, m, c in es.read(open("out.ekn", "rb"))]
assert b[0].shape == (50, 6) and (a[1] == b[1]).all() and (b[0] == 0).any() and not (a[0] == b[0]).all()
print("ok")
'
    assert_output ok
    for o in "--rotate 5" "--flip x" "--blur 1" "--crop 2,2"; do
        # shellcheck disable=SC2086
        run --separate-stderr ekn-augment $o in.ekn
        assert_failure 2
        assert_no_stdout
        assert_one_line_error ekn-augment
    done
}

@test "bad input: mismatched shapes, a crop larger than the image, an empty stream, stray records" {
    ekn_write_stream in.ekn image f32 2 1 8 8
    ekn_write_stream in.ekn label i32 2 8 9 --append
    run --separate-stderr ekn-augment in.ekn
    assert_failure 1
    assert_no_stdout
    assert_one_line_error ekn-augment
    [[ $stderr == *"'in.ekn': record 0 (label)"* ]]

    ekn_write_stream n.ekn image f32 2 1 8 8
    ekn_write_stream n.ekn label i32 3 8 8 --append
    run --separate-stderr ekn-augment n.ekn
    assert_failure 1
    assert_one_line_error ekn-augment

    ekn_write_stream m.ekn image f32 2 1 8 8
    ekn_write_stream m.ekn label i32 2 8 8 --append
    ekn_write_stream m.ekn mask u8 2 7 8 --append
    run --separate-stderr ekn-augment m.ekn
    assert_failure 1
    assert_one_line_error ekn-augment

    ekn_write_stream ok.ekn image f32 2 1 8 8
    run --separate-stderr ekn-augment --crop 9,8 ok.ekn
    assert_failure 3
    assert_no_stdout
    assert_one_line_error ekn-augment
    [[ $stderr == *"larger than the image"* ]]

    : > empty.ekn
    run --separate-stderr ekn-augment empty.ekn
    assert_failure 1
    assert_no_stdout
    assert_one_line_error ekn-augment
    [[ $stderr == *"empty stream"* ]]

    ekn_write_stream lab.ekn label i32 2
    run --separate-stderr ekn-augment lab.ekn
    assert_failure 1
    assert_one_line_error ekn-augment

    head -c 100 ok.ekn > cut.ekn
    run --separate-stderr ekn-augment cut.ekn
    assert_failure 1
    refute_crash
    assert_one_line_error ekn-augment
}

@test "a failed run leaves no output file; -o writes atomically" {
    ekn_write_stream ok.ekn image f32 2 1 8 8
    ekn_write_stream ok.ekn label i32 2 8 9 --append
    run --separate-stderr ekn-augment -o out.ekn ok.ekn
    assert_failure 1
    assert_one_line_error ekn-augment
    ! compgen -G 'out.ekn*'
    ekn_write_stream good.ekn image f32 2 1 8 8
    ekn-augment --flip x -o out.ekn good.ekn
    [[ -s out.ekn ]]
    ! compgen -G 'out.ekn.*' 
}

@test "bad option values are usage errors" {
    ekn_write_stream ok.ekn image f32 2 1 8 8
    for o in "--elastic 1" "--elastic 1,0" "--scale 2:1" "--scale 0:1" "--flip w" "--crop 3" "--translate -1" \
             "--warp-fraction 1.5" "--gamma 0.5" "--in-plane maybe" "--perspective 1"; do
        # shellcheck disable=SC2086
        run --separate-stderr ekn-augment $o ok.ekn
        assert_failure 2
        assert_no_stdout
        refute_crash
    done
}

@test "ISBI: a 23x185x185 patch warps and crops to the aniso-3d input with labels aligned" {
    ekn_need_file "$SHARED/data/isbi2012/train-volume.u8"
    py '
d = sys.argv[1]
v = np.fromfile(d + "/train-volume.u8", np.uint8).reshape(30, 512, 512)[:23, :185, :185]
l = np.fromfile(d + "/train-labels.u8", np.uint8).reshape(30, 512, 512)[:23, :185, :185]
with open("isbi.ekn", "wb") as f:
    es.write(f, "image", (v[None, None] / 255).astype(np.float32), "spacing=50,4,4\n")
    es.write(f, "label", l[None].astype(np.int32), "classes=2\n")
' "$SHARED/data/isbi2012"
    ekn-augment --rotate 180 --elastic 2,8 --flip zyx --transpose --crop 23,127,127 --seed 1 isbi.ekn > out.ekn
    run py '
r = {n: x for n, x, m, c in es.read(open("out.ekn", "rb"))}
img, lab = r["image"][0, 0], r["label"][0]
assert img.shape == (23, 127, 127) and lab.shape == img.shape and (lab >= 0).all()
# membranes (label 1) are dark: the mean image under them stays well below the rest
print(round(float(img[lab == 1].mean()), 3), round(float(img[lab == 0].mean()), 3))
assert img[lab == 1].mean() + 0.1 < img[lab == 0].mean()
'
    assert_success
}

@test "pipeline: ekn-augment feeds ekn-train (img-img with full labels cropped, img-scalar volumes)" {
    ekn_need_bin ekn-train
    ekn_py "$BATS_TEST_DIRNAME/synth_data.py" "$BATS_TEST_TMPDIR"
    nets=$BATS_TEST_DIRNAME/../examples/nets
    run --separate-stderr bash -c "ekn-augment --flip yx --transpose --rotate 20 --elastic 1,3 --crop 21,21 seg.ekn |
        ekn-train --spec '$nets/tiny-img-img.spec' --patch 15,15 --batch 4 --steps 5 -o seg.h5"
    assert_success
    [[ -s seg.h5 ]]
    run --separate-stderr bash -c "ekn-augment --flip x --noise 0.1 --contrast 0.2 img.ekn |
        ekn-train --spec '$nets/tiny-img-scalar.spec' --batch 8 --steps 5 -o img.h5"
    assert_success
    [[ -s img.h5 ]]
}

@test "--calc crops to the input shape in ekn-calc's shell output, exactly as --crop does" {
    smooth_2d s.ekn 6 21
    ekn-calc "$BATS_TEST_DIRNAME/../examples/nets/tiny-img-img.spec" --shape 15,15 --format shell >net.sh
    run --separate-stderr ekn-augment --seed 3 --flip yx --rotate 30 --calc net.sh -o a.ekn s.ekn
    assert_success
    run --separate-stderr ekn-augment --seed 3 --flip yx --rotate 30 --crop 15,15 -o b.ekn s.ekn
    assert_success
    cmp a.ekn b.ekn
    # the crop really happened: 21x21 in, 15x15 out, labels too
    py 'r = list(es.read(open(sys.argv[1], "rb")))
assert r[0][1].shape == (6, 1, 15, 15) and r[1][1].shape == (6, 15, 15), [x[1].shape for x in r]' a.ekn
    # both, or a calc file of a net that is not img-img, are usage errors
    run --separate-stderr ekn-augment --calc net.sh --crop 15,15 s.ekn
    assert_failure 2
    assert_no_stdout
    ekn-calc "$BATS_TEST_DIRNAME/../examples/nets/tiny-mlp.spec" --format shell >mlp.sh
    run --separate-stderr ekn-augment --calc mlp.sh s.ekn
    assert_failure 2
    [[ $stderr == *"not an img-img net"* ]]
}

@test "--rotate3d turns a full-3D volume about a random axis (labels follow), and leaves in-plane Z alone" {
    py '
z = np.mgrid[0:24, 0:24, 0:24][0].astype(np.float32)
v = np.repeat((0.05 * z)[None, None], 8, 0)           # 8 examples of a ramp along Z only
with open("vol.ekn", "wb") as f:
    es.write(f, "image", np.ascontiguousarray(v), "axes=NCZYX\n")
    es.write(f, "label", (v[:, 0] > 0.6).astype(np.int32), "classes=2\n")
'
    ekn-augment --rotate3d 60 --crop 12,12,12 --in-plane no --seed 5 vol.ekn > r.ekn
    ekn-augment --crop 12,12,12 --in-plane no --seed 5 vol.ekn > n.ekn
    ekn-augment --rotate3d 60 --crop 12,12,12 --in-plane yes --seed 5 vol.ekn > p.ekn
    run py '
r = [x for n, x, m, c in es.read(open("r.ekn", "rb"))]
n = [x for n, x, m, c in es.read(open("n.ekn", "rb"))]
p = [x for n, x, m, c in es.read(open("p.ekn", "rb"))]
tilt = []
for e in range(8):
    a, b = r[0][e, 0].astype(np.float64), n[0][e, 0].astype(np.float64)
    gz, gy, gx = (np.diff(a, axis=k).mean() for k in range(3))
    assert abs(np.diff(b, axis=1)).max() < 1e-6 and abs(np.diff(b, axis=2)).max() < 1e-6  # unrotated: Z only
    assert abs(np.sqrt(gz * gz + gy * gy + gx * gx) - 0.05) < 0.005, (e, gz, gy, gx)    # a rotation keeps the slope
    far = np.abs(a - 0.6) > 0.05               # more than a voxel of the ramp from the label edge
    assert ((r[1][e] == 1) == (a > 0.6))[far].all() and far.mean() > 0.5, e              # labels follow the image
    tilt.append(np.hypot(gy, gx) / 0.05)
assert max(tilt) > 0.3, tilt                           # some ramp now runs along Y or X as well
assert (p[0] == n[0]).all()                            # in-plane: ignored
print("ok", " ".join("%.2f" % t for t in tilt))
'
    echo "$output"
    [[ $output == ok* ]]
}
