#!/usr/bin/env bats
# make install into a scratch prefix: the library, headers and pkg-config
# file build a program against the stream C API, the numpy module reads
# what it wrote, the commands are stripped, and each shell has one
# completion file.  The build that is tested is reused (its BUILD and CUDA
# setting), so nothing is recompiled.
load helper

setup_file() {
    ekn_install_into "$BATS_FILE_TMPDIR/inst"
}

setup() {
    P=$BATS_FILE_TMPDIR/inst
    cd "$BATS_TEST_TMPDIR"
}

@test "install: a C program built with pkg-config against the installed tree writes a stream ekn-info and the numpy module read" {
    cat >prog.c <<'EOF2'
#include <stdio.h>
#include "stream.h"
int main(int argc, char **argv)
{
    float x[6] = {1, 2, 3, 4, 5, 6};
    uint64_t shape[2] = {2, 3};
    ekn_writer w;
    ekn_err err = {0};
    if (argc != 2 || ekn_writer_open(&w, argv[1], 0, &err) ||
        ekn_stream_write_raw(&w, EKN_F32, 2, shape, "vector", "", x, &err) || ekn_writer_close(&w, &err)) {
        fprintf(stderr, "prog: %s\n", err.msg);
        return 1;
    }
    return 0;
}
EOF2
    run pkg-config --cflags --libs "$P/lib/pkgconfig/ekn.pc"
    assert_success
    local flags=$output
    # shellcheck disable=SC2086
    cc -std=c11 prog.c $flags -o prog
    ./prog out.ekn
    run "$P/bin/ekn-info" out.ekn
    assert_success
    assert_output --partial "vector"
    run env PYTHONPATH="$P/lib/python3/dist-packages" "${EKN_PYTHON:-/usr/bin/python3}" -c '
import sys, ekn_stream
recs = list(ekn_stream.read(open(sys.argv[1], "rb")))
assert recs[0][0] == "vector" and recs[0][1].tolist() == [[1, 2, 3], [4, 5, 6]], recs
print("read back")' out.ekn
    assert_success
    assert_output "read back"
}

@test "install: stripped commands, the example specs, one completion file per shell (links for the commands)" {
    for b in "$P"/bin/ekn-*; do
        run nm "$b"
        assert_output --partial "no symbols"
    done
    [[ -f $P/share/ekn/nets/fmnist-cnn.spec && -f $P/share/man/man5/ekn-stream.5 ]]
    local c=$P/share/bash-completion/completions
    [[ -f $c/ekn && ! -L $c/ekn ]]
    for b in "$P"/bin/ekn-*; do
        [[ -L $c/$(basename "$b") && $(readlink "$c/$(basename "$b")") == ekn ]]
    done
    [[ $(find "$c" -type f | wc -l) == 1 && -f $P/share/zsh/site-functions/_ekn ]]
}
