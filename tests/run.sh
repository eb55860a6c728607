#!/usr/bin/env bash
# Build strata with the sanitizers and run every test.
#
#   ./tests/run.sh            unit, simulation (>= 1,000 seeds per core),
#                             cluster scenarios, fuzz smoke runs (seconds)
#   ./tests/run.sh --long     the same with 100,000 simulation seeds, longer
#                             fuzzing and more fault trials (STRATA_LONG=1)
#   ./tests/run.sh --suite S  only meson test suite S (unit, sim, cluster...)
#
# Installs what is missing from Debian first (root), so it works on a fresh
# machine. Ends with "N passed, N failed"; exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
LONG=0
SUITES=()
while [ $# -gt 0 ]; do
    case "$1" in
    --long) LONG=1 ;;
    --suite) SUITES+=(--suite "$2"); shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

"$ROOT/deploy/install-deps.sh" test

BUILD="$ROOT/build-test"
if [ ! -f "$BUILD/build.ninja" ]; then
    CC=gcc meson setup "$BUILD" -Dsanitize=true -Dwerror=true \
        -Dbuildtype=debugoptimized >/dev/null
fi
ninja -C "$BUILD"

export STRATA_LONG=$LONG
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export STRATA_SOURCE_ROOT="$ROOT"

# Long runs get 3x every meson timeout (sim tests: 1,800 s instead of
# 600): the machine is shared and 2-core, and long shards run ~200-400 s.
MULT=()
if [ "$LONG" = 1 ]; then MULT=(--timeout-multiplier 3); fi

status=0
meson test -C "$BUILD" --num-processes 2 --print-errorlogs \
    --no-rebuild "${MULT[@]}" "${SUITES[@]}" || status=$?

# libFuzzer needs clang; the fuzz targets live in their own build.
FUZZ_PASS=0
FUZZ_FAIL=0
if [ ${#SUITES[@]} -eq 0 ] && [ -f "$ROOT/tests/fuzz/run-fuzz.sh" ]; then
    if [ "$LONG" = 1 ]; then
        secs=300; runs=
    else
        secs=5; runs=20000
    fi
    if STRATA_FUZZ_RUNS=$runs "$ROOT/tests/fuzz/run-fuzz.sh" "$secs"; then
        FUZZ_PASS=1
    else
        FUZZ_FAIL=1
        status=1
    fi
fi

python3 "$ROOT/tests/summarize.py" "$BUILD/meson-logs/testlog.json" \
    "$FUZZ_PASS" "$FUZZ_FAIL" || status=1
exit $status
