#!/usr/bin/env bats
# The record stream (ekn-stream(5)) between numpy and the C reader, as seen
# through ekn-info: values, concatenation, round trips, and every kind of
# damage a reader must report in one line without crashing.
load helper

setup() {
    cd "$BATS_TEST_TMPDIR" || return 1
}

# poke FILE OFFSET FORMAT VALUE...: overwrite bytes with struct.pack(FORMAT, VALUE...)
poke() {
    ekn_py - "$@" <<'EOF'
import struct, sys
path, off, fmt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
vals = [int(v, 0) for v in sys.argv[4:]]
with open(path, 'r+b') as f:
    f.seek(off)
    f.write(struct.pack(fmt, *vals))
EOF
}

# A reader error: exit 1, nothing on stdout, one line on stderr naming the
# file and containing $1.
assert_stream_error() {
    refute_crash
    ((status == 1)) || fail "exit status $status, expected 1; stderr: $stderr; stdout: $output"
    assert_no_stdout
    assert_one_line_error ekn-info
    [[ $stderr == *"$1"* ]] || fail "stderr lacks '$1': $stderr"
}

@test "numpy writer -> ekn-info: dtype, shape and statistics" {
    ekn_write_stream a.ekn image u8 2 1 4 4 --meta axes=NCYX
    run --separate-stderr ekn-info a.ekn
    assert_success
    assert_output "0 image u8 [2,1,4,4] min 0 max 31 mean 15.5 std 9.23309"
    [[ -z $stderr ]]
}

@test "every dtype is read with the right values" {
    local dt
    for dt in u8 i8 u16 i16 u32 i32 u64 i64 f16 bf16 f32 f64; do
        ekn_write_stream "$dt.ekn" vector "$dt" 3 2
        run --separate-stderr ekn-info "$dt.ekn"
        assert_success
        assert_output "0 vector $dt [3,2] min 0 max 5 mean 2.5 std 1.70783"
        run ekn_py "$EKN_STREAM_PY" read "$dt.ekn"
        assert_output "vector $dt [3,2] 15"$([[ $dt == f* || $dt == bf16 ]] && echo .0)
    done
}

@test "random f32 statistics agree with numpy" {
    ekn_random_stream r.ekn image f32 50 3 7 7 --seed 42
    run --separate-stderr ekn-info --format tsv r.ekn
    assert_success
    IFS=$'\t' read -r idx name dt shape mn mx mean std nan classes <<<"$output"
    [[ $idx == 0 && $name == image && $dt == f32 && $shape == "[50,3,7,7]" && $nan == 0 && -z $classes ]]
    run ekn_py - "$EKN_STREAM_PY" "$mn" "$mx" "$mean" "$std" <<'EOF'
import sys, importlib.util
spec = importlib.util.spec_from_file_location('es', sys.argv[1]); es = importlib.util.module_from_spec(spec)
spec.loader.exec_module(es)
a = next(es.read(open('r.ekn', 'rb')))[1].astype('f8')
got = [float(v) for v in sys.argv[2:]]
want = [a.min(), a.max(), a.mean(), a.std()]
for g, w in zip(got, want):
    assert abs(g - w) <= 1e-6 * max(1, abs(w)), (got, want)
EOF
    assert_success
}

