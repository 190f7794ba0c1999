#!/usr/bin/env bats
# -j: the kernels split over the thread pool (kernels/cpu_threads.h) give
# the same model for any thread count.  The net is sized so that every
# threaded kernel but the convolution splits (batch 1: activations of
# 78400 floats, 16 batch-norm channels and pooling planes of 4900, 196010
# parameters for the optimisers; see EKN_CPU_SPLIT_MIN), and the
# convolution's batch is one chunk.  A convolution that runs several
# chunks on several threads sums dW and db per thread, so nets with such
# layers are not bit-identical across -j (conv_cpu.c).
load helper

setup_file() {
    cd "$BATS_FILE_TMPDIR"
    ekn_write_stream thr.ekn image f32 12 1 72 72 --data random --seed 5
    ekn_write_stream thr.ekn label i32 12 --classes 10 --append
    cat > thr.spec <<'SPEC'
[input]
mode = img-scalar
channels = 1
shape = 72,72

[conv]
filters = 16
size = 3,3
act = linear

[norm]
act = relu

[pool]
size = 2,2

[dense]
units = 10
act = softmax
SPEC
}

setup() {
    D=$BATS_FILE_TMPDIR
    cd "$BATS_TEST_TMPDIR"
}

@test "-j 1, -j 2 and -j 3 train bit-identical checkpoints (pooling, activations, batch norm, sgd/nesterov/adam)" {
    for o in sgd nesterov adam; do
        for j in 1 2 3; do
            run ekn-train --device cpu -j "$j" --spec "$D/thr.spec" --batch 1 --steps 6 --seed 3 --optimizer "$o" \
                --lr 0.01 --weight-decay 1e-3 -o "$o-$j.h5" "$D/thr.ekn"
            assert_success
        done
        h5_same "$o-1.h5" "$o-2.h5"
        h5_same "$o-1.h5" "$o-3.h5"
    done
}
