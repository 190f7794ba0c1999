#!/usr/bin/env bash
# ekn-augment throughput beside ekn-train's consumption, one core each.
# Usage: bench/augment_bench.sh BIN_DIR   (SECONDS_PER_RUN=10 REPEAT=5 by default)
#
# The issue's figure is `ekn-batch | ekn-augment`; ekn-batch is another
# helper's half (bench/pipeline_bench.sh joins them), so this measures
# ekn-augment alone on the patches ekn-batch would send: 1x23x185x185 ISBI
# patches with full labels (the volume treated as 3D, spacing 50,4,4, so
# in-plane) cropped to aniso-3d's input 23x127x127, and Fashion-MNIST
# batches of 64 28x28 images.  Rates are per CPU second of ekn-augment (user
# + system), which is what one core gives on a shared machine, and per wall
# second.
set -euo pipefail
BIN=${1:?usage: bench/augment_bench.sh BIN_DIR}
TOP=$(cd "$(dirname "$0")/.." && pwd)
SECS=${SECONDS_PER_RUN:-10}
REPEAT=${REPEAT:-5}
SHARED=${SHARED:-$TOP/../shared}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PY=/usr/bin/python3

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
$PY "$TOP/bench/augment_data.py" "$TMP" "$SHARED/data/isbi2012" /usr/share/datasets/fashion-mnist
$PY "$TOP/bench/make_data.py" "$TMP"

# aug_rate NAME FILE EXAMPLES_PER_FILE OPTIONS...: examples per CPU second and per wall second
aug_rate() {
    local name=$1 file=$2 per=$3
    shift 3
    echo "\$ ekn-augment $* < $(basename "$file") (x$REPEAT)"
    local t
    t=$( { for _ in $(seq "$REPEAT"); do cat "$file"; done |
           { TIMEFORMAT='%R %U %S'; time "$BIN/ekn-augment" "$@" > /dev/null; } ; } 2>&1 )
    local n=$((per * REPEAT))
    read -r wall user sys <<<"$t"
    AUG_CPU=$(echo "$n / ($user + $sys)" | bc -l)
    printf 'augment %-28s %9.1f examples/CPU-s %9.1f examples/s wall (%d examples, %.2f s CPU)\n' \
        "$name" "$AUG_CPU" "$(echo "$n / $wall" | bc -l)" "$n" "$(echo "$user + $sys" | bc -l)"
}

# median examples/s of an ekn-train log (rows after the first)
train_rate() {
    awk -F'\t' 'NR > 2 && $4 != "nan" { print $4 }' "$1" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

train() { # NAME SPEC DATA BATCH [extra]
    local name=$1 spec=$2 data=$3 batch=$4 extra=${5:-}
    echo "\$ ekn-train --device cpu -j 1 --spec $spec --batch $batch $extra --time $SECS --gain-every 0 --log-every 5 $data"
    # shellcheck disable=SC2086
    "$BIN/ekn-train" --device cpu -j 1 --spec "$TOP/$spec" --batch "$batch" $extra --time "$SECS" --gain-every 0 \
        --log-every 5 --log "$TMP/$name.tsv" -o "$TMP/$name.h5" "$TMP/$data" 2>/dev/null
    TRAIN=$(train_rate "$TMP/$name.tsv")
    printf 'train   %-28s %9.1f examples/s\n' "$name" "$TRAIN"
}

ratio() { printf 'ratio augment/train %-16s %9.2f (target >= 2)\n' "$1" "$(echo "$2 / $3" | bc -l)"; }

echo "== aniso-3d: 1x23x185x185 ISBI patches -> 23x127x127 (in-plane), beside ekn-train on one thread"
aug_rate "isbi elastic+rotate+flips" "$TMP/isbi-patches.ekn" 8 \
    --flip zyx --transpose --rotate 180 --scale 0.9:1.1 --elastic 2,8 --crop 23,127,127
A1=$AUG_CPU
aug_rate "isbi flips only" "$TMP/isbi-patches.ekn" 8 --flip zyx --transpose --rot90 --crop 23,127,127
aug_rate "isbi elastic, isotropic 3D" "$TMP/isbi-patches.ekn" 8 \
    --flip zyx --rotate 180 --elastic 2,8 --crop 23,127,127 --in-plane no
train aniso-3d examples/nets/aniso-3d.spec aniso-random.ekn 1 "--patch 23,127,127"
ratio aniso-3d "$A1" "$TRAIN"

echo "== fmnist-cnn: batches of 64 28x28 images"
aug_rate "fmnist elastic+rotate+intensity" "$TMP/fmnist-batches.ekn" 2560 \
    --flip x --rotate 10 --scale 0.9:1.1 --elastic 1,3 --brightness 0.1 --contrast 0.2
A2=$AUG_CPU
aug_rate "fmnist flips+noise" "$TMP/fmnist-batches.ekn" 2560 --flip x --noise 0.05
train fmnist-cnn examples/nets/fmnist-cnn.spec fmnist-random.ekn 64
ratio fmnist-cnn "$A2" "$TRAIN"
