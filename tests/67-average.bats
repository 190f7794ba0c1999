#!/usr/bin/env bats
# ekn-train --average K: the parameters and running statistics of each
# --save-every checkpoint are kept, the last K, and their mean is saved as
# FILE-avg.h5 at each save; it equals the mean of those checkpoints computed
# by numpy, ekn-predict reads it, and --resume continues it exactly.
load helper

setup_file() {
    ekn_synth_data
}

setup() {
    ekn_test_dir
    printf '%s\n' '[input]' 'mode = img-img' 'shape = 12,12' '[conv]' 'name = c1' 'filters = 3' 'size = 3,3' \
        '[pool]' 'size = 2,2' '[conv]' 'filters = 4' 'size = 3,3' '[upconv]' 'name = up' 'filters = 3' \
        'size = 2,2' 'act = linear' '[concat]' 'input = up, c1' '[norm]' 'name = bn' 'act = relu' '[conv]' \
        'filters = 2' 'size = 1,1' 'act = softmax' >unet.spec
}

OPTS=(--spec unet.spec --batch 4 --lr 0.05 --seed 7 --gain-every 0)

# mean_is AVG A B ...: every /params and /buffers tensor of AVG is the float32
# of the float64 mean of those of A, B, ... (added in that order), bit for bit
mean_is() {
    ekn_py - "$@" <<'EOF2'
import sys, h5py, numpy as np
avg, parts = h5py.File(sys.argv[1], 'r'), [h5py.File(p, 'r') for p in sys.argv[2:]]
names = sorted(g + '/' + k for g in ('params', 'buffers') for k in avg[g])
bad = 0
for n in names:
    s = np.zeros(avg[n].shape, np.float64)
    for p in parts:
        s += p[n][()].astype(np.float64)
    want = (s / len(parts)).astype(np.float32)
    bad += want.tobytes() != avg[n][()].tobytes()
print(len(names), 'tensors', bad, 'differ')
sys.exit(1 if bad or 'buffers/bn.running_mean' not in names else 0)
EOF2
}

@test "--average 3 --save-every 10: FILE-avg.h5 is the mean of the checkpoints of steps 20, 30 and 40, buffers included" {
    for n in 20 30 40; do
        run --separate-stderr ekn-train "${OPTS[@]}" --steps $n -o s$n.h5 "$D/seg.ekn"
        assert_success
    done
    run --separate-stderr ekn-train "${OPTS[@]}" --steps 40 --save-every 10 --average 3 -o m.h5 "$D/seg.ekn"
    assert_success
    [[ -f m-avg.h5 ]] || fail "$(ls)"
    [[ -z $(ls | grep '\.tmp') ]] || fail "temp file left: $(ls)"
    run mean_is m-avg.h5 s20.h5 s30.h5 s40.h5
    echo "$output"
    assert_success
    run mean_is m-avg.h5 s30.h5 s40.h5 # the check can fail
    assert_failure
    # the main model is the run's own, and ekn-predict reads the average
    run h5_same s40.h5 m.h5
    assert_success
    run --separate-stderr ekn-predict -m m-avg.h5 -o p.ekn "$D/seg-test.ekn"
    assert_success
    [[ -s p.ekn ]]
}

@test "--average 1: the last --save-every checkpoint; a final save between them keeps the mean of the periodic ones" {
    run --separate-stderr ekn-train "${OPTS[@]}" --steps 20 -o s20.h5 "$D/seg.ekn"
    assert_success
    run --separate-stderr ekn-train "${OPTS[@]}" --steps 25 --save-every 10 --average 1 -o m.h5 "$D/seg.ekn"
    assert_success
    run mean_is m-avg.h5 s20.h5
    echo "$output"
    assert_success
}

@test "--average --resume: the snapshots outlast a resume exactly (restored without repeating --average)" {
    run --separate-stderr ekn-train "${OPTS[@]}" --steps 40 --save-every 10 --average 3 -o A.h5 "$D/seg.ekn"
    assert_success
    run --separate-stderr ekn-train "${OPTS[@]}" --steps 25 --save-every 10 --average 3 -o B.h5 "$D/seg.ekn"
    assert_success
    run --separate-stderr ekn-train --resume B.h5 --steps 40 --save-every 10 -o B.h5 "$D/seg.ekn"
    assert_success
    run h5_same A.h5 B.h5 # /state/avg_snapshots among them
    echo "$output"
    assert_success
    run mean_is A-avg.h5 B-avg.h5
    assert_success
    # a smaller K on resume keeps the newest snapshots
    run --separate-stderr ekn-train --resume A.h5 --steps 40 --save-every 10 --average 2 -o C.h5 "$D/seg.ekn"
    assert_success
    [[ $stderr == *"--average 2 overrides the checkpoint's 3"* ]] || fail "$stderr"
    run ekn_py -c "import h5py; print(h5py.File('C.h5')['state/avg_snapshots'].shape)"
    assert_output "(2, $(ekn_py -c "import h5py; print(h5py.File('A.h5')['state/avg_snapshots'].shape[1])"))"
}

@test "bad --average: one-line usage errors (exit 2), nothing trained" {
    run -2 --separate-stderr ekn-train "${OPTS[@]}" --steps 5 --average 3 -o m.h5 "$D/seg.ekn"
    assert_no_stdout
    [[ ${stderr_lines[0]} == "ekn-train: --average needs --save-every (the checkpoints it averages)" ]] || fail "$stderr"
    [[ ! -e m.h5 ]]
    run -2 --separate-stderr ekn-train "${OPTS[@]}" --steps 5 --save-every 1 --average -1 -o m.h5 "$D/seg.ekn"
    [[ ${stderr_lines[0]} == "ekn-train: --average must be an integer from 0"*"you specified -1" ]] || fail "$stderr"
    [[ ! -e m.h5 ]]
}

@test "completion: ekn-train --aver offers --average=" {
    # shellcheck source=../completions/ekn.bash
    source "$EKN_SRC/completions/ekn.bash"
    complete_words ekn-train --aver
    assert_equal "${COMPREPLY[*]}" "--average="
}
