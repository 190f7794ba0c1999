#!/usr/bin/env bats
# ekn-calc: the CNN calculator through the command line.
load helper
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

setup() {
    # conv3, pool2, conv3, pool2 in 2D (img-scalar: its FOV of 10 is even)
    cat >"$BATS_TEST_TMPDIR/net2d.spec" <<'EOF'
[input]
mode = img-scalar
channels = 1
shape = 26,26
[conv]
filters = 4
size = 3,3
[pool]
size = 2,2
[conv]
filters = 4
size = 3,3
[pool]
size = 2,2
[dense]
units = 3
act = softmax
EOF
    # ELEKTRONN's anisotropic example: Y,X filters 4,3,3,3,2 / pools 2,2,1,1,1;
    # Z filters 1,1,3,3,1, no pooling; MFP on the two pools
    cat >"$BATS_TEST_TMPDIR/net3d.spec" <<'EOF'
[input]
mode = img-img
channels = 1
[conv]
filters = 8
size = 1,4,4
[pool]
size = 1,2,2
mfp = 1
[conv]
filters = 8
size = 1,3,3
[pool]
size = 1,2,2
mfp = 1
[conv]
filters = 8
size = 3,3,3
[conv]
filters = 8
size = 3,3,3
[conv]
filters = 2
size = 1,2,2
act = softmax
EOF
}

@test "ekn-calc: 2D conv3 pool2 conv3 pool2: 26 -> 5, FOV 10, stride 4" {
    run ekn-calc --format shell "$BATS_TEST_TMPDIR/net2d.spec"
    assert_success
    assert_line "EKN_INPUT_SHAPE=1,26,26"
    assert_line "EKN_FOV=10,10"
    assert_line "EKN_STRIDE=4,4"
    assert_line "EKN_OFFSET=5,5"
    assert_line "EKN_VALID_X=10,14,18,22,26,30,34,38"
    assert_line "EKN_VALID_Y_MIN=10"
    assert_line "EKN_VALID_Y_STEP=4"
    assert_line "EKN_OUTPUT_SHAPE=3"
    assert_line "EKN_CLASSES=3"
    # per-layer sizes 24, 12, 10, 5 and FOVs 3, 4, 8, 10
    run ekn-calc --format json "$BATS_TEST_TMPDIR/net2d.spec"
    assert_success
    assert_output --partial '"name":"conv1","kind":"conv","line":5,"units":4,"act":"relu","size":[3,3],"channels_in":1,"in":[26,26],"channels_out":4,"out":[24,24],"fov":[3,3]'
    assert_output --partial '"out":[12,12],"fov":[4,4],"stride":[2,2]'
    assert_output --partial '"out":[10,10],"fov":[8,8]'
    assert_output --partial '"out":[5,5],"fov":[10,10],"stride":[4,4],"overlap":[6,6],"offset":[5,5]'
}

@test "ekn-calc: --desired gives the largest valid size not above it" {
    run ekn-calc --format shell --desired 28,28 "$BATS_TEST_TMPDIR/net2d.spec"
    assert_success
    assert_line "EKN_DESIRED=28,28"
    assert_line "EKN_NEAREST=26,26"
    run ekn-calc --desired 3,31 "$BATS_TEST_TMPDIR/net2d.spec"
    assert_success
    assert_line --partial "desired       3,31 -> nearest valid 10,30"
}

@test "ekn-calc: 3D anisotropic: FOV 5,31,31, stride 1,4,4, 7,127,127 -> 3,25,25" {
    run ekn-calc --format shell --shape 7,127,127 "$BATS_TEST_TMPDIR/net3d.spec"
    assert_success
    assert_line "EKN_FOV=5,31,31"
    assert_line "EKN_STRIDE=1,4,4"
    assert_line "EKN_OFFSET=2,15,15"
    assert_line "EKN_OUTPUT_SIZE=3,25,25"
    assert_line "EKN_OUTPUT_SHAPE=2,3,25,25"
    assert_line "EKN_LABEL_SIZE=3,25,25"
    assert_line "EKN_VALID_X=31,35,39,43,47,51,55,59"
    assert_line "EKN_VALID_Z=5,6,7,8,9,10,11,12"
    run ekn-calc --format json --shape 7,127,127 "$BATS_TEST_TMPDIR/net3d.spec"
    assert_success
    for o in '[7,124,124]' '[7,62,62]' '[7,60,60]' '[7,30,30]' '[5,28,28]' '[3,26,26]' '[3,25,25]'; do
        assert_output --partial "\"out\":$o"
    done
}

