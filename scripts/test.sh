#!/usr/bin/env bash
# Installs dependencies, builds ladle (Release), runs the whole test suite, then builds and runs the
# tests again under AddressSanitizer + UndefinedBehaviorSanitizer. Exits non-zero on any failure or
# sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLADLE_BUILD_BENCH=ON
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 600)

# Sanitizers: any report aborts the test (halt_on_error / -fno-sanitize-recover), so ctest fails.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLADLE_SANITIZE=ON -DLADLE_BUILD_BENCH=OFF
cmake --build build-asan -j"$jobs"
(cd build-asan && ctest --output-on-failure -j"$jobs" --timeout 900 -LE slow)
