#!/usr/bin/env bash
# Regenerates the BENCHMARKS.md sections marked "run_all NN" (engine, scheduler, metrics, HTTP path,
# single server; with LLAMA_SERVER also the side by side) on an otherwise idle machine (about 30
# minutes). The other sections name their own scripts.
#   bash bench/run_all.sh [OUT_DIR]      (after a Release build: cmake --build build)
# Each section's raw output lands in OUT_DIR/NN-name.txt (default bench-results/).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-results}
mkdir -p "$out"
L=build/ladle
W=bench/with_server.sh
log() { echo "== $*" >&2; }

log models
$L make-model --preset 15m --out "$out/m15.bin" --tokenizer-out "$out/tok32k.bin"
$L make-model --preset 110m --out "$out/m110.bin"
# The served runs' tokenizer: LLaMA's real 32k one when it is at hand (../shared/models, or
# LADLE_BENCH_TOKENIZER), since the load generator's prompt words are single tokens in it, so that
# `--input-len 32` sends 33-token prompts like the ~32-token prompts of peers.md's llama-server
# figures; otherwise the synthetic tokenizer, whose pieces split those words (~1.3 tokens each).
tok=${LADLE_BENCH_TOKENIZER:-../shared/models/tokenizer32k.bin}
[ -f "$tok" ] || tok="$out/tok32k.bin"
log "served runs use tokenizer $tok"

log single-stream generate
for m in m15 m110; do
  for w in f32 f16; do
    for run in 1 2 3; do
      echo -n "$m $w: "
      $L generate -m "$out/$m.bin" -z "$out/tok32k.bin" -n 256 -t 0 --ignore-eos --weights $w 2>&1 >/dev/null | tail -1
    done
  done
done | tee "$out/01-generate.txt"
# ladle against a run.c-style decoder (-Ofast -fopenmp row-dot matmuls), alternating in one process.
for m in m15 m110; do
  build/bench/runc_reference_bench "$out/$m.bin" --tokens 256 --rounds 3
done | tee "$out/01-runc-reference.txt"

# Three precisions throughout: exact (f32 weights, f32 K/V), f32 weights with a half K/V cache,
# and the fast configuration (half weights and half K/V).
configs=("f32 f32" "f32 f16" "f16 f16")

log forward pass
for c in "${configs[@]}"; do
  set -- $c
  build/bench/forward_bench --shapes 15m,110m --min-time 1 --rounds 3 --weights $1 --kv-cache-dtype $2 \
    | tee "$out/02-forward-w$1-kv$2.txt"
done
# Greedy steps through the argmax screen against full logits, alternated in one process.
build/bench/forward_bench --shapes 15m,110m --min-time 2 --rounds 3 --max-batch 8 --greedy \
  | tee "$out/02-forward-greedy.txt"
# Prompt steps (a burst's prefill) of 128, 512 and 2,048 tokens: prompt tokens/s by step size.
build/bench/forward_bench --shapes 15m,110m --prompt-steps 128,512,2048 --rounds 2 --min-time 1 \
  | tee "$out/02-forward-prompt-steps.txt"
build/bench/attention_bench --shapes 15m,110m --kv-cache-dtype f32,f16 | tee "$out/02-attention.txt"

log offline engine
build/bench/engine_bench --shapes 15m,110m --concurrency 1,8,32,64 --prompt-len 32 --new-tokens 128 \
  --rounds 3 --prefix-len 512 | tee "$out/03-engine-wf32-kvf32.txt"
for c in "f32 f16" "f16 f16"; do
  set -- $c
  build/bench/engine_bench --shapes 15m,110m --concurrency 1,8,32,64 --prompt-len 32 --new-tokens 128 \
    --rounds 3 --no-prefix-test --weights $1 --kv-cache-dtype $2 | tee "$out/03-engine-w$1-kv$2.txt"
done

log scheduler and metrics cost
build/bench/scheduler_bench --benchmark_min_time=1 | tee "$out/04-scheduler.txt"
build/bench/metrics_bench --benchmark_min_time=0.5 | tee "$out/05-metrics.txt"

log HTTP/SSE overhead on the tiny model
# engine_bench writes its synthetic checkpoints to /tmp/ladle_bench_<shape>.bin (and the tiny
# model's tokenizer to /tmp/ladle_bench_tok512.bin): the served run below uses the very same ones.
build/bench/engine_bench --shapes tiny --concurrency 32 --prompt-len 16 --new-tokens 256 --no-prefix-test \
  | tee "$out/06-http-offline.txt"
$W /tmp/ladle_bench_tiny.bin /tmp/ladle_bench_tok512.bin --max-running 32 -- bench --concurrency 32 \
  --num-requests 128 --input-len 16 --output-len 256 --ignore-eos --json "$out/06-http.json" | tee "$out/06-http.txt"
# Like for like: per decode step, and on identical arrivals, six alternated rounds.
bash bench/http_overhead.sh 6 1 | tee "$out/06-http-overhead.txt"

log concurrency sweeps
for m in m15 m110; do
  for w in f32 f16; do  # f16: half weights and half K/V
    $W "$out/$m.bin" "$tok" --max-running 64 --weights $w --kv-cache-dtype $w -- bench --concurrency 1,8,32,64 \
      --num-requests 256 --duration 30 --input-len 32 --output-len 128 --ignore-eos \
      --json "$out/07-sweep-$m-$w.json" --plot "$out/07-sweep-$m-$w.svg" | tee "$out/07-sweep-$m-$w.txt"
  done
done

log Poisson arrivals
$W "$out/m15.bin" "$tok" --max-running 64 -- bench --request-rate 2,4,8 --num-requests 100 \
  --duration 40 --input-len 32 --output-len 128 --range-ratio 0.5 --ignore-eos --goodput ttft:200,tpot:50 \
  --json "$out/08-poisson.json" | tee "$out/08-poisson.txt"

log shared prefix with and without the prefix cache
for flag in "" --no-prefix-caching; do
  $W "$out/m110.bin" "$tok" $flag -- bench --concurrency 1 --num-requests 12 --warmup 1 \
    --shared-prefix-len 500 --input-len 16 --output-len 16 --ignore-eos | tee "$out/09-prefix${flag}.txt"
done

log cancellation
$W "$out/m110.bin" "$tok" --max-running 8 -- cancel-test --drops 8 --prefill-len 400 \
  | tee "$out/10-cancel.txt" || true  # a bound exceeded is reported in BENCHMARKS.md, not fatal here
# The same with 32-token steps, for comparison.
$W "$out/m110.bin" "$tok" --max-running 8 --max-batched-tokens 32 -- cancel-test --drops 8 \
  --prefill-len 400 | tee "$out/10-cancel-mbt32.txt"

# ladle beside llama.cpp's llama-server, when one is at hand (see bench/vs_llama_server.sh).
if [ -n "${LLAMA_SERVER:-}" ]; then
  log "side by side with llama-server ($LLAMA_SERVER)"
  bash bench/vs_llama_server.sh "$out" 1
fi
