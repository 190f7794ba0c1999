#!/usr/bin/env bats
# --device of ekn-train and ekn-predict.  Without a GPU the device code
# paths (device buffers, uploads of every batch, host-drawn dropout and
# noise, the host copy of theta for checkpoints, downloads of outputs) run
# with EKN_KERNELS=staged: the CPU kernels behind the device-memory
# interface.  They must give exactly what the plain CPU path gives, so
# every comparison here is bit for bit.  The GPU itself is tested by
# tests/92-train-cuda.bats and bench/gpu_check.sh.
load helper
load synth

TRAIN_OPTS=(--batch 16 --lr 0.05 --momentum 0.9 --seed 7 --log-every 1 --gain-every 5)

# train_both NAME SPEC DATA [OPTIONS...]: the same run with the cpu and the staged tables
train_both() {
    local name=$1 spec=$2 data=$3
    shift 3
    run --separate-stderr ekn-train --device cpu --spec "$NETS/$spec" "${TRAIN_OPTS[@]}" "$@" \
        --log "$name-cpu.tsv" -o "$name-cpu.h5" "$data"
    assert_success
    EKN_KERNELS=staged run --separate-stderr ekn-train --device cpu --spec "$NETS/$spec" "${TRAIN_OPTS[@]}" "$@" \
        --log "$name-staged.tsv" -o "$name-staged.h5" "$data"
    assert_success
    h5_same "$name-cpu.h5" "$name-staged.h5"
    # the logs agree in every column but the clock and the rate
    diff <(cut -f1,2,5-17 "$name-cpu.tsv") <(cut -f1,2,5-17 "$name-staged.tsv")
}

@test "staged device path: img-scalar with dropout, input noise and validation trains bit-identically to the CPU" {
    train_both img tiny-img-scalar.spec "$D/img.ekn" --steps 40 --val "$D/img-test.ekn" --val-every 10
}

@test "staged device path: img-img patches with dropout, class weights and validation patches" {
    train_both seg tiny-img-img.spec "$D/seg.ekn" --steps 30 --class-weights 1,2 --val "$D/seg.ekn" --val-every 10 \
        --val-examples 8
}

@test "staged device path: regression and every optimiser with state" {
    train_both reg tiny-regress.spec "$D/reg.ekn" --steps 20
    for o in nesterov rprop cg lbfgs adam adamw; do
        train_both "mlp-$o" tiny-mlp.spec "$D/vec.ekn" --steps 8 --optimizer "$o" --weight-decay 1e-3
    done
}

@test "a checkpoint moves between devices: staged run resumed on the cpu equals an uninterrupted cpu run" {
    run ekn-train --device cpu --spec "$NETS/tiny-img-scalar.spec" "${TRAIN_OPTS[@]}" --steps 30 -o whole.h5 "$D/img.ekn"
    assert_success
    EKN_KERNELS=staged run ekn-train --device cpu --spec "$NETS/tiny-img-scalar.spec" "${TRAIN_OPTS[@]}" --steps 12 \
        -o part.h5 "$D/img.ekn"
    assert_success
    run ekn-train --device cpu --resume part.h5 "${TRAIN_OPTS[@]}" --steps 30 -o part.h5 "$D/img.ekn"
    assert_success
    h5_same whole.h5 part.h5
}

@test "ekn-predict: the staged path writes the same stream as the cpu, plain and --dense" {
    run ekn-train --device cpu --spec "$NETS/tiny-img-img.spec" "${TRAIN_OPTS[@]}" --steps 20 -o seg.h5 "$D/seg.ekn"
    assert_success
    ekn-predict --device cpu -m seg.h5 -o cpu.ekn "$D/seg-test.ekn"
    EKN_KERNELS=staged ekn-predict --device cpu -m seg.h5 -o staged.ekn "$D/seg-test.ekn"
    cmp cpu.ekn staged.ekn
    # no mfp in the spec: shift and stitch on both
    ekn-predict --device cpu --dense --no-mfp -m seg.h5 -o dcpu.ekn "$D/seg-test.ekn"
    EKN_KERNELS=staged run --separate-stderr ekn-predict -v --device cpu --dense -m seg.h5 -o dstaged.ekn \
        "$D/seg-test.ekn"
    assert_success
    [[ $stderr == *"shift and stitch"* ]]
    cmp dcpu.ekn dstaged.ekn
}

@test "ekn-predict --dense: max fragment pooling on device memory (staged) writes the cpu's stream" {
    sed '/^\[pool\]/a mfp = 1' "$NETS/tiny-img-img.spec" >mfp.spec
    grep -q 'mfp = 1' mfp.spec
    run ekn-train --device cpu --spec mfp.spec "${TRAIN_OPTS[@]}" --steps 20 -o mfp.h5 "$D/seg.ekn"
    assert_success
    local b
    for b in 64 3; do # one pass per record, and a short last batch of tiles
        run --separate-stderr ekn-predict -v --device cpu --dense -b $b --tile 10,10 -m mfp.h5 -o cpu$b.ekn \
            "$D/seg-test.ekn"
        assert_success
        [[ $stderr == *"max fragment pooling"* ]]
        EKN_KERNELS=staged run --separate-stderr ekn-predict -v --device cpu --dense -b $b --tile 10,10 -m mfp.h5 \
            -o staged$b.ekn "$D/seg-test.ekn"
        assert_success
        [[ $stderr == *"max fragment pooling"* ]]
        cmp cpu$b.ekn staged$b.ekn
    done
}

