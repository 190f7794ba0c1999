# helper.bash: loaded by every bats file (`load helper`).
#
#   EKN_BIN           directory of the ekn-* binaries under test
#                     [tests/../build/release/bin]; put first on PATH
#   EKN_TEST_WRAPPER  command put in front of every ekn-* run, e.g.
#                     EKN_TEST_WRAPPER='valgrind -q --error-exitcode=99'
#   SHARED            the shared/ checkout beside the repository (data in $SHARED/data)
#   FMNIST            Debian's Fashion-MNIST (package dataset-fashion-mnist)
#
# Helpers: refute_crash, assert_no_stdout, assert_one_line_error, ekn_py,
# ekn_write_stream, ekn_random_stream, ekn_need_bin, ekn_need_file.

bats_require_minimum_version 1.5.0

# bats-support and bats-assert: Debian installs them in /usr/lib/bats,
# which is bats' default BATS_LIB_PATH.
for _lib in bats-support bats-assert; do
    if ! bats_load_library_safe "$_lib" 2>/dev/null; then
        load "/usr/lib/bats/$_lib/load.bash"
    fi
done
unset _lib

EKN_BIN=${EKN_BIN:-$BATS_TEST_DIRNAME/../build/release/bin}
EKN_BIN=$(cd "$EKN_BIN" 2>/dev/null && pwd || printf '%s' "$EKN_BIN")
export EKN_BIN
PATH="$EKN_BIN:$PATH"
export PATH

EKN_SRC=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
NETS=$EKN_SRC/examples/nets
EKN_STREAM_PY="$BATS_TEST_DIRNAME/ekn_stream.py"

# A wrapper (valgrind, ...) applies to every ekn-* command, also inside
# `run bash -c '...'` pipelines, through exported shell functions.
if [[ -n ${EKN_TEST_WRAPPER:-} ]]; then
    for _bin in "$EKN_BIN"/ekn-*; do
        [[ -x $_bin ]] || continue
        _name=${_bin##*/}
        eval "$_name() { $EKN_TEST_WRAPPER $(printf '%q' "$_bin") \"\$@\"; }"
        export -f "$_name"
    done
    unset _bin _name
fi

# The shared data: CI and the workstations clone the repository next to shared/.
SHARED=
for _d in "$BATS_TEST_DIRNAME/../../shared" "$BATS_TEST_DIRNAME/../shared"; do
    if [[ -d $_d/data ]]; then
        SHARED=$(cd "$_d" && pwd)
        break
    fi
done
unset _d
export SHARED
FMNIST=${FMNIST:-/usr/share/datasets/fashion-mnist}
export FMNIST

# Fails when the last `run` died of a signal other than SIGPIPE (git's test_must_fail).
refute_crash() {
    if ((status > 128 && status != 141)); then
        fail "command crashed: exit status $status (signal $((status - 128)))"$'\n'"stderr: ${stderr:-$output}"
    fi
}

# Fails when the last `run` wrote to stdout.  After `run --separate-stderr`,
# $output holds stdout only.
assert_no_stdout() {
    if [[ -n $output ]]; then
        fail "expected no output on stdout, got:"$'\n'"$output"
    fi
}

# After `run --separate-stderr`: stderr is exactly one line and starts with
# the program name ($1, or any ekn-* name).
assert_one_line_error() {
    local prog=${1:-}
    if [[ -z $stderr ]]; then
        fail "expected one line on stderr, got nothing"
    fi
    if ((${#stderr_lines[@]} != 1)); then
        fail "expected one line on stderr, got ${#stderr_lines[@]}:"$'\n'"$stderr"
    fi
    if [[ -n $prog ]]; then
        [[ $stderr == "$prog: "* ]] || fail "stderr does not start with '$prog: ': $stderr"
    else
        [[ $stderr =~ ^ekn-[a-z0-9-]+:\  ]] || fail "stderr does not start with a program name: $stderr"
    fi
}

# Debian's python (numpy, h5py); the python3 first on PATH may lack numpy.
ekn_py() {
    "${EKN_PYTHON:-/usr/bin/python3}" "$@"
}

# ekn_synth_data: the synthetic streams of tests/synth_data.py, made once
# per file (setup_file) in $BATS_FILE_TMPDIR.
ekn_synth_data() {
    ekn_py "$BATS_TEST_DIRNAME/synth_data.py" "$BATS_FILE_TMPDIR"
}

# ekn_test_dir (setup): D names the file's data; the test runs in its own directory.
ekn_test_dir() {
    D=$BATS_FILE_TMPDIR
    cd "$BATS_TEST_TMPDIR"
}

# ekn_install_into PREFIX: `make install` of the build under test (its BUILD
# and CUDA setting, so nothing is recompiled) into PREFIX.
ekn_install_into() {
    local top=$EKN_SRC build cuda=0
    build=$(cd "$EKN_BIN/.." && pwd)
    compgen -G "$build/obj/kernels/*_cuda.o" >/dev/null && cuda=1
    make -s -C "$top" install BUILD="${build#"$top/"}" CUDA=$cuda PREFIX="$1" >/dev/null
}

# ekn_py_stream SCRIPT ARGS...: Debian's python running SCRIPT with numpy
# (np), ekn_stream (es), args (ARGS) and records(PATH) (a stream's records as
# tuples); the caller's $PY_PRELUDE (python) goes in front of SCRIPT.
ekn_py_stream() {
    local script=$1
    shift
    ekn_py - "$BATS_TEST_DIRNAME" "$@" <<EOF
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
args = sys.argv[2:]
def records(path):
    return list(es.read(open(path, 'rb')))
${PY_PRELUDE:-}
$script
EOF
}

# h5_same A B: two checkpoints' /params, /optimizer and /state are byte-identical (tests/h5_same.py)
h5_same() {
    ekn_py "$BATS_TEST_DIRNAME/h5_same.py" "$@"
}

# ekn_write_stream FILE NAME DTYPE [DIM...] [--data seq|random|zeros] [--classes K]
#                  [--value V] [--meta KEY=VALUE] [--seed N] [--append]
# Writes one record (sequential data by default) with tests/ekn_stream.py.
ekn_write_stream() {
    ekn_py "$EKN_STREAM_PY" write "$@"
}

# ekn_random_stream FILE NAME DTYPE [DIM...]: one record of random data.
ekn_random_stream() {
    ekn_write_stream "$@" --data random
}

# Skips the test unless the command exists in $EKN_BIN.
ekn_need_bin() {
    [[ -x $EKN_BIN/$1 ]] || skip "$1 is not built yet"
}

# Skips the test unless the file (e.g. shared data) exists.
ekn_need_file() {
    [[ -e $1 ]] || skip "missing $1"
}

# complete_words WORD...: runs the bash completion (completions/ekn.bash) as
# bash would with the cursor on the last word; the candidates land in COMPREPLY.
complete_words() {
    # shellcheck source=../completions/ekn.bash
    declare -F _ekn >/dev/null || source "$EKN_SRC/completions/ekn.bash"
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _ekn 2>/dev/null
}
