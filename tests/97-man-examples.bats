#!/usr/bin/env bats
# Every EXAMPLES block of every man page runs as written (tests/man_examples.py
# turns a page's section into one script; a block uses what the blocks above
# it made, as a reader going down the page does).  Each page runs in its own
# directory, with `examples/` of the source tree and the files its examples
# take as given (made once, below, from the shared data and Fashion-MNIST).
#
# Two changes keep the suite short, and nothing else is changed: ekn-train is
# given `--time $EKN_EXAMPLE_TIME` (seconds of training, 2 unless a page needs more) unless the example sets
# --time itself, and the data the examples take as given are small.
load helper

setup_file() {
    local fix=$BATS_FILE_TMPDIR/fix shim=$BATS_FILE_TMPDIR/shim
    mkdir -p "$fix" "$shim"
    cat > "$shim/ekn-train" <<EOF
#!/usr/bin/env bash
for a in "\$@"; do
    case \$a in --time|--time=*|-h|--help|--version) exec ${EKN_TEST_WRAPPER:-} "$EKN_BIN/ekn-train" "\$@" ;; esac
done
exec ${EKN_TEST_WRAPPER:-} "$EKN_BIN/ekn-train" --time \${EKN_EXAMPLE_TIME:-2} "\$@"
EOF
    chmod +x "$shim/ekn-train"
    # the examples' python3 is Debian's, with numpy and h5py
    ln -s /usr/bin/python3 "$shim/python3"
    # the C examples build against the installed library, as a user's program would
    ekn_install_into "$BATS_FILE_TMPDIR/inst"
}

