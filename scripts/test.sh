#!/usr/bin/env bash
# Installs dependencies, builds ladle (Release), runs the whole test suite, then builds and runs the
# tests again under AddressSanitizer + UndefinedBehaviorSanitizer. Exits non-zero on any failure or
# sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# The official OpenAI Node SDK test (tests/sdk): node and npm from Debian unless already installed,
# the SDK from the npm registry at the version tests/sdk/package-lock.json pins. Without them the
# test is not registered (CMake says so), and everything else still runs.
if ! command -v npm > /dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends nodejs npm ||
    echo "WARNING: could not install nodejs and npm; the OpenAI SDK test will not run" >&2
fi
command -v npm > /dev/null && npm ci --prefix tests/sdk --no-audit --no-fund || echo "WARNING: npm ci failed; the OpenAI SDK test will not run" >&2
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

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLADLE_BUILD_BENCH=ON
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 600)

# Sanitizers: any report aborts the test (halt_on_error / -fno-sanitize-recover), so ctest fails.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# -O1 -g1 (line tables): what the sanitizers recommend, and a third of -O2 -g's compile time on
# the Beast-heavy test files (134.6 s → 42.3 s for tests/server/http_e2e_test.cc here).
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
      -DLADLE_SANITIZE=ON -DLADLE_BUILD_BENCH=OFF
cmake --build build-asan -j"$jobs"
(cd build-asan && ctest --output-on-failure -j"$jobs" --timeout 900 -LE slow)
