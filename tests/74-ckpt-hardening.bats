#!/usr/bin/env bats
# Checkpoint writes under hostile conditions (issue 17): -o on a device, a
# FIFO or a symlink; a disk full at any point of the write; kill -9 at random
# points; hostile files.  The previous checkpoint is always kept.
load helper
load synth

TRAIN_OPTS=(--batch 16 --lr 0.05 --momentum 0.9 --seed 7)

train() { ekn-train --spec "$NETS/tiny-img-scalar.spec" "${TRAIN_OPTS[@]}" --steps 5 "$@" "$D/img.ekn"; }

@test "-o on a FIFO is refused, the FIFO stays a FIFO" {
    mkfifo pipe
    run --separate-stderr train -o pipe
    refute_crash
    assert_failure 1
    [[ $stderr == *"'pipe': not a regular file"* ]] || fail "stderr: $stderr"
    [[ -p pipe ]] || fail "the FIFO was replaced"
    ! compgen -G 'pipe.tmp.*' || fail "a temp file was left behind"
}

@test "-o on a character device writes in place: a full one is ENOSPC, exit 1; a null one discards; the nodes stay" {
    [[ $(id -u) == 0 ]] || skip "mknod needs root"
    mknod full c 1 7   # /dev/full's and /dev/null's numbers, in the test's own directory
    mknod null c 1 3
    run --separate-stderr train -o full
    refute_crash
    assert_failure 1
    [[ $stderr == "ekn-train: 'full': write failed: No space left on device" ]] || fail "stderr: $stderr"
    [[ -c full ]] || fail "the device node was replaced by a file"
    run --separate-stderr train -o null
    assert_success
    [[ -c null ]] || fail "the device node was replaced by a file"
    ! compgen -G '*.tmp.*' || fail "a temp file was left behind"
}

@test "-o through a symlink writes the target and keeps the link" {
    mkdir real
    ln -s real/model.h5 link.h5
    run --separate-stderr train -o link.h5
    assert_success
    [[ -L link.h5 ]] || fail "the symlink was replaced"
    [[ -f real/model.h5 ]] || fail "the target was not written"
    run --separate-stderr ekn-predict -m link.h5 -o /dev/null "$D/img-test.ekn"
    assert_success
    ! compgen -G 'real/model.h5.tmp.*' || fail "a temp file was left behind"
}

@test "a full disk: the reason in one line, exit 1, no crash at exit, the previous checkpoint kept" {
    [[ $(id -u) == 0 ]] || skip "mounting a tmpfs needs root"
    mkdir small
    mount -t tmpfs -o size=64k tmpfs small || skip "cannot mount a tmpfs here"
    train -o small/model.h5
    cp small/model.h5 before.h5
    # fill the rest of the disk
    dd if=/dev/zero of=small/fill bs=4k 2>/dev/null || true
    run --separate-stderr train -o small/model.h5
    local rc=$status err=$stderr
    cmp small/model.h5 before.h5 || { umount small; fail "the previous checkpoint changed"; }
    ls small >listing
    umount small
    ((rc == 1)) || fail "exit $rc, stderr: $err"
    [[ $err == *"'small/model.h5': "*"No space left on device"* ]] || fail "stderr: $err"
    ! grep -q 'tmp' listing || fail "a temp file was left behind: $(cat listing)"
}

# ---- hostile files -------------------------------------------------------------

# edit SRC DST PYTHON: DST is a copy of SRC changed by PYTHON with f open (h5py, r+)
edit() {
    cp "$1" "$2"
    ekn_py - "$2" "$3" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], 'r+') as f:
    exec(sys.argv[2])
PY
}

# a fixed-length string type of n bytes
FIXED='def fixed(a): return np.array(a, dtype="S%d" % max(len(x) for x in a))'

