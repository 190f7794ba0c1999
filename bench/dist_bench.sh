#!/usr/bin/env bash
# Data-parallel scaling (ekn-train(1), DISTRIBUTED TRAINING): 2 ranks x 1
# thread beside 1 rank x 1 thread on the same global batch, for the
# Fashion-MNIST CNN and the anisotropic 3D net.  Prints examples/s of each,
# the efficiency (speed-up / 2; the target is >= 90%) and the all-reduce's
# share of rank 0's training time (ekn-train -v).  On a 2-core machine the
# 2 ranks need both cores: other load there lowers the figure.
# Usage: bench/dist_bench.sh BIN_DIR   (SECONDS_PER_RUN=10)
set -euo pipefail
BIN=${1:?usage: bench/dist_bench.sh BIN_DIR}
TOP=$(cd "$(dirname "$0")/.." && pwd)
SECS=${SECONDS_PER_RUN:-10}
command -v mpirun >/dev/null || { echo "(no mpirun: no data-parallel figures; make deps)"; exit 0; }
ldd "$BIN/ekn-train" | grep -q libmpi || { echo "(ekn-train is built without MPI: no data-parallel figures)"; exit 0; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
/usr/bin/python3 "$TOP/bench/make_data.py" "$TMP"
export OPENBLAS_NUM_THREADS=1
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

rate() { # examples/s: the median of the log's rows after the first
    awk -F'\t' 'NR > 2 && $4 != "nan" { print $4 }' "$1" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

run() { # name spec data batch [extra ekn-train options]
    local name=$1 spec=$2 data=$3 batch=$4 extra=${5:-}
    local opts="--device cpu -j 1 --spec $TOP/$spec --batch $batch $extra --time $SECS --gain-every 0 --log-every 5"
    echo "\$ ekn-train $opts -o $name.h5 $data"
    # shellcheck disable=SC2086
    "$BIN/ekn-train" $opts --log "$TMP/$name-1.tsv" -o "$TMP/$name-1.h5" "$TMP/$data" 2>/dev/null
    echo "\$ mpirun -n 2 ekn-train -v $opts -o $name.h5 $data"
    # shellcheck disable=SC2086
    mpirun -n 2 --oversubscribe -x OPENBLAS_NUM_THREADS "$BIN/ekn-train" -v $opts --log "$TMP/$name-2.tsv" \
        -o "$TMP/$name-2.h5" "$TMP/$data" 2>"$TMP/$name-2.err"
    local r1 r2 share
    r1=$(rate "$TMP/$name-1.tsv")
    r2=$(rate "$TMP/$name-2.tsv")
    share=$(sed -n 's/.*all-reduce took .* (\([0-9.]*\)%.*/\1/p' "$TMP/$name-2.err")
    printf '%-11s 1 rank %10.1f examples/s   2 ranks %10.1f examples/s   efficiency %5.1f%%   all-reduce %s%% of a step\n' \
        "$name" "$r1" "$r2" "$(echo "100 * $r2 / $r1 / 2" | bc -l)" "${share:-?}"
}
run fmnist-cnn examples/nets/fmnist-cnn.spec fmnist-random.ekn 128
run aniso-3d examples/nets/aniso-3d.spec aniso-random.ekn 2 "--patch 23,127,127"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
