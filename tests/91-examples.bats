#!/usr/bin/env bats
# The example nets and make targets of examples/ on tiny settings: the
# U-Net of examples/nets/unet-isbi.spec on synthetic slices, `make -C
# examples/isbi unet` for a few seconds per net (needs the shared ISBI
# data), and `make -C examples/fmnist autoencoder` for one epoch (needs
# Debian's Fashion-MNIST and gnuplot).
load helper

EXAMPLES="$BATS_TEST_DIRNAME/../examples"

setup() {
    cd "$BATS_TEST_TMPDIR"
}

@test "unet-isbi.spec: valid sizes 44 + 4k; trains on 92x92 patches and predicts a 512x512 slice as its centre 472x472" {
    run ekn-calc "$NETS/unet-isbi.spec" --shape 92,92
    assert_success
    [[ $output == *"output        2x52x52"* && $output == *"parameters    117410 "* ]] || fail "$output"
    [[ $output == *"Y: 44, 48, 52, 56,"* ]] || fail "$output"
    ekn_random_stream slices.ekn image f32 2 1 512 512
    ekn_write_stream slices.ekn label i32 2 512 512 --classes 2 --append
    run --separate-stderr ekn-train --spec "$NETS/unet-isbi.spec" --patch 92,92 --batch 2 --optimizer adam --lr 0.001 \
        --steps 3 --log-every 1 --log log.tsv -o unet.h5 slices.ekn
    refute_crash
    assert_success
    assert_equal "$(tail -n +2 log.tsv | wc -l)" 3
    run --separate-stderr ekn-predict -m unet.h5 --eval -o pred.ekn slices.ekn
    assert_success
    # every pixel of the centre is scored: 2 slices of 472x472
    [[ ${lines[0]} == accuracy$'\t'*"of 445568)" ]] || fail "${lines[0]}"
    run ekn-info pred.ekn
    assert_line --partial "prob f32 [2,2,472,472]"
    run ekn-info -m pred.ekn
    assert_line "0 prob offset=0,20,20"
}

@test "make -C examples/isbi unet: both nets train for UNET_TIME seconds and report a per-pixel error, V_rand and V_info" {
    ekn_need_file "$SHARED/data/isbi2012/train-volume.u8"
    run make -s -C "$EXAMPLES/isbi" unet UNET_TIME=2 THREADS=2 EKN_BIN="$EKN_BIN/" OUT="$BATS_TEST_TMPDIR/isbi" SHARED="$SHARED"
    echo "$output"
    assert_success
    assert_line --regexp '^U-Net \(unet-isbi.spec\), centre 472x472 of each slice: [0-9]+ steps in 2 s, per-pixel error 0\.[0-9]{4} \(accuracy 0\.[0-9]{4}: [0-9]+ of 1113920 pixels\), V_rand 0\.[0-9]{4}, V_info 0\.[0-9]{4}$'
    assert_line --regexp '^current net \(isbi-2d.spec\), dense 480x480 of each slice: [0-9]+ steps in 2 s, per-pixel error 0\.[0-9]{4} \(accuracy 0\.[0-9]{4}: [0-9]+ of 1152000 pixels\), V_rand 0\.[0-9]{4}, V_info 0\.[0-9]{4}$'
}

@test "fmnist-autoencoder.spec: 784-300-200-50 and back with tied weights" {
    run ekn-calc "$NETS/fmnist-autoencoder.spec"
    assert_success
    # the decoder adds only its biases: 784*300+300 + 300*200+200 + 200*50+50 + 200 + 300 + 784
    [[ $output == *"parameters    307034 "* && $output == *"output        784 (regression, linear)"* ]] || fail "$output"
}

@test "make -C examples/fmnist autoencoder (1 epoch): a test mse well below the pixels' variance, and the picture" {
    ekn_need_file "$FMNIST/train-images-idx3-ubyte.gz"
    command -v gnuplot >/dev/null || skip "gnuplot is not installed (Debian: gnuplot-nox)"
    local out=$BATS_TEST_TMPDIR/fmnist
    run make -s -C "$EXAMPLES/fmnist" autoencoder AE_EPOCHS=1 EKN_BIN="$EKN_BIN/" OUT="$out" DATA="$FMNIST"
    echo "$output"
    assert_success
    assert_line --regexp $'^mse\t'
    # the test images' variance is about 0.125; one epoch gets well under a fifth of it
    local mse
    mse=$(awk -F'\t' '$1 == "mse" { print $2 }' "$out/autoencoder-eval.txt")
    awk -v m="$mse" 'BEGIN { exit !(m > 0 && m < 0.025) }' || fail "mse $mse"
    # 8 rows of 8: the test images and their reconstructions, in the input's shape
    run ekn-info "$out/ae-out-0.ekn"
    assert_output --partial "output f32 [8,1,28,28]"
    run ekn_py "$BATS_TEST_DIRNAME/png_info.py" "$out/autoencoder.png"
    assert_success
    read -r w h colours grey <<<"$output"
    ((w > 0 && h > 0 && colours > 20)) || fail "$output"
}

@test "examples/adult and examples/isbi without their data: one clear message naming the missing file, not make's" {
    run make -s -C "$EXAMPLES/adult" SHARED=/nonexistent OUT="$BATS_TEST_TMPDIR/adult"
    assert_failure
    assert_output --partial "examples/adult: no UCI Adult data: /nonexistent/data/adult/adult.data is missing"
    refute_output --partial "No rule to make target"
    run make -s -C "$EXAMPLES/isbi" SHARED=/nonexistent OUT="$BATS_TEST_TMPDIR/isbi"
    assert_failure
    assert_output --partial "examples/isbi: no ISBI 2012 data: /nonexistent/data/isbi2012/train-volume.u8 is missing"
    refute_output --partial "No rule to make target"
    [ ! -e "$BATS_TEST_TMPDIR/adult/train.ekn" ]
}

@test "make -j3 -C examples/blockwise verify: 3 blocks of 3 ISBI slices, joined, are one process's prediction byte for byte" {
    ekn_need_file "$SHARED/data/isbi2012/test-volume.u8"
    ekn_py -c 'import h5py' 2>/dev/null || skip "Debian's python3-h5py is not installed"
    run make -s -j3 -C "$EXAMPLES/blockwise" verify N=3 SLICES=3 STEPS=5 EKN_BIN="$EKN_BIN/" OUT="$BATS_TEST_TMPDIR/bw" SHARED="$SHARED"
    echo "$output"
    assert_success
    assert_line "3 blocks joined: (2, 3, 512, 512) float32, byte for byte one process"
    # a rerun has nothing to do
    run make -j3 -C "$EXAMPLES/blockwise" N=3 SLICES=3 STEPS=5 EKN_BIN="$EKN_BIN/" OUT="$BATS_TEST_TMPDIR/bw" SHARED="$SHARED"
    assert_success
    assert_output --partial "Nothing to be done"
}
