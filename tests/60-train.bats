#!/usr/bin/env bats
# ekn-train: learning, the log, checkpoints, exact resume, signals, the
# control file, NaN handling and every class of bad input.  Tiny nets
# (examples/nets/tiny-*.spec) on synthetic streams made with numpy, so the
# file runs in seconds and needs nothing but the build.
load helper

# make_data DIR: the synthetic streams of tests/synth_data.py (listed there)
make_data() {
    ekn_py "$BATS_TEST_DIRNAME/synth_data.py" "$1"
}

setup_file() {
    make_data "$BATS_FILE_TMPDIR"
}

setup() {
    ekn_test_dir
}

# The options every tiny run shares (the defaults may change; tests must not).
TRAIN_OPTS=(--batch 16 --lr 0.05 --momentum 0.9 --seed 7)

# The value after "accuracy" in an --eval report on stdin.
accuracy_of() { awk -F'\t' '$1 == "accuracy" { print $2 }'; }

# wait_until SECONDS COMMAND...: polls every 0.05 s.
wait_until() {
    local n=$(($1 * 20))
    shift
    while ((n-- > 0)); do
        "$@" && return 0
        sleep 0.05
    done
    return 1
}

log_rows_at_least() { [[ -f $1 ]] && (($(wc -l <"$1") > $2)); }

# ---- learning ----------------------------------------------------------------

@test "img-scalar: training lowers the loss and the model classifies held-out data (accuracy >= 0.95)" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-img-scalar.spec" "${TRAIN_OPTS[@]}" --steps 200 \
        --log train.tsv --log-every 10 --gain-every 0 -o img.h5 "$D/img.ekn"
    refute_crash
    assert_success
    assert_no_stdout
    [[ -z $stderr ]]
    # mean loss of the first two rows against the last two
    run awk -F'\t' 'NR > 1 { l[++n] = $5 } END { a = (l[1] + l[2]) / 2; b = (l[n] + l[n-1]) / 2;
        printf "%g %g\n", a, b; exit !(b < a / 4) }' train.tsv
    assert_success
    run --separate-stderr ekn-predict -m img.h5 --eval "$D/img-test.ekn"
    assert_success
    local acc
    acc=$(accuracy_of <<<"$output")
    echo "accuracy $acc"
    awk -v a="$acc" 'BEGIN { exit !(a >= 0.95) }'
}

@test "vect-scalar: an MLP learns a linear rule (accuracy >= 0.85), reading the stream from stdin" {
    run --separate-stderr bash -c "ekn-train --spec '$NETS/tiny-mlp.spec' ${TRAIN_OPTS[*]} --steps 300 -o vec.h5 < '$D/vec.ekn'"
    refute_crash
    assert_success
    assert_no_stdout
    run --separate-stderr ekn-predict -m vec.h5 --eval "$D/vec-test.ekn"
    assert_success
    local acc
    acc=$(accuracy_of <<<"$output")
    echo "accuracy $acc"
    awk -v a="$acc" 'BEGIN { exit !(a >= 0.85) }'
}

@test "img-img: a per-pixel threshold is learnt (accuracy >= 0.8 over the output pixels)" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-img-img.spec" "${TRAIN_OPTS[@]}" --batch 8 --steps 300 \
        -o seg.h5 "$D/seg.ekn"
    refute_crash
    assert_success
    assert_no_stdout
    run --separate-stderr ekn-predict -m seg.h5 --eval "$D/seg-test.ekn"
    assert_success
    local acc
    acc=$(accuracy_of <<<"$output")
    echo "accuracy $acc"
    awk -v a="$acc" 'BEGIN { exit !(a >= 0.8) }'
}

@test "regression: held-out mse is below a tenth of the targets' variance" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-regress.spec" "${TRAIN_OPTS[@]}" --steps 300 \
        -o reg.h5 "$D/reg.ekn"
    refute_crash
    assert_success
    run --separate-stderr ekn-predict -m reg.h5 --eval "$D/reg-test.ekn"
    assert_success
    local mse var
    mse=$(awk -F'\t' '$1 == "mse" { print $2 }' <<<"$output")
    var=$(ekn_py - "$D/reg-test.ekn" "$EKN_STREAM_PY" <<'EOF'
import sys, importlib.util
spec = importlib.util.spec_from_file_location('es', sys.argv[2])
es = importlib.util.module_from_spec(spec)
spec.loader.exec_module(es)
recs = list(es.read(open(sys.argv[1], 'rb')))
print(recs[1][1].var())
EOF
    )
    echo "mse $mse, target variance $var"
    awk -v m="$mse" -v v="$var" 'BEGIN { exit !(m == m + 0 && m < v / 10) }'
}

