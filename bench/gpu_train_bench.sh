#!/usr/bin/env bash
# Training and prediction throughput of ekn-train / ekn-predict on the GPU
# for the Fashion-MNIST CNN and the 3D anisotropic net, in the lines of
# bench/run.sh; bench/torch_train_cuda.py is the PyTorch peer (gpu_check.sh
# runs both and puts them side by side).
#   train:   examples/s, the median of ekn-train's examples_per_s column
#            after the first logged row (the warm-up: CUDA start, cuDNN
#            plans), times the output voxels per example
#   predict: ekn-predict run on K1 and K2 copies of the same inputs; the
#            rate is the difference in work over the difference in wall
#            time, so process start, CUDA start, loading the model and
#            cuDNN's plans cancel out
# Data: bench/make_data.py (numpy only), random images and labels.  Needs
# no bc (the GPU machine may lack it).
# Prints "ekn <net> train|predict <examples/s> <output voxels/s>" on stdout
# and the commands and logs on stderr.
#
# Usage: bench/gpu_train_bench.sh BIN_DIR
#   SECONDS_PER_RUN=10  training time per net
#   EKN_BENCH_DEVICE=cuda  the --device given to both commands ('' gives none)
#   PY=/usr/bin/python3  python with numpy
set -euo pipefail
BIN=$(cd "${1:?usage: bench/gpu_train_bench.sh BIN_DIR}" && pwd)
TOP=$(cd "$(dirname "$0")/.." && pwd)
SECS=${SECONDS_PER_RUN:-10}
PY=${PY:-/usr/bin/python3}
device=${EKN_BENCH_DEVICE-cuda}
dev_opt=()
[ -n "$device" ] && dev_opt=(--device "$device")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

"$PY" "$TOP/bench/make_data.py" "$TMP"

say() { echo "\$ $*" >&2; }

# median of the examples_per_s column, found by name, after the first row
ekn_rate() {
    awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "examples_per_s") c = i; next }
        NR > 2 && c && $c != "nan" { print $c }' "$1" |
        sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print 0 }'
}

train() { # name spec data batch outvox [extra options]
    local name=$1 spec=$2 data=$3 batch=$4 outvox=$5
    shift 5
    local cmd=("$BIN/ekn-train" "${dev_opt[@]}" --spec "$TOP/$spec" --batch "$batch" "$@" --time "$SECS"
        --gain-every 0 --log-every 5 --log "$TMP/$name.tsv" -o "$TMP/$name.h5" "$TMP/$data")
    say "${cmd[@]}"
    "${cmd[@]}" >&2
    local r
    r=$(ekn_rate "$TMP/$name.tsv")
    awk -v n="$name" -v r="$r" -v v="$outvox" 'BEGIN { printf "ekn %s train %.1f %.0f\n", n, r, r * v }'
}

now() { date +%s.%N; }

# predict_time NAME COPIES OPTIONS...: wall seconds of ekn-predict on COPIES
# concatenated copies of the data (ekn-stream(5) streams concatenate)
predict_time() {
    local name=$1 copies=$2 data=$3
    shift 3
    local cmd=("$BIN/ekn-predict" "${dev_opt[@]}" -m "$TMP/$name.h5" "$@" --write class -o "$TMP/$name.out")
    say "$(printf 'cat %s x%d | ' "$data" "$copies")${cmd[*]}"
    local t0 t1
    t0=$(now)
    for ((i = 0; i < copies; i++)); do cat "$TMP/$data"; done | "${cmd[@]}" >&2
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

# output voxels (all class records' elements) of the last prediction
out_voxels() {
    "$PY" "$TOP/tests/ekn_stream.py" read "$TMP/$1.out" |
        awk '$1 == "class" { gsub(/[][]/, "", $3); n = split($3, d, ","); v = 1; for (i = 1; i <= n; i++) v *= d[i]; s += v }
             END { print s + 0 }'
}

predict() { # name data examples_per_copy k1 k2 [options]
    local name=$1 data=$2 per_copy=$3 k1=$4 k2=$5
    shift 5
    local t1 t2 v1 v2
    t1=$(predict_time "$name" "$k1" "$data" "$@")
    v1=$(out_voxels "$name")
    t2=$(predict_time "$name" "$k2" "$data" "$@")
    v2=$(out_voxels "$name")
    echo "ekn-predict $name: $k1 copies ${t1}s ($v1 output voxels), $k2 copies ${t2}s ($v2)" >&2
    awk -v t1="$t1" -v t2="$t2" -v v1="$v1" -v v2="$v2" -v e=$((per_copy * (k2 - k1))) -v name="$name" 'BEGIN {
        dt = t2 - t1
        if (dt <= 0) { print "gpu_train_bench: " name ": no time difference to measure" > "/dev/stderr"; exit 1 }
        printf "ekn %s predict %.1f %.0f\n", name, e / dt, (v2 - v1) / dt }'
}

train fmnist-cnn examples/nets/fmnist-cnn.spec fmnist-random.ekn 64 1
# fmnist-random.ekn holds 6400 images
predict fmnist-cnn fmnist-random.ekn 6400 1 10 --batch 256
# aniso-3d: patch 23x127x127 -> 19x25x25 output voxels, batch 1
train aniso-3d examples/nets/aniso-3d.spec aniso-random.ekn 1 11875 --patch 23,127,127
# aniso-random.ekn holds one 30x160x160 volume, 26x130x130 voxels predicted densely
predict aniso-3d aniso-random.ekn 1 1 5 --dense
