#!/usr/bin/env bash
# ladle beside llama.cpp's llama-server on the same llama-quantize'd GGUF files of a
# Llama-3.2-1B-shaped synthetic model (issue 24's bench): `ladle make-model` writes the F16 GGUF
# with the real Llama 3 vocabulary, llama-quantize makes Q8_0 and Q4_K_M from it, and each file is
# served by llama-server, then by `ladle serve`: load time to first token, then `ladle bench`
# (closed loop, short prompts, greedy, ignore_eos) at 1, 8 and 32 streams. One table at the end.
#   LLAMA_BIN=/path/to/llama.cpp/build/bin bash bench/gguf_vs_llama_server.sh [OUT_DIR]
# Needs a Release build (build/ladle) and ../shared/vocab/ggml-vocab-llama-bpe.gguf (LADLE_VOCAB).
# Each run lands in OUT_DIR/gg-*.txt|json|log; the table in OUT_DIR/gg-table.md.
#
# Optional environment (defaults: the real shape and load):
#   LAYERS=16 DIM=2048 HIDDEN=8192 HEADS=32 KV_HEADS=8  the model's shape (e.g. LAYERS=2 DIM=256
#     HIDDEN=1024 HEADS=4 KV_HEADS=2 for a check of the script end to end in a minute)
#   MODELS_DIR=OUT_DIR  where the GGUF files are made, or found and reused when they are there
#     (the F16 file takes ~1 min to write and each llama-quantize run about as long)
#   QUANTS="Q8_0 Q4_K_M"  CONCURRENCY="1 8 32"  INPUT_LEN=32  OUTPUT_LEN=64
#   REQS_PER_STREAM=1  requests per level = streams x this (one wave), but at least MIN_REQUESTS=4
#   Q4KM_WEIGHTS=q8  ladle's --weights for the Q4_K_M file (see BENCHMARKS.md: its K-quant blocks
#     stay in the file and are widened one matrix at a time into q8 panels; f32 would cost ~5 GB
#     and 4 bytes per weight; native computes with the Q4_K/Q6_K blocks as they are, copied into
#     2 MiB pages, no packing)
#
# Both servers get two threads and one slot per client (llama-server: -t 2, -np = the largest
# concurrency, 128 context tokens per slot; ladle: --threads 2, --max-running = that concurrency)
# and an f16 K/V cache (llama-server's default; ladle --kv-cache-dtype f16).
# Load time to first token: from the server process's start to the answer of one completion
# request of 1 token (the request is sent as soon as /health answers 200), the file in the page
# cache on both sides (read once before each start).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-bench-results}")
mkdir -p "$out"
bin=${LLAMA_BIN:?set LLAMA_BIN to llama.cpp build/bin (llama-server, llama-quantize)}
L=$(realpath build/ladle)
vocab=$(realpath "${LADLE_VOCAB:-../shared/vocab/ggml-vocab-llama-bpe.gguf}")
layers=${LAYERS:-16} dim=${DIM:-2048} hidden=${HIDDEN:-8192} heads=${HEADS:-32} kvh=${KV_HEADS:-8}
quants=${QUANTS:-Q8_0 Q4_K_M}
levels=${CONCURRENCY:-1 8 32}
in_len=${INPUT_LEN:-32} out_len=${OUTPUT_LEN:-64}
per=${REQS_PER_STREAM:-1} min_req=${MIN_REQUESTS:-4}
max_c=0
for c in $levels; do [ "$c" -gt "$max_c" ] && max_c=$c; done
slot_ctx=128

tag=l${layers}d${dim}
models=$(realpath -m "${MODELS_DIR:-$out}")
mkdir -p "$models"
f16="$models/gg-$tag-F16.gguf"
# Llama 3.2 1B: RoPE base 500000 with the llama3 scaling (factor 32, low 1, high 4, original 8192),
# tied embedding. The context length is 8192 here (the real model's 131072 changes nothing measured).
[ -f "$f16" ] || $L make-model --format gguf --arch llama --vocab "$vocab" --dim "$dim" --hidden "$hidden" \
  --layers "$layers" --heads "$heads" --kv-heads "$kvh" --seq-len 8192 --rope-theta 500000 \
  --rope-scaling llama3 --rope-factor 32 --rope-low-freq-factor 1 --rope-high-freq-factor 4 \
  --rope-original-context 8192 --type f16 --out "$f16"
for q in $quants; do
  [ -f "$models/gg-$tag-$q.gguf" ] || "$bin/llama-quantize" "$f16" "$models/gg-$tag-$q.gguf" "$q" > "$models/gg-$tag-$q.quantize.log" 2>&1
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

