#!/bin/bash
# pipeline_bench.sh: patches (examples) per second that the input pipeline
# `ekn-batch [| ekn-augment]` delivers, beside what ekn-train consumes on
# the same data, both on one core, each printed with its command.
#
#   bench/pipeline_bench.sh [BIN_DIR]     (SECONDS_PER_RUN=5 for ekn-train)
#
# 3D: 1x23x185x185 patches from the ISBI 2012 stack treated as one volume
# (aniso-3d's input 23x127x127 plus a margin of 29 in Y and X for a warp);
# 2D: 28x28 Fashion-MNIST examples in batches of 64.
# Target: the pipeline produces at least twice what training consumes.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "${1:-$TOP/build/release/bin}" && pwd)
SECS=${SECONDS_PER_RUN:-5}
DATA=$TOP/../shared/data/isbi2012
FMNIST=${FMNIST:-/usr/share/datasets/fashion-mnist}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ekn-pipeline.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
PATH="$BIN:$PATH"
cd "$TMP"

# ---- the pipeline's later stages -------------------------------------------
# Shell fragments appended to the ekn-batch command; set them empty to time
# ekn-batch alone.  3D: in-plane (Z is thin) elastic warp, rotation and
# flips, cropped back to aniso-3d's input; 2D: the same on 28x28 images.
AUGMENT_3D=${AUGMENT_3D-| ekn-augment --flip yx --transpose --rotate 180 --elastic 2,8 --crop 23,127,127}
AUGMENT_2D=${AUGMENT_2D-| ekn-augment --flip x --rotate 10 --elastic 1,3}
# -----------------------------------------------------------------------------

# rate COUNT COMMAND: runs COMMAND (bash, pipefail), prints COUNT / seconds
rate() {
    local t0 t1
    t0=$(date +%s%N)
    # the whole pipeline shares one core
    taskset -c 0 bash -o pipefail -c "$2" > /dev/null
    t1=$(date +%s%N)
    awk -v n="$1" -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", n * 1e9 / ns }'
}

# train_rate SPEC DATA BATCH [OPTIONS]: ekn-train's examples/s on one thread,
# the median of its log rows after the first (as bench/run.sh)
train_rate() {
    local spec=$1 data=$2 batch=$3
    shift 3
    ekn-train --device cpu -j 1 --spec "$spec" --batch "$batch" "$@" --time "$SECS" --gain-every 0 --log-every 2 \
        --log train.tsv -o train.h5 "$data" 2> /dev/null
    awk -F'\t' 'NR > 2 && $4 != "nan" { print $4 }' train.tsv | sort -n |
        awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] }'
}

report() { # label pipeline-rate train-rate unit
    printf '%-4s pipeline %10s %s   ekn-train %8s %s   ratio %s (target >= 2)\n' "$1" "$2" "$4" "$3" "$4" \
        "$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", a / b }')"
}

echo "# $(uname -srm), $(nproc) CPUs; the pipeline's commands share core 0, ekn-train has one thread"
if [[ -f $DATA/train-volume.u8 ]]; then
    ekn-preprocess --format raw --shape 30,512,512 --labels "$DATA/train-labels.u8" "$DATA/train-volume.u8" -o isbi.ekn
    ekn-calc "$TOP/examples/nets/aniso-3d.spec" --shape 23,127,127 --format shell > aniso.sh
    N=400
    CMD="ekn-batch --calc aniso.sh --margin 0,29,29 -b 4 --patches-per-epoch $N isbi.ekn $AUGMENT_3D | ekn-info --count"
    echo "\$ $CMD"
    P=$(rate $N "$CMD")
    echo "\$ ekn-train --device cpu -j 1 --spec examples/nets/aniso-3d.spec --patch 23,127,127 --batch 1 --time $SECS isbi.ekn"
    T=$(train_rate "$TOP/examples/nets/aniso-3d.spec" isbi.ekn 1 --patch 23,127,127)
    report 3D "$P" "$T" patches/s
else
    echo "(no $DATA/train-volume.u8: no 3D figure)"
fi
if [[ -f $FMNIST/train-images-idx3-ubyte.gz ]]; then
    ekn-preprocess --labels "$FMNIST/train-labels-idx1-ubyte.gz" "$FMNIST/train-images-idx3-ubyte.gz" -o fmnist.ekn
    N=$((60000 * 2))
    CMD="ekn-batch -b 64 --epochs 2 fmnist.ekn $AUGMENT_2D | ekn-info --count"
    echo "\$ $CMD"
    P=$(rate $N "$CMD")
    echo "\$ ekn-train --device cpu -j 1 --spec examples/nets/fmnist-cnn.spec --batch 64 --time $SECS fmnist.ekn"
    T=$(train_rate "$TOP/examples/nets/fmnist-cnn.spec" fmnist.ekn 64)
    report 2D "$P" "$T" examples/s
else
    echo "(no Fashion-MNIST in $FMNIST: no 2D figure)"
fi