@test "/format, /spec, /optimizer/name as arrays of strings: one line each, exit 1, no overflow" {
    train -o good.h5
    for field in format spec optimizer/name; do
        edit good.h5 "bad-${field//\//-}.h5" "$FIXED
v = f['$field'][()]
del f['$field']
f['$field'] = fixed([v] * 64)"
        run --separate-stderr ekn-predict -m "bad-${field//\//-}.h5" -o /dev/null "$D/img-test.ekn"
        [[ $field == optimizer/name ]] && run --separate-stderr train --resume "bad-${field//\//-}.h5" -o out.h5
        refute_crash
        assert_failure 1
        [[ $stderr == *"dataset '/$field' holds 64 strings, expected one"* ]] || fail "$field: $stderr"
    done
}

@test "a numeric field stored as a string, a scalar stored as an array: one line, exit 1" {
    train -o good.h5
    edit good.h5 str.h5 "del f['state/step']; f['state/step'] = np.bytes_(b'12345678')"
    run --separate-stderr train --resume str.h5 -o out.h5
    refute_crash
    assert_failure 1
    [[ $stderr == *"dataset '/state/step' is not numeric"* ]] || fail "$stderr"
    edit good.h5 arr.h5 "del f['state/lr']; f['state/lr'] = np.zeros(3)"
    run --separate-stderr train --resume arr.h5 -o out.h5
    refute_crash
    assert_failure 1
    [[ $stderr == *"dataset '/state/lr' has 3 elements, expected 1"* ]] || fail "$stderr"
}

# ---- /state on --resume ------------------------------------------------------------

@test "--resume validates /state: permutation, counters, rates, RNG, non-finite parameters and optimiser state" {
    train -o good.h5
    local cases=(
        "f['state/perm'][0] = 4000000000|/state/perm[0] is 4000000000, not an index"
        "p = f['state/perm'][()]; p[1] = p[0]; f['state/perm'][...] = p|holds $(ekn_py -c "import h5py; print(h5py.File('good.h5')['state/perm'][0])") twice"
        "f['state/step'][()] = -5|/state/step is negative"
        "f['state/epoch'][()] = -1|/state/epoch is negative"
        "f['state/perm_pos'][()] = 1 << 40|/state/perm_pos is 1099511627776, past the"
        "f['state/lr'][()] = float('nan')|/state/lr is not a finite rate"
        "f['state/lr_scale'][()] = 0|/state/lr_scale is not a finite scale"
        "f['state/elapsed'][()] = float('inf')|/state/elapsed is not a finite time"
        "f['state/rng_data'][...] = np.zeros(6, np.uint64)|/state/rng_data is all zero"
        "f['state/rng_train'][4] = 7|/state/rng_train has a spare flag"
        "w = [k for k in f['params']][0]; d = f['params'][w]; a = d[()]; a.flat[0] = np.nan; d[...] = a|holds a non-finite value (element 0)"
        "k = [n for n in f['optimizer'] if f['optimizer'][n].ndim > 0][0]; d = f['optimizer'][k]; a = d[()]; a.flat[2] = np.inf; d[...] = a|optimiser state '/optimizer/"
    )
    local i=0
    for c in "${cases[@]}"; do
        edit good.h5 "bad$i.h5" "${c%%|*}"
        run --separate-stderr train --resume "bad$i.h5" -o "out$i.h5"
        refute_crash
        assert_failure 1
        [[ $stderr == *"${c#*|}"* ]] || fail "case '${c%%|*}': $stderr"
        [[ ! -e out$i.h5 ]] || fail "case '${c%%|*}': a checkpoint was written"
        i=$((i + 1))
    done
}

# ---- corrupted files -----------------------------------------------------------

@test "the hostile fixtures: one line each claiming more bytes than the file holds, exit 1" {
    for f in spec format; do
        run --separate-stderr ekn-predict -m "$BATS_TEST_DIRNAME/fixtures/ckpt-corrupt/$f-huge.h5" -o /dev/null \
            "$BATS_TEST_DIRNAME/fixtures/ckpt/img-scalar.in.ekn"
        refute_crash
        assert_failure 1
        [[ $stderr == *"dataset '/$f' claims more bytes than the file holds"* ]] || fail "$f: $stderr"
    done
}