# ---- log ---------------------------------------------------------------------

@test "log: the documented header, one row per log step and per validation, numbers or nan" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-img-scalar.spec" "${TRAIN_OPTS[@]}" --steps 50 \
        --log run.tsv --log-every 10 --gain-every 0 --val "$D/img-test.ekn" --val-every 25 -o m.h5 "$D/img.ekn"
    assert_success
    assert_no_stdout
    run head -n 1 run.tsv
    assert_output "$(printf '%s\t' step epoch time examples_per_s loss loss_smooth loss_after gain lr momentum \
        mean_label train_err val_loss val_err step_size beta evals best | sed 's/\t$//')"
    # the rows: every 10th step and the validations (25, 50)
    run awk -F'\t' 'NR > 1 { printf "%s ", $1 }' run.tsv
    assert_output "10 20 25 30 40 50 "
    # 18 fields, each a number or nan; val_* numeric exactly on validation rows
    run awk -F'\t' '
        NR > 1 {
            if (NF != 18) { print "row " NR ": " NF " fields"; bad = 1 }
            if ($18 != 0 && $18 != 1) { print "row " NR ": best " $18; bad = 1 }
            for (i = 1; i <= NF; i++)
                if ($i != "nan" && $i !~ /^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/) { print "row " NR " field " i ": " $i; bad = 1 }
            val = ($1 % 25 == 0)
            if (val != ($13 != "nan") || val != ($14 != "nan")) { print "row " NR ": val columns " $13 " " $14; bad = 1 }
            if ($5 == "nan" || $9 != 0.05 || $10 != 0.9) { print "row " NR ": loss/lr/momentum " $5 " " $9 " " $10; bad = 1 }
            if ($7 != "nan" || $8 != "nan") { print "row " NR ": gain measured with --gain-every 0"; bad = 1 }
        }
        END { exit bad }' run.tsv
    assert_success
}

@test "log: --gain-every fills loss_after and gain; --resume appends without a second header" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-img-scalar.spec" "${TRAIN_OPTS[@]}" --steps 20 \
        --log run.tsv --log-every 5 --gain-every 5 -o m.h5 "$D/img.ekn"
    assert_success
    run awk -F'\t' 'NR > 1 && $7 != "nan" && $8 != "nan" { n++ } END { print n + 0; exit !(n > 0) }' run.tsv
    assert_success
    local rows
    rows=$(wc -l <run.tsv)
    run --separate-stderr ekn-train --resume m.h5 "${TRAIN_OPTS[@]}" --steps 40 --log run.tsv --log-every 5 \
        --gain-every 5 -o m.h5 "$D/img.ekn"
    assert_success
    (($(wc -l <run.tsv) > rows))
    run grep -c '^step' run.tsv
    assert_output 1
    # steps keep counting from the checkpoint
    run awk -F'\t' 'NR > 1 { if ($1 <= last) bad = 1; last = $1 } END { print last; exit bad }' run.tsv
    assert_success
    assert_output 40
}

# ---- checkpoints -------------------------------------------------------------

@test "checkpoint: h5py reads /spec, /params shapes, /optimizer/velocity and /state/step" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-img-scalar.spec" "${TRAIN_OPTS[@]}" --steps 60 \
        -o ck.h5 "$D/img.ekn"
    assert_success
    run ekn_py - ck.h5 "$NETS/tiny-img-scalar.spec" <<'EOF'
import sys
import h5py
import numpy as np

f = h5py.File(sys.argv[1], 'r')
spec = f['spec'][()]
spec = spec.decode() if isinstance(spec, bytes) else spec
assert spec == open(sys.argv[2]).read(), 'spec text differs from the file'
want = {'conv1.w': (4, 1, 1, 3, 3), 'conv1.b': (4,), 'dense3.w': (8, 4 * 3 * 3 * 4), 'dense3.b': (8,),
        'dense4.w': (2, 8), 'dense4.b': (2,)}
got = {k: v.shape for k, v in f['params'].items()}
assert got == want, got
total = 0
for k, v in f['params'].items():
    assert v.dtype == np.float32, (k, v.dtype)
    assert np.isfinite(v[()]).all(), k
    total += v.size
vel = f['optimizer/velocity']
assert vel.shape == (total,) and vel.dtype == np.float32, vel.shape
assert np.abs(vel[()]).sum() > 0
assert int(f['state/step'][()]) == 60
print('ok', total, 'parameters')
EOF
    echo "$output"
    assert_success
    assert_output --partial "ok 1218 parameters"
    # and h5dump (HDF5's own tool) agrees on a shape
    command -v h5dump >/dev/null || skip "no h5dump"
    run h5dump -H -d /params/conv1.w ck.h5
    assert_success
    assert_output --partial "( 4, 1, 1, 3, 3 )"
}