@test "ranks 0 and 8, empty axes, names, labels with -1 and NaN counts" {
    ekn_write_stream s.ekn loss f64 --value 2.5
    ekn_write_stream s.ekn image u8 1 1 1 1 1 1 1 2 --append
    ekn_write_stream s.ekn image f32 0 1 28 28 --append
    ekn_write_stream s.ekn label i32 7 --classes 3 --append
    ekn_write_stream s.ekn label i32 4 --value -1 --append
    ekn_write_stream s.ekn target f32 4 --value nan --append
    ekn_write_stream s.ekn '' u8 3 --append
    run --separate-stderr ekn-info s.ekn
    assert_success
    assert_line -n 0 "0 loss f64 [] min 2.5 max 2.5 mean 2.5 std 0"
    assert_line -n 1 "1 image u8 [1,1,1,1,1,1,1,2] min 0 max 1 mean 0.5 std 0.5"
    assert_line -n 2 "2 image f32 [0,1,28,28] min - max - mean - std -"
    assert_line -n 3 "3 label i32 [7] min 0 max 2 mean 0.857143 std 0.832993 classes 0:3 1:2 2:2"
    assert_line -n 4 "4 label i32 [4] min -1 max -1 mean -1 std 0 classes -1:4"
    assert_line -n 5 "5 target f32 [4] min - max - mean - std - nan 4"
    assert_line -n 6 "6 - u8 [3] min 0 max 2 mean 1 std 0.816497"
    ((${#lines[@]} == 7))
}

@test "--meta prints every metadata line of every record" {
    ekn_write_stream m.ekn image u8 1 1 2 2 --meta axes=NCYX --meta source=a.png
    ekn_write_stream m.ekn label u8 1 --append
    ekn_write_stream m.ekn label u8 1 --meta classes=2 --append
    run --separate-stderr ekn-info --meta m.ekn
    assert_success
    assert_output $'0 image axes=NCYX\n0 image source=a.png\n2 label classes=2'
    run --separate-stderr ekn-info --meta --format tsv m.ekn
    assert_output $'0\timage\taxes\tNCYX\n0\timage\tsource\ta.png\n2\tlabel\tclasses\t2'
}

@test "cat a b | ekn-info --summary counts both streams" {
    ekn_write_stream a.ekn image u8 10 1 4 4
    ekn_write_stream a.ekn label u8 10 --classes 2 --append
    ekn_write_stream b.ekn image u8 6 1 4 4
    ekn_write_stream b.ekn label u8 6 --classes 3 --append
    run --separate-stderr bash -c 'cat a.ekn b.ekn | ekn-info --summary'
    assert_success
    assert_line -n 0 "records: 4 (2 image, 2 label)"
    assert_line -n 1 "examples: 16"
    assert_line -n 2 --partial "image: 2 records, 16 examples, u8 [N,1,4,4] min 0 max 159"
    assert_line -n 3 --partial "label: 2 records, 16 examples, u8 [N] min 0 max 2"
    assert_line -n 4 "label 0: 7 (43.75%)"
    assert_line -n 5 "label 1: 7 (43.75%)"
    assert_line -n 6 "label 2: 2 (12.50%)"
    run --separate-stderr bash -c 'cat a.ekn b.ekn | ekn-info --count'
    assert_output 16
    # several FILE operands are read in order, like cat
    run --separate-stderr ekn-info --count a.ekn b.ekn
    assert_output 16
    run --separate-stderr ekn-info --summary --format tsv a.ekn - <b.ekn
    assert_line -n 0 $'records\t4'
    assert_line -n 1 $'examples\t16'
    assert_line -n 4 $'class\t0\t7\t0.437500'
}

@test "several files: each line names its file; --count counts only image and vector records" {
    ekn_write_stream a.ekn vector f32 5 3
    ekn_write_stream a.ekn target f32 5 --append
    ekn_write_stream b.ekn weights f32 9 9
    run --separate-stderr ekn-info a.ekn b.ekn
    assert_success
    assert_line -n 0 --partial "a.ekn:0 vector f32 [5,3]"
    assert_line -n 1 --partial "a.ekn:1 target f32 [5]"
    assert_line -n 2 --partial "b.ekn:0 weights f32 [9,9]"
    run --separate-stderr ekn-info --count a.ekn b.ekn
    assert_output 5
}

@test "ekn-info < /dev/null: an empty stream has no records" {
    run --separate-stderr ekn-info </dev/null
    assert_success
    assert_no_stdout
    [[ -z $stderr ]]
    run --separate-stderr ekn-info --summary </dev/null
    assert_success
    assert_output $'records: 0\nexamples: 0'
    run --separate-stderr ekn-info --count /dev/null
    assert_output 0
}

@test "numpy roundtrip through tests/ekn_stream.py is byte-identical, and ekn-info agrees" {
    local dt
    for dt in u8 i16 u32 i64 f16 bf16 f32 f64; do
        ekn_random_stream r.ekn "x$dt" "$dt" 3 5 --meta k=v --append
    done
    ekn_py "$EKN_STREAM_PY" roundtrip r.ekn r2.ekn
    cmp r.ekn r2.ekn
    ekn_py "$EKN_STREAM_PY" roundtrip - - <r.ekn | cmp - r.ekn
    diff <(ekn-info r.ekn) <(ekn-info r2.ekn)
}

@test "C -> Python -> C: ekn-preprocess output survives tests/ekn_stream.py unchanged" {
    ekn_need_bin ekn-preprocess
    ekn_need_file "$FMNIST/t10k-images-idx3-ubyte.gz"
    run --separate-stderr ekn-preprocess -o t10k.ekn --labels "$FMNIST/t10k-labels-idx1-ubyte.gz" "$FMNIST/t10k-images-idx3-ubyte.gz"
    refute_crash
    assert_success
    ekn_py "$EKN_STREAM_PY" roundtrip t10k.ekn back.ekn
    cmp t10k.ekn back.ekn
    run --separate-stderr ekn-info --count back.ekn
    assert_output 10000
}

@test "the man page's numpy reader and writer are tests/ekn_stream.py's" {
    local page="$EKN_SRC/man/ekn-stream.5"
    ekn_need_file "$page"
    # the literal block that starts with 'import struct' in ekn-stream(5), roff escapes undone
    sed -n '/^import struct$/,/^\.Ed$/p' "$page" | sed -e '$d' -e 's/\\e/\\/g' -e 's/\\&//g' >page.py
    sed -n '/^# --- begin ekn-stream(5) ---$/,/^# --- end ekn-stream(5) ---$/p' "$EKN_STREAM_PY" | sed -e '1d' -e '$d' >test.py
    [[ -s page.py ]] || fail "no code block starting with 'import struct' in $page"
    diff -u page.py test.py
    # the page's usage example runs, and the C reader agrees
    {
        echo 'import numpy as np'
        cat page.py
        sed -n "/^with open('toy.ekn', 'wb') as f:$/,/^\.Ed$/p" "$page" | sed -e '$d' -e 's/\\e/\\/g'
    } >toy.py
    run ekn_py toy.py
    assert_success
    assert_output $'image float32 (100, 1, 28, 28)\nlabel int32 (100,)'
    run --separate-stderr ekn-info --summary toy.ekn
    assert_success
    assert_line -n 0 "records: 2 (1 image, 1 label)"
    assert_line -n 4 "label 0: 10 (10.00%)"
}

@test "truncation at every byte boundary: one error line, exit 1; at 0 bytes: a valid empty stream" {
    ekn_write_stream t.ekn image u8 1 1 3 3 --meta axes=NCYX
    local first size n
    first=$(stat -c %s t.ekn) # the boundary between the two records
    ekn_write_stream t.ekn label i32 1 --append
    size=$(stat -c %s t.ekn)
    ((first % 64 == 0 && size % 64 == 0 && size > first)) || fail "unexpected sizes $first, $size"
    for ((n = 1; n < size; n++)); do
        ((n == first)) && continue # a valid stream of one record
        head -c "$n" t.ekn >cut.ekn
        run --separate-stderr ekn-info cut.ekn
        refute_crash
        ((status == 1)) || fail "head -c $n: exit $status (stdout: $output)"
        assert_one_line_error ekn-info
        [[ $stderr == *"'cut.ekn': record "*truncated* || $stderr == *"bad magic"* ]] || fail "head -c $n: $stderr"
        if ((n < first)); then
            assert_no_stdout
            [[ $stderr == *"record 0 (byte 0)"* ]] || fail "head -c $n: $stderr"
        else
            assert_output --partial "0 image u8 [1,1,3,3]"
            ((${#lines[@]} == 1)) || fail "head -c $n: output after the error: $output"
            [[ $stderr == *"record 1 (byte $first)"* ]] || fail "head -c $n: $stderr"
        fi
    done
    head -c "$first" t.ekn >one.ekn
    run --separate-stderr ekn-info --count one.ekn
    assert_success
    assert_output 1
    run --separate-stderr ekn-info --summary - < <(head -c 0 t.ekn)
    assert_success
    assert_line -n 0 "records: 0"
    # through a pipe: the message names stdin; --summary prints nothing at all
    run --separate-stderr bash -c "head -c $((first + 66)) t.ekn | ekn-info --summary"
    assert_stream_error "'stdin': record 1 (byte $first): truncated payload (got 2 of 4 bytes)"
    run --separate-stderr bash -c "head -c $((size - 1)) t.ekn | ekn-info --summary"
    assert_stream_error "'stdin': record 1 (byte $first): truncated padding"
}

@test "wrong magic" {
    ekn_write_stream w.ekn image u8 2
    poke w.ekn 1 B 0x4d # 'E' -> 'M'
    run --separate-stderr ekn-info w.ekn
    assert_stream_error "'w.ekn': record 0 (byte 0): bad magic"
    printf 'P5\n28 28\n255\n' >pgm.ekn
    run --separate-stderr ekn-info pgm.ekn
    assert_stream_error "bad magic"
    # garbage after a good record: the error names record 1 and its offset
    ekn_write_stream g.ekn image u8 2
    printf 'garbage' >>g.ekn
    run --separate-stderr ekn-info g.ekn
    refute_crash
    ((status == 1))
    assert_line -n 0 --partial "0 image u8 [2]"
    [[ $stderr == *"record 1 (byte 128): bad magic"* ]]
}

@test "unsupported major version is refused; a newer minor version is read" {
    ekn_write_stream v.ekn image u8 2
    poke v.ekn 4 B 2
    run --separate-stderr ekn-info v.ekn
    assert_stream_error "version 2.0 is not supported"
    poke v.ekn 4 BB 1 7
    poke v.ekn 12 '<I' 0xdeadbeef # flags: ignored by 1.0 readers
    run --separate-stderr ekn-info v.ekn
    assert_success
    assert_output --partial "0 image u8 [2]"
}

@test "unknown dtype codes" {
    local code
    for code in 0 13 255; do
        ekn_write_stream d.ekn image u8 2
        poke d.ekn 6 B "$code"
        run --separate-stderr ekn-info d.ekn
        assert_stream_error "unknown dtype code $code"
    done
}

@test "rank 9 is over the limit" {
    ekn_write_stream r.ekn image u8 1 1 1 1 1 1 1 1
    poke r.ekn 7 B 9
    run --separate-stderr ekn-info r.ekn
    assert_stream_error "rank 9 is over the limit of 8"
}

@test "absurd shapes (2^62 elements) are a clear error, fast, with no allocation" {
    ekn_write_stream h.ekn image u8 1 1
    poke h.ekn 16 '<QQQ' $((1 << 62)) $((1 << 31)) $((1 << 31))
    run --separate-stderr timeout 5 ekn-info h.ekn
    assert_stream_error "shape [2147483648,2147483648] has too many elements"
    # a product that wraps around 2^64
    poke h.ekn 16 '<QQQ' 0 $((1 << 32)) $((1 << 32))
    run --separate-stderr timeout 5 ekn-info h.ekn
    assert_stream_error "too many elements"
    # f32 elements over the 64 GiB payload cap
    ekn_write_stream f.ekn image f32 1
    poke f.ekn 16 '<QQ' $((1 << 40)) $((1 << 38))
    run --separate-stderr timeout 5 ekn-info f.ekn
    assert_stream_error "too many elements"
}

@test "a large payload that is not there is a truncated payload, not a crash" {
    ekn_write_stream l.ekn image u8 1
    poke l.ekn 16 '<QQ' $((1 << 28)) $((1 << 28))
    run --separate-stderr timeout 20 ekn-info l.ekn
    assert_stream_error "truncated payload (the file has 64 of its 268435456 bytes)"
    # a pipe cannot be measured first: the read comes up short
    run --separate-stderr timeout 20 bash -c "cat l.ekn | ekn-info"
    assert_stream_error "truncated payload (got 64 of 268435456 bytes)"
}

@test "header_len must be a multiple of 64, large enough, and at most 1 MiB" {
    local len
    for len in 0 16 63 65 100 $((1 << 20 | 64)) $((1 << 31)) 4294967232; do
        ekn_write_stream hl.ekn image u8 2
        poke hl.ekn 8 '<I' "$len"
        run --separate-stderr ekn-info hl.ekn
        assert_stream_error "invalid header length $len"
    done
    # a header of 128 bytes in a file that ends before: truncated header
    ekn_write_stream hl.ekn image u8 2
    poke hl.ekn 8 '<I' 192
    run --separate-stderr ekn-info hl.ekn
    assert_stream_error "truncated header (got 128 of 192 bytes)"
}

@test "payload_len must match the shape and dtype" {
    ekn_write_stream p.ekn image f32 2 3
    poke p.ekn 16 '<Q' 23
    run --separate-stderr ekn-info p.ekn
    assert_stream_error "payload length 23 does not match shape [2,3] of f32 (24 bytes)"
    poke p.ekn 16 '<Q' 0xffffffffffffffff
    run --separate-stderr ekn-info p.ekn
    assert_stream_error "payload length 18446744073709551615 does not match"
}

@test "name and metadata lengths must fit the header" {
    ekn_write_stream n.ekn image u8 2 --meta a=b
    poke n.ekn 32 '<H' 256
    run --separate-stderr ekn-info n.ekn
    assert_stream_error "name length 256"
    ekn_write_stream n.ekn image u8 2 --meta a=b
    poke n.ekn 32 '<H' 60
    run --separate-stderr ekn-info n.ekn
    assert_stream_error "name length 60 does not fit the header"
    ekn_write_stream n.ekn image u8 2 --meta a=b
    poke n.ekn 39 '<I' 40
    run --separate-stderr ekn-info n.ekn
    assert_stream_error "metadata length 40 does not fit the header"
    ekn_write_stream n.ekn image u8 2 --meta a=b
    poke n.ekn 44 B 0
    run --separate-stderr ekn-info n.ekn
    assert_stream_error "metadata contains a NUL byte"
}

@test "EKN_MAX_PAYLOAD caps one payload" {
    ekn_write_stream c.ekn image f32 250
    run --separate-stderr env EKN_MAX_PAYLOAD=1000 ekn-info --count c.ekn
    assert_success
    assert_output 250
    run --separate-stderr env EKN_MAX_PAYLOAD=999 ekn-info --count c.ekn
    assert_stream_error "shape [250] has too many elements (limit 249)"
    # a larger cap than the default is honoured too, with or without a suffix
    run --separate-stderr env EKN_MAX_PAYLOAD=$((1 << 40)) ekn-info --count c.ekn
    assert_output 250
    run --separate-stderr env EKN_MAX_PAYLOAD=1K ekn-info --count c.ekn
    assert_output 250
    # 0, words and negative numbers are usage errors, not silent limits
    for bad in 0 lots -5 12Q; do
        run --separate-stderr env EKN_MAX_PAYLOAD=$bad ekn-info c.ekn
        assert_failure 2
        assert_one_line_error ekn-info
        [[ $stderr == *"EKN_MAX_PAYLOAD must be a positive byte count"*"'$bad'"* ]]
    done
}

@test "a header claiming more payload than the file holds is truncated, not out of memory" {
    ekn_write_stream c.ekn image f32 250
    # 2^33 floats = 32 GiB, under the default cap
    poke c.ekn 24 '<Q' $((1 << 33))
    poke c.ekn 16 '<Q' $((4 << 33))
    run --separate-stderr ekn-info c.ekn
    assert_stream_error "truncated payload (the file has"
    [[ $stderr != *"out of memory"* ]]
}

@test "errors: a missing file, an unreadable one, conflicting options" {
    run --separate-stderr ekn-info no-such.ekn
    refute_crash
    ((status == 1))
    assert_no_stdout
    assert_one_line_error ekn-info
    [[ $stderr == *"'no-such.ekn': cannot open: No such file or directory" ]]
    # a directory: fopen works, reading fails
    run --separate-stderr ekn-info .
    refute_crash
    ((status == 1))
    assert_no_stdout
    assert_one_line_error ekn-info
    run --separate-stderr ekn-info --summary --count
    ((status == 2))
    assert_no_stdout
    [[ $stderr == *"cannot be combined"* ]]
    run --separate-stderr ekn-info --format json
    ((status == 2))
    [[ $stderr == *"you specified 'json'"* ]]
}

@test "output to a full disk or a closed pipe" {
    ekn_write_stream a.ekn image u8 4 1 2 2
    [[ -w /dev/full ]] || skip "no /dev/full"
    run --separate-stderr bash -c 'ekn-info a.ekn >/dev/full'
    refute_crash
    ((status == 1))
    assert_one_line_error ekn-info
    [[ $stderr == *"write error"* ]]
    for i in $(seq 2000); do cat a.ekn; done >big.ekn
    run --separate-stderr bash -c 'set -o pipefail; ekn-info big.ekn | head -n 1'
    ((status == 141 || status == 0))
    [[ -z $stderr ]]
}

@test "escape sequences in record names and metadata are printed escaped, by ekn-info and in every error message" {
    ekn_py - "$BATS_TEST_DIRNAME" <<'EOF2'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, ekn_stream as es
with open("esc.ekn", "wb") as f:
    es.write(f, "ima\x1b[31mge\tx", np.zeros((1, 2), np.float32), "k=\x1b]0;title\x07\n")
EOF2
    for opt in "" --meta --summary "--format tsv"; do
        # shellcheck disable=SC2086
        run ekn-info $opt esc.ekn
        assert_success
        [[ $output != *$'\x1b'* && $output != *$'\x07'* ]] || fail "ekn-info $opt: $output"
    done
    run ekn-info esc.ekn
    assert_output --partial 'ima\x1b[31mge\x09x'
    run ekn-info --meta esc.ekn
    assert_output --partial 'k=\x1b]0;title\x07'
    run --separate-stderr ekn-train --spec "$BATS_TEST_DIRNAME/../examples/nets/tiny-mlp.spec" -o m.h5 esc.ekn
    assert_failure
    [[ $stderr != *$'\x1b'* ]] || fail "$stderr"
}
