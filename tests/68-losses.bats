#!/usr/bin/env bats
# The losses of ekn-spec(5)'s last layer (issue 14 section 5) on tiny real
# runs: a sigmoid net with binary cross-entropy learning the ISBI 2012
# membranes from float targets, focal and Dice softmax nets, a sigmoid Dice
# net, ekn-predict --eval of a sigmoid net, and the spec's errors.
load helper

NETS="$BATS_TEST_DIRNAME/../examples/nets"

setup_file() {
    local i=$SHARED/data/isbi2012
    [[ -r $i/train-volume.u8 ]] || return 0
    local raw=(--format raw --shape 30,512,512 --dtype u8 --slices)
    cd "$BATS_FILE_TMPDIR"
    # targets: the labels scaled to [0, 1]; labels: the classes 0 and 1
    ekn-preprocess "${raw[@]}" --targets "$i/train-labels.u8" --range 0:4 --standardise global --fit isbi.stats \
        "$i/train-volume.u8" -o train-t.ekn
    ekn-preprocess "${raw[@]}" --targets "$i/train-labels.u8" --range 25:27 --apply isbi.stats \
        "$i/train-volume.u8" -o test-t.ekn
    ekn-preprocess "${raw[@]}" --labels "$i/train-labels.u8" --range 0:4 --apply isbi.stats \
        "$i/train-volume.u8" -o train-l.ekn
    # the ISBI net with one sigmoid output channel, and with the softmax's other losses
    sed 's/^filters = 2$/filters = 1/; s/^act = softmax$/act = sigmoid/' "$NETS/isbi-2d.spec" >bce.spec
    { cat "$NETS/isbi-2d.spec"; printf 'loss = focal\ngamma = 2\n'; } >focal.spec
    { cat "$NETS/isbi-2d.spec"; printf 'loss = dice\n'; } >dice.spec
    { cat bce.spec; printf 'loss = dice\n'; } >bdice.spec
    { cat bce.spec; printf 'pos_weight = 3\n'; } >pw.spec
}

setup() {
    D=$BATS_FILE_TMPDIR
    ekn_need_file "$D/train-t.ekn"
    cd "$BATS_TEST_TMPDIR"
}

# mean loss of the first and of the last three rows of a training log
first_last() {
    awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "loss") c = i; next }
                { l[NR] = $c } END { n = NR; printf "%.6f %.6f\n", (l[2] + l[3] + l[4]) / 3, (l[n] + l[n-1] + l[n-2]) / 3 }' "$1"
}

# train SPEC DATA STEPS: trains, then asserts the loss went down by at least a tenth
train_learns() {
    run ekn-train --spec "$1" --patch 113,113 --batch 4 --steps "$3" --seed 3 --log log.tsv -o model.h5 "$2"
    assert_success
    read -r first last < <(first_last log.tsv)
    echo "loss: first rows $first, last rows $last"
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.9 * a) }'
}

@test "a sigmoid net with binary cross-entropy learns the ISBI membranes (loss goes down; float targets)" {
    run ekn-calc "$D/bce.spec"
    assert_output --partial '(1 independent label, sigmoid, loss bce)'
    train_learns "$D/bce.spec" "$D/train-t.ekn" 150
    # the sigmoid's probabilities are the output record, one channel, in [0, 1]
    run --separate-stderr ekn-predict -m model.h5 --eval -o out.ekn "$D/test-t.ekn"
    assert_success
    echo "$output"
    assert_line --regexp $'^accuracy\t0\\.[0-9]+\t\\([0-9]+ of [0-9]+\\)$'
    assert_line --regexp $'^bce\t'
    assert_line $'channel\taccuracy\tbce\tsupport'
    assert_line --regexp $'^0\t0\\.[0-9]+\t[0-9.e-]+\t[0-9]+$'
    # better than predicting the majority everywhere (the membranes are about a quarter of the pixels)
    local acc
    acc=$(awk -F'\t' '$1 == "accuracy" { print $2 }' <<<"$output")
    awk -v a="$acc" 'BEGIN { exit !(a > 0.80) }'
    run ekn_py -c '
import sys
sys.path.insert(0, sys.argv[1])
import ekn_stream as es
recs = list(es.read(open(sys.argv[2], "rb")))
assert [r[0] for r in recs] == ["output"], [r[0] for r in recs]
a = recs[0][1]
print(a.shape, float(a.min()), float(a.max()))
assert a.ndim == 4 and a.shape[0] == 2 and a.shape[1] == 1 and a.min() >= 0 and a.max() <= 1
' "$BATS_TEST_DIRNAME" out.ekn
    assert_success
}

