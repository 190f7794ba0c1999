#!/usr/bin/env bats
# Data-parallel training (ekn-train(1), DISTRIBUTED TRAINING): mpirun -n K
# ekn-train equals one process on the same global batch within float32
# rounding (parameters after 20 steps within |a - b| <= 1e-6 + 1e-4 |a|;
# measured worst about 3e-5 relative, l-BFGS), for sgd, cg and lbfgs, on
# data in memory and on sharded pipes (ekn-batch --shard); only rank 0
# writes; checkpoints resume with another K; a rank given a bad file, or
# killed, ends the job with an error naming it, without a hang, and the
# last checkpoint still loads.  The reduction's order itself:
# tests/unit/test_dist.c, run here under mpirun.  Without mpirun, or with a
# build without MPI (MPI=0), the MPI tests skip.
load helper

NETS="$BATS_TEST_DIRNAME/../examples/nets"
RTOL=1e-4
ATOL=1e-6

setup_file() {
    ekn_py "$BATS_TEST_DIRNAME/synth_data.py" "$BATS_FILE_TMPDIR"
    # the nets without dropout and input noise: their masks are drawn per
    # rank, so with them K ranks train another (equally valid) run
    for n in tiny-img-scalar tiny-img-img; do
        grep -v -e '^dropout' -e '^noise' "$NETS/$n.spec" >"$BATS_FILE_TMPDIR/$n-det.spec"
    done
}

setup() {
    D=$BATS_FILE_TMPDIR
    cd "$BATS_TEST_TMPDIR"
    # mpirun as root (CI) must be told so; 2 cores run 3 ranks only oversubscribed
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    # OpenMPI's own allocations, left at exit, are not ekn's leaks (make
    # check-asan): suppressed by library, which needs whole stacks (the slow
    # unwinder: OpenMPI has no frame pointers) and components left loaded
    export OMPI_MCA_mca_base_component_disable_dlclose=1
    export LSAN_OPTIONS="suppressions=$BATS_TEST_DIRNAME/lsan-mpi.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
    export ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
}

# Skips unless mpirun exists and ekn-train was built with MPI.
need_mpi() {
    command -v mpirun >/dev/null || skip "no mpirun (make deps installs openmpi-bin)"
    ldd "$EKN_BIN/ekn-train" 2>/dev/null | grep -q libmpi || skip "ekn-train is built without MPI"
}

mpi() { # mpi K CMD...: CMD on K ranks
    local k=$1
    shift
    timeout 120 mpirun -n "$k" --oversubscribe "$@"
}

close() { # close A B: parameters within the stated tolerance
    run ekn_py "$BATS_TEST_DIRNAME/params_close.py" "$1" "$2" $RTOL $ATOL
    echo "$output"
    assert_success
}

@test "the rank-order reduction under mpirun -n 2 and -n 3 (test_dist)" {
    need_mpi
    local t=$EKN_BIN/../tests/test_dist
    [[ -x $t ]] || skip "tests/unit/test_dist is not built"
    run mpi 2 "$t"
    echo "$output"
    assert_success
    assert_output --partial "rank 1 of 2"
    run mpi 3 "$t"
    assert_success
    assert_output --partial "rank 2 of 3"
}

@test "sgd: 2 ranks equal 1 process at the same global batch, validation included; only rank 0 writes" {
    need_mpi
    local o=(--spec "$D/tiny-img-scalar-det.spec" --seed 3 -b 32 -n 20 --lr 0.05 --val "$D/img-test.ekn"
        --val-every 10 --log-every 5)
    run --separate-stderr ekn-train "${o[@]}" --log one.tsv -o one.h5 "$D/img.ekn"
    assert_success
    mkdir two && cd two
    run --separate-stderr mpi 2 ekn-train "${o[@]}" --log two.tsv -o two.h5 "$D/img.ekn"
    assert_success
    assert_no_stdout
    # rank 0 speaks (each message names it), rank 1 is silent
    [[ $stderr == *"ekn-train: rank 0: step 10: validation loss"* ]]
    [[ $stderr != *"rank 1:"* ]]
    # the checkpoint (and the best validation's), the log, and nothing else
    run ls
    assert_output $'two-best.h5\ntwo.h5\ntwo.tsv'
    cd ..
    close one.h5 two/two.h5
    # the same log rows: losses, validation, epochs (within the printed digits)
    run awk -F'\t' 'NR > 1 { n = NF / 2; for (i = 1; i <= n; i++) {
            if (i == 3 || i == 4) continue  # time, examples/s
            a = $i; b = $(i + n)
            if (a == b) continue
            d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a
            if (d > 1e-5 * m + 1e-7) { print "row " NR " column " i ": " a " vs " b; bad = 1 } } }
        END { exit bad }' <(paste one.tsv two/two.tsv)
    echo "$output"
    assert_success
    [[ $(wc -l <two/two.tsv) == 5 ]]
}

