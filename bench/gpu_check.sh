#!/usr/bin/env bash
# The one check to run on a machine with a GPU (also `make gpu-check`):
#   1. build with CUDA (refuses when make does not find nvcc + cuDNN),
#   2. run every unit test whose name contains "cuda", one line each
#      (status and the largest max_rel=... the test printed),
#   3. time the example nets' conv layers, forward + backward, through
#      ekn_ops_cuda (bench/conv_bench_cuda.c) and, when /usr/bin/python3 has
#      torch with CUDA, the same layers in PyTorch (bench/torch_conv_cuda.py),
#   4. training examples/s and prediction output voxels/s of the Fashion-MNIST
#      CNN and the 3D anisotropic net, ekn-train/ekn-predict --device cuda
#      (bench/gpu_train_bench.sh) beside PyTorch (bench/torch_train_cuda.py),
#   5. tests/92-train-cuda.bats (100 steps on cpu and cuda, same losses;
#      same predictions), when bats is there (BATS=path; it says when not),
#   6. print a short table, and exit non-zero if a test failed or skipped
#      (a skip means the GPU was not seen; GPU_CHECK_ALLOW_SKIP=1 accepts it).
# Every step runs under a timeout, so the script cannot hang; together they
# take about 3 minutes on an H100 (the build is most of it), plus about
# 2 minutes of training benchmark and CPU-against-GPU tests.
#
#   bench/gpu_check.sh     GPU_CHECK_TIMEOUT=180 (seconds per test)
#                          GPU_CHECK_JOBS=$(nproc) (make -j)
#                          GPU_CHECK_BENCH_SECONDS=1 (per layer and framework)
#                          GPU_CHECK_TRAIN_SECONDS=8 (per net and framework)
#                          BATS=bats (e.g. a carried copy); EKN_CUDA_TEST_FMNIST
#                          (tests/92-train-cuda.bats: a t10k stream, where the
#                          Fashion-MNIST package is missing)
#                          GPU_CHECK_PREBUILT=1: use $BUILD as it is (built
#                          elsewhere with `make gpu-check-build`): no make, no cc
#                          PY=python with torch (default: /usr/bin/python3 when
#                          its torch imports, else python3)
# Logs: $BUILD/tests/<test>.log, $BUILD/gpu_check/*.log.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build/release}
per_test=${GPU_CHECK_TIMEOUT:-180}
bench_secs=${GPU_CHECK_BENCH_SECONDS:-1}
train_secs=${GPU_CHECK_TRAIN_SECONDS:-8}
allow_skip=${GPU_CHECK_ALLOW_SKIP:-0}
jobs=${GPU_CHECK_JOBS:-$(nproc 2>/dev/null || echo 4)}
prebuilt=${GPU_CHECK_PREBUILT:-0}
if [ -z "${PY:-}" ]; then
    PY=/usr/bin/python3
    "$PY" -c 'import torch' 2>/dev/null || PY=python3
fi
logdir=$build/gpu_check
mkdir -p "$logdir"
step() { echo "== $*" >&2; }

if command -v nvidia-smi >/dev/null; then
    timeout 30 nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader >&2 || true
else
    echo "gpu_check: no nvidia-smi on PATH" >&2
fi
features="✓ CUDA (prebuilt)"
[ "$prebuilt" = 1 ] || features=$(timeout 60 make -s BUILD="$build" features)
if [[ $features != *"✓ CUDA"* ]]; then
    echo "gpu_check: make does not detect nvcc + cuDNN; this would be a CPU-only build" >&2
    exit 1
fi