@test "--resume: img-scalar with dropout and input noise ends bit-identical to an uninterrupted run" {
    local opts=("${TRAIN_OPTS[@]}" --spec "$NETS/tiny-img-scalar.spec")
    run --separate-stderr ekn-train "${opts[@]}" --steps 60 -o A.h5 "$D/img.ekn"
    assert_success
    run --separate-stderr ekn-train "${opts[@]}" --steps 30 -o B.h5 "$D/img.ekn"
    assert_success
    run h5_same A.h5 B.h5
    assert_failure # 30 steps are not 60
    run --separate-stderr ekn-train --resume B.h5 "${TRAIN_OPTS[@]}" --steps 60 -o B.h5 "$D/img.ekn"
    assert_success
    assert_no_stdout
    run h5_same A.h5 B.h5
    echo "$output"
    assert_success
    # 256 examples, batch 16: 60 steps cross epoch boundaries, so the saved
    # permutation was exercised too
    run ekn_py -c "import h5py; print(int(h5py.File('B.h5')['state/epoch'][()]))"
    assert_output 3
}

@test "--resume: img-img (random patches) ends bit-identical to an uninterrupted run" {
    local opts=("${TRAIN_OPTS[@]}" --batch 4 --spec "$NETS/tiny-img-img.spec")
    run --separate-stderr ekn-train "${opts[@]}" --steps 60 -o A.h5 "$D/seg.ekn"
    assert_success
    run --separate-stderr ekn-train "${opts[@]}" --steps 30 -o B.h5 "$D/seg.ekn"
    assert_success
    run --separate-stderr ekn-train --resume B.h5 "${TRAIN_OPTS[@]}" --batch 4 --steps 60 -o B.h5 "$D/seg.ekn"
    assert_success
    run h5_same A.h5 B.h5
    echo "$output"
    assert_success
    # h5dump shows the same bytes too
    command -v h5dump >/dev/null || skip "no h5dump"
    diff <(h5dump -d /params/conv1.w A.h5 | tail -n +2) <(h5dump -d /params/conv1.w B.h5 | tail -n +2)
}

@test "--resume: a graph net (U-Net with batch norm and noise) ends bit-identical, running statistics included" {
    printf '%s\n' '[input]' 'mode = img-img' 'shape = 12,12' '[conv]' 'name = c1' 'filters = 3' 'size = 3,3' \
        '[pool]' 'size = 2,2' '[conv]' 'filters = 4' 'size = 3,3' 'noise = 0.1' '[upconv]' 'name = up' 'filters = 3' \
        'size = 2,2' 'act = linear' '[concat]' 'input = up, c1' '[norm]' 'name = bn' 'act = relu' '[conv]' \
        'filters = 2' 'size = 1,1' 'act = softmax' >unet.spec
    for opt in sgd adam; do
        local opts=("${TRAIN_OPTS[@]}" --batch 4 --optimizer $opt --lr 0.01)
        run --separate-stderr ekn-train "${opts[@]}" --spec unet.spec --steps 40 -o A.h5 "$D/seg.ekn"
        assert_success
        run --separate-stderr ekn-train "${opts[@]}" --spec unet.spec --steps 20 -o B.h5 "$D/seg.ekn"
        assert_success
        run --separate-stderr ekn-train --resume B.h5 "${opts[@]}" --steps 40 -o B.h5 "$D/seg.ekn"
        assert_success
        run h5_same A.h5 B.h5
        echo "$output"
        assert_success
    done
    # the running statistics moved away from their start (mean 0, var 1) and are in the file
    run ekn_py -c "import h5py; f = h5py.File('A.h5'); m = f['buffers/bn.running_mean'][()]; v = f['buffers/bn.running_var'][()]; print(m.shape, abs(m).max() > 1e-3, abs(v - 1).max() > 1e-3)"
    assert_output "(6,) True True"
}

# ---- signals and the control file -------------------------------------------