@test "lbfgs (3 ranks, uneven slices) and cg (2 ranks, img-img patches) equal 1 process" {
    need_mpi
    local o=(--spec "$NETS/tiny-mlp.spec" --optimizer lbfgs --seed 3 -b 64 -n 20)
    ekn-train "${o[@]}" -o one.h5 "$D/vec.ekn" 2>/dev/null
    mpi 3 ekn-train "${o[@]}" -o three.h5 "$D/vec.ekn" 2>/dev/null
    close one.h5 three.h5
    o=(--spec "$D/tiny-img-img-det.spec" --optimizer cg --seed 3 -b 4 -n 20 --val "$D/seg-test.ekn" --val-every 10)
    ekn-train "${o[@]}" -o one.h5 "$D/seg.ekn" 2>/dev/null
    mpi 2 ekn-train "${o[@]}" -o two.h5 "$D/seg.ekn" 2>/dev/null
    close one.h5 two.h5
}

@test "a device net's gradient goes through host memory (EKN_KERNELS=staged): 2 ranks equal 1 process" {
    need_mpi
    local o=(--spec "$D/tiny-img-scalar-det.spec" --seed 3 -b 32 -n 20 --val "$D/img-test.ekn" --val-every 10)
    EKN_KERNELS=staged ekn-train "${o[@]}" -o one.h5 "$D/img.ekn" 2>/dev/null
    run --separate-stderr mpi 2 -x EKN_KERNELS=staged ekn-train -v "${o[@]}" -o two.h5 "$D/img.ekn"
    assert_success
    [[ $stderr == *"kernels staged"* ]]
    close one.h5 two.h5
}

@test "a negative control: another global batch is outside the tolerance" {
    need_mpi
    local o=(--spec "$NETS/tiny-mlp.spec" --seed 3 -n 20)
    ekn-train "${o[@]}" -b 64 -o one.h5 "$D/vec.ekn" 2>/dev/null
    mpi 2 ekn-train "${o[@]}" -b 62 -o two.h5 "$D/vec.ekn" 2>/dev/null
    run ekn_py "$BATS_TEST_DIRNAME/params_close.py" one.h5 two.h5 $RTOL $ATOL
    assert_failure
}

@test "--resume across K: 2 ranks then 1, 1 then 2, as one uninterrupted process" {
    need_mpi
    local o=(--spec "$D/tiny-img-scalar-det.spec" --seed 3 -b 32 --lr 0.05)
    ekn-train "${o[@]}" -n 20 -o straight.h5 "$D/img.ekn" 2>/dev/null
    mpi 2 ekn-train "${o[@]}" -n 10 -o a.h5 "$D/img.ekn" 2>/dev/null
    ekn-train --resume a.h5 -n 20 -o a.h5 "$D/img.ekn" 2>/dev/null
    close straight.h5 a.h5
    ekn-train "${o[@]}" -n 10 -o b.h5 "$D/img.ekn" 2>/dev/null
    mpi 2 ekn-train --resume b.h5 -n 20 -o b.h5 "$D/img.ekn" 2>/dev/null
    close straight.h5 b.h5
}

@test "with dropout and noise, a 2-rank run resumed on 2 ranks is bit-identical to an uninterrupted one" {
    need_mpi
    local o=(--spec "$NETS/tiny-img-scalar.spec" --seed 3 -b 32 --optimizer cg)
    mpi 2 ekn-train "${o[@]}" -n 20 -o straight.h5 "$D/img.ekn" 2>/dev/null
    mpi 2 ekn-train "${o[@]}" -n 10 -o r.h5 "$D/img.ekn" 2>/dev/null
    mpi 2 ekn-train --resume r.h5 -n 20 -o r.h5 "$D/img.ekn" 2>/dev/null
    run h5_same straight.h5 r.h5
    echo "$output"
    assert_success
}