@test "200 corrupted checkpoints: ekn-predict and ekn-train --resume never crash" {
    ekn_py "$BATS_TEST_DIRNAME/ckpt_corrupt.py" "$BATS_TEST_DIRNAME/fixtures/ckpt/img-scalar.h5" c 200 17
    local f rc
    for f in c*.h5; do
        timeout 60 ekn-predict -m "$f" -o /dev/null "$BATS_TEST_DIRNAME/fixtures/ckpt/img-scalar.in.ekn" \
            >/dev/null 2>err && rc=0 || rc=$?
        ((rc <= 3)) || fail "$f: ekn-predict exit $rc: $(cat err)"
    done
    for f in c0[0-4]*.h5; do
        timeout 60 ekn-train --resume "$f" --steps 2 -o out.h5 "$D/img.ekn" >/dev/null 2>err && rc=0 || rc=$?
        ((rc <= 3)) || fail "$f: ekn-train exit $rc: $(cat err)"
    done
}

# ---- the NaN guard ----------------------------------------------------------------

@test "--lr 1000: diverged parameters stop training with exit 1 though the clamped loss is finite; the last good checkpoint is kept" {
    local mlp=(--spec "$NETS/tiny-mlp.spec" --batch 16 --momentum 0.9 --seed 7)
    ekn-train "${mlp[@]}" --lr 0.05 --steps 5 -o model.h5 "$D/vec.ekn"
    cp model.h5 good.h5
    run --separate-stderr ekn-train "${mlp[@]}" --resume model.h5 --lr 1000 --steps 200 -o model.h5 "$D/vec.ekn"
    refute_crash
    assert_failure 1
    [[ $stderr == *"not finite"*"stopping (lower --lr?); the last checkpoint 'model.h5' is kept" ]] || fail "stderr: $stderr"
    cmp model.h5 good.h5 || fail "the good checkpoint was overwritten"
    run --separate-stderr ekn-train "${mlp[@]}" --lr 1000 --steps 200 -o fresh.h5 "$D/vec.ekn"
    assert_failure 1
    [[ $stderr == *"not finite"*"no checkpoint 'fresh.h5' is written" ]] || fail "stderr: $stderr"
    [[ ! -e fresh.h5 ]] || fail "a non-finite checkpoint was written"
}

# ---- temp files and the output directory ---------------------------------------------

@test "temp files of dead processes are removed on the next save; a live process's are kept" {
    sh -c 'exit 0' &
    local dead=$!
    wait "$dead"
    echo junk >"model.h5.tmp.$dead"
    echo junk >"model.h5.tmp.$$"      # this shell: alive
    echo junk >"other.h5.tmp.$dead"   # another output's
    run --separate-stderr train -o model.h5
    assert_success
    [[ ! -e model.h5.tmp.$dead ]] || fail "the dead process's temp file is still there"
    [[ -e model.h5.tmp.$$ ]] || fail "a live process's temp file was removed"
    [[ -e other.h5.tmp.$dead ]] || fail "another output's temp file was removed"
}

@test "a missing or read-only output directory is an error before the first step" {
    run --separate-stderr train --steps 1000000 --log log.tsv -o missing/model.h5
    refute_crash
    assert_failure 1
    [[ $stderr == "ekn-train: 'missing/model.h5': cannot create the checkpoint: No such file or directory" ]] ||
        fail "stderr: $stderr"
    [[ ! -s log.tsv ]] || fail "training started: $(cat log.tsv)"
    [[ $(id -u) == 0 ]] || skip "a read-only mount needs root"
    mkdir ro
    mount -t tmpfs -o ro,size=64k tmpfs ro || skip "cannot mount a tmpfs here"
    run --separate-stderr train --steps 1000000 -o ro/model.h5
    umount ro
    assert_failure 1
    [[ $stderr == *"'ro/model.h5': cannot create the checkpoint: Read-only file system" ]] || fail "stderr: $stderr"
}

