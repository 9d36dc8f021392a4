#!/usr/bin/env bash
# What the HTTP/SSE path adds per token (issue 4): the offline engine and `ladle serve` on the same
# synthetic tiny checkpoint, 32 streams, a closed loop of 512 requests of 256 tokens, alternated
# round by round.
#   bench/http_overhead.sh [ROUNDS] [THREADS]      (defaults: 6 rounds, --threads 1)
# Per round: the offline decode-step mean (engine_bench) against the served one (the server's
# ladle_decode_step_duration_seconds, sum / count) — the same work per step, with and without the
# HTTP path — and both TPOT means, which also differ by how each closed loop spreads its
# resubmissions (see the note in bench/engine_bench.cc); then SSE events/s at the client.
# Needs the Release build in build/ (with -DLADLE_BUILD_BENCH=ON), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-6} threads=${2:-1}
model=/tmp/ladle_bench_tiny.bin tok=/tmp/ladle_bench_tok512.bin
out=$(mktemp -d /tmp/ladle_http_overhead.XXXXXX)
echo "| round | offline decode step ms | served decode step ms | served / offline | offline TPOT ms | served TPOT ms | served / offline | SSE events/s |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for r in $(seq "$rounds"); do
  # engine_bench (re)writes the checkpoint and tokenizer the server then loads.
  row=$(build/bench/engine_bench --shapes tiny --concurrency 32 --prompt-len 46 --new-tokens 256 --no-prefix-test \
          --threads "$threads" --num-requests 512 2> "$out/offline-$r.log" | grep '^| tiny | 32 ')
  off_step=$(echo "$row" | awk -F'|' '{split($6, s, "/"); print s[1] + 0}')
  off_tpot=$(echo "$row" | awk -F'|' '{print $(NF-1) + 0}')
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  build/ladle serve --model $model --tokenizer $tok --port "$port" --max-running 32 --threads "$threads" \
    2> "$out/serve-$r.log" &
  pid=$!
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.1; done
  build/ladle bench --url "http://127.0.0.1:$port" --concurrency 32 --num-requests 512 --input-len 16 \
    --output-len 256 --ignore-eos --json "$out/served-$r.json" > /dev/null
  curl -s "http://127.0.0.1:$port/metrics" > "$out/metrics-$r.txt"
  kill -TERM $pid
  wait $pid || true
  python3 - "$out/served-$r.json" "$out/metrics-$r.txt" "$r" "$off_step" "$off_tpot" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))["runs"][0]
m = dict(l.split() for l in open(sys.argv[2]) if l.startswith("ladle_decode_step_duration_seconds_"))
step = float(m["ladle_decode_step_duration_seconds_sum"]) / float(m["ladle_decode_step_duration_seconds_count"]) * 1e3
ok = [s for s in run["samples"] if s["ok"]]
events = sum(len(s["itl_ms"]) + 1 for s in ok)  # content events: the first, then one per gap
tpot = run["tpot_ms"]["mean"]
off_step, off_tpot = float(sys.argv[4]), float(sys.argv[5])
print(f"| {sys.argv[3]} | {off_step:.3f} | {step:.3f} | {(step / off_step - 1) * 100:+.1f}% | {off_tpot:.3f} | "
      f"{tpot:.3f} | {(tpot / off_tpot - 1) * 100:+.1f}% | {events / run['duration_s']:.0f} |")
PY
done
echo "raw files: $out"