@test "ekn-calc: 3D with --mfp: 127 becomes 126, dense output 96" {
    run ekn-calc --format shell --mfp --desired 7,127,127 "$BATS_TEST_TMPDIR/net3d.spec"
    assert_success
    assert_line "EKN_NEAREST=7,126,126"
    assert_line "EKN_INPUT_SIZE=7,126,126"
    assert_line "EKN_MFP=1"
    assert_line "EKN_LABEL_SIZE=3,96,96"
    assert_line "EKN_FRAGMENTS=1,4,4"
    assert_line "EKN_OUTPUT_SIZE=3,24,24"
    assert_line "EKN_VALID_X_MIN=34"
    run ekn-calc --mfp --shape 7,126,126 "$BATS_TEST_TMPDIR/net3d.spec"
    assert_success
    assert_line --partial "label patch   3x96x96 (Z,Y,X)"
}

@test "ekn-calc: the shell format can be evaluated" {
    run ekn-calc --format shell --batch 32 "$NETS/fmnist-cnn.spec"
    assert_success
    eval "$output"
    [ "$EKN_PARAMS" -eq 317066 ]
    [ "$EKN_INPUT_SHAPE" = "1,28,28" ]
    [ "$EKN_BATCH" -eq 32 ]
    [ "$EKN_BATCH_ACT_BYTES" -eq $((EKN_ACT_BYTES * 32)) ]
    [ "$EKN_FLOPS" -gt 0 ]
}

@test "ekn-calc: every example spec" {
    for f in fmnist-cnn fmnist-mlp isbi-2d aniso-3d; do
        run ekn-calc "$NETS/$f.spec"
        assert_success
        assert_line --partial "parameters"
    done
    run ekn-calc --shape 14 "$NETS/adult-mlp.spec"
    assert_success
    assert_line --regexp '^output +2 \(2 classes, softmax\)'
    run ekn-calc --mfp --desired 256,256 "$NETS/isbi-2d.spec"
    assert_success
    assert_line --partial "max fragment pooling"
}

@test "ekn-calc: json is one valid object" {
    command -v python3 >/dev/null || skip "no python3"
    for f in fmnist-cnn fmnist-mlp isbi-2d aniso-3d; do
        ekn-calc --format json "$NETS/$f.spec" |
            python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["params"] > 0 and d["layers"]'
    done
    ekn-calc --format json --mfp --desired 9,200,200 "$NETS/aniso-3d.spec" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["label_size"] == [5,168,168], d'
}

@test "ekn-calc: a pool remainder is exit 3 with one line naming the file, layer and nearest sizes" {
    run --separate-stderr ekn-calc --shape 28,26 "$BATS_TEST_TMPDIR/net2d.spec"
    assert_failure 3
    assert_output ""
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == "ekn-calc: $BATS_TEST_TMPDIR/net2d.spec:13: layer 'pool4': "* ]]
    [[ "$stderr" == *"in Y"* ]]
    [[ "$stderr" == *"nearest valid input sizes in Y: 26, 30" ]]
}

@test "ekn-calc: MFP-invalid size is exit 3 naming the nearest MFP sizes" {
    run --separate-stderr ekn-calc --mfp --shape 7,127,127 "$BATS_TEST_TMPDIR/net3d.spec"
    assert_failure 3
    assert_output ""
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == *"net3d.spec:7: layer 'pool2'"*"126, 130" ]]
}

