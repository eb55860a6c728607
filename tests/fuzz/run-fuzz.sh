#!/usr/bin/env bash
# Run every libFuzzer target for a bounded time.
#
#   tests/fuzz/run-fuzz.sh [SECONDS]     (default 5 per target)
#   STRATA_FUZZ_RUNS=N tests/fuzz/run-fuzz.sh 5
#                                        (seed 1, N inputs, at most 60 s)
#
# Sets up (once) a clang build in build-fuzz with the sanitizers, builds only
# the targets tests/fuzz/fuzz_*.c, and runs each for SECONDS on its corpus
# build-fuzz/corpus-NAME. A new corpus is seeded from tests/fuzz/seeds/NAME/
# when that directory exists, and by running the target once with
# STRATA_FUZZ_SEED_DIR=<corpus> (a target that knows how writes valid inputs
# there and exits). Crash inputs land in build-fuzz/crashes-NAME/.
# Prints one line per target; exits non-zero if any target crashed or failed
# to build.
set -uo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SECS=${1:-5}
BUILD="$ROOT/build-fuzz"

if [ ! -f "$BUILD/build.ninja" ]; then
    # fuzzer-no-link instruments every object (the libraries too) for
    # coverage; only the fuzz targets link libFuzzer's main.
    setup_log="${TMPDIR:-/tmp}/strata-fuzz-setup.log"
    if ! CC=clang meson setup "$BUILD" -Dfuzz=true -Dsanitize=true \
            -Dtests=true -Dbuildtype=debugoptimized \
            -Dc_args=-fsanitize=fuzzer-no-link >"$setup_log" 2>&1; then
        echo "fuzz: meson setup failed (see $setup_log)"
        exit 1
    fi
fi

# Without abort_on_error a crash is reported by libFuzzer itself; keep leak
# detection on, as in the unit tests.
export ASAN_OPTIONS=${FUZZ_ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${FUZZ_UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
shopt -s nullglob
for src in "$ROOT"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    bin="$BUILD/tests/fuzz/$name"
    log="$BUILD/fuzz-$name.log"
    if ! ninja -C "$BUILD" -j2 "tests/fuzz/$name" >"$log" 2>&1; then
        echo "fuzz $name: BUILD FAILED (see $log)"
        status=1
        continue
    fi
    corpus="$BUILD/corpus-$name"
    crashes="$BUILD/crashes-$name"
    mkdir -p "$corpus" "$crashes"
    if [ -z "$(ls -A "$corpus")" ]; then
        if [ -d "$ROOT/tests/fuzz/seeds/$name" ]; then
            cp "$ROOT/tests/fuzz/seeds/$name"/* "$corpus"/ 2>/dev/null
        fi
        STRATA_FUZZ_SEED_DIR="$corpus" "$bin" -runs=0 >>"$log" 2>&1
    fi
    start=$(date +%s)
    if [ -n "${STRATA_FUZZ_RUNS:-}" ]; then
        # Smoke mode (the normal ./tests/run.sh): a fixed seed and a fixed
        # number of inputs, so a run is repeatable and does not pass or
        # fail by luck; SECONDS only caps the time. Open-ended bug hunting
        # is what --long's time-bounded runs are for.
        bound=(-seed=1 -runs="$STRATA_FUZZ_RUNS"
               -max_total_time=$(( SECS * 12 )))
    else
        bound=(-max_total_time="$SECS")
    fi
    "$bin" "${bound[@]}" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$crashes/" \
        "$corpus" >>"$log" 2>&1
    rv=$?
    took=$(( $(date +%s) - start ))
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" |
           tail -1 | grep -o '[0-9]*$')
    files=$(ls "$corpus" | wc -l)
    if [ "$rv" -eq 0 ]; then
        echo "fuzz $name: ok, ${runs:-?} runs in ${took}s, corpus $files inputs"
    else
        echo "fuzz $name: CRASHED (exit $rv, see $log, inputs in $crashes)"
        status=1
    fi
done
exit $status
