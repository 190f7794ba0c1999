#!/usr/bin/env bats
# ekn-train reading a pipe: examples are used in the order they come, the
# run ends with the stream, labels of the net's output region (ekn-batch)
# are placed by their offset=/stride= metadata, ekn-batch's batches (batch=
# metadata) are the steps, and a broken stream keeps the training done so far.
load helper

setup_file() {
    ekn_synth_data
    # img-img batches as ekn-batch writes them for tiny-img-img.spec
    # (input 15x15, output 5x5 at offset 3, stride 2): the label is the
    # image's sign at offset + stride * k.  good.ekn places them right,
    # shifted.ekn claims another offset, big.ekn has a label beyond classes=2.
    ekn_py - "$BATS_FILE_TMPDIR" "$BATS_TEST_DIRNAME" <<'PY'
import os, sys
sys.path.insert(0, sys.argv[2])
import numpy as np
import ekn_stream as es
d = sys.argv[1]
g = np.random.default_rng(3)
def batches(n, offset='3,3', bad=False):
    out = []
    for b in range(n):
        x = g.normal(0, 1, (8, 1, 15, 15)).astype(np.float32)
        y = (x[:, 0, 3:13:2, 3:13:2] > 0).astype(np.int32)
        if bad and b == n - 1:
            y[0, 0, 0] = 5
        out += [('image', x, f'batch={b}\nepoch={b // 4}\n'), ('label', y, f'classes=2\noffset={offset}\nstride=2,2\n')]
    return out
x = g.normal(0, 1, (8, 10)).astype(np.float32)
eight = [('vector', x), ('label', (x @ np.linspace(-1, 1, 10) > 0).astype(np.int32))]
for name, recs in (('good', batches(40)), ('shifted', batches(2, '2,2')), ('big', batches(3, bad=True)),
                   ('eight', eight)):
    with open(os.path.join(d, name + '.ekn'), 'wb') as f:
        for r in recs:
            es.write(f, *r)
PY
}

setup() {
    ekn_test_dir
}

OPTS=(--batch 16 --lr 0.05 --momentum 0.9 --seed 7)

# step_of CKPT: the step a checkpoint was saved at
step_of() { ekn_py -c 'import sys, h5py; print(int(h5py.File(sys.argv[1])["state/step"][()]))' "$1"; }

@test "a pipe is streamed once, in order: 512 examples in batches of 16 make 32 steps, then the run ends" {
    run --separate-stderr bash -c "cat '$D/vec.ekn' | ekn-train --spec '$NETS/tiny-mlp.spec' ${OPTS[*]} -o m.h5"
    assert_success
    [ "$(step_of m.h5)" = 32 ]
    # a file is held in memory instead, and --steps runs past its end
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" "${OPTS[@]}" --steps 40 -o f.h5 "$D/vec.ekn"
    assert_success
    [ "$(step_of f.h5)" = 40 ]
}

@test "a stream that ends mid-batch gives a short last batch: 520 examples make 33 steps" {
    run --separate-stderr bash -c "cat '$D/vec.ekn' '$D/eight.ekn' | ekn-train --spec '$NETS/tiny-mlp.spec' ${OPTS[*]} -o m.h5"
    assert_success
    [ "$(step_of m.h5)" = 33 ]
}

@test "--input stream streams a file; --input memory holds a pipe; --steps stops a stream early" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" "${OPTS[@]}" --input stream -o s.h5 "$D/vec.ekn"
    assert_success
    [ "$(step_of s.h5)" = 32 ]
    run --separate-stderr bash -c "cat '$D/vec.ekn' | ekn-train --spec '$NETS/tiny-mlp.spec' ${OPTS[*]} --input memory --steps 40 -o m.h5"
    assert_success
    [ "$(step_of m.h5)" = 40 ]
    run --separate-stderr bash -c "cat '$D/vec.ekn' | ekn-train --spec '$NETS/tiny-mlp.spec' ${OPTS[*]} --steps 5 -o e.h5"
    assert_success
    [ "$(step_of e.h5)" = 5 ]
}