@test "bce: pos_weight trains, and --class-weights takes one weight per sigmoid channel" {
    train_learns "$D/pw.spec" "$D/train-t.ekn" 150
    run --separate-stderr ekn-train --spec "$D/bce.spec" --patch 113,113 --batch 2 --steps 2 --class-weights 1,2 \
        -o m.h5 "$D/train-t.ekn"
    assert_failure 2
    assert_no_stdout
    [[ $stderr == *"--class-weights gives 2 weights for 1 channels"* ]]
    run ekn-train --spec "$D/bce.spec" --patch 113,113 --batch 2 --steps 2 --class-weights 2 -o m.h5 "$D/train-t.ekn"
    assert_success
}

@test "a sigmoid net refuses class labels, and says it wants float targets" {
    run --separate-stderr ekn-train --spec "$D/bce.spec" --patch 113,113 --batch 2 --steps 2 -o m.h5 "$D/train-l.ekn"
    assert_failure 1
    [[ $stderr == *"sigmoid outputs (float targets in [0,1])"*"no 'target' records"* ]]
}

@test "focal loss (gamma 2) on a softmax: the loss goes down" {
    train_learns "$D/focal.spec" "$D/train-l.ekn" 100
}

@test "soft Dice on a softmax and on a sigmoid: the loss goes down" {
    train_learns "$D/dice.spec" "$D/train-l.ekn" 100
    train_learns "$D/bdice.spec" "$D/train-t.ekn" 100
}

@test "loss = nll given explicitly trains exactly as the default" {
    { cat "$NETS/isbi-2d.spec"; printf 'loss = nll\n'; } >nll.spec
    ekn-train --spec "$NETS/isbi-2d.spec" --patch 113,113 --batch 2 --steps 20 --seed 5 --log a.tsv -o a.h5 "$D/train-l.ekn"
    ekn-train --spec nll.spec --patch 113,113 --batch 2 --steps 20 --seed 5 --log b.tsv -o b.h5 "$D/train-l.ekn"
    h5_same a.h5 b.h5
    diff <(cut -f1,2,5,6,7 a.tsv) <(cut -f1,2,5,6,7 b.tsv)
}

@test "spec errors: a loss that does not fit the activation, loss keys before the last layer" {
    { cat "$NETS/isbi-2d.spec"; printf 'loss = bce\n'; } >bad.spec
    run --separate-stderr ekn-calc bad.spec
    assert_failure 3
    assert_no_stdout
    [[ $stderr == *"bad.spec:"*"loss = bce does not go with act = softmax"* ]]
    sed 's/^act = relu$/act = relu\nloss = focal/' "$NETS/isbi-2d.spec" >bad2.spec
    run --separate-stderr ekn-calc bad2.spec
    assert_failure 3
    [[ $stderr == *"belong to the last layer"* ]]
}

# addw IN OUT EXPR: a copy of IN with a 'weight' record after each label or target record;
# EXPR gives the weights from the labels/targets `l` (numpy)
addw() {
    ekn_py - "$BATS_TEST_DIRNAME" "$1" "$2" "$3" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
with open(sys.argv[3], 'wb') as f:
    for name, a, meta, code in es.read(open(sys.argv[2], 'rb')):
        es.write(f, name, a, meta, code)
        if name in ('label', 'target'):
            l = a
            es.write(f, 'weight', np.asarray(eval(sys.argv[4]), dtype='<f4'), '', 11)
EOF
}

