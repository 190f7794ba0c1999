#!/usr/bin/env bats
# Checkpoints (ekn-checkpoint(5), lib/nn/ckpt.c): checkpoints written by an
# older ekn (tests/fixtures/ckpt, made by commit 6b15c38's build, one per
# mode) still load, predict and resume byte-identically; a checkpoint whose
# tensors disagree with its spec is one error line; the man page's h5py
# examples run; ekn-predict and ekn-plot do without the trainer.
load helper

FIX="$BATS_TEST_DIRNAME/fixtures/ckpt"
MODES=(img-img img-scalar vect-scalar)

setup() {
    cd "$BATS_TEST_TMPDIR"
}

# The fixtures' outputs came from the reference kernels (no BLAS, no
# threads), so their bytes do not depend on the CPU.
predict_ref() { EKN_KERNELS=ref ekn-predict "$@"; }

# close A B: two streams of the same records whose arrays agree within
# |a-b| <= 1e-5 + 1e-4 |b| (and int records exactly)
close() {
    ekn_py - "$1" "$2" "$BATS_TEST_DIRNAME" <<'EOF'
import sys
sys.path.insert(0, sys.argv[3])
import numpy as np, ekn_stream as es
a = list(es.read(open(sys.argv[1], 'rb')))
b = list(es.read(open(sys.argv[2], 'rb')))
assert [r[0] for r in a] == [r[0] for r in b], 'different records'
for (name, x, _, _), (_, y, _, _) in zip(a, b):
    assert x.shape == y.shape, name
    if x.dtype.kind == 'f':
        d = np.abs(x.astype(float) - y)
        assert (d <= 1e-5 + 1e-4 * np.abs(y)).all(), f'{name}: max |d| {d.max()}'
        print(name, 'max |d|', d.max())
    else:
        assert (x == y).all(), name
EOF
}

# edit SRC DST PYTHON: DST is a copy of SRC changed by PYTHON with f open (h5py, r+)
edit() {
    cp "$1" "$2"
    ekn_py - "$2" "$3" <<'EOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], 'r+') as f:
    exec(sys.argv[2])
EOF
}

# ---- old checkpoints ---------------------------------------------------------

@test "old checkpoints of every mode predict byte-identically to the ekn that wrote them" {
    for m in "${MODES[@]}"; do
        run --separate-stderr predict_ref -m "$FIX/$m.h5" -o "$m.out" "$FIX/$m.in.ekn"
        assert_success
        [[ -z $stderr ]]
        cmp "$m.out" "$FIX/$m.out.ekn" || fail "$m: predictions differ from the fixture's"
    done
    # img-img through the tiles of --dense too
    run --separate-stderr predict_ref -m "$FIX/img-img.h5" --dense -o dense.out "$FIX/img-img.in.ekn"
    assert_success
    cmp dense.out "$FIX/img-img.dense.ekn"
}

@test "old checkpoints on the default kernels: the fixtures' predictions within 1e-5" {
    for m in "${MODES[@]}"; do
        ekn-predict -m "$FIX/$m.h5" -o "$m.out" "$FIX/$m.in.ekn"
        run close "$m.out" "$FIX/$m.out.ekn"
        echo "$m: $output"
        assert_success
    done
}

@test "--resume from an old checkpoint of every mode continues as the ekn that wrote it did" {
    for m in "${MODES[@]}"; do
        run --separate-stderr env EKN_KERNELS=ref ekn-train --resume "$FIX/$m.h5" --steps 9 --batch 4 \
            -o "$m.h5" "$FIX/$m.in.ekn"
        refute_crash
        assert_success
        assert_no_stdout
        run ekn_py -c "import h5py; print(int(h5py.File('$m.h5')['state/step'][()]))"
        assert_output 9
        predict_ref -m "$m.h5" -o "$m.out" "$FIX/$m.in.ekn"
        cmp "$m.out" "$FIX/$m.resumed.ekn" || fail "$m: the resumed run differs from the fixture's"
        # and it moved: the 3 more steps changed the predictions
        ! cmp -s "$m.out" "$FIX/$m.out.ekn"
    done
    # the optimiser came from the checkpoint (l-BFGS with its history of m = 3)
    run ekn_py -c "import h5py; f = h5py.File('vect-scalar.h5'); print(f['optimizer/name'][()].decode(), f['optimizer/s'].shape)"
    assert_output "lbfgs (3, 210)"
}

