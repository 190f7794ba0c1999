#!/usr/bin/env bats
# ekn-train --ema DECAY: an exponential moving average of the parameters
# (and the norm layers' running statistics) kept during training and saved
# as FILE-ema.h5 beside FILE.h5 at each save; ekn-predict reads it, decay 0
# is the final model bit for bit, the average outlasts --resume exactly, and
# the main model is the same with or without it.
load helper
load synth

TRAIN_OPTS=(--spec "$NETS/tiny-img-scalar.spec" --batch 16 --lr 0.05 --seed 7 --gain-every 0)

unet_spec() {
    printf '%s\n' '[input]' 'mode = img-img' 'shape = 12,12' '[conv]' 'name = c1' 'filters = 3' 'size = 3,3' \
        '[pool]' 'size = 2,2' '[conv]' 'filters = 4' 'size = 3,3' '[upconv]' 'name = up' 'filters = 3' \
        'size = 2,2' 'act = linear' '[concat]' 'input = up, c1' '[norm]' 'name = bn' 'act = relu' '[conv]' \
        'filters = 2' 'size = 1,1' 'act = softmax' >unet.spec
}

# same_tensors A B: every /params and /buffers dataset of A is byte-identical in B, and B has no other
same_tensors() {
    ekn_py - "$1" "$2" <<'EOF2'
import sys, h5py
a, b = h5py.File(sys.argv[1], 'r'), h5py.File(sys.argv[2], 'r')
names = lambda f: sorted(g + '/' + k for g in ('params', 'buffers') if g in f for k in f[g])
assert names(a) == names(b), (names(a), names(b))
bad = [n for n in names(a) if a[n][()].tobytes() != b[n][()].tobytes()]
print(len(names(a)), 'tensors', len(bad), 'differ', *bad)
sys.exit(1 if bad else 0)
EOF2
}

@test "--ema 0.99: FILE-ema.h5 appears beside FILE.h5 (no temp file), differs from it, and ekn-predict reads it" {
    run --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --steps 30 --ema 0.99 -o m.h5 "$D/img.ekn"
    assert_success
    [[ -f m-ema.h5 && -f m.h5 ]] || fail "$(ls)"
    [[ -z $(ls | grep '\.tmp') ]] || fail "temp file left: $(ls)"
    run same_tensors m.h5 m-ema.h5
    assert_failure
    run --separate-stderr ekn-predict -m m-ema.h5 -o ema.ekn "$D/img-test.ekn"
    assert_success
    run --separate-stderr ekn-predict -m m.h5 -o last.ekn "$D/img-test.ekn"
    assert_success
    [[ $(stat -c %s ema.ekn) == $(stat -c %s last.ekn) ]] || fail "outputs of different sizes"
    ! cmp -s ema.ekn last.ekn || fail "the average predicts as the last model"
    # the main model is the same as without --ema (the average only watches)
    run --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --steps 30 -o plain.h5 "$D/img.ekn"
    assert_success
    [[ ! -e plain-ema.h5 ]] || fail "an average without --ema"
    run h5_same plain.h5 m.h5
    echo "$output"
    assert_success
}

@test "--ema: one step is decay * the initial parameters + (1 - decay) * the step's, for two decays" {
    for d in 0.5 0.9; do
        run --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --steps 1 --ema $d -o m$d.h5 "$D/img.ekn"
        assert_success
    done
    # the same run twice: theta1 is shared, theta0 = (ema_0.5 - 0.5 theta1) / 0.5 predicts ema_0.9
    run ekn_py - <<'EOF2'
import h5py, numpy as np
a, b = h5py.File('m0.5.h5'), h5py.File('m0.9.h5')
worst = 0
for k in a['params']:
    t1 = a['params'][k][()].astype(np.float64)
    assert t1.tobytes() == b['params'][k][()].astype(np.float64).tobytes()
    t0 = (h5py.File('m0.5-ema.h5')['params'][k][()] - 0.5 * t1) / 0.5
    want = 0.9 * t0 + 0.1 * t1
    got = h5py.File('m0.9-ema.h5')['params'][k][()]
    worst = max(worst, float(np.max(np.abs(got - want) / (1e-6 + np.abs(want)))))
    assert np.abs(t1 - t0).max() > 1e-4, 'the step changed nothing'
print('worst', worst)
assert worst < 1e-4
EOF2
    echo "$output"
    assert_success
}