@test "weight records: weights of 2 train exactly as none (softmax nll and sigmoid bce)" {
    addw "$D/train-l.ekn" w2.ekn 'np.full(l.shape, 2.0)'
    addw "$D/train-t.ekn" wt2.ekn 'np.full(l.shape, 2.0)'
    local opts=(--patch 113,113 --batch 2 --steps 12 --seed 7)
    ekn-train --spec "$NETS/isbi-2d.spec" "${opts[@]}" --log a.tsv -o a.h5 "$D/train-l.ekn"
    ekn-train --spec "$NETS/isbi-2d.spec" "${opts[@]}" --log b.tsv -o b.h5 w2.ekn
    h5_same a.h5 b.h5
    diff <(cut -f5 a.tsv) <(cut -f5 b.tsv)
    ekn-train --spec "$D/bce.spec" "${opts[@]}" -o c.h5 "$D/train-t.ekn"
    ekn-train --spec "$D/bce.spec" "${opts[@]}" -o d.h5 wt2.ekn
    h5_same c.h5 d.h5
}

@test "weight records: weight 0 trains exactly as an ignored (masked) voxel" {
    # the left half weighted 0, against the left half's labels set to -1 (ignored)
    addw "$D/train-l.ekn" w0.ekn 'np.where(np.arange(l.shape[-1]) < 256, 0.0, 1.0) * np.ones(l.shape)'
    ekn_py - "$BATS_TEST_DIRNAME" "$D/train-l.ekn" masked.ekn <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import ekn_stream as es
with open(sys.argv[3], 'wb') as f:
    for name, a, meta, code in es.read(open(sys.argv[2], 'rb')):
        if name == 'label':
            a = a.astype('<i4'); a[..., :256] = -1; code = 6
        es.write(f, name, a, meta, code)
EOF
    local opts=(--patch 113,113 --batch 2 --steps 12 --seed 7)
    ekn-train --spec "$NETS/isbi-2d.spec" "${opts[@]}" --log a.tsv -o a.h5 masked.ekn
    ekn-train --spec "$NETS/isbi-2d.spec" "${opts[@]}" --log b.tsv -o b.h5 w0.ekn
    h5_same a.h5 b.h5
    diff <(cut -f5 a.tsv) <(cut -f5 b.tsv)
    # and weights change training: weight 3 on the membranes does not train as none
    addw "$D/train-l.ekn" w3.ekn 'np.where(l == 0, 3.0, 1.0)'
    ekn-train --spec "$NETS/isbi-2d.spec" "${opts[@]}" -o c.h5 w3.ekn
    ekn-train --spec "$NETS/isbi-2d.spec" "${opts[@]}" -o d.h5 "$D/train-l.ekn"
    run h5_same c.h5 d.h5
    assert_failure
}

@test "weight records: ekn-batch cuts them with the labels, ekn-augment transforms them with the labels" {
    # weight = 1 + label: wherever a patch has a label its weight must be 1 + that label
    addw "$D/train-l.ekn" wl.ekn '1.0 + l'
    ekn-batch --net "$NETS/isbi-2d.spec" --patch 113,113 -b 3 --patches-per-epoch 6 --seed 2 -o b.ekn wl.ekn
    ekn-augment --flip yx --transpose --rotate 90 --seed 4 wl.ekn >aug.ekn
    run ekn_py - "$BATS_TEST_DIRNAME" b.ekn aug.ekn <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
for path in sys.argv[2:]:
    recs = list(es.read(open(path, 'rb')))
    names = [r[0] for r in recs]
    assert 'weight' in names, names
    for i, (name, a, meta, code) in enumerate(recs):
        if name != 'weight':
            continue
        lab = recs[i - 1][1]
        assert recs[i - 1][0] == 'label' and a.shape == lab.shape, (path, a.shape, lab.shape)
        ok = lab >= 0
        assert np.array_equal(a[ok], 1.0 + lab[ok]), path
    print(path, 'ok', names[:3])
EOF
    assert_success
    echo "$output"
    # and ekn-train takes ekn-batch's weighted batches
    run ekn-train --spec "$NETS/isbi-2d.spec" --batch 3 --steps 2 -o m.h5 b.ekn
    assert_success
}

