#!/usr/bin/env bats
# Checkpoint writes under hostile conditions (issue 17): -o on a device, a
# FIFO or a symlink; a full disk; the previous checkpoint always kept.
load helper

NETS="$BATS_TEST_DIRNAME/../examples/nets"
TRAIN_OPTS=(--batch 16 --lr 0.05 --momentum 0.9 --seed 7)

setup_file() {
    ekn_py "$BATS_TEST_DIRNAME/synth_data.py" "$BATS_FILE_TMPDIR"
}

setup() {
    D=$BATS_FILE_TMPDIR
    cd "$BATS_TEST_TMPDIR"
}

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

@test "-o on a character device is refused, the device node stays" {
    [[ $(id -u) == 0 ]] || skip "mknod needs root"
    mknod full c 1 7   # /dev/full's numbers, in the test's own directory
    run --separate-stderr train -o full
    refute_crash
    assert_failure 1
    [[ $stderr == *"'full': not a regular file"* ]] || fail "stderr: $stderr"
    [[ -c full ]] || fail "the device node was replaced by a file"
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
