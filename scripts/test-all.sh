#!/usr/bin/env bash
# test-all: everything `make test` runs, in order. Fails on the first red
# step. Steps: release build + unit/property/CLI tests (ctest), the same
# under ASan+UBSan, a short libFuzzer run per parser, the black-box service
# tests against both builds, the browser tests, and the benchmark smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${JOBS:-2}
WERROR=${DC_WERROR:-0}
step() { printf '\n=== %s ===\n' "$*"; }

step "release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDC_WERROR=$([ "$WERROR" = 1 ] && echo ON || echo OFF) >/dev/null
cmake --build build -j "$JOBS"

step "unit, property and CLI tests (release)"
(cd build && ctest --output-on-failure -j "$JOBS")

step "ASan+UBSan build"
CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDC_SANITIZE=ON -DDC_WERROR=$([ "$WERROR" = 1 ] && echo ON || echo OFF) >/dev/null
cmake --build build-asan -j "$JOBS"

step "unit, property and CLI tests (ASan+UBSan)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && DC_PROPERTY_SCALE=${DC_PROPERTY_SCALE_ASAN:-0.3} ctest --output-on-failure -j "$JOBS")

if [ -x fuzz/run.sh ]; then
  step "fuzzing (short)"
  fuzz/run.sh "${FUZZ_SECONDS:-30}"
fi

if [ -d tests/service ]; then
  step "service black-box tests (release)"
  DECONFLICT_BIN=$ROOT/build/deconflict /usr/bin/python3 -m pytest -q tests/service
  step "service black-box tests (ASan+UBSan)"
  DECONFLICT_BIN=$ROOT/build-asan/deconflict DC_SLOW=1 /usr/bin/python3 -m pytest -q tests/service
fi

if [ -x tests/web/run.sh ]; then
  step "browser tests"
  tests/web/run.sh "$ROOT/build/deconflict"
fi

if [ -x scripts/bench.sh ] && [ -z "${DC_SKIP_BENCH_SMOKE:-}" ]; then
  step "benchmark smoke run"
  make -s deps-bench
  BENCH_SMOKE=1 scripts/bench.sh
fi

step "all tests passed"