shopt -s nullglob
tests=()
for src in tests/unit/test_*cuda*.c; do
    t=${src##*/}
    tests+=("$build/tests/${t%.c}")
done
if [ ${#tests[@]} -eq 0 ]; then
    echo "gpu_check: no tests/unit/test_*cuda*.c" >&2
    exit 1
fi

step "build (make -j$jobs BUILD=$build)"
if [ "$prebuilt" = 1 ]; then
    echo "(prebuilt: $build)" >&2
elif ! timeout 360 make -j"$jobs" BUILD="$build" all "${tests[@]}" >"$logdir/build.log" 2>&1; then
    tail -n 30 "$logdir/build.log" >&2
    echo "gpu_check: the CUDA build failed (log: $logdir/build.log)" >&2
    exit 1
fi

bench_bin=$logdir/conv_bench_cuda
cuda_home=${CUDA_HOME:-/usr/local/cuda}
build_bench() {
    [ "$prebuilt" = 1 ] && [ -x "$bench_bin" ] && return 0
    timeout 120 cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Ilib/core -Ilib/data -Ilib/nn -Ilib/plot -Ikernels -Ikernels/cuda bench/conv_bench_cuda.c "$build/libekn.a" \
        $(pkg-config --libs hdf5 openblas libarchive) -L"$cuda_home/lib64" -Wl,-rpath,"$cuda_home/lib64" \
        -lcudnn -lcublas -lcudart -lstdc++ -lm -lpthread -o "$bench_bin" 2>"$logdir/bench_build.log"
}
if [ "${GPU_CHECK_BUILD_ONLY:-0}" = 1 ]; then
    build_bench || { tail -n 10 "$logdir/bench_build.log" >&2; exit 1; }
    echo "gpu_check: built $build (run it elsewhere with GPU_CHECK_PREBUILT=1)" >&2
    exit 0
fi

step "tests"
fail=0
results=()
for t in "${tests[@]}"; do
    log=$t.log
    rc=0
    timeout -k 10 "$per_test" "$t" >"$log" 2>&1 || rc=$?
    # the largest max_rel=<number> in the output; nan/inf win
    rel=$({ grep -o 'max_rel=[^ ,;]*' "$log" || true; } | cut -d= -f2 | awk '
        tolower($0) ~ /nan|inf/ { bad = $0; next }
        { if (!n++ || $0 + 0 > m + 0) m = $0 }
        END { if (bad != "") print bad; else if (n) print m; else print "-" }')
    case $rc in
    0) status=ok ;;
    77) status=skip; [ "$allow_skip" = 1 ] || fail=1 ;;
    124 | 137) status=timeout; fail=1 ;;
    *) status="FAIL($rc)"; fail=1 ;;
    esac
    results+=("$(printf '%-28s %-10s %s' "${t##*/}" "$status" "$rel")")
    printf '%-28s %-10s %s\n' "${t##*/}" "$status" "$rel" >&2
    if [ "$status" != ok ]; then
        grep -E 'FAIL|cuda:' "$log" | head -n 20 | sed 's/^/    /' >&2
        tail -n 5 "$log" | sed 's/^/    /' >&2
    fi
done

step "conv benchmark (ekn_ops_cuda, ${bench_secs}s per layer)"
ekn_bench=$logdir/conv_bench_cuda.out
: >"$ekn_bench"
if build_bench; then
    timeout -k 10 120 "$bench_bin" "$bench_secs" >"$ekn_bench" 2>"$logdir/conv_bench_cuda.log" ||
        { echo "gpu_check: conv_bench_cuda failed (exit $?):" >&2; tail -n 5 "$logdir/conv_bench_cuda.log" >&2; }
    grep 'conv plan' "$logdir/conv_bench_cuda.log" | sed 's/^/    /' >&2
    cat "$ekn_bench" >&2
else
    echo "gpu_check: could not build bench/conv_bench_cuda.c:" >&2
    tail -n 10 "$logdir/bench_build.log" >&2
fi

torch_bench=$logdir/torch_conv_cuda.out
: >"$torch_bench"
step "conv benchmark (PyTorch)"
trc=0
timeout -k 10 180 "$PY" bench/torch_conv_cuda.py "$bench_secs" >"$torch_bench" 2>"$logdir/torch_conv_cuda.log" ||
    trc=$?
case $trc in
0) cat "$torch_bench" >&2 ;;
77) echo "(no PyTorch with CUDA for $PY: $(tail -n 1 "$logdir/torch_conv_cuda.log"))" >&2 ;;
*) echo "gpu_check: torch_conv_cuda.py failed (exit $trc):" >&2; tail -n 5 "$logdir/torch_conv_cuda.log" >&2 ;;
esac

step "training and prediction benchmark (ekn-train/ekn-predict --device cuda, ${train_secs}s per net)"
ekn_train_out=$logdir/gpu_train_bench.out
: >"$ekn_train_out"
brc=0
SECONDS_PER_RUN=$train_secs PY="$PY" timeout -k 10 150 bench/gpu_train_bench.sh "$build/bin" >"$ekn_train_out" \
    2>"$logdir/gpu_train_bench.log" || brc=$?
