#!/usr/bin/env bash
# One stream, ladle beside llama2.c's run.c, measured from outside (issue 23 §2): the whole-process
# wall time of each program at 257 and at 1 step on the same checkpoint and tokenizer, so that
# loading (and ladle's packing) cancels out: decode tok/s = 256 / (t257 − t1). Alternated,
# ROUNDS rounds; the median per program and the ratios at the end.
#   RUNC_SRC=/path/to/llama2.c/run.c bash bench/vs_runc.sh [OUT_DIR]
# run.c is karpathy/llama2.c's, built here outside the repo into OUT_DIR as its Makefile's
# `runomp` builds it (gcc -Ofast -fopenmp -march=native), with its stop-at-BOS line removed so that
# it runs every step as `ladle generate --ignore-eos` does. Needs a Release build (build/ladle).
# Optional environment: SHAPE=110m (a `ladle make-model` preset), WEIGHTS="f32 f16 q8" (ladle's
# --weights, each its own row), ROUNDS=5, THREADS=2 (OMP_NUM_THREADS for run.c, --threads for ladle),
# LADLE_FLAGS="--kv-cache-dtype f16" (more flags for every ladle run, named in its rows).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-bench-results}")
src=${RUNC_SRC:?set RUNC_SRC to the path of llama2.c run.c}
shape=${SHAPE:-110m} weights=${WEIGHTS:-f32 f16 q8} rounds=${ROUNDS:-5} threads=${THREADS:-2}
mkdir -p "$out"
L=build/ladle
model="$out/runc-$shape.bin" tok="$out/runc-tok32k.bin"
[ -f "$model" ] || $L make-model --preset "$shape" --out "$model" --tokenizer-out "$tok" >/dev/null
grep -q 'if (next == 1) { break; }' "$src" || { echo "run.c: its stop-at-BOS line not found" >&2; exit 1; }
sed 's/if (next == 1) { break; }/\/\/ (stop at BOS removed by ladle bench\/vs_runc.sh)/' "$src" >"$out/run.c"
gcc -Ofast -fopenmp -march=native "$out/run.c" -lm -o "$out/run"

# Wall seconds of one command (its output discarded).
wall() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
runc() { OMP_NUM_THREADS=$threads "$out/run" "$model" -z "$tok" -t 0 -n "$1"; }
extra=${LADLE_FLAGS:-}
# shellcheck disable=SC2086  # LADLE_FLAGS is a list of flags
ladle() { $L generate -m "$model" -z "$tok" -t 0 --ignore-eos --threads "$threads" --weights "$2" $extra -n "$1"; }
tag=${extra:+ ($extra)}

echo "# $(lscpu | sed -n 's/^Model name: *//p'), family $(lscpu | sed -n 's/^CPU family: *//p') model $(lscpu | sed -n 's/^Model: *//p'), $(nproc) CPUs, $(grep -o -w 'avx512f\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')" | tee "$out/vs-runc.txt"
echo "# ladle $(git rev-parse --short HEAD), shape $shape, $threads threads, $(date -u +%FT%TZ)" | tee -a "$out/vs-runc.txt"
for r in $(seq "$rounds"); do
  a=$(wall runc 257) b=$(wall runc 1)
  echo "round $r run.c $(echo "256 / ($a - $b)" | bc -l)" | tee -a "$out/vs-runc.txt"
  for w in $weights; do
    a=$(wall ladle 257 "$w") b=$(wall ladle 1 "$w")
    echo "round $r ladle-$w${tag// /_} $(echo "256 / ($a - $b)" | bc -l)" | tee -a "$out/vs-runc.txt"
  done
done
python3 - "$out/vs-runc.txt" <<'EOF'
import statistics, sys
rates = {}
for line in open(sys.argv[1]):
    if line.startswith("round "):
        _, _, who, v = line.split()
        rates.setdefault(who, []).append(float(v))
base = statistics.median(rates["run.c"])
print("| program | decode tok/s, each round | median | ÷ run.c |")
print("| --- | --- | --- | --- |")
for who, v in rates.items():
    med = statistics.median(v)
    print(f"| {who} | {' / '.join(f'{x:.1f}' for x in v)} | {med:.1f} | {med / base:.2f}× |")
EOF
