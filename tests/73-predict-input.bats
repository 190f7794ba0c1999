#!/usr/bin/env bats
# Input that float32 cannot hold, metadata that would wrap and labels the
# model has no class for: each is an error naming the file and the record
# (issue 17, section 2), at read time, with nothing on stdout.
load helper

setup_file() {
    local d=$BATS_FILE_TMPDIR
    ekn_py "$BATS_TEST_DIRNAME/synth_data.py" "$d"
    ekn-train --spec "$NETS/tiny-mlp.spec" --batch 16 --lr 0.05 --seed 7 --steps 50 -o "$d/vec.h5" "$d/vec.ekn"
}

setup() {
    ekn_test_dir
}

# vectors FILE DTYPE VALUE [LABEL [META]]: a (4,10) vector record of zeros with
# VALUE at element (2,3), and a label record (labels 0,1,0,LABEL) after it.
vectors() {
    ekn_py - "$BATS_TEST_DIRNAME" "$@" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import ekn_stream as es
path, dt, value = sys.argv[2:5]
x = np.zeros((4, 10), dtype=dt)
x[2, 3] = float(value)
with open(path, 'wb') as f:
    es.write(f, 'vector', x)
    if len(sys.argv) > 5:
        es.write(f, 'label', np.array([0, 1, 0, int(sys.argv[5])], np.int32), sys.argv[6] if len(sys.argv) > 6 else '')
EOF
}

# fails unless the last run exited 1 with no stdout and one line on stderr holding $1
expect_fail() {
    refute_crash
    assert_failure 1
    assert_no_stdout
    assert_one_line_error "${2:-ekn-predict}"
    [[ $stderr == *"$1"* ]] || fail "stderr lacks '$1': $stderr"
}

@test "predict: a NaN input is an error naming the file, the record and the example" {
    vectors nan.ekn float32 nan
    run --separate-stderr ekn-predict -m "$D/vec.h5" nan.ekn
    expect_fail "'nan.ekn': record 0: 'vector': element 23 (example 2): nan is not a finite number"
}

@test "predict: an infinite input is an error" {
    vectors inf.ekn float32 -inf
    run --separate-stderr ekn-predict -m "$D/vec.h5" inf.ekn
    expect_fail "'inf.ekn': record 0: 'vector': element 23 (example 2): -inf is not a finite number"
}

@test "predict: an f64 input beyond float32's range (1e300) is an error, not Inf" {
    vectors big.ekn float64 1e300
    run --separate-stderr ekn-predict -m "$D/vec.h5" big.ekn
    expect_fail "'big.ekn': record 0: 'vector': element 23 (example 2): 1e+300 is outside float32's range"
    # the largest float32 still passes
    vectors max.ekn float64 3.4028234663852886e38
    run --separate-stderr ekn-predict -m "$D/vec.h5" -o out.ekn max.ekn
    assert_success
}

@test "predict --eval: a label >= the model's classes is an error, not dropped" {
    vectors lab.ekn float32 0 2
    run --separate-stderr ekn-predict -m "$D/vec.h5" --eval lab.ekn
    expect_fail "'lab.ekn': record 1: label 2 (element 3) is not a class of the model (0 to 1, or -1 for none)"
    vectors neg.ekn float32 0 -2
    run --separate-stderr ekn-predict -m "$D/vec.h5" --eval neg.ekn
    expect_fail "label -2 (element 3) is not a class"
    # -1 (no label) is left out of the score, as before
    vectors none.ekn float32 0 -1
    run --separate-stderr ekn-predict -m "$D/vec.h5" --eval none.ekn
    assert_success
    assert_line --partial "of 3)"
}

@test "classes= that would wrap an int (4294967298) is an error in predict and train" {
    vectors wrap.ekn float32 0 1 $'classes=4294967298\n'
    run --separate-stderr ekn-predict -m "$D/vec.h5" --eval wrap.ekn
    expect_fail "'wrap.ekn': record 1: bad metadata classes=4294967298 (an integer from 0 to 2147483647)"
    run --separate-stderr ekn-train --spec "$NETS/tiny-mlp.spec" --steps 1 -o m.h5 wrap.ekn
    expect_fail "'wrap.ekn': record 1: bad metadata classes=4294967298" ekn-train
    vectors junk.ekn float32 0 1 $'classes=2x\n'
    run --separate-stderr ekn-predict -m "$D/vec.h5" --eval junk.ekn
    expect_fail "bad metadata classes=2x"
}

@test "preprocess: an NPY f64 value beyond float32 (1e300) is an error at read time" {
    ekn_py -c "
import numpy as np
a = np.zeros((4, 3)); a[1, 2] = 1e300; np.save('big.npy', a)
b = np.zeros((4, 3)); b[3, 0] = np.nan; np.save('nan.npy', b)
np.save('lab.npy', np.array([0, 1, 0, 1]))
t = np.zeros(4); t[2] = -1e39; np.save('tgt.npy', t)
np.save('x.npy', np.zeros((4, 3)))"
    run --separate-stderr ekn-preprocess --standardise none big.npy --labels lab.npy
    expect_fail "'big.npy': element 5 (example 1): 1e+300 is outside float32's range" ekn-preprocess
    run --separate-stderr ekn-preprocess --standardise none nan.npy --labels lab.npy
    expect_fail "'nan.npy': element 9 (example 3): nan is not a finite number" ekn-preprocess
    run --separate-stderr ekn-preprocess --standardise none x.npy --targets tgt.npy
    expect_fail "'tgt.npy': element 2 (example 2): -1e+39 is outside float32's range" ekn-preprocess
}

@test "preprocess: a CSV number beyond float32 (1e39) is an error naming file:line:column" {
    printf 'a,b,c\n1,2,x\n1e39,3,y\n' > t.csv
    run --separate-stderr ekn-preprocess --header --standardise none t.csv
    expect_fail "'t.csv':3:1: '1e39' is outside float32's range (column 'a' is numeric)" ekn-preprocess
    printf 'a,b,c\n1,2,x\n-3.5e38,3,y\n' > u.csv
    run --separate-stderr ekn-preprocess --header --standardise none u.csv
    expect_fail "'u.csv':3:1: '-3.5e38' is outside float32's range" ekn-preprocess
}