@test "--ema 0: the average is the final model bit for bit, batch-norm running statistics included" {
    unet_spec
    run --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --spec unet.spec --batch 4 --steps 20 --ema 0 -o m.h5 \
        "$D/seg.ekn"
    assert_success
    run same_tensors m.h5 m-ema.h5
    echo "$output"
    assert_success
    run ekn_py -c "import h5py; print(sorted(h5py.File('m-ema.h5')['buffers']))"
    assert_output "['bn.running_mean', 'bn.running_var']"
    ekn-predict -m m.h5 -o a.ekn "$D/seg-test.ekn" 2>/dev/null
    ekn-predict -m m-ema.h5 -o b.ekn "$D/seg-test.ekn" 2>/dev/null
    cmp a.ekn b.ekn
}

@test "--ema --resume: the average outlasts a resume exactly (restored without repeating --ema)" {
    unet_spec
    local o=("${TRAIN_OPTS[@]}" --spec unet.spec --batch 4 --ema 0.9)
    run --separate-stderr ekn-train "${o[@]}" --steps 40 -o A.h5 "$D/seg.ekn"
    assert_success
    run --separate-stderr ekn-train "${o[@]}" --steps 20 -o B.h5 "$D/seg.ekn"
    assert_success
    run same_tensors A-ema.h5 B-ema.h5
    assert_failure # 20 steps are not 40
    run --separate-stderr ekn-train --resume B.h5 --steps 40 -o B.h5 "$D/seg.ekn"
    assert_success
    run h5_same A.h5 B.h5 # /state/ema_params and /state/ema_buffers among them
    echo "$output"
    assert_success
    run same_tensors A-ema.h5 B-ema.h5
    echo "$output"
    assert_success
    run ekn_py -c "import h5py; f = h5py.File('B.h5'); print(f['settings/ema'][()], f['state/ema_buffers'].shape)"
    assert_output "0.9 (12,)" # running mean and variance of 6 channels
}

@test "--ema on --resume: a checkpoint without an average starts it from its parameters; another decay says so" {
    run --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --steps 10 -o m.h5 "$D/img.ekn"
    assert_success
    run --separate-stderr ekn-train -v --resume m.h5 --steps 11 --ema 0 -o m.h5 "$D/img.ekn"
    assert_success
    [[ $stderr == *"holds no average: --ema starts from its parameters"* ]] || fail "$stderr"
    run same_tensors m.h5 m-ema.h5
    assert_success
    run --separate-stderr ekn-train --resume m.h5 --steps 12 --ema 0.5 -o m.h5 "$D/img.ekn"
    assert_success
    [[ $stderr == *"--ema 0.5 overrides the checkpoint's 0"* ]] || fail "$stderr"
    # an older checkpoint (no /settings/ema): no average unless asked for
    ekn_py -c "import h5py; f = h5py.File('m.h5', 'a'); del f['settings/ema']; del f['state/ema_params']"
    rm m-ema.h5
    run --separate-stderr ekn-train --resume m.h5 --steps 13 -o m.h5 "$D/img.ekn"
    assert_success
    [[ ! -e m-ema.h5 ]] || fail "an average nobody asked for"
}

@test "bad --ema: one-line usage errors (exit 2), nothing trained" {
    for v in 1 -0.1 1.5 nan x; do
        run -2 --separate-stderr ekn-train "${TRAIN_OPTS[@]}" --steps 5 --ema "$v" -o m.h5 "$D/img.ekn"
        assert_no_stdout
        [[ ${stderr_lines[0]} == "ekn-train: --ema "*"you specified"* ]] || fail "for $v: $stderr"
        [[ ! -e m.h5 ]] || fail "trained for --ema $v"
    done
}

@test "completion: ekn-train --em offers --ema=" {
    # shellcheck source=../completions/ekn.bash
    source "$EKN_SRC/completions/ekn.bash"
    complete_words ekn-train --em
    assert_equal "${COMPREPLY[*]}" "--ema="
}