@test "SIGTERM: exit 143, the checkpoint is saved and loads in ekn-predict, no temp file is left" {
    "$EKN_BIN/ekn-train" --spec "$NETS/tiny-img-scalar.spec" "${TRAIN_OPTS[@]}" --steps 1000000 \
        --log run.tsv --log-every 10 -o sig.h5 "$D/img.ekn" >out.txt 2>err.txt 3>&- &
    local pid=$!
    # the handlers are installed before the first step, so wait for logged rows
    wait_until 20 log_rows_at_least run.tsv 2 || { kill -KILL "$pid"; fail "no log rows"; }
    kill -TERM "$pid"
    local rc=0
    wait "$pid" || rc=$?
    cat err.txt
    ((rc == 143))
    [[ ! -s out.txt ]]
    [[ -f sig.h5 ]]
    run compgen -G '*.tmp.*'
    assert_failure
    run --separate-stderr ekn-predict -m sig.h5 --eval "$D/img-test.ekn"
    assert_success
    assert_output --partial accuracy
    # the checkpoint holds the steps actually made
    run ekn_py -c "import h5py; print(int(h5py.File('sig.h5')['state/step'][()]))"
    ((output >= 20 && output < 1000000))
}

@test "two SIGTERMs in a row: the run ends at once and leaves no temp file, even mid-save" {
    # a checkpoint every step, so the second signal is likely to arrive while one is written
    "$EKN_BIN/ekn-train" --spec "$NETS/tiny-img-scalar.spec" "${TRAIN_OPTS[@]}" --steps 1000000 --save-every 1 \
        --log run.tsv --log-every 10 -o sig.h5 "$D/img.ekn" >out.txt 2>err.txt 3>&- &
    local pid=$!
    wait_until 20 log_rows_at_least run.tsv 2 || { kill -KILL "$pid"; fail "no log rows"; }
    # the first signal asks for a stop, any later one ends the process at once
    while kill -TERM "$pid" 2>/dev/null; do sleep 0.001; done
    local rc=0
    wait "$pid" || rc=$?
    ((rc == 143))
    run compgen -G '*.tmp.*'
    assert_failure
    # what is on disk is a whole checkpoint
    ekn_py -c "import h5py; f = h5py.File('sig.h5', 'r'); assert int(f['state/step'][()]) > 0"
}

@test "SIGINT: exit 130 with the checkpoint saved" {
    "$EKN_BIN/ekn-train" --spec "$NETS/tiny-mlp.spec" "${TRAIN_OPTS[@]}" --steps 1000000 \
        --log run.tsv --log-every 10 -o int.h5 "$D/vec.ekn" >out.txt 2>err.txt 3>&- &
    local pid=$!
    wait_until 20 log_rows_at_least run.tsv 2 || { kill -KILL "$pid"; fail "no log rows"; }
    kill -INT "$pid"
    local rc=0
    wait "$pid" || rc=$?
    ((rc == 130))
    [[ -f int.h5 ]]
    run compgen -G '*.tmp.*'
    assert_failure
}

@test "SIGUSR1: a checkpoint appears while the run goes on" {
    "$EKN_BIN/ekn-train" --spec "$NETS/tiny-img-scalar.spec" "${TRAIN_OPTS[@]}" --steps 1000000 \
        --log run.tsv --log-every 10 -o usr.h5 "$D/img.ekn" >out.txt 2>err.txt 3>&- &
    local pid=$!
    wait_until 20 log_rows_at_least run.tsv 2 || { kill -KILL "$pid"; fail "no log rows"; }
    [[ ! -e usr.h5 ]] || { kill -KILL "$pid"; fail "checkpoint before SIGUSR1"; }
    kill -USR1 "$pid"
    wait_until 20 test -f usr.h5 || { kill -KILL "$pid"; fail "no checkpoint after SIGUSR1"; }
    local step
    step=$(ekn_py -c "import h5py; print(int(h5py.File('usr.h5')['state/step'][()]))")
    # still running, and it goes on past the saved step
    kill -0 "$pid"
    wait_until 20 awk -v s="$step" -F'\t' 'END { exit !($1 > s + 20) }' run.tsv || { kill -KILL "$pid"; fail "stalled"; }
    kill -TERM "$pid"
    wait "$pid" || true
    grep -q "saved 'usr.h5'" err.txt
}

@test "SIGUSR1 while the data loads: the run is not killed, it saves at its first step" {
    mkfifo in.fifo
    "$EKN_BIN/ekn-train" --spec "$NETS/tiny-img-scalar.spec" "${TRAIN_OPTS[@]}" --steps 5 -o load.h5 in.fifo \
        >out.txt 2>err.txt 3>&- &
    local pid=$!
    # opening the FIFO for writing waits for ekn-train to open it: it is loading now
    exec 4>in.fifo
    kill -USR1 "$pid"
    cat "$D/img.ekn" >&4
    exec 4>&-
    local rc=0
    wait "$pid" || rc=$?
    cat err.txt
    ((rc == 0)) || fail "exit $rc"
    grep -q "step 0: saved 'load.h5'" err.txt
    [[ -f load.h5 ]]
}