@test "weight records: a negative or NaN weight, or a weight record of the wrong size, is an error naming the record" {
    addw "$D/train-l.ekn" neg.ekn 'np.where(l == 0, -1.0, 1.0)'
    run --separate-stderr ekn-train --spec "$NETS/isbi-2d.spec" --patch 113,113 --batch 2 --steps 2 -o m.h5 neg.ekn
    assert_failure 1
    assert_no_stdout
    [[ $stderr == *"record 2: weight -1 (weights must be finite and >= 0)"* ]]
    addw "$D/train-l.ekn" nan.ekn 'np.where(l == 0, np.nan, 1.0)'
    run --separate-stderr ekn-train --spec "$NETS/isbi-2d.spec" --patch 113,113 --batch 2 --steps 2 -o m.h5 nan.ekn
    assert_failure 1
    [[ $stderr == *"weights must be finite"* ]]
    addw "$D/train-l.ekn" small.ekn 'np.ones((l.shape[0], 7))'
    run --separate-stderr ekn-train --spec "$NETS/isbi-2d.spec" --patch 113,113 --batch 2 --steps 2 -o m.h5 small.ekn
    assert_failure 1
    [[ $stderr == *"a 'weight' record must have one value per label position"* ]]
}

@test "ekn-preprocess --affinities: hand-computed affinities of a 3x3 segmentation (y, x; NaN without a predecessor)" {
    ekn_py -c '
import numpy as np
np.save("lab.npy", np.array([[[1, 1, 0], [2, 2, 2], [2, 3, 3]]], dtype="<i4"))
np.save("img.npy", np.zeros((1, 3, 3), dtype="u1"))'
    ekn-preprocess --labels lab.npy --affinities img.npy -o aff.ekn
    run ekn_py - "$BATS_TEST_DIRNAME" aff.ekn <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
recs = list(es.read(open(sys.argv[2], 'rb')))
assert [r[0] for r in recs] == ['image', 'target'], [r[0] for r in recs]
a = recs[1][1]
n = np.nan
want = np.array([[[[n, n, n], [0, 0, 0], [1, 0, 0]], [[n, 1, 0], [n, 1, 1], [n, 0, 1]]]], dtype='<f4')
assert a.shape == (1, 2, 3, 3) and a.dtype == np.float32, (a.shape, a.dtype)
assert np.array_equal(np.isnan(a), np.isnan(want)) and np.array_equal(a[~np.isnan(a)], want[~np.isnan(want)]), a
print("ok")
EOF
    assert_success
    assert_output ok
    run --separate-stderr ekn-preprocess --affinities img.npy
    assert_failure 2
    assert_no_stdout
    [[ $stderr == *"--affinities needs --labels"* ]]
}

@test "--affinities on ISBI slices: a 2-channel sigmoid net learns them; ekn-batch carries the channels; --eval per channel" {
    local i=$SHARED/data/isbi2012
    ekn-preprocess --format raw --shape 30,512,512 --dtype u8 --slices --labels "$i/train-labels.u8" --affinities \
        --range 0:4 --apply "$D/isbi.stats" "$i/train-volume.u8" -o aff.ekn
    run ekn-info aff.ekn
    assert_line --partial 'target f32 [4,2,512,512]'
    sed 's/^filters = 1$/filters = 2/' "$D/bce.spec" >aff.spec
    train_learns aff.spec aff.ekn 100
    run --separate-stderr ekn-predict -m model.h5 --eval aff.ekn
    assert_success
    assert_line --regexp $'^0\t0\\.[0-9]+\t'
    assert_line --regexp $'^1\t0\\.[0-9]+\t'
    ekn-batch --net aff.spec --patch 113,113 -b 2 --patches-per-epoch 4 -o b.ekn aff.ekn
    run ekn-info b.ekn
    assert_line --partial 'target f32 [2,2,21,21]'
    run ekn-train --spec aff.spec --batch 2 --steps 2 -o m.h5 b.ekn
    assert_success
}

