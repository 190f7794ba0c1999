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
    assert_output --partial '(1 independent labels, sigmoid, loss bce)'
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
