#!/usr/bin/env bash
# run: build the libFuzzer harnesses (clang, ASan+UBSan, the engine sources
# compiled in directly) into build-fuzz/ and run each for SECONDS/3 seconds.
# Fails on any crash, leak, sanitizer report or timeout. Findings land in
# build-fuzz/ as crash-*/leak-*/timeout-* files.
# Usage: fuzz/run.sh [SECONDS]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TOTAL=${1:-30}
EACH=$((SECONDS_TOTAL / 3))
[ "$EACH" -ge 1 ] || EACH=1
OUT=build-fuzz
mkdir -p "$OUT"
CFLAGS="-g -O1 -std=c11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
        -fno-omit-frame-pointer -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Isrc/engine"
LIBS="$(pkg-config --cflags --libs jansson proj) -lm -lpthread"
for t in fuzz_scenario fuzz_geojson; do
    # shellcheck disable=SC2086
    clang $CFLAGS -o "$OUT/$t" "fuzz/$t.c" src/engine/*.c $LIBS
done
# The position fast path's parser (service layer, needs only dctime).
# shellcheck disable=SC2086
clang $CFLAGS -Isrc/service -o "$OUT/fuzz_posbatch" fuzz/fuzz_posbatch.c src/service/posbatch.c \
    src/engine/dctime.c $LIBS
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in fuzz_scenario fuzz_geojson fuzz_posbatch; do
    # A scratch corpus first (libFuzzer adds new inputs to the first
    # directory), the committed seeds second.
    mkdir -p "$OUT/corpus-$t"
    echo "== $t for ${EACH}s"
    "$OUT/$t" "$OUT/corpus-$t" fuzz/corpus -max_total_time="$EACH" -max_len=65536 \
        -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$OUT/$t-" -print_final_stats=1 \
        2>"$OUT/$t.log" || { tail -60 "$OUT/$t.log"; echo "fuzz: $t failed"; exit 1; }
    grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$OUT/$t.log" | tail -2
done
echo "fuzz: no crashes"
