#!/bin/bash
# stream_bench.sh: throughput of the record stream through a pipe, beside
# the machine's memory-copy bandwidth and the pipe's own ceiling, each
# measured in this run and printed with the command that produced it.
#
#   bench/stream_bench.sh [BIN_DIR [RECORDS]]
#
# BIN_DIR holds ekn-info [build/release/bin]; RECORDS records of 64 MiB f32
# are written by bench/stream_gen.c (through ekn_stream_write) [64, 4 GiB].
# Needs build/release/libekn.a (make).  Target: >= 1 GB/s through the pipe.
# ekn-info enlarges its stdin pipe to 1 MiB (F_SETPIPE_SZ); dd and cat keep
# Linux's 64 KiB, which is why they can be slower than the stream here.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/release/bin}
N=${2:-64}
LIB=build/release/libekn.a
[[ -x $BIN/ekn-info && -f $LIB ]] || { echo "stream_bench.sh: build first (make)" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ekn-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Ilib/core bench/stream_gen.c "$LIB" -lm -o "$TMP/stream_gen"
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L bench/memcpy_bench.c -o "$TMP/memcpy_bench"
PATH="$TMP:$BIN:$PATH"

RECORD=$((64 * 1024 * 1024 + 128)) # payload + one 128-byte header (name, rank 4)
BYTES=$((N * RECORD))

# rate LABEL BYTES COMMAND: runs COMMAND in bash, prints GB/s (best of 3) and the command
rate() {
    local label=$1 bytes=$2 cmd=$3 best=
    for _ in 1 2 3; do
        local t0 t1
        t0=$(date +%s%N)
        bash -o pipefail -c "$cmd" >/dev/null
        t1=$(date +%s%N)
        local dt=$((t1 - t0))
        [[ -z $best || $dt -lt $best ]] && best=$dt
    done
    local gbs
    gbs=$(awk -v b="$bytes" -v ns="$best" 'BEGIN { printf "%.2f", b / ns }')
    printf '%-28s %7s GB/s   %s\n' "$label" "$gbs" "$cmd"
    eval "RATE_${4:-x}=$gbs"
}

echo "# $(uname -srm), $(nproc) CPUs; $N records of 64 MiB f32 ($((BYTES / 1000000)) MB)"
MEMCPY=$(memcpy_bench 256 10)
printf '%-28s %7s GB/s   %s\n' "memcpy bandwidth" "$MEMCPY" "memcpy_bench 256 10  (bench/memcpy_bench.c)"
rate "dd | dd (64 KiB pipe)" $((N * 64 * 1024 * 1024)) \
    "dd if=/dev/zero bs=1M count=$((N * 64)) status=none | dd of=/dev/null bs=1M status=none" pipe
rate "writer to /dev/null" "$BYTES" "stream_gen $N > /dev/null" writer
rate "writer | cat (64 KiB pipe)" "$BYTES" "stream_gen $N | cat > /dev/null" cat
rate "writer | ekn-info --count" "$BYTES" "stream_gen $N | ekn-info --count" count
# statistics cost time: a quarter of the data is enough to show it
Q=$((N / 4 > 0 ? N / 4 : 1))
rate "writer | ekn-info --summary" $((Q * RECORD)) "stream_gen $Q | ekn-info --summary" summary

got=$(stream_gen "$N" | ekn-info --count)
[[ $got == $((N * 16)) ]] || { echo "stream_bench.sh: ekn-info --count says $got, expected $((N * 16))" >&2; exit 1; }
awk -v s="$RATE_count" -v m="$MEMCPY" -v p="$RATE_pipe" 'BEGIN {
    printf "stream / memcpy = %.2f, stream / (dd | dd) = %.2f; target >= 1 GB/s: %s\n",
        s / m, s / p, (s >= 1 ? "met" : "NOT met") }'
