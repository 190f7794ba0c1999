#!/usr/bin/env bats
# ekn-train --early-stop and --monitor: the run stops after N validations
# without a better value, the best validation's checkpoint is kept beside
# the last one (model-best.h5), the log marks the best rows, and resume
# carries the best so far.  A validation stream with the labels of
# img-test.ekn swapped makes a validation loss that only goes up while
# training learns; the real one goes down.
load helper

setup_file() {
    ekn_synth_data
    ekn_py - "$BATS_TEST_DIRNAME" "$BATS_FILE_TMPDIR" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import ekn_stream as es
d = sys.argv[2]
with open(d + '/img-test.ekn', 'rb') as f:
    recs = list(es.read(f))
with open(d + '/flip.ekn', 'wb') as f:
    for name, a, meta, code in recs:
        es.write(f, name, (1 - a).astype(a.dtype) if name == 'label' else a, meta, code)
EOF
}

setup() {
    ekn_test_dir
}

TRAIN_OPTS=(--spec "$NETS/tiny-img-scalar.spec" --batch 16 --lr 0.05 --momentum 0.9 --seed 7 --gain-every 0)

# state FILE: "step best_step since_best" of a checkpoint
state() {
    ekn_py -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r'); s = f['state']
print(int(s['step'][()]), int(s['best_step'][()]), int(s['since_best'][()]))" "$1"
}

@test "--early-stop 3: a validation loss that turns up stops the run 3 validations after the best, which is kept" {
    run --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --steps 400 --val "$D/flip.ekn" --val-every 10 \
        --early-stop 3 --log run.tsv --log-every 10 -o m.h5 "$D/img.ekn"
    refute_crash
    assert_success
    echo "$stderr"
    # the loss of the swapped labels only rises: the first validation is the best
    [[ $stderr == *"step 40: val_loss has not improved in 3 validations; stopping (the best, "*" at step 10, is 'm-best.h5')"* ]]
    run state m.h5
    assert_output "40 10 3"
    run state m-best.h5
    assert_output "10 10 0"
    # the log: header ends with 'best', 1 on the best validation's row only
    [[ $(head -n 1 run.tsv) == *$'\tevals\tbest' ]]
    run awk -F'\t' 'NR > 1 { printf "%s:%s ", $1, $18 }' run.tsv
    assert_output "10:1 20:0 30:0 40:0 "
    [[ ! -e m-best.h5.tmp.* ]] && ! compgen -G '*.tmp.*'
}

@test "--early-stop across --resume: the best so far is the checkpoint's, not forgotten" {
    # the real validation set: its loss falls, every validation is a new best
    run --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --steps 40 --val "$D/img-test.ekn" --val-every 10 \
        --log run.tsv --log-every 10 -o m.h5 "$D/img.ekn"
    assert_success
    run state m-best.h5
    assert_output "40 40 0"
    run h5_same m.h5 m-best.h5
    assert_success
    cp m-best.h5 best40.h5
    run awk -F'\t' 'NR > 1 { printf "%s", $18 }' run.tsv
    assert_output "1111"
    # resumed against the swapped labels: worse than the best at 40, stops after 2, best stays
    run --separate-stderr ekn-train --resume m.h5 --steps 400 --val "$D/flip.ekn" --early-stop 2 --log run.tsv \
        -o m.h5 "$D/img.ekn"
    refute_crash
    assert_success
    echo "$stderr"
    [[ $stderr == *"step 60: val_loss has not improved in 2 validations; stopping (the best, "*" at step 40, is 'm-best.h5')"* ]]
    run state m.h5
    assert_output "60 40 2"
    cmp m-best.h5 best40.h5
}

@test "--monitor val_error; --early-stop without --val is a usage error" {
    run --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --steps 400 --val "$D/flip.ekn" --val-every 10 \
        --early-stop 2 --monitor val_error -o m.h5 "$D/img.ekn"
    assert_success
    # the error of the swapped labels never goes below its first value
    [[ $stderr == *"step 30: val_error has not improved in 2 validations"* ]] || fail "$stderr"
    rm m.h5 m-best.h5
    run --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --steps 10 --early-stop 2 -o m.h5 "$D/img.ekn"
    assert_failure 2
    [[ $stderr == *"--early-stop needs a validation stream (--val)"* ]]
    [[ ! -e m.h5 ]]
    run --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --steps 10 --val "$D/flip.ekn" --monitor val_acc -o m.h5 \
        "$D/img.ekn"
    assert_failure 2
}

@test "--early-stop and --monitor are settings: --resume keeps them" {
    run --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --steps 10 --val "$D/img-test.ekn" --val-every 10 \
        --early-stop 2 --monitor val_error -o m.h5 "$D/img.ekn"
    assert_success
    run ekn_py -c "import h5py; s = h5py.File('m.h5', 'r')['settings']; print(int(s['early_stop'][()]), s['monitor'][()].decode())"
    assert_output "2 val_error"
    # against the swapped labels the error is worse at once: stops after 2 more validations
    run --separate-stderr ekn-train --resume m.h5 --steps 400 --val "$D/flip.ekn" -o m.h5 "$D/img.ekn"
    assert_success
    [[ $stderr == *"step 30: val_error has not improved in 2 validations"* ]] || fail "$stderr"
    run --separate-stderr ekn-train --resume m.h5 --monitor val_loss --steps 31 --val "$D/flip.ekn" -o m.h5 "$D/img.ekn"
    assert_success
    [[ $stderr == *"ekn-train: --monitor val_loss overrides the checkpoint's val_error"* ]] || fail "$stderr"
}
