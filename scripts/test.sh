#!/usr/bin/env bash
# Installs dependencies, builds ladle (Release), runs the whole test suite, then builds and runs the
# tests again under AddressSanitizer + UndefinedBehaviorSanitizer (clang-14) with assertions on;
# then the threaded engine and server tests under ThreadSanitizer, and every fuzz target for a short
# budget (scripts/fuzz.sh, on the sanitizer build's fuzz targets). Exits non-zero on any failure, sanitizer report or fuzzing finding. Each phase
# prints its wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# clang-14 with its runtimes (ASan, UBSan, libFuzzer, ThreadSanitizer) for the checking phases.
if ! command -v clang++-14 > /dev/null || ! dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "ok installed"; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends clang-14 libclang-rt-14-dev
fi
phase_start=$SECONDS
phase_done() { echo "=== phase $1: $((SECONDS - phase_start)) s"; phase_start=$SECONDS; }
# The official OpenAI and Anthropic Node SDK tests (tests/sdk): node and npm from Debian unless
# already installed, the SDKs from the npm registry at the versions tests/sdk/package-lock.json
# pins. Without them the tests are not registered (CMake says so), and everything else still runs.
if ! command -v npm > /dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends nodejs npm ||
    echo "WARNING: could not install nodejs and npm; the SDK tests will not run" >&2
fi
command -v npm > /dev/null && npm ci --prefix tests/sdk --no-audit --no-fund || echo "WARNING: npm ci failed; the SDK tests will not run" >&2
# The built-in page's browser test (tests/browser): Debian's chromium, driven by puppeteer-core at the
# version tests/browser/package-lock.json pins (and two small fonts, so that the CJK and emoji of its
# screenshot show as glyphs). Without chromium and puppeteer-core that test is not registered.
if ! command -v chromium > /dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium fonts-wqy-microhei \
    fonts-noto-color-emoji ||
    echo "WARNING: could not install chromium; the browser test will not run" >&2
fi
command -v npm > /dev/null && npm ci --prefix tests/browser --no-audit --no-fund || echo "WARNING: npm ci failed; the browser test will not run" >&2
jobs=$(nproc)

# NOTE(ci): the Google Benchmark programs (bench/, which no test runs) cost 32 s CPU of this build
# (10 files at -O3, measured 2026-12-07 on the AMD EPYC Zen 4 2-vCPU machine, loaded): kept, as
# this build is what keeps them compiling.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLADLE_BUILD_BENCH=ON
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 600)
phase_done release

# Sanitizers: any report aborts the test (halt_on_error / -fno-sanitize-recover), so ctest fails.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# -O1 -g1 (line tables): what the sanitizers recommend, and a third of -O2 -g's compile time on
# the Beast-heavy test files (134.6 s → 42.3 s for tests/server/http_e2e_test.cc here).
# Assertions on (no NDEBUG): the scheduler's invariant check after every schedule(), the asserts in
# update() and the pool's own checks run here, under every test (this build replaced a separate
# Debug build of the kvcache, model and scheduler tests: one build fewer in the CI's 30 minutes).
# clang-14 with -DLADLE_FUZZ=ON as well: this one build also holds the libFuzzer targets (its
# libraries carry the fuzzer's coverage instrumentation, the tests do not), which the fuzz phase
# below runs, instead of a second whole sanitizer build of the libraries (build-fuzz).
# NOTE(ci): measured 2026-12-07 on the AMD EPYC Zen 4 2-vCPU machine, loaded (other builds ran:
# CPU seconds user+sys per compiler/linker call, ccache off). The last CI run spent 336 s of its
# 411 s fuzz phase building build-fuzz (clang-14, every library again under ASan + UBSan): that
# build is gone. This build: libraries 706 s (135 files, with the fuzzer's instrumentation), tests
# 660 s (85 files), fuzz targets 44 s, links 41 s: 1452 s. GCC 12 on the same sanitized code:
# libraries no faster (99 files: 456 s vs clang's 450 s), tests slower (five model tests: 48.5 s vs
# 35.9 s) and links slower (server_http_e2e_test 1.6 s vs 0.3 s): about 1700 s for the former
# build-asan, plus about 750 s for build-fuzz. The tests run faster too (Isa/Matmul.Rows... avx2:
# 4.4 s CPU vs 8.2 s). clang's ASan and UBSan stop on what GCC's did (heap and stack overflow, use
# after free, leak, signed overflow, shift, index out of bounds: each seen to fail a probe program
# under the options above), and the fuzz targets reach the same coverage from the seeds
# (http_request 2664 vs 2670 edges, tokenizer 308 vs 308).
# (A build-asan left by the former GCC sanitizer pass is started afresh.)
if [ -f build-asan/CMakeCache.txt ] && ! grep -q "^CMAKE_CXX_COMPILER:.*clang" build-asan/CMakeCache.txt; then rm -rf build-asan; fi
CC=clang-14 CXX=clang++-14 cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DLADLE_SANITIZE=ON -DLADLE_FUZZ=ON -DLADLE_BUILD_BENCH=OFF
cmake --build build-asan -j"$jobs"
(cd build-asan && ctest --output-on-failure -j"$jobs" --timeout 900 -LE slow)
phase_done asan
unset ASAN_OPTIONS UBSAN_OPTIONS

# ThreadSanitizer (clang): the tests labelled <folder>_threads, where the step thread, the compute pool
# and the I/O threads meet (tests/CMakeLists.txt lists them). Any report fails the test.
# tests/tsan.supp holds the suppressions, each with its reason.
CC=clang-14 CXX=clang++-14 cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DLADLE_TSAN=ON -DLADLE_BUILD_BENCH=OFF
cmake --build build-tsan -j"$jobs" --target ladle_threaded_tests
(cd build-tsan && TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/../tests/tsan.supp" \
   ctest --output-on-failure -j"$jobs" --timeout 900 -L _threads)
phase_done tsan

# Fuzzing: every target of tests/fuzz for 15 s from its seed corpus (longer: scripts/fuzz.sh 3600),
# built above in build-asan (scripts/fuzz.sh configures it with the same options: nothing to redo).
LADLE_FUZZ_BUILD=build-asan bash scripts/fuzz.sh 15
phase_done fuzz