@test "ekn-plot filters draws an old checkpoint's first layer" {
    run --separate-stderr ekn-plot filters --script "$FIX/img-scalar.h5"
    assert_success
    [[ $output == *"conv1, 4 filters of 3x3"* ]] || fail "title: $output"
}

# ---- tensors that do not fit the spec ----------------------------------------

# bad_model FILE MESSAGE: ekn-predict, ekn-train --resume and ekn-plot
# filters (when it reads that tensor) each exit 1 with one line
# "PROG: 'FILE': MESSAGE" and nothing on stdout.
bad_model() {
    run --separate-stderr ekn-predict -m "$1" -o out.ekn "$FIX/img-img.in.ekn"
    refute_crash
    assert_failure 1
    assert_no_stdout
    assert_one_line_error ekn-predict
    assert_equal "$stderr" "ekn-predict: '$1': $2"
    [[ ! -e out.ekn ]]
    run --separate-stderr ekn-train --resume "$1" --steps 9 --batch 4 -o res.h5 "$FIX/img-img.in.ekn"
    refute_crash
    assert_failure 1
    assert_no_stdout
    assert_equal "$stderr" "ekn-train: '$1': $2"
    [[ ! -e res.h5 ]]
}

@test "a tensor of the wrong shape: one line naming the file, the tensor and both shapes, exit 1" {
    edit "$FIX/img-img.h5" shape.h5 "del f['params/conv3.w']; f['params/conv3.w'] = np.zeros((8, 8, 3, 3), np.float32)"
    bad_model shape.h5 "tensor 'conv3.w' has shape [8,8,3,3], the spec needs [8,6,3,3]"
    # the same number of values in another shape is no excuse
    edit "$FIX/img-img.h5" perm.h5 "del f['params/conv3.w']; f['params/conv3.w'] = np.zeros((6, 8, 3, 3), np.float32)"
    bad_model perm.h5 "tensor 'conv3.w' has shape [6,8,3,3], the spec needs [8,6,3,3]"
    # ekn-plot filters reads what it draws through the same module
    edit "$FIX/img-img.h5" rank.h5 "del f['params/conv1.w']; f['params/conv1.w'] = np.zeros(24, np.float32)"
    run --separate-stderr ekn-plot filters --script rank.h5
    assert_failure 1
    assert_one_line_error ekn-plot
    [[ $stderr == *"rank.h5"*"rank 1"* ]] || fail "$stderr"
}

@test "a missing tensor, a float64 tensor, an extra tensor: one line each, exit 1" {
    edit "$FIX/img-img.h5" missing.h5 "del f['params/conv4.b']"
    bad_model missing.h5 "no tensor 'conv4.b' (the spec needs [2] in /params)"
    edit "$FIX/img-img.h5" f64.h5 "w = f['params/conv1.w'][()]; del f['params/conv1.w']; f['params/conv1.w'] = w.astype(np.float64)"
    bad_model f64.h5 "tensor 'conv1.w' is float64, the spec needs float32"
    edit "$FIX/img-img.h5" extra.h5 "f['params/conv9.w'] = np.zeros((2, 2), np.float32)"
    bad_model extra.h5 "tensor 'conv9.w' in /params is not one of the spec's"
    edit "$FIX/img-img.h5" buffer.h5 "f['buffers/bn1.running_mean'] = np.zeros(8, np.float32)"
    bad_model buffer.h5 "tensor 'bn1.running_mean' in /buffers is not one of the spec's"
    # the control: an untouched copy made the same way loads
    edit "$FIX/img-img.h5" same.h5 "pass"
    run --separate-stderr predict_ref -m same.h5 -o same.out "$FIX/img-img.in.ekn"
    assert_success
    cmp same.out "$FIX/img-img.out.ekn"
}