@test "streamed training learns: 8 passes of the vector set piped in reach >= 90% test accuracy" {
    run --separate-stderr bash -c "for i in 1 2 3 4 5 6 7 8; do cat '$D/vec.ekn'; done | ekn-train --spec '$NETS/tiny-mlp.spec' ${OPTS[*]} -o m.h5"
    assert_success
    [ "$(step_of m.h5)" = 256 ]
    acc=$(ekn-predict -m m.h5 --eval "$D/vec-test.ekn" | awk -F'\t' '$1 == "accuracy" { print $2 }')
    awk -v a="$acc" 'BEGIN { exit !(a >= 0.90) }'
}

@test "img-img: output-region labels with offset=/stride= train, and the log takes the producer's epoch=" {
    run --separate-stderr bash -c "cat '$D/good.ekn' | ekn-train --spec '$NETS/tiny-img-img.spec' ${OPTS[*]} --batch 8 --log log.tsv --log-every 1 -o m.h5"
    assert_success
    [ "$(step_of m.h5)" = 40 ]
    # epoch= goes 0..9 over 40 batches; the last logged row says 9
    last_epoch=$(awk -F'\t' 'NR > 1 { e = $2 } END { print e + 0 }' log.tsv)
    [ "$last_epoch" = 9 ]
    first=$(awk -F'\t' 'NR == 2 { print $5 }' log.tsv)
    last=$(awk -F'\t' 'NR > 1 { l = $6 } END { print l }' log.tsv)
    awk -v f="$first" -v l="$last" 'BEGIN { exit !(l < f) }'
}

@test "img-img: labels placed at another offset than the net's exit 3 and say both" {
    run --separate-stderr bash -c "cat '$D/shifted.ekn' | ekn-train --spec '$NETS/tiny-img-img.spec' ${OPTS[*]} -o m.h5"
    assert_failure 3
    assert_one_line_error
    [[ "$stderr" == *"offset 0,2,2"*"offset 0,3,3"* ]]
    [ ! -e m.h5 ]
}

@test "a label beyond the net's classes in a later record exits 3 and keeps the steps trained before it" {
    run --separate-stderr bash -c "cat '$D/big.ekn' | ekn-train --spec '$NETS/tiny-img-img.spec' ${OPTS[*]} --batch 8 -o m.h5"
    assert_failure 3
    [[ "$stderr" == *"label 5"*"2 classes"* ]]
    [ "$(step_of m.h5)" = 2 ]
}

@test "a stream cut inside a record exits 1 saying 'truncated' and keeps the steps before it" {
    size=$(stat -c %s "$D/good.ekn")
    run --separate-stderr bash -c "head -c $((size / 2 + 100)) '$D/good.ekn' | ekn-train --spec '$NETS/tiny-img-img.spec' ${OPTS[*]} --batch 8 -o m.h5"
    assert_failure 1
    [[ "$stderr" == *truncated* ]]
    refute_crash
    steps=$(step_of m.h5)
    [ "$steps" -ge 15 ] && [ "$steps" -le 20 ]
}

@test "--epochs on a pipe holds it in memory and trains its passes, as on the file; on --input stream it is a usage error" {
    run --separate-stderr bash -c "set -o pipefail; cat '$D/vec.ekn' | ekn-train --spec '$NETS/tiny-mlp.spec' --seed 5 --epochs 2 -o pipe.h5"
    assert_success
    ekn-train --spec "$NETS/tiny-mlp.spec" --seed 5 --epochs 2 -o file.h5 "$D/vec.ekn"
    [ "$(step_of pipe.h5)" = "$(step_of file.h5)" ]
    [ "$(step_of pipe.h5)" -gt 0 ]
    h5_same pipe.h5 file.h5
    run --separate-stderr bash -c "cat '$D/vec.ekn' | ekn-train --input stream --spec '$NETS/tiny-mlp.spec' --epochs 2 -o m.h5"
    assert_failure 2
    assert_one_line_error
    [[ "$stderr" == *"ekn-batch --epochs"* ]]
    run --separate-stderr bash -c "cat /dev/null | ekn-train --spec '$NETS/tiny-mlp.spec' -o m.h5"
    assert_failure 1
    [[ "$stderr" == *"no examples"* ]]
}

