#!/usr/bin/env bash
# make bench: every figure is printed with the command that produced it.
# Usage: bench/run.sh BIN_DIR   (THREADS=2 SECONDS_PER_RUN=10 by default)
#   SECTIONS="conv train stream augment pipeline dist"  the parts to run (default: all)
#   NETS="fmnist-cnn aniso-3d unet-isbi"           the nets the training part times
# e.g. SECTIONS=train NETS=unet-isbi bench/run.sh build/release/bin
set -euo pipefail
BIN=${1:?usage: bench/run.sh BIN_DIR}
TOP=$(cd "$(dirname "$0")/.." && pwd)
THREADS=${THREADS:-2}
SECS=${SECONDS_PER_RUN:-10}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PY=/usr/bin/python3   # Debian's python: numpy and torch live there
SECTIONS=${SECTIONS:-conv train stream augment pipeline dist}
NETS=${NETS:-fmnist-cnn aniso-3d unet-isbi}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
want_net() { [[ " $NETS " == *" $1 "* ]]; }

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

if want conv; then
echo "== conv layers, forward+backward, beside OpenBLAS SGEMM ($THREADS threads)"
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I"$TOP/lib" -I"$TOP/kernels" $(pkg-config --cflags openblas) \
   "$TOP/bench/conv_bench.c" "$TOP/build/release/libekn.a" $(pkg-config --libs openblas) -lm -o "$TMP/conv_bench"
echo "\$ conv_bench $THREADS"
"$TMP/conv_bench" "$THREADS"
fi

if want train; then
echo "== training throughput, ekn-train beside PyTorch (same net, batch, threads; random data)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
$PY "$TOP/bench/make_data.py" "$TMP"
have_torch=1
$PY -c 'import torch' 2>/dev/null || { have_torch=0; echo "(python3-torch is not installed: no PyTorch figures)"; }

# examples/s from the log's examples_per_s column, median of the rows after the first
ekn_rate() {
    awk -F'\t' 'NR > 2 && $4 != "nan" { print $4 }' "$1" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

run_net() { # name spec data batch outvox [extra ekn-train options]
    local name=$1 spec=$2 data=$3 batch=$4 outvox=$5 extra=${6:-}
    local cmd="ekn-train --device cpu -j $THREADS --spec $spec --batch $batch $extra --time $SECS --gain-every 0 --log-every 5 --log $TMP/$name.tsv -o $TMP/$name.h5 $data"
    echo "\$ $cmd"
    # shellcheck disable=SC2086
    "$BIN/ekn-train" --device cpu -j "$THREADS" --spec "$TOP/$spec" --batch "$batch" $extra --time "$SECS" --gain-every 0 \
        --log-every 5 --log "$TMP/$name.tsv" -o "$TMP/$name.h5" "$TMP/$data"
    local r; r=$(ekn_rate "$TMP/$name.tsv")
    printf 'ekn   %-11s %10.1f examples/s %14.0f output voxels/s\n' "$name" "$r" "$(echo "$r * $outvox" | bc -l)"
    if [ $have_torch = 1 ]; then
        echo "\$ /usr/bin/python3 bench/torch_peer.py $name $batch $THREADS $SECS"
        local t; t=$($PY "$TOP/bench/torch_peer.py" "$name" "$batch" "$THREADS" "$SECS")
        printf 'torch %-11s %10.1f examples/s %14.0f output voxels/s\n' "$name" "$(echo "$t" | cut -d' ' -f3)" "$(echo "$t" | cut -d' ' -f4)"
        echo "ratio ekn/torch: $(echo "$r / $(echo "$t" | cut -d' ' -f3)" | bc -l | cut -c1-5)"
    fi
}
want_net fmnist-cnn && run_net fmnist-cnn examples/nets/fmnist-cnn.spec fmnist-random.ekn 64 1
# aniso-3d: patch 23x127x127 -> 19x25x25 output voxels, batch 1
want_net aniso-3d && run_net aniso-3d examples/nets/aniso-3d.spec aniso-random.ekn 1 11875 "--patch 23,127,127"
# unet-isbi (a graph: valid convs, batch norm, up-convolutions, crop-concat skips):
# patch 92x92 -> 52x52 output pixels, batch 8
want_net unet-isbi && run_net unet-isbi examples/nets/unet-isbi.spec isbi-random.ekn 8 2704 "--patch 92,92"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

if want stream && [ -x "$TOP/bench/stream_bench.sh" ]; then
    echo "== stream throughput through a pipe"
    "$TOP/bench/stream_bench.sh" "$BIN"
fi

if want augment && [ -x "$TOP/bench/augment_bench.sh" ]; then
    echo "== ekn-augment beside ekn-train's consumption (one core each)"
    SECONDS_PER_RUN=$SECS "$TOP/bench/augment_bench.sh" "$BIN"
fi
if want pipeline && [ -x "$TOP/bench/pipeline_bench.sh" ]; then
    echo "== input pipeline (ekn-batch | ekn-augment, elastic warps) beside ekn-train, one core"
    SECONDS_PER_RUN=$SECS "$TOP/bench/pipeline_bench.sh" "$BIN"
fi
if want dist && [ -x "$TOP/bench/dist_bench.sh" ]; then
    echo "== data-parallel training: 2 ranks x 1 thread beside 1 rank x 1 thread, same global batch"
    SECONDS_PER_RUN=$SECS "$TOP/bench/dist_bench.sh" "$BIN"
fi
