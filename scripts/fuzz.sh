#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang-14 under AddressSanitizer + UBSan
# (build-fuzz/, -DLADLE_SANITIZE=ON -DLADLE_FUZZ=ON) and runs each for SECONDS (default 300),
# starting from its committed seed corpus tests/fuzz/corpus/<name>/. New inputs go to
# build-fuzz/corpus/<name>/; a crash, sanitizer report, leak or broken invariant is saved as
# build-fuzz/artifacts/<name>-* and makes the script exit non-zero (reproduce with
# `build-fuzz/fuzz/<name>_fuzz <artifact>`). LADLE_FUZZ_BUILD=<dir> uses another build folder:
# scripts/test.sh passes its sanitizer build (build-asan, configured with the same options), whose
# libraries already carry the fuzzer's instrumentation, so nothing is compiled twice.
#
#   bash scripts/fuzz.sh            # five minutes per target
#   bash scripts/fuzz.sh 15         # what scripts/test.sh (CI) runs
#   bash scripts/fuzz.sh 3600 tokenizer text_stream   # an hour each, two targets
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-300}"
shift || true
if ! command -v clang++-14 > /dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends clang-14 libclang-rt-14-dev
fi
jobs=$(nproc)
# -O1 with assertions on (no NDEBUG): the sanitizers' recommended level, and the code's own
# invariant checks count as findings too.
# scripts/test.sh configures its build-asan with these very options (keep the two in step).
build="${LADLE_FUZZ_BUILD:-build-fuzz}"
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DLADLE_SANITIZE=ON -DLADLE_FUZZ=ON -DLADLE_BUILD_BENCH=OFF > /dev/null
cmake --build "$build" -j"$jobs" --target ladle_fuzzers

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/*_fuzz.cc; do n=$(basename "$f" _fuzz.cc); targets+=("$n"); done
fi
mkdir -p "$build/artifacts"
# One target per core at a time (each fuzzer is one process on one core): with more targets than
# cores the wall time is ceil(targets / cores) × SECONDS, not targets × SECONDS.
run_target() {
  local name=$1
  mkdir -p "$build/corpus/$name"
  if "$build/fuzz/${name}_fuzz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$build/artifacts/${name}-" \
       "$build/corpus/$name" "tests/fuzz/corpus/$name" 2> "$build/$name.log"; then
    echo ok > "$build/$name.status"
  else
    echo failed > "$build/$name.status"
  fi
}
for name in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  echo "=== fuzz $name: ${secs} s"
  rm -f "$build/$name.status"
  run_target "$name" &
done
wait
failed=()
for name in "${targets[@]}"; do
  if [ "$(cat "$build/$name.status" 2>/dev/null)" != ok ]; then
    echo "=== fuzz $name failed:" >&2
    tail -n 60 "$build/$name.log" >&2
    failed+=("$name")
  else
    echo "=== fuzz $name:"
    grep -E "^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+ +DONE)" "$build/$name.log" || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FUZZING FOUND PROBLEMS in: ${failed[*]} (inputs in $build/artifacts/)" >&2
  exit 1
fi
echo "fuzzing: no findings in ${targets[*]}"