@test "--control: 'lr 0.001' changes the rate in the log, then 'stop' ends the run with exit 0" {
    "$EKN_BIN/ekn-train" --spec "$NETS/tiny-img-scalar.spec" "${TRAIN_OPTS[@]}" --steps 1000000 \
        --log run.tsv --log-every 5 --control ctl -o ctl.h5 "$D/img.ekn" >out.txt 2>err.txt 3>&- &
    local pid=$!
    wait_until 20 log_rows_at_least run.tsv 2 || { kill -KILL "$pid"; fail "no log rows"; }
    # written aside, then renamed: the trainer never sees half a file
    echo "lr 0.001" >ctl.new && mv ctl.new ctl
    wait_until 20 test ! -e ctl || { kill -KILL "$pid"; fail "control file not consumed"; }
    wait_until 20 awk -F'\t' '$9 == 0.001 { found = 1 } END { exit !found }' run.tsv ||
        { kill -KILL "$pid"; fail "the log never shows lr 0.001"; }
    echo stop >ctl.new && mv ctl.new ctl
    local rc=0
    wait "$pid" || rc=$?
    cat err.txt
    ((rc == 0))
    [[ -f ctl.h5 ]]
    # the rate before was --lr, after the command 0.001 and nothing else
    run awk -F'\t' 'NR > 1 { print $9 }' run.tsv
    [[ ${lines[0]} == 0.05 ]]
    [[ ${lines[${#lines[@]} - 1]} == 0.001 ]]
    run bash -c "awk -F'\t' 'NR > 1 { print \$9 }' run.tsv | uniq"
    assert_output "$(printf '0.05\n0.001')"
    run ekn_py -c "import h5py; print(h5py.File('ctl.h5')['state/lr'][()])"
    assert_output 0.001
    # the rate set through control survives --resume, whatever --lr says
    local step
    step=$(ekn_py -c "import h5py; print(int(h5py.File('ctl.h5')['state/step'][()]))")
    run --separate-stderr ekn-train --resume ctl.h5 "${TRAIN_OPTS[@]}" --steps $((step + 10)) --log res.tsv \
        --log-every 5 -o ctl.h5 "$D/img.ekn"
    assert_success
    [[ "$stderr" == *"keeping the learning rate 0.001"* ]]
    run bash -c "awk -F'\t' 'NR > 1 { print \$9 }' res.tsv | uniq"
    assert_output 0.001
}

@test "--control: lines are taken whole and checked as the options are; bad ones are reported by line and not run" {
    # a comment past the old 256-byte buffer ending in "stop", values --lr refuses,
    # commands with trailing words, a command line over the limit: none runs
    {
        printf '#%0300d stop\n' 0
        printf 'lr 1e308\nstop now\nlr 0.1 0.2\nmomentum 1\n'
        printf 'lr%2000s0.5\n' ''
        printf 'lr 0.02\n'
    } >ctl
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" "${TRAIN_OPTS[@]}" --steps 6 --log run.tsv \
        --log-every 1 --control ctl -o m.h5 "$D/vec.ekn"
    refute_crash
    assert_success
    assert_no_stdout
    echo "$stderr"
    [[ $stderr == *"'ctl':2: lr must be a number > 0 and <= 1e+06, you specified 1e308; not run"* ]]
    [[ $stderr == *"'ctl':3: 'stop' takes no value, found 'now'; not run"* ]]
    [[ $stderr == *"'ctl':4: 'lr' takes one value, found '0.2' after it; not run"* ]]
    [[ $stderr == *"'ctl':5: momentum must be a number from 0 to 0.999999, you specified 1; not run"* ]]
    [[ $stderr == *"'ctl':6: line longer than"*"; not run"* ]]
    [[ $stderr != *"'ctl':1:"* ]]
    [[ $stderr == *"control: lr 0.02"* ]]
    [[ ! -e ctl && ! -e ctl.reading ]]
    # all six steps ran, at the rate of the one good line
    run ekn_py -c "import h5py; f = h5py.File('m.h5'); print(int(f['state/step'][()]), f['state/lr'][()])"
    assert_output "6 0.02"
}

@test "--control FIFO: no writer never blocks; commands written into it run, the FIFO stays" {
    mkfifo ctl
    run --separate-stderr timeout 60 ekn-train --spec "$NETS/tiny-mlp.spec" "${TRAIN_OPTS[@]}" --steps 5 \
        --control ctl -o m.h5 "$D/vec.ekn"
    refute_crash
    assert_success
    [[ -p ctl ]]
    "$EKN_BIN/ekn-train" --spec "$NETS/tiny-mlp.spec" "${TRAIN_OPTS[@]}" --steps 1000000 \
        --log run.tsv --log-every 5 --control ctl -o f.h5 "$D/vec.ekn" >out.txt 2>err.txt 3>&- &
    local pid=$!
    wait_until 20 log_rows_at_least run.tsv 2 || { kill -KILL "$pid"; fail "no log rows"; }
    # the trainer holds the read end, so these opens return at once
    timeout 10 bash -c 'echo "lr 0.001" >ctl' || { kill -KILL "$pid"; fail "writing the FIFO blocked"; }
    wait_until 20 awk -F'\t' '$9 == 0.001 { found = 1 } END { exit !found }' run.tsv ||
        { kill -KILL "$pid"; fail "the log never shows lr 0.001"; }
    timeout 10 bash -c 'printf "stop now\nstop\n" >ctl' || { kill -KILL "$pid"; fail "writing the FIFO blocked"; }
    local rc=0
    wait "$pid" || rc=$?
    cat err.txt
    ((rc == 0))
    grep -q "'ctl':2: 'stop' takes no value" err.txt
    grep -q "control: stop" err.txt
    [[ -p ctl ]]
}

# ---- memory ------------------------------------------------------------------

@test "--max-memory: a run that needs more is refused before anything is allocated, naming the figure" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" --batch 100000 --steps 2 --max-memory 1 \
        -o m.h5 "$D/vec.ekn"
    refute_crash
    assert_failure 1
    assert_no_stdout
    assert_one_line_error ekn-train
    [[ $stderr == *"training with batch 100000 needs "*" MiB (network "*", optimiser 'sgd' "*", batch "*"), more than --max-memory 1 MiB; try a smaller --batch"* ]]
    [[ ! -e m.h5 ]]
    # the same run fits a larger limit
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" --batch 100000 --steps 2 --max-memory 100 \
        -o m.h5 "$D/vec.ekn"
    assert_success
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" --max-memory 0 -o m.h5 "$D/vec.ekn"
    assert_failure 2
}

@test "--max-memory: by default a net larger than the available memory stops at once (16 TiB), img-img hints --patch" {
    printf '[input]\nmode = vect-scalar\nshape = 10\n[dense]\nunits = 1048576\n[dense]\nunits = 1048576\n[dense]\nunits = 2\nact = softmax\n' >big.spec
    run --separate-stderr timeout 60 ekn-train --spec big.spec --batch 4 --steps 1 --optimizer adam -o m.h5 "$D/vec.ekn"
    refute_crash
    assert_failure 1
    assert_no_stdout
    assert_one_line_error ekn-train
    [[ $stderr == *"needs 20.0 TiB (network 12.0 TiB, optimiser 'adam' 8.0 TiB, "*"), more than the "*" of memory available; try a smaller --batch, or set --max-memory"* ]]
    run --separate-stderr ekn-train --spec "$NETS/tiny-img-img.spec" --batch 64 --steps 1 --max-memory 1 \
        -o m.h5 "$D/seg.ekn"
    assert_failure 1
    [[ $stderr == *"try a smaller --batch or --patch"* ]]
}

# ---- NaN ---------------------------------------------------------------------

@test "NaN: a diverging run exits 1 with one line about the loss and keeps the last checkpoint" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-regress.spec" "${TRAIN_OPTS[@]}" --steps 20 \
        -o good.h5 "$D/reg.ekn"
    assert_success
    cp good.h5 before.h5
    run --separate-stderr ekn-train --resume good.h5 "${TRAIN_OPTS[@]}" --lr 1e6 --steps 200 \
        -o good.h5 "$D/reg.ekn"
    refute_crash
    assert_failure 1
    assert_no_stdout
    echo "$stderr"
    # the override of the checkpoint's rate, then the one error line
    ((${#stderr_lines[@]} == 2)) || fail "expected 2 lines"
    [[ ${stderr_lines[0]} == "ekn-train: --lr 1e+06 overrides the checkpoint's 0.05" ]]
    [[ ${stderr_lines[1]} == "ekn-train: "*loss* ]]
    [[ ${stderr_lines[1]} == *nan* || ${stderr_lines[1]} == *inf* || ${stderr_lines[1]} == *"not finite"* ]]
    cmp good.h5 before.h5
    run compgen -G '*.tmp.*'
    assert_failure
}

@test "NaN: an input with a NaN is refused instead of poisoning the weights" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-img-scalar.spec" "${TRAIN_OPTS[@]}" --steps 10 \
        -o nan.h5 "$D/nanin.ekn"
    assert_failure 1
    assert_no_stdout
    assert_one_line_error ekn-train
}

# ---- bad input ---------------------------------------------------------------

@test "progress on a terminal: messages take the line away and put it back, never run on from it" {
    command -v script >/dev/null || skip "no script(1) to give ekn-train a terminal"
    # script(1) gives ekn-train a terminal for stderr, so it draws its progress line
    script -qfec "ekn-train --spec '$NETS/tiny-img-scalar.spec' ${TRAIN_OPTS[*]} --steps 1500 --val '$D/img-test.ekn' \
        --val-every 500 -o m.h5 '$D/img.ekn'" /dev/null >tty.txt 2>&1
    run ekn_py - tty.txt <<'EOF2'
import re, sys
s = open(sys.argv[1], "rb").read().decode()
msgs = [m.start() for m in re.finditer("ekn-train: step", s)]
assert len(msgs) == 3, (len(msgs), s[-400:])
for i in msgs:  # each message starts a cleared line, after a line end or the clearing sequence
    assert s[max(0, i - 4):i] == "\r\x1b[K" or s[i - 1] == "\n", repr(s[i - 80:i + 20])
# and the progress line comes back after each, with the "eta" of a known total
assert all(re.match(r"\n\r\d+/1500 steps", s[s.index("\n", i):][:30]) for i in msgs[:-1]), repr(s[:300])
assert re.search(r"eta \d+s ", s), repr(s[:200])
print("ok")
EOF2
    echo "$output"
    assert_success
}

@test "the last step: a final log row and validation; on a terminal (or -v) one summary line" {
    # 17 steps: the last is neither a log step (every 5) nor a validation step (every 10)
    run --separate-stderr ekn-train --spec "$NETS/tiny-img-scalar.spec" "${TRAIN_OPTS[@]}" --steps 17 --log-every 5 \
        --val "$D/img-test.ekn" --val-every 10 --log run.tsv -o m.h5 "$D/img.ekn"
    assert_success
    assert_equal "$(cut -f1 run.tsv | tail -n +2 | tr '\n' ' ')" "5 10 15 17 "
    [[ $(tail -1 run.tsv | cut -f13) != nan ]] || fail "no validation on the last row"
    [[ $stderr == *"step 17: validation loss"* ]] || fail "$stderr"
    # the last validation is reported, but the best checkpoint follows --val-every alone
    assert_equal "$(tail -1 run.tsv | cut -f18)" 0
    # scripts stay quiet: no summary without a terminal or -v
    [[ $stderr != *"steps,"* ]] || fail "$stderr"
    run --separate-stderr ekn-train -v --spec "$NETS/tiny-img-scalar.spec" "${TRAIN_OPTS[@]}" --steps 17 \
        --val "$D/img-test.ekn" --val-every 10 -o m.h5 "$D/img.ekn"
    assert_success
    [[ $stderr =~ "ekn-train: 17 steps, "[0-9.]+" epochs in "[0-9]+s"; validation loss "[0-9.e-]+" error "[0-9.e-]+" (best loss "[0-9.e-]+" at step 10: 'm-best.h5'); saved 'm.h5'" ]] ||
        fail "$stderr"
    command -v script >/dev/null || skip "no script(1) to give ekn-train a terminal"
    script -qfec "ekn-train --spec '$NETS/tiny-img-scalar.spec' ${TRAIN_OPTS[*]} --steps 12 -o t.h5 '$D/img.ekn'" \
        /dev/null >tty.txt 2>&1
    grep -q "ekn-train: 12 steps, .* epochs in [0-9]*s; saved 't.h5'" tty.txt || fail "$(cat -v tty.txt)"
    # a run resumed at its end trains nothing and says nothing more
    run --separate-stderr ekn-train -v --resume m.h5 --steps 17 -o m.h5 "$D/img.ekn"
    [[ $stderr != *"steps,"* ]] || fail "$stderr"
}

@test "bad input: a missing spec exits 1 and names the file" {
    run --separate-stderr ekn-train --spec no-such.spec "$D/img.ekn"
    refute_crash
    assert_failure 1
    assert_no_stdout
    assert_one_line_error ekn-train
    [[ $stderr == *no-such.spec* ]]
    [[ ! -e model.h5 ]]
}

@test "bad input: a missing training stream exits 1 and names the file" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" no-such.ekn
    assert_failure 1
    assert_no_stdout
    assert_one_line_error ekn-train
    [[ $stderr == *no-such.ekn* ]]
}

@test "bad input: a spec with a typo exits 3 with file:line" {
    sed 's/^filters = 4/filtres = 4/' "$NETS/tiny-img-scalar.spec" >typo.spec
    local line
    line=$(grep -n '^filtres' typo.spec | cut -d: -f1)
    run --separate-stderr ekn-train --spec typo.spec "$D/img.ekn"
    refute_crash
    assert_failure 3
    assert_no_stdout
    assert_one_line_error ekn-train
    [[ $stderr == *"typo.spec:$line:"*filtres* ]]
}

@test "bad input: a graph whose channels or geometry cannot agree exits 3 with file:line before reading any data" {
    printf '%s\n' '[input]' 'mode = img-img' 'channels = 1' 'shape = 20,20' '[conv]' 'name = a' 'filters = 4' \
        'size = 3,3' '[conv]' 'name = b' 'input = input' 'filters = 3' 'size = 3,3' '[concat]' 'input = a, b' \
        '[pool]' 'maxout = 3' '[conv]' 'filters = 2' 'size = 1,1' 'act = softmax' >maxout.spec
    # a FIFO nobody writes: reading the data first would hang (and time out) instead of failing
    mkfifo never
    run --separate-stderr timeout 20 ekn-train --spec maxout.spec -o m.h5 never
    refute_crash
    assert_failure 3
    assert_one_line_error ekn-train
    [[ $stderr == *"maxout.spec:16: layer 'pool4': maxout = 3 needs a multiple of 3 channels, not 7"* ]]
    sed 's/^maxout = 3/maxout = 7/; s/^size = 1,1/size = 2,2/' maxout.spec >even.spec
    run --separate-stderr timeout 20 ekn-train --spec even.spec -o m.h5 never
    refute_crash
    assert_failure 3
    [[ $stderr == *"even.spec:18: no input size up to "*" fits in Y (at layer 'conv5': "* ]]
    [ ! -e m.h5 ]
}

@test "bad input: data whose shape does not fit the spec exits 3" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-img-scalar.spec" "$D/shape.ekn"
    refute_crash
    assert_failure 3
    assert_no_stdout
    assert_one_line_error ekn-train
    # images for a conv net given to an MLP of another width
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" "$D/img.ekn"
    assert_failure 3
    assert_no_stdout
    assert_one_line_error ekn-train
}

@test "bad input: data of a valid but different size than the spec's shape exits 3" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-img-scalar.spec" --steps 2 "$D/wide.ekn"
    assert_failure 3
    assert_no_stdout
    assert_one_line_error ekn-train
}

@test "bad input: --lr -1 is a usage error (2) that says what was specified" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" --lr -1 "$D/vec.ekn"
    refute_crash
    assert_failure 2
    assert_no_stdout
    ((${#stderr_lines[@]} == 2))
    [[ ${stderr_lines[0]} == "ekn-train: "*--lr*"you specified -1"* ]]
    [[ ${stderr_lines[1]} == "Try 'ekn-train --help' for more information." ]]
}

@test "bad input: an unknown option and a missing --spec are usage errors (2)" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" --lr8 0.1 "$D/vec.ekn"
    assert_failure 2
    assert_no_stdout
    ((${#stderr_lines[@]} == 2))
    [[ ${stderr_lines[0]} == *"'--lr8'"* ]]
    run --separate-stderr ekn-train "$D/vec.ekn"
    assert_failure 2
    assert_no_stdout
    [[ ${stderr_lines[0]} == *--spec* ]]
}

@test "bad input: an empty training stream exits 1" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-img-scalar.spec" "$D/empty.ekn"
    refute_crash
    assert_failure 1
    assert_no_stdout
    assert_one_line_error ekn-train
    [[ $stderr == *empty.ekn* ]]
}

@test "bad input: a label record of the wrong count exits 1" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-img-scalar.spec" "$D/count.ekn"
    refute_crash
    assert_failure 1
    assert_no_stdout
    assert_one_line_error ekn-train
    [[ $stderr == *count.ekn*record* ]]
}

@test "bad input: a truncated training stream exits 1 and says 'truncated'" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-img-scalar.spec" "$D/trunc.ekn"
    refute_crash
    assert_failure 1
    assert_no_stdout
    assert_one_line_error ekn-train
    [[ $stderr == *trunc.ekn*truncated* ]]
    [[ ! -e model.h5 ]]
}

@test "bad input: an unwritable checkpoint path exits 1 and names it" {
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" --steps 2 -o no-such-dir/m.h5 "$D/vec.ekn"
    refute_crash
    assert_failure 1
    assert_no_stdout
    assert_one_line_error ekn-train
    [[ $stderr == *no-such-dir/m.h5* ]]
}

@test "bad input: --resume of a file that is not a checkpoint exits 1 in one line" {
    echo "not hdf5" >bogus.h5
    run --separate-stderr ekn-train --resume bogus.h5 "$D/vec.ekn"
    refute_crash
    assert_failure 1
    assert_no_stdout
    assert_one_line_error ekn-train
    [[ $stderr == *bogus.h5* ]]
}