@test "ekn-calc: spec errors are exit 3 with FILE:LINE" {
    printf '[input]\nmode = img-scalar\nshape = 28,28\n[conv]\nfilters = 3\nsize = 3,3\nstrides = 2\n' \
        >"$BATS_TEST_TMPDIR/bad.spec"
    run --separate-stderr ekn-calc "$BATS_TEST_TMPDIR/bad.spec"
    assert_failure 3
    assert_output ""
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == "ekn-calc: $BATS_TEST_TMPDIR/bad.spec:7: unknown key 'strides' in [conv]"* ]]

    # img-img needs an odd field of view
    sed -e 's/img-scalar/img-img/' -e '/^shape/d' -e '/^\[dense\]/,$d' "$BATS_TEST_TMPDIR/net2d.spec" \
        >"$BATS_TEST_TMPDIR/even.spec"
    printf '[conv]\nfilters = 2\nsize = 1,1\nact = softmax\n' >>"$BATS_TEST_TMPDIR/even.spec"
    run --separate-stderr ekn-calc "$BATS_TEST_TMPDIR/even.spec"
    assert_failure 3
    assert_output ""
    [[ "$stderr" == *"even.spec:"*"field of view is 10 in Y"* ]]
}

@test "ekn-calc: a missing file is exit 1" {
    run --separate-stderr ekn-calc "$BATS_TEST_TMPDIR/nonexistent.spec"
    assert_failure 1
    assert_output ""
    [[ "$stderr" == *"nonexistent.spec"* ]]
}

@test "ekn-calc: usage errors are exit 2" {
    run ekn-calc
    assert_failure 2
    run ekn-calc a.spec b.spec
    assert_failure 2
    run ekn-calc --format xml "$NETS/fmnist-cnn.spec"
    assert_failure 2
    run ekn-calc --shape 28,28,28,28 "$NETS/fmnist-cnn.spec"
    assert_failure 2
    run ekn-calc --shape 2,28,28 "$NETS/fmnist-cnn.spec"
    assert_failure 2
    run ekn-calc --desired 28 "$NETS/fmnist-cnn.spec"
    assert_failure 2
    run ekn-calc --batch 0 "$NETS/fmnist-cnn.spec"
    assert_failure 2
    run ekn-calc "$NETS/adult-mlp.spec"
    assert_failure 2
    assert_output --partial "--shape"
}

@test "ekn-calc: --help, --version and --completion-helper" {
    run ekn-calc --help
    assert_success
    assert_output --partial "--desired"
    assert_output --partial "table|shell|json"
    run ekn-calc --version
    assert_success
    assert_output --regexp '^ekn-calc '
    run ekn-calc --completion-helper
    assert_success
    assert_line "--mfp"
    assert_line "--shape="
}

@test "ekn-calc: channel maxout divides the channels, keeps the geometry, and its errors name the line" {
    cat >"$BATS_TEST_TMPDIR/maxout.spec" <<'EOF2'
[input]
mode = img-scalar
channels = 1
shape = 12,12
[conv]
filters = 6
size = 3,3
act = linear
[pool]
maxout = 3
[dense]
units = 2
act = softmax
EOF2
    run ekn-calc --format json "$BATS_TEST_TMPDIR/maxout.spec"
    assert_success
    /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.argv[1]); L = d["layers"]
assert L[1]["maxout"] == 3, L[1]
assert L[1]["channels_in"] == 6 and L[1]["channels_out"] == 2, L[1]
assert L[1]["out"] == L[0]["out"] == [10, 10], L[1]
assert d["params"] == 6 * 9 + 6 + 2 * 100 * 2 + 2, d["params"]
' "$output"
    sed 's/maxout = 3/maxout = 4/' "$BATS_TEST_TMPDIR/maxout.spec" >"$BATS_TEST_TMPDIR/bad.spec"
    run ekn-calc "$BATS_TEST_TMPDIR/bad.spec"
    assert_failure 3
    assert_output --partial "bad.spec:9: layer 'pool2': maxout = 4 needs a multiple of 4 channels, not 6"
    sed 's/maxout = 3/maxout = 3\nsize = 2,2/' "$BATS_TEST_TMPDIR/maxout.spec" >"$BATS_TEST_TMPDIR/bad.spec"
    run ekn-calc "$BATS_TEST_TMPDIR/bad.spec"
    assert_failure 3
    assert_output --partial "bad.spec:11: 'size' with 'maxout'"
    sed 's/maxout = 3/maxout = 1/' "$BATS_TEST_TMPDIR/maxout.spec" >"$BATS_TEST_TMPDIR/bad.spec"
    run ekn-calc "$BATS_TEST_TMPDIR/bad.spec"
    assert_failure 3
    assert_output --partial "'maxout' must be in 2.."
}