[ $brc = 0 ] || { echo "gpu_check: gpu_train_bench.sh failed (exit $brc):" >&2; tail -n 5 "$logdir/gpu_train_bench.log" >&2; }
cat "$ekn_train_out" >&2

step "training and prediction benchmark (PyTorch)"
torch_train_out=$logdir/torch_train_cuda.out
: >"$torch_train_out"
trc=0
timeout -k 10 120 "$PY" bench/torch_train_cuda.py "$train_secs" >"$torch_train_out" 2>"$logdir/torch_train_cuda.log" ||
    trc=$?
case $trc in
0) cat "$torch_train_out" >&2 ;;
77) echo "(no PyTorch with CUDA for $PY: $(tail -n 1 "$logdir/torch_train_cuda.log"))" >&2 ;;
*) echo "gpu_check: torch_train_cuda.py failed (exit $trc):" >&2; tail -n 5 "$logdir/torch_train_cuda.log" >&2 ;;
esac

# tests/92-train-cuda.bats: the CPU-vs-GPU training and prediction check.
# The GPU machine may lack bats: BATS names one carried along (a copy of
# Debian's /usr/bin/bats with ../lib/bats-core and ../libexec/bats-core
# beside it; BATS_LIB_PATH for bats-support and bats-assert).
step "tests/92-train-cuda.bats (cpu against cuda)"
bats_cmd=${BATS:-bats}
bats_log=$logdir/92-train-cuda.log
if ! command -v "$bats_cmd" >/dev/null; then
    bats_status="NOT RUN (no bats)"
    echo "gpu_check: bats is not installed (set BATS=path/to/bats): tests/92-train-cuda.bats NOT RUN" >&2
    [ "$allow_skip" = 1 ] || fail=1
else
    brc=0
    EKN_BIN=$PWD/$build/bin EKN_PYTHON=$PY timeout -k 10 300 "$bats_cmd" --show-output-of-passing-tests tests/92-train-cuda.bats >"$bats_log" 2>&1 ||
        brc=$?
    cat "$bats_log" >&2
    if [ $brc != 0 ]; then
        bats_status="FAIL($brc)"
        fail=1
    elif grep -q '# skip' "$bats_log"; then
        bats_status=skip
        [ "$allow_skip" = 1 ] || fail=1
    else
        bats_status=ok
    fi
fi
results+=("$(printf '%-28s %-10s %s' 92-train-cuda.bats "$bats_status" \
    "$({ grep -o 'max relative loss difference [^ ]*\|probabilities [^ ]*' "$bats_log" 2>/dev/null || true; } |
        awk '{ v = $NF; if (!n++ || v + 0 > m + 0) m = v } END { print n ? m : "-" }')")")

echo
echo "== gpu_check summary ($(timeout 30 nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1))"
printf '%-28s %-10s %s\n' test status max_rel
printf '%s\n' "${results[@]}"
echo
printf '%-16s %12s %12s %12s %12s %8s\n' "conv fwd+bwd" "ekn ms" "ekn TFLOP/s" "torch ms" "torch TFLOP/s" "ekn/torch"
awk '
    FILENAME == ARGV[1] { tms[$2] = $3; ttf[$2] = $5; next }
    {
        t = ($2 in tms) ? sprintf("%12s %12s %8.2f", tms[$2], ttf[$2], (ttf[$2] > 0 ? $5 / ttf[$2] : 0)) \
                        : sprintf("%12s %12s %8s", "-", "-", "-")
        printf "%-16s %12s %12s %s\n", $2, $3, $5, t
    }' "$torch_bench" "$ekn_bench"
[ -s "$ekn_bench" ] || echo "(no ekn benchmark figures)"
echo
printf '%-18s %14s %16s %14s %16s %8s\n' "net (${train_secs}s)" "ekn ex/s" "ekn voxels/s" "torch ex/s" \
    "torch voxels/s" "ekn/torch"
awk '
    FILENAME == ARGV[1] { te[$2 " " $3] = $4; tv[$2 " " $3] = $5; next }
    {
        k = $2 " " $3
        t = (k in te) ? sprintf("%14s %16s %8.2f", te[k], tv[k], (te[k] > 0 ? $4 / te[k] : 0)) \
                      : sprintf("%14s %16s %8s", "-", "-", "-")
        printf "%-18s %14s %16s %s\n", k, $4, $5, t
    }' "$torch_train_out" "$ekn_train_out"
[ -s "$ekn_train_out" ] || echo "(no ekn training figures)"
exit $fail