@test "/format: another major version and no /format are refused; a minor version loads" {
    edit "$FIX/vect-scalar.h5" v2.h5 "del f['format']; f['format'] = np.bytes_('ekn-checkpoint 2')"
    run --separate-stderr ekn-predict -m v2.h5 "$FIX/vect-scalar.in.ekn"
    assert_failure 1
    assert_no_stdout
    assert_equal "$stderr" "ekn-predict: 'v2.h5': format 'ekn-checkpoint 2' is not one this ekn reads (ekn-checkpoint 1)"
    edit "$FIX/vect-scalar.h5" none.h5 "del f['format']"
    run --separate-stderr ekn-predict -m none.h5 "$FIX/vect-scalar.in.ekn"
    assert_failure 1
    assert_equal "$stderr" "ekn-predict: 'none.h5': not an ekn checkpoint (no /format)"
    edit "$FIX/vect-scalar.h5" v1.h5 "del f['format']; f['format'] = np.bytes_('ekn-checkpoint 1.4')"
    run --separate-stderr predict_ref -m v1.h5 -o v1.out "$FIX/vect-scalar.in.ekn"
    assert_success
    cmp v1.out "$FIX/vect-scalar.out.ekn"
}

# ---- the man page ---------------------------------------------------------------

# page_blocks: the literal blocks of ekn-checkpoint(5) that begin with
# 'import h5py', roff escapes undone, as block1.py, block2.py, ...
page_blocks() {
    awk '/^\.Bd -literal/ { inb = 1; first = 1; next }
         /^\.Ed$/ { inb = 0; out = ""; next }
         inb && first { first = 0; if ($0 ~ /^import h5py/) out = "block" ++n ".py" }
         inb && out != "" { gsub(/\\e/, "\\"); gsub(/\\&/, ""); print > out }' "$EKN_SRC/man/ekn-checkpoint.5"
}

@test "the man page's h5py examples run: read a checkpoint, edit its weights, write one from scratch" {
    page_blocks
    [[ -f block1.py && -f block2.py && -f block3.py ]] || fail "expected three 'import h5py' blocks in ekn-checkpoint(5)"
    cp "$FIX/img-img.h5" model.h5
    run ekn_py block1.py
    assert_success
    assert_line -n 0 "ekn-checkpoint 1"
    assert_line "conv3.w float32 (8, 6, 3, 3)"
    assert_line "optimiser sgd after 6 steps"
    # the edited copy predicts, and differently
    run ekn_py block2.py
    assert_success
    [[ ! -e edited.h5.tmp ]]
    run --separate-stderr predict_ref -m edited.h5 -o edited.out "$FIX/img-img.in.ekn"
    assert_success
    ! cmp -s edited.out "$FIX/img-img.out.ekn"
    # a checkpoint from scratch (no /optimizer, no /state): ekn-predict applies it
    run ekn_py block3.py
    assert_success
    run --separate-stderr ekn-predict -m mlp.h5 -o mlp.out "$FIX/vect-scalar.in.ekn"
    assert_success
    run ekn_py "$EKN_STREAM_PY" read mlp.out
    assert_line -n 0 --partial "prob f32 [32,2]"
}

@test "the man page names every dataset a checkpoint of each mode holds" {
    local page="$EKN_SRC/man/ekn-checkpoint.5"
    for m in "${MODES[@]}"; do
        run ekn_py - "$FIX/$m.h5" <<'EOF'
import sys, h5py
f = h5py.File(sys.argv[1], 'r')
f.visititems(lambda n, o: print(n) if isinstance(o, h5py.Dataset) else None)
EOF
        assert_success
        for name in "${lines[@]}"; do
            case $name in
            params/*) continue ;; # named by the spec's layers
            esac
            # the last component appears as a dataset or table entry of the page
            grep -qE "(^|[ /])${name##*/}( |,|$)" "$page" || fail "$m: '$name' is not in ekn-checkpoint(5)"
        done
    done
}

# ---- what ekn-predict and ekn-plot link ------------------------------------------

@test "ekn-predict and ekn-plot contain no trainer code" {
    command -v nm >/dev/null || skip "no nm"
    for c in ekn-predict ekn-plot; do
        run nm "$EKN_BIN/$c"
        assert_success
        local trainer
        trainer=$(grep -E ' [Tt] ekn_(train|trainer|schedule)_' <<<"$output" || true)
        [[ -z $trainer ]] || fail "$c links the trainer: $trainer"
        # but ekn-train itself does (the check has teeth)
    done
    run nm "$EKN_BIN/ekn-train"
    [[ $output == *" T ekn_trainer_save"* ]]
}