@test "sharded pipes: mpirun -n 2 over ekn-batch --shard equals one process over the whole pipe" {
    need_mpi
    ekn-batch --seed 5 -b 32 --epochs 2 "$D/vec.ekn" |
        ekn-train --spec "$NETS/tiny-mlp.spec" --seed 3 -b 32 -o one.h5 --log one.tsv 2>/dev/null
    run mpi 2 bash -c 'ekn-batch --seed 5 -b 32 --epochs 2 --shard $OMPI_COMM_WORLD_RANK/2 "$1" |
        ekn-train --spec "$2" --seed 3 -b 32 -o two.h5 --log two.tsv' _ "$D/vec.ekn" "$NETS/tiny-mlp.spec"
    assert_success
    close one.h5 two.h5
    # the whole stream was trained on: 2 epochs of 512 examples in batches of 32
    [[ $(tail -n1 two.tsv | cut -f1) == 30 ]]
}

@test "a pipe into mpirun reaches rank 0 alone: the other ranks refuse their stdin with a hint" {
    need_mpi
    run --separate-stderr bash -c 'cat "$1" | timeout 60 mpirun -n 2 --oversubscribe ekn-train --spec "$2" -n 5 -o m.h5' _ \
        "$D/vec.ekn" "$NETS/tiny-mlp.spec"
    ((status != 0 && status != 124))
    [[ $stderr == *"rank 1: standard input is a device (mpirun gives stdin to rank 0 alone)"*"--shard"* ]]
}

@test "ekn-batch --shard: the slices of a batch together are the batch; bad values are usage errors" {
    ekn-batch --seed 5 -b 7 "$D/vec.ekn" >all.ekn
    for r in 0 1 2; do ekn-batch --seed 5 -b 7 --shard $r/3 "$D/vec.ekn" >s$r.ekn; done
    run ekn_py - "$BATS_TEST_DIRNAME" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, ekn_stream as es
def groups(p):
    out = {}
    for name, a, meta, _ in es.read(open(p, 'rb')):
        b = int(dict(l.split('=') for l in meta.split('\n') if l)['batch'])
        out.setdefault(b, {})[name] = a
    return out
whole = groups('all.ekn')
parts = [groups(f's{r}.ekn') for r in range(3)]
for b, recs in whole.items():
    for name, a in recs.items():
        got = np.concatenate([p[b][name] for p in parts if b in p])
        assert got.tobytes() == a.tobytes(), (b, name)
print(len(whole), 'batches')
EOF
    echo "$output"
    assert_success
    for bad in 3/3 -1/2 1 1/0 a/b 1/2x; do
        run --separate-stderr ekn-batch --shard "$bad" "$D/vec.ekn"
        echo "--shard $bad: $stderr"
        assert_failure 2
        assert_no_stdout
        [[ $stderr == *"--shard must be R/K"* ]]
    done
}

@test "a rank given a bad file ends the job at once with one error naming it" {
    need_mpi
    cp "$D/trunc.ekn" bad1.ekn
    cp "$D/img.ekn" bad0.ekn
    SECONDS=0
    run --separate-stderr timeout 60 mpirun -n 2 --oversubscribe bash -c \
        'exec ekn-train --spec "$1" -n 1000 -o m.h5 bad$OMPI_COMM_WORLD_RANK.ekn' _ "$NETS/tiny-img-scalar.spec"
    echo "$stderr"
    ((status != 0 && status != 124))
    ((SECONDS < 30))
    assert_no_stdout
    # ekn-train's error: one line, rank 1's, naming the file
    run grep -c '^ekn-train:' <<<"$stderr"
    assert_output 1
    [[ $stderr == *"ekn-train: rank 1: 'bad1.ekn': record 0"*"truncated"* ]]
    # another file than rank 0's is refused too
    cp "$D/img-test.ekn" bad1.ekn
    run --separate-stderr timeout 60 mpirun -n 2 --oversubscribe bash -c \
        'exec ekn-train --spec "$1" -n 1000 -o m.h5 bad$OMPI_COMM_WORLD_RANK.ekn' _ "$NETS/tiny-img-scalar.spec"
    ((status != 0 && status != 124))
    [[ $stderr == *"ekn-train: rank 1: 'bad1.ekn': other training data than rank 0"* ]]
}

