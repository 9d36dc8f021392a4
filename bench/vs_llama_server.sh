#!/usr/bin/env bash
# ladle beside llama.cpp's llama-server on the same synthetic checkpoints (ladle's own, exported
# to GGUF with `ladle export-gguf`), under the same closed-loop load from `ladle bench`, the two
# servers alternated shape by shape and precision by precision.
#   LLAMA_SERVER="llama-server" bash bench/vs_llama_server.sh [OUT_DIR] [ROUNDS]
# LLAMA_SERVER is the command that starts llama-server (it may be e.g. `chroot /srv/sid
# llama-server` when the binary lives in another root; OUT_DIR must then be visible there at the
# same path). Needs a Release build (build/ladle). Each run lands in OUT_DIR/vs-*.txt|json.
#
# Optional environment, to narrow or extend the comparison:
#   SHAPES="15m 110m"  WEIGHTS="f32 f16"  CONCURRENCY=1,8,32,64
#   LADLE_VARIANTS="A;B;..."  several ladle servers per cell, each with its own extra `ladle serve`
#     flags, run in that order before llama-server (vs-r*-SHAPE-W-ladle-v1.json, -v2, ...), e.g.
#     LADLE_VARIANTS="--max-decode-deferral 16;--max-decode-deferral 0". Unset: one ladle server
#     with the defaults (vs-r*-SHAPE-W-ladle.json).
#
# Both servers get two threads and one slot per client (llama-server: -np 64 and 256 context
# tokens per slot, enough for a 33-token prompt and 128 outputs; ladle: --max-running 64).
# "f32" is F32 weights (llama-server's K/V cache stays at its default, f16; ladle's is fp32);
# "f16" is F16 weights and an f16 K/V cache on both.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-bench-results}")
rounds=${2:-1}
mkdir -p "$out"
llama=${LLAMA_SERVER:?set LLAMA_SERVER to the command that runs llama-server}
L=build/ladle
tok=$(realpath "${LADLE_BENCH_TOKENIZER:-../shared/models/tokenizer32k.bin}")
shapes=${SHAPES:-15m 110m}
weights=${WEIGHTS:-f32 f16}
load=(--concurrency "${CONCURRENCY:-1,8,32,64}" --num-requests 256 --duration 30 --input-len 32 --output-len 128 --ignore-eos)

for m in $shapes; do
  [ -f "$out/m$m.bin" ] || $L make-model --preset $m --out "$out/m$m.bin"
  for w in $weights; do
    [ -f "$out/m$m-$w.gguf" ] || $L export-gguf -m "$out/m$m.bin" -z "$tok" -o "$out/m$m-$w.gguf" --type $w
  done
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# llama_run NAME GGUF W: one sweep against a fresh llama-server.
llama_run() {
  local name=$1 gguf=$2 w=$3 port kv=()
  port=$(free_port)
  [ "$w" = f16 ] && kv=(--cache-type-k f16 --cache-type-v f16)
  $llama -m "$gguf" -t 2 -np 64 -c $((64 * 256)) --metrics --host 127.0.0.1 --port "$port" "${kv[@]}" \
    > "$out/$name.server.log" 2>&1 &
  local pid=$!
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$port/health" > /dev/null && break
    sleep 0.1
  done
  $L bench --url "http://127.0.0.1:$port" "${load[@]}" --json "$out/$name.json" | tee "$out/$name.txt" || true
  # SIGTERM, then SIGKILL after 10 s (llama-server v0.5.0 sometimes never exits on SIGTERM; a
  # chroot wrapper may not pass signals on, hence the match on the port as well).
  kill -TERM $pid 2> /dev/null || true
  pkill -TERM -f -- "--port $port" 2> /dev/null || true
  for _ in $(seq 100); do
    kill -0 $pid 2> /dev/null || break
    sleep 0.1
  done
  kill -KILL $pid 2> /dev/null || true
  pkill -KILL -f -- "--port $port" 2> /dev/null || true
  wait $pid 2> /dev/null || true
}

# ladle_run NAME MODEL W [extra serve flags...]: one sweep against a fresh `ladle serve`.
ladle_run() {
  local name=$1 model=$2 w=$3
  shift 3
  bench/with_server.sh "$model" "$tok" --max-running 64 --weights "$w" --kv-cache-dtype "$w" "$@" -- bench \
    "${load[@]}" --json "$out/$name.json" | tee "$out/$name.txt"
}

IFS=';' read -r -a variants <<< "${LADLE_VARIANTS:-}"
for r in $(seq "$rounds"); do
  for m in $shapes; do
    for w in $weights; do
      if [ ${#variants[@]} -eq 0 ]; then
        echo "== round $r: $m $w: ladle" >&2
        ladle_run "vs-r$r-$m-$w-ladle" "$out/m$m.bin" $w
      fi
      for i in "${!variants[@]}"; do
        echo "== round $r: $m $w: ladle ${variants[$i]}" >&2
        # shellcheck disable=SC2086  # a variant is a list of flags
        ladle_run "vs-r$r-$m-$w-ladle-v$((i + 1))" "$out/m$m.bin" $w ${variants[$i]}
      done
      echo "== round $r: $m $w: llama-server" >&2
      llama_run "vs-r$r-$m-$w-llama" "$out/m$m-$w.gguf" $w
    done
  done
done
