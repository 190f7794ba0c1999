#!/usr/bin/env bash
# The check to run on a machine with a GPU: build with CUDA, run every unit
# test whose name contains "cuda", print one line per test (status and the
# largest max_rel=... the test printed) and exit non-zero if any failed.
# A skip counts as a failure here (the GPU was not seen), unless
# GPU_CHECK_ALLOW_SKIP=1.  Logs: $BUILD/tests/<test>.log.
#
#   bench/gpu_check.sh            GPU_CHECK_TIMEOUT=300 (seconds per test)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build/release}
per_test=${GPU_CHECK_TIMEOUT:-300}
allow_skip=${GPU_CHECK_ALLOW_SKIP:-0}

if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader >&2 || true
else
    echo "gpu_check: no nvidia-smi on PATH" >&2
fi
features=$(make -s BUILD="$build" features)
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
make -j16 BUILD="$build"
make -j16 BUILD="$build" "${tests[@]}"

fail=0
printf '%-28s %-8s %s\n' test status max_rel
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
    printf '%-28s %-8s %s\n' "${t##*/}" "$status" "$rel"
    if [ "$status" != ok ]; then tail -n 15 "$log" | sed 's/^/    /' >&2; fi
done
exit $fail