@test "--device: an unknown name is a usage error naming the choices" {
    run --separate-stderr ekn-train --device gpu --spec "$NETS/tiny-mlp.spec" "$D/vec.ekn"
    assert_failure 2
    assert_one_line_error ekn-train
    [[ $stderr == *"unknown device 'gpu'"*"cpu, cuda or cuda:N"* ]]
    run --separate-stderr ekn-predict --device cuda:x -m nothing.h5 "$D/vec.ekn"
    assert_failure 2
    assert_one_line_error ekn-predict
}

@test "--device cuda without a usable GPU fails with the reason; auto falls back to the CPU" {
    run --separate-stderr ekn-train --device cuda --spec "$NETS/tiny-mlp.spec" --steps 2 -o gpu.h5 "$D/vec.ekn"
    if [ "$status" -eq 0 ]; then skip "a CUDA device is present: tests/92-train-cuda.bats covers it"; fi
    assert_failure 1
    assert_one_line_error ekn-train
    [[ $stderr == *"device 'cuda'"*@(built without CUDA|no CUDA device|CUDA backend did not load)* ]]
    [ ! -e gpu.h5 ]
    run ekn-train --device auto --spec "$NETS/tiny-mlp.spec" --batch 16 --seed 7 --steps 5 -o auto.h5 "$D/vec.ekn"
    assert_success
    run ekn-train --device cpu --spec "$NETS/tiny-mlp.spec" --batch 16 --seed 7 --steps 5 -o cpu.h5 "$D/vec.ekn"
    assert_success
    h5_same auto.h5 cpu.h5
}

@test "a CUDA build's commands link no CUDA library; without them they run on the CPU and --device cuda names what is missing" {
    local backend
    backend=$(dirname "$EKN_BIN")/lib/ekn/libekn-cuda.so
    [[ -e $backend ]] || skip "a build without CUDA"
    local bin
    for bin in "$EKN_BIN"/ekn-*; do
        ! ldd "$bin" | grep -E 'libcu(dnn|blas|dart)' || fail "$bin links a CUDA library"
    done
    ldd "$backend" | grep -q libcudnn
    # hide the CUDA libraries (a private mount namespace: root only)
    local cuda
    cuda=$(ldd "$backend" | awk '/libcudnn/ { print $3 }')
    cuda=$(dirname "$(readlink -f "$cuda")")
    mkdir empty
    unshare -m sh -c "mount --bind '$PWD/empty' '$cuda'" 2>/dev/null ||
        skip "cannot hide the CUDA libraries here (unshare -m and mount --bind need root, outside a locked container)"
    run --separate-stderr unshare -m bash -c "mount --bind '$PWD/empty' '$cuda' &&
        ekn-train --spec '$NETS/tiny-mlp.spec' --batch 16 --seed 7 --steps 5 -o auto.h5 '$D/vec.ekn' &&
        ekn-train --device cuda --spec '$NETS/tiny-mlp.spec' --steps 2 -o gpu.h5 '$D/vec.ekn'"
    assert_failure 1
    assert_one_line_error ekn-train
    [[ $stderr == *"device 'cuda': the CUDA backend did not load: libcud"*"cannot open shared object file"* ]] ||
        fail "$stderr"
    run ekn-train --device cpu --spec "$NETS/tiny-mlp.spec" --batch 16 --seed 7 --steps 5 -o cpu.h5 "$D/vec.ekn"
    assert_success
    h5_same auto.h5 cpu.h5
    # a backend that is not there, or not ekn's
    EKN_CUDA_BACKEND=/nonexistent.so run --separate-stderr ekn-train --device cuda --spec "$NETS/tiny-mlp.spec" \
        --steps 2 -o gpu.h5 "$D/vec.ekn"
    assert_failure 1
    [[ $stderr == *"/nonexistent.so: cannot open shared object file"* ]] || fail "$stderr"
    EKN_CUDA_BACKEND=$(ldd "$backend" | awk '/libm\.so/ { print $3 }') run --separate-stderr ekn-train --device cuda \
        --spec "$NETS/tiny-mlp.spec" --steps 2 -o gpu.h5 "$D/vec.ekn"
    assert_failure 1
    [[ $stderr == *"is not this ekn's CUDA backend (no ekn_cuda_backend_get)"* ]] || fail "$stderr"
    [ ! -e gpu.h5 ]
}

@test "--precision tf32 and --nondeterministic on the CPU: a warning for tf32, and the same model as without them" {
    run --separate-stderr ekn-train --device cpu --precision tf32 --nondeterministic --spec "$NETS/tiny-mlp.spec" \
        --batch 16 --seed 7 --steps 5 -o tf32.h5 "$D/vec.ekn"
    assert_success
    [[ $stderr == *"--precision tf32 applies to a GPU only"* ]]
    run ekn-train --device cpu --spec "$NETS/tiny-mlp.spec" --batch 16 --seed 7 --steps 5 -o fp32.h5 "$D/vec.ekn"
    assert_success
    h5_same tf32.h5 fp32.h5
    run --separate-stderr ekn-predict --device cpu --precision fp16 -m fp32.h5 "$D/vec.ekn"
    assert_failure 2
    [[ $stderr == *"fp32|tf32"* ]]
}