@test "ekn-preprocess --weights writes a weight record after the labels, and refuses negative weights" {
    ekn_py -c '
import numpy as np
np.save("lab.npy", np.array([[[1, 1, 0], [2, 2, 2], [2, 3, 3]]], dtype="<i4"))
np.save("img.npy", np.zeros((1, 3, 3), dtype="u1"))
np.save("w.npy", np.arange(9, dtype="<f4").reshape(1, 3, 3))
np.save("neg.npy", -np.ones((1, 3, 3), dtype="<f8"))'
    ekn-preprocess --labels lab.npy --weights w.npy img.npy -o w.ekn
    run ekn-info w.ekn
    assert_line --index 1 --partial 'label i32 [1,3,3]'
    assert_line --index 2 --partial 'weight f32 [1,3,3] min 0 max 8 mean 4'
    run --separate-stderr ekn-preprocess --labels lab.npy --weights neg.npy img.npy -o x.ekn
    assert_failure 1
    assert_no_stdout
    [[ $stderr == *"'neg.npy': weight -1 at element 0 (weights must be finite and >= 0)"* ]]
    [[ ! -e x.ekn ]]
    run --separate-stderr ekn-preprocess --weights w.npy img.npy
    assert_failure 2
    [[ $stderr == *"--weights needs --labels or --targets"* ]]
}

@test "lazy labels need loss = nll: focal refuses them with a message" {
    ekn_py - "$BATS_TEST_DIRNAME" "$D/train-l.ekn" lazy.ekn <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
with open(sys.argv[3], 'wb') as f:
    for name, a, meta, code in es.read(open(sys.argv[2], 'rb')):
        es.write(f, name, a, meta, code)
        if name == 'label':
            es.write(f, 'labelled', np.ones((a.shape[0], 2), 'u1'), '', 1)
            es.write(f, 'absent', np.zeros((a.shape[0], 2), 'u1'), '', 1)
EOF
    run --separate-stderr ekn-train --spec "$D/focal.spec" --patch 113,113 --batch 2 --steps 2 -o m.h5 lazy.ekn
    assert_failure 3
    assert_no_stdout
    [[ $stderr == *"lazy labels need loss = nll, not focal"* ]]
}

# data-parallel runs (ekn-train(1), DISTRIBUTED TRAINING), as tests/69-dist.bats runs them
need_mpi() {
    command -v mpirun >/dev/null || skip "no mpirun (make deps installs openmpi-bin)"
    ldd "$EKN_BIN/ekn-train" 2>/dev/null | grep -q libmpi || skip "ekn-train is built without MPI"
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_MCA_mca_base_component_disable_dlclose=1
    export LSAN_OPTIONS="suppressions=$BATS_TEST_DIRNAME/lsan-mpi.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
    export ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
}

@test "2 ranks equal 1 process for weighted bce and weighted focal (the weighted counts reduce); dice refuses ranks" {
    need_mpi
    addw "$D/train-t.ekn" wt.ekn '1.0 + 2.0 * l'
    addw "$D/train-l.ekn" wl.ekn 'np.where(l == 0, 3.0, 0.5)'
    local o=(--patch 113,113 --batch 4 --steps 10 --seed 3)
    for run in "$D/pw.spec wt.ekn" "$D/focal.spec wl.ekn"; do
        set -- $run
        ekn-train --spec "$1" "${o[@]}" -o one.h5 "$2" 2>/dev/null
        timeout 120 mpirun -n 2 --oversubscribe ekn-train --spec "$1" "${o[@]}" -o two.h5 "$2" 2>/dev/null
        run ekn_py "$BATS_TEST_DIRNAME/params_close.py" one.h5 two.h5 1e-4 1e-6
        echo "$1: $output"
        assert_success
    done
    run --separate-stderr timeout 120 mpirun -n 2 --oversubscribe ekn-train --spec "$D/dice.spec" "${o[@]}" -o d.h5 \
        "$D/train-l.ekn"
    assert_failure
    [[ $stderr == *"loss = dice is not a mean over voxels, so 2 processes cannot share its batch"* ]]
}