# ---- faults: a disk that fills during the write, kill -9 -----------------------

@test "a disk that fills at any point of a checkpoint write: ENOSPC in one line, exit 1, the previous checkpoint kept" {
    [[ $(id -u) == 0 ]] || skip "mounting a tmpfs needs root"
    mkdir small
    mount -t tmpfs -o size=512k tmpfs small || skip "cannot mount a tmpfs here"
    train -o small/model.h5
    cp small/model.h5 before.h5
    local size
    size=$(stat -c %s before.h5)
    # the new file is written beside the old one: leave room for none of it,
    # a page, about a quarter, a half, and all but a page
    local free fails=""
    for free in 0 4096 $((size / 4)) $((size / 2)) $((size - 4096)); do
        rm -f small/fill
        local avail
        avail=$(($(stat -f -c '%a * %S' small)))
        ((avail > free)) && dd if=/dev/zero of=small/fill bs=$((avail - free)) count=1 2>/dev/null
        run --separate-stderr train --steps 7 -o small/model.h5
        cmp -s small/model.h5 before.h5 || fails+=" free=$free: the previous checkpoint changed;"
        ((status == 1)) || fails+=" free=$free: exit $status;"
        [[ $stderr == *"'small/model.h5': "*"No space left on device"* && ${#stderr_lines[@]} == 1 ]] ||
            fails+=" free=$free: stderr '$stderr';"
        compgen -G 'small/*.tmp.*' >/dev/null && fails+=" free=$free: a temp file was left;"
    done
    umount small
    [[ -z $fails ]] || fail "$fails (checkpoint of $size bytes)"
}

@test "kill -9 at random points of a run that saves every step: the checkpoint always loads, temp files do not pile up, and resuming after each kill ends bit-identical to one run" {
    local seed=${EKN_TEST_SEED:-$RANDOM}
    echo "# seed $seed (EKN_TEST_SEED replays)" >&3
    RANDOM=$seed
    local opts=(--save-every 1 --steps 400)
    ekn-train --spec "$NETS/tiny-img-scalar.spec" "${TRAIN_OPTS[@]}" "${opts[@]}" -o whole.h5 "$D/img.ekn"
    local kill pid
    for kill in 1 2 3 4 5 6 7 8 9 10; do
        if [[ -e model.h5 ]]; then
            "$EKN_BIN/ekn-train" --resume model.h5 "${opts[@]}" -o model.h5 "$D/img.ekn" 2>/dev/null 3>&- &
        else
            "$EKN_BIN/ekn-train" --spec "$NETS/tiny-img-scalar.spec" "${TRAIN_OPTS[@]}" "${opts[@]}" -o model.h5 \
                "$D/img.ekn" 2>/dev/null 3>&- &
        fi
        pid=$!
        sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" || true
        # at most the killed run's own temp file: earlier ones were removed on their next save
        local temps
        temps=$(compgen -G 'model.h5.tmp.*' | wc -l)
        ((temps <= 1)) || fail "kill $kill: $temps temp files: $(ls)"
        if [[ -e model.h5 ]]; then
            run --separate-stderr ekn-predict -m model.h5 --eval "$D/img-test.ekn"
            assert_success
        fi
    done
    [[ -e model.h5 ]] || skip "no run lived long enough to save (seed $seed)"
    run --separate-stderr ekn-train --resume model.h5 "${opts[@]}" -o model.h5 "$D/img.ekn"
    assert_success
    h5_same model.h5 whole.h5
    [[ -z $(compgen -G 'model.h5.tmp.*') ]] || fail "temp files left after the last run: $(ls)"
}