# serve_and_bench NAME GGUF -- COMMAND...: starts the server command (its port is $port), times load
# to first token, runs the bench levels, stops it. Writes $out/NAME.load (seconds) and NAME-cC.json.
serve_and_bench() {
  local name=$1 gguf=$2
  shift 3
  cat "$gguf" > /dev/null
  local t0 pid ok=0
  t0=$(now)
  "$@" > "$out/$name.server.log" 2>&1 &
  pid=$!
  for _ in $(seq 6000); do
    if curl -sf "http://127.0.0.1:$port/health" > /dev/null; then ok=1; break; fi
    kill -0 $pid 2> /dev/null || break
    sleep 0.05
  done
  if [ $ok = 1 ] && curl -sf "http://127.0.0.1:$port/v1/completions" -H 'Content-Type: application/json' \
      -d '{"prompt": "Hello", "max_tokens": 1, "temperature": 0}' > "$out/$name.first.json"; then
    python3 -c "print(f'{$(now) - $t0:.2f}')" > "$out/$name.load"
    echo "== $name: load to first token $(cat "$out/$name.load") s; RSS $(ps -o rss= -p $pid | awk '{printf "%.0f MB", $1/1024}')" >&2
    for c in $levels; do
      local n=$((c * per))
      [ $n -lt "$min_req" ] && n=$min_req
      "$L" bench --url "http://127.0.0.1:$port" --concurrency "$c" --num-requests $n --duration 600 \
        --input-len "$in_len" --output-len "$out_len" --ignore-eos --temperature 0 \
        --json "$out/$name-c$c.json" > "$out/$name-c$c.txt" 2>&1 || echo "== $name: bench at $c failed (see $name-c$c.txt)" >&2
    done
    echo "== $name: peak RSS $(grep VmHWM /proc/$pid/status | awk '{printf "%.0f MB", $2/1024}')" >&2
  else
    echo "== $name: the server did not answer (see $out/$name.server.log)" >&2
    echo nan > "$out/$name.load"
  fi
  kill -TERM $pid 2> /dev/null || true
  for _ in $(seq 200); do
    kill -0 $pid 2> /dev/null || break
    sleep 0.05
  done
  kill -KILL $pid 2> /dev/null || true
  wait $pid 2> /dev/null || true
}

for q in $quants; do
  gguf="$models/gg-$tag-$q.gguf"
  w=q8
  [ "$q" = Q4_K_M ] && w=${Q4KM_WEIGHTS:-q8}
  port=$(free_port)
  echo "== $q: llama-server" >&2
  serve_and_bench "gg-$tag-$q-llama" "$gguf" -- "$bin/llama-server" -m "$gguf" -t 2 -np "$max_c" \
    -c $((max_c * slot_ctx)) --host 127.0.0.1 --port "$port"
  port=$(free_port)
  echo "== $q: ladle --weights $w" >&2
  serve_and_bench "gg-$tag-$q-ladle" "$gguf" -- "$L" serve --model "$gguf" --port "$port" --threads 2 \
    --max-running "$max_c" --weights "$w" --kv-cache-dtype f16 --kv-cache-mb 256
done

python3 - "$out" "$tag" "$quants" "$levels" > "$out/gg-$tag-table.md" << 'EOF'
import json, math, sys
out, tag, quants, levels = sys.argv[1], sys.argv[2], sys.argv[3].split(), [int(c) for c in sys.argv[4].split()]
def level(name, c):
    try:
        j = json.load(open(f"{out}/gg-{tag}-{name}-c{c}.json"))
    except (OSError, ValueError):
        return None
    return j["runs"][0]
def num(name):
    try: return float(open(f"{out}/gg-{tag}-{name}.load").read())
    except (OSError, ValueError): return math.nan
def get(lv, key, sub=None):
    if lv is None or key not in lv: return math.nan
    v = lv[key] if sub is None else lv[key].get(sub, math.nan)
    return math.nan if v is None else float(v)
print("| file | streams | llama-server tok/s | ladle tok/s | ratio | goal | llama-server TTFT p99 ms | ladle TTFT p99 ms |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for q in quants:
    for c in levels:
        a, b = level(f"{q}-llama", c), level(f"{q}-ladle", c)
        ta, tb = get(a, "output_throughput"), get(b, "output_throughput")
        pa, pb = get(a, "ttft_ms", "p99"), get(b, "ttft_ms", "p99")
        goal = 1.0 if c == 1 else 1.3
        r = tb / ta if ta == ta and ta > 0 else math.nan
        met = "met" if r >= goal else "not met"
        print(f"| {q} | {c} | {ta:.2f} | {tb:.2f} | {r:.2f}x | ≥{goal}x: {met} | {pa:.0f} | {pb:.0f} |")
print()
print("| file | llama-server load to first token s | ladle s | ratio | goal ≤1.5x |")
print("| --- | --- | --- | --- | --- |")
for q in quants:
    la, lb = num(f"{q}-llama"), num(f"{q}-ladle")
    r = lb / la if la == la and la > 0 else math.nan
    print(f"| {q} | {la:.2f} | {lb:.2f} | {r:.2f}x | {'met' if r <= 1.5 else 'not met'} |")
EOF
cat "$out/gg-$tag-table.md"