@test "ekn-batch | ekn-train: img-img patches at the net's output, 2D seg volumes, and the net learns the sign" {
    run --separate-stderr bash -c "set -o pipefail; ekn-batch --net '$NETS/tiny-img-img.spec' -b 8 --epochs 40 --patches-per-epoch 64 --seed 3 '$D/seg.ekn' |
        ekn-train --spec '$NETS/tiny-img-img.spec' ${OPTS[*]} --batch 8 --lr 0.05 --log log.tsv --log-every 10 -o m.h5"
    assert_success
    [ "$(step_of m.h5)" = 320 ]
    acc=$(ekn-predict -m m.h5 --eval "$D/seg-test.ekn" 2>/dev/null | awk -F'\t' '$1 == "accuracy" { print $2 }')
    awk -v a="$acc" 'BEGIN { exit !(a >= 0.85) }' || fail "accuracy $acc"
}

@test "ekn-batch --margin | ekn-train: full-resolution labels of a larger patch are cropped by the trainer" {
    run --separate-stderr bash -c "set -o pipefail; ekn-batch --net '$NETS/tiny-img-img.spec' --margin 2 -b 8 --epochs 2 --patches-per-epoch 64 '$D/seg.ekn' |
        ekn-train --spec '$NETS/tiny-img-img.spec' ${OPTS[*]} --batch 8 -o m.h5"
    assert_success
    [ "$(step_of m.h5)" = 16 ]
}

@test "lazy labels (labelled/absent after each pair) train from a file and from a pipe; a missing one is an error" {
    ekn_py - "$BATS_TEST_DIRNAME" lazy.ekn half.ekn <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
g = np.random.default_rng(5)
def group(f, n, with_absent=True):
    x = g.normal(0, 1, (n, 10)).astype(np.float32)
    y = (x @ np.linspace(-1, 1, 10) > 0).astype(np.int32)
    es.write(f, 'vector', x)
    es.write(f, 'label', y, 'classes=2\n')
    es.write(f, 'labelled', np.ones((n, 2), np.uint8))
    if with_absent:
        es.write(f, 'absent', np.zeros((n, 2), np.uint8))
with open(sys.argv[2], 'wb') as f:
    for _ in range(6):
        group(f, 32)
with open(sys.argv[3], 'wb') as f:
    group(f, 32)
    group(f, 32, with_absent=False)
PY
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" "${OPTS[@]}" --steps 20 -o f.h5 lazy.ekn
    assert_success
    [ "$(step_of f.h5)" = 20 ]
    run --separate-stderr bash -c "cat lazy.ekn | ekn-train --spec '$NETS/tiny-mlp.spec' ${OPTS[*]} -o p.h5"
    assert_success
    [ "$(step_of p.h5)" = 12 ]
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" "${OPTS[@]}" --steps 5 -o h.h5 half.ekn
    assert_failure 1
    assert_one_line_error
    [[ "$stderr" == *"'labelled' and 'absent'"* ]]
}

@test "ekn-batch's batches are honoured exactly: -b 10 | ekn-train -b 16 trains steps of 10, each epoch's short last batch included" {
    # 512 examples: 51 batches of 10 and one of 2 per epoch, 2 epochs
    run --separate-stderr bash -c "set -o pipefail; ekn-batch -b 10 --epochs 2 '$D/vec.ekn' |
        ekn-train --spec '$NETS/tiny-mlp.spec' ${OPTS[*]} --log log.tsv --log-every 1 -o m.h5"
    assert_success
    [ "$(step_of m.h5)" = 104 ]
    # the same batches through ekn-augment, which keeps batch=
    run --separate-stderr bash -c "set -o pipefail; ekn-batch -b 10 --epochs 2 '$D/vec.ekn' | ekn-augment --noise 0.01 |
        ekn-train --spec '$NETS/tiny-mlp.spec' ${OPTS[*]} -o a.h5"
    assert_success
    [ "$(step_of a.h5)" = 104 ]
}

@test "a batch of ekn-batch larger than ekn-train's --batch exits 2 with one line naming both sizes, and trains nothing" {
    run --separate-stderr bash -c "ekn-batch -b 32 '$D/vec.ekn' | ekn-train --spec '$NETS/tiny-mlp.spec' ${OPTS[*]} -o m.h5"
    assert_failure 2
    assert_no_stdout
    assert_one_line_error ekn-train
    [[ "$stderr" == *"record 0: a batch of 32 examples"*"more than --batch 16; give ekn-train --batch 32 or more"* ]]
    [ ! -e m.h5 ]
}