@test "a rank killed mid-run ends the job within seconds; the last checkpoint loads" {
    need_mpi
    # shellcheck disable=SC2016
    timeout 120 mpirun -n 2 --oversubscribe bash -c 'echo $$ >pid$OMPI_COMM_WORLD_RANK;
        exec ekn-train --spec "$1" -n 100000000 --save-every 20 -o k.h5 "$2"' _ \
        "$NETS/tiny-img-scalar.spec" "$D/img.ekn" >out 2>err &
    local job=$!
    for _ in $(seq 100); do [[ -s pid1 && -e k.h5 ]] && break; sleep 0.2; done
    [[ -e k.h5 ]]
    sleep 0.5
    kill -KILL "$(cat pid1)"
    SECONDS=0
    local rc=0
    wait $job || rc=$?
    cat err
    ((SECONDS < 20))
    ((rc != 0 && rc != 124))
    grep -q 'rank 1 .*signal 9' err
    # the checkpoint is rank 0's last complete one: it resumes
    local step
    step=$(ekn_py -c 'import sys, h5py; print(h5py.File(sys.argv[1])["state/step"][()])' k.h5)
    ((step >= 20 && step % 20 == 0))
    run --separate-stderr ekn-train --resume k.h5 -n $((step + 1)) -o k.h5 "$D/img.ekn"
    assert_success
}

@test "the control file is read by rank 0 and run on every rank" {
    need_mpi
    local o=(--spec "$NETS/tiny-mlp.spec" --seed 3 -b 64 -n 10)
    printf 'lr 0.2\n' >ctl
    ekn-train "${o[@]}" --control ctl -o one.h5 "$D/vec.ekn" 2>/dev/null
    printf 'lr 0.2\n' >ctl
    run --separate-stderr mpi 2 ekn-train "${o[@]}" --control ctl -o two.h5 "$D/vec.ekn"
    assert_success
    [[ $stderr == *"rank 0: control: lr 0.2"* ]]
    # had rank 1 kept the rate of 0.01, its parameters would have drifted from rank 0's
    close one.h5 two.h5
    ekn-train "${o[@]}" -o other.h5 "$D/vec.ekn" 2>/dev/null
    run ekn_py "$BATS_TEST_DIRNAME/params_close.py" one.h5 other.h5 $RTOL $ATOL
    assert_failure
    # stop: every rank ends, the checkpoint is saved
    printf 'stop\n' >ctl
    run --separate-stderr mpi 2 ekn-train --spec "$NETS/tiny-mlp.spec" -n 100000000 --control ctl -o s.h5 "$D/vec.ekn"
    assert_success
    [[ -e s.h5 ]]
}

@test "SIGTERM to mpirun stops every rank; the checkpoint loads" {
    need_mpi
    timeout 120 mpirun -n 2 --oversubscribe ekn-train --spec "$NETS/tiny-mlp.spec" -n 100000000 --save-every 50 \
        -o t.h5 "$D/vec.ekn" 2>err &
    local job=$!
    for _ in $(seq 150); do [[ -e t.h5 ]] && break; sleep 0.2; done
    [[ -e t.h5 ]]
    kill -TERM $job
    SECONDS=0
    local rc=0
    wait $job || rc=$?
    cat err
    ((SECONDS < 30 && rc != 124))
    run --separate-stderr ekn-train --resume t.h5 -n 1 -o t2.h5 "$D/vec.ekn"
    assert_success
}

@test "--batch smaller than the ranks is a usage error" {
    need_mpi
    run --separate-stderr mpi 2 ekn-train --spec "$NETS/tiny-mlp.spec" -b 1 -n 1 -o m.h5 "$D/vec.ekn"
    assert_failure
    [[ $stderr == *"--batch 1 is smaller than the 2 processes"* ]]
}

@test "a build without MPI refuses to run as one of several processes" {
    command -v mpirun >/dev/null || skip "no mpirun"
    ldd "$EKN_BIN/ekn-train" 2>/dev/null | grep -q libmpi && skip "ekn-train is built with MPI"
    run --separate-stderr mpi 2 ekn-train --spec "$NETS/tiny-mlp.spec" -n 1 -o m.h5 "$D/vec.ekn"
    assert_failure
    [[ $stderr == *"built without MPI"* ]]
    [[ ! -e m.h5 ]]
}

@test "without mpirun, OMPI_COMM_WORLD_SIZE=2 alone does not make a run distributed when EKN_MPI=0" {
    run --separate-stderr env EKN_MPI=0 OMPI_COMM_WORLD_SIZE=2 ekn-train --spec "$NETS/tiny-mlp.spec" -n 2 -o m.h5 \
        "$D/vec.ekn"
    assert_success
    [[ -e m.h5 ]]
}