# run_page [--skip REGEX]... PAGE [FIXTURE...]: the page's examples in a
# fresh directory where each FIXTURE (a file of $BATS_FILE_TMPDIR/fix) is
# present; NAME=FIXTURE puts it there as NAME.  Lines matching a REGEX are
# not run (man_examples.py).
run_page() {
    local skips=()
    while [[ $1 == --skip ]]; do
        skips+=("$1" "$2")
        shift 2
    done
    local page=$1; shift
    local dir=$BATS_TEST_TMPDIR/$(basename "$page" .md)
    [[ $page != *.md ]] || dir=$BATS_TEST_TMPDIR/ekn
    mkdir -p "$dir"
    ln -s "$EKN_SRC/examples" "$dir/examples"
    local f
    for f in "$@"; do
        ln -s "$BATS_FILE_TMPDIR/fix/${f#*=}" "$dir/${f%%=*}"
    done
    [[ $page == /* ]] || page=$EKN_SRC/man/$page
    ekn_py "$BATS_TEST_DIRNAME/man_examples.py" "${skips[@]}" "$page" > "$dir/examples.sh"
    cd "$dir"
    EKN_TESTS=$BATS_TEST_DIRNAME EKN_CC="cc -std=c11" \
        EKN_CC_FLAGS=$(pkg-config --cflags --libs "$BATS_FILE_TMPDIR/inst/lib/pkgconfig/ekn.pc") \
        PATH="$BATS_FILE_TMPDIR/shim:$PATH" run --separate-stderr bash examples.sh
    echo "$stderr" | tail -n 30
    grep -- "^---" <<<"$stderr" >&3 || true
    refute_crash
    assert_success
}

@test "the harness: a failing example fails its page; output shown after a prompt is not run" {
    cat > "$BATS_TEST_TMPDIR/x.1" <<'EOF'
.Sh EXAMPLES
.Bd -literal -offset indent
$ echo one \e
    two > said.txt
one two
$ test "$(cat said.txt)" = "one two"
.Ed
.Bd -literal -offset indent
ekn-info --count /nonexistent.ekn
echo not reached > reached.txt
.Ed
EOF
    cd "$BATS_TEST_TMPDIR"
    ekn_py "$BATS_TEST_DIRNAME/man_examples.py" x.1 > x.sh
    run --separate-stderr bash x.sh
    assert_failure
    [[ $stderr == *"/nonexistent.ekn"* ]] || fail "stderr: $stderr"
    [[ -e said.txt && ! -e reached.txt ]] || fail "the wrong lines ran"
}

need_fmnist() {
    ekn_need_file "$FMNIST/train-images-idx3-ubyte.gz"
}
need_isbi() {
    ekn_need_file "$SHARED/data/isbi2012/train-volume.u8"
}

@test "ekn-spec(5): every spec of EXAMPLES is valid (ekn-calc)" {
    run_page ekn-spec.5
}

@test "ekn-calc(1): EXAMPLES run" {
    cp "$EKN_SRC/examples/nets/isbi-2d.spec" "$BATS_FILE_TMPDIR/fix/isbi.spec"
    cp "$EKN_SRC/examples/nets/isbi-2d.spec" "$BATS_FILE_TMPDIR/fix/net.spec"
    run_page ekn-calc.1 isbi.spec net.spec
}

# Fashion-MNIST as the pages take it as given: train.ekn (6000 images),
# val.ekn (1000 more), t10k.ekn and test.ekn (the test set), and the raw file.
fmnist_fixtures() {
    need_fmnist
    local fix=$BATS_FILE_TMPDIR/fix
    [[ -e $fix/t10k.ekn ]] && return
    ekn-preprocess "$FMNIST/train-images-idx3-ubyte.gz" --labels "$FMNIST/train-labels-idx1-ubyte.gz" \
        --range 0:6000 -o "$fix/train.ekn"
    ekn-preprocess "$FMNIST/train-images-idx3-ubyte.gz" --labels "$FMNIST/train-labels-idx1-ubyte.gz" \
        --range 6000:7000 -o "$fix/val.ekn"
    ekn-preprocess "$FMNIST/t10k-images-idx3-ubyte.gz" --labels "$FMNIST/t10k-labels-idx1-ubyte.gz" \
        -o "$fix/t10k.ekn"
    ln -s t10k.ekn "$fix/test.ekn"
    ln -s "$FMNIST/t10k-images-idx3-ubyte.gz" "$FMNIST/train-images-idx3-ubyte.gz" "$fix/"
}

@test "ekn-info(1): EXAMPLES run" {
    fmnist_fixtures
    run_page ekn-info.1 t10k.ekn train.ekn val.ekn t10k-images-idx3-ubyte.gz
}

@test "ekn-stream(5): EXAMPLES run (the shell, the numpy reader and writer, the C reader)" {
    fmnist_fixtures
    export EKN_C_INPUT=$BATS_FILE_TMPDIR/fix/val.ekn
    run_page ekn-stream.5 t10k.ekn
}

@test "ekn(7): EXAMPLES run" {
    need_fmnist
    run_page ekn.7
}

# ISBI 2012 (the shared data) and small files of each input format the
# preprocessing page names: images.npy with its labels as IDX inside a tar.xz,
# an HDF5 volume stored x,y,z with a trailing channel, the Adult tables.
other_fixtures() {
    local fix=$BATS_FILE_TMPDIR/fix
    [[ -e $fix/vol.h5 ]] && return
    ln -s "$SHARED/data/isbi2012/train-volume.u8" "$SHARED/data/isbi2012/train-labels.u8" \
        "$SHARED/data/adult/adult.data" "$SHARED/data/adult/adult.test" "$fix/"
    (cd "$fix" && ekn_py - <<'PY'
import struct, tarfile, numpy as np, h5py
g = np.random.default_rng(7)
np.save('images.npy', g.integers(0, 256, (12, 28, 28), dtype=np.uint8))
labels = g.integers(0, 10, 12, dtype=np.uint8)
with open('labels.idx', 'wb') as f:
    f.write(struct.pack('>BBBBI', 0, 0, 8, 1, 12) + labels.tobytes())
with tarfile.open('data.tar.xz', 'w:xz') as t:
    t.add('labels.idx')
with h5py.File('vol.h5', 'w') as f:
    f['raw'] = g.integers(0, 256, (16, 16, 6, 1), dtype=np.uint8)
    f['seg'] = g.integers(0, 2, (16, 16, 6), dtype=np.uint8)
PY
    )
}

@test "ekn-preprocess(1): EXAMPLES run" {
    need_fmnist
    need_isbi
    other_fixtures
    run_page ekn-preprocess.1 train-volume.u8 train-labels.u8 adult.data adult.test images.npy data.tar.xz vol.h5
}

# The model and labelled test slices of examples/isbi: isbi.h5 (isbi-2d.spec
# after a few steps) and isbi-test.ekn (two slices, standardised as for training).
isbi_fixtures() {
    need_isbi
    local fix=$BATS_FILE_TMPDIR/fix raw="--format raw --shape 30,512,512 --dtype u8 --slices --labels $SHARED/data/isbi2012/train-labels.u8"
    [[ -e $fix/isbi.h5 ]] && return
    # shellcheck disable=SC2086
    ekn-preprocess $raw --range 0:20 --standardise global --fit "$fix/isbi.stats" \
        "$SHARED/data/isbi2012/train-volume.u8" -o "$fix/isbi.ekn"
    # shellcheck disable=SC2086
    ekn-preprocess $raw --range 25:27 --apply "$fix/isbi.stats" \
        "$SHARED/data/isbi2012/train-volume.u8" -o "$fix/isbi-test.ekn"
    "$EKN_BIN/ekn-train" --spec "$EKN_SRC/examples/nets/isbi-2d.spec" --patch 113,113 --batch 4 --steps 3 \
        -o "$fix/isbi.h5" "$fix/isbi.ekn" 2>/dev/null
}

@test "ekn-predict(1): EXAMPLES run" {
    fmnist_fixtures
    isbi_fixtures
    # an EM volume in HDF5 as labs keep them: four ISBI slices, uint8 Z,Y,X
    ekn_py -c "import h5py, numpy as np
v = np.fromfile('$SHARED/data/isbi2012/train-volume.u8', np.uint8).reshape(30, 512, 512)
with h5py.File('$BATS_FILE_TMPDIR/fix/em.h5', 'w') as f:
    f['volumes/raw'] = v[25:29]"
    run_page ekn-predict.1 isbi.h5 isbi-test.ekn isbi.stats em.h5
}

@test "ekn-train(1): EXAMPLES run" {
    fmnist_fixtures
    cp "$EKN_SRC/examples/nets/fmnist-mlp.spec" "$BATS_FILE_TMPDIR/fix/net.spec"
    # the run the page signals after 1 s and 2 s must still be training then
    EKN_EXAMPLE_TIME=5 run_page ekn-train.1 net.spec
}

@test "ekn-plot(1): EXAMPLES run" {
    command -v gnuplot >/dev/null || skip "gnuplot is not installed (Debian: gnuplot-nox)"
    fmnist_fixtures
    isbi_fixtures
    local fix=$BATS_FILE_TMPDIR/fix lr
    cp "$EKN_SRC/examples/nets/fmnist-mlp.spec" "$fix/net.spec"
    for lr in 0.01 0.05; do
        "$EKN_BIN/ekn-train" --spec "$fix/net.spec" --lr $lr --steps 30 --log "$fix/lr$lr.tsv" -o "$fix/lr$lr.h5" "$fix/train.ekn" 2>/dev/null
    done
    "$EKN_BIN/ekn-train" --spec "$EKN_SRC/examples/nets/fmnist-cnn.spec" --steps 3 -o "$fix/model.h5" "$fix/train.ekn" 2>/dev/null
    "$EKN_BIN/ekn-train" --spec "$EKN_SRC/examples/nets/fmnist-autoencoder.spec" --steps 3 -o "$fix/ae.h5" "$fix/train.ekn" 2>/dev/null
    ln -sf isbi.ekn "$fix/seg-train.ekn"
    ln -sf isbi-test.ekn "$fix/seg-test.ekn"
    ln -sf isbi.h5 "$fix/seg.h5"
    run_page ekn-plot.1 net.spec train.ekn val.ekn test.ekn lr0.01.tsv lr0.05.tsv model.h5 ae.h5 \
        seg-train.ekn seg-test.ekn seg.h5 t10k-images-idx3-ubyte.gz
}

# ISBI 2012 as one 30x512x512 volume (as ekn-preprocess(1) makes it), 23x185x185
# patches of it with a margin for a warp, and 2D slices of two shapes.
volume_fixtures() {
    isbi_fixtures
    local fix=$BATS_FILE_TMPDIR/fix d=$SHARED/data/isbi2012
    [[ -e $fix/isbi3d.ekn ]] && return
    ekn-preprocess "$d/train-volume.u8" --shape 30,512,512 --labels "$d/train-labels.u8" --spacing 50,4,4 \
        -o "$fix/isbi3d.ekn"
    ekn-batch --patch 23,185,185 --patches-per-epoch 8 -b 4 "$fix/isbi3d.ekn" > "$fix/patches.ekn"
    ekn-batch --patch 256,256 --patches-per-epoch 8 -b 4 "$fix/isbi.ekn" > "$fix/isbi-256.ekn"
}

@test "ekn-batch(1): EXAMPLES run" {
    fmnist_fixtures
    volume_fixtures
    run_page ekn-batch.1 fmnist-train.ekn=train.ekn isbi.ekn=isbi3d.ekn a.ekn=isbi.ekn b.ekn=isbi-256.ekn
}

@test "ekn-augment(1): EXAMPLES run" {
    fmnist_fixtures
    volume_fixtures
    run_page ekn-augment.1 patches.ekn
}

@test "ekn-checkpoint(5): EXAMPLES run" {
    fmnist_fixtures
    "$EKN_BIN/ekn-train" --spec "$EKN_SRC/examples/nets/fmnist-cnn.spec" --steps 3 -o "$BATS_FILE_TMPDIR/fix/model.h5" \
        "$BATS_FILE_TMPDIR/fix/train.ekn" 2>/dev/null
    run_page ekn-checkpoint.5 model.h5
}

@test "README.md: every code block runs (its make targets: CI and tests/91-examples.bats)" {
    need_fmnist
    need_isbi
    # The README's paths are relative to the repository, with shared/ beside it.
    local top=$BATS_TEST_TMPDIR/readme skips=(--skip '^make ')
    mkdir -p "$top/ekn"
    ln -s "$SHARED" "$top/shared"
    ekn_write_stream "$top/probe.ekn" vector f32 2 10
    ekn_write_stream "$top/probe.ekn" label i32 2 --classes 2 --append
    if ! ekn-train --device cuda --spec "$EKN_SRC/examples/nets/tiny-mlp.spec" --steps 1 -o "$top/probe.h5" \
        "$top/probe.ekn" 2>/dev/null; then
        skips+=(--skip '--device cuda')
    fi
    # `make deps demo` and `make deps check` are CI's own job (.ci/run); the
    # make -C examples/... targets run in tests/91-examples.bats, for seconds
    BATS_TEST_TMPDIR=$top run_page "${skips[@]}" ../README.md
}
