#!/usr/bin/env bash
# What the HTTP/SSE path adds per token (issue 4): the offline engine and `ladle serve` on the same
# synthetic tiny checkpoint, 32 streams of 256 tokens, 512 requests, alternated round by round.
#   bench/http_overhead.sh [ROUNDS] [THREADS]      (defaults: 6 rounds, --threads 1)
# Per round, three comparisons:
# - closed loop, 32 clients / 32 offline requests in flight: the offline decode-step mean
#   (engine_bench) against the served one (the server's ladle_decode_step_duration_seconds,
#   sum / count), the same work per step with and without the HTTP path;
# - the same runs' TPOT means, which also differ by how each closed loop spreads its
#   resubmissions (see the note in bench/engine_bench.cc);
# - identical arrivals: an open-loop `ladle bench --request-rate 300` run (above the ~130
#   requests/s the engine sustains, so the batch stays full and the rest queue in the server),
#   then `engine_bench --replay` of its send times: TPOT over the same requests with and without
#   HTTP.
# and the SSE events/s the closed-loop client received.
# Needs the Release build in build/ (with -DLADLE_BUILD_BENCH=ON), curl and python3; the servers
# log to /tmp/ladle_serve_<port>.log (bench/with_server.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-6} threads=${2:-1}
model=/tmp/ladle_bench_tiny.bin tok=/tmp/ladle_bench_tok512.bin
out=$(mktemp -d /tmp/ladle_http_overhead.XXXXXX)
echo "| round | decode step ms, offline / served | served ÷ offline | closed-loop TPOT ms, offline / served | served ÷ offline | same-arrivals TPOT ms, offline / served | served ÷ offline | SSE events/s |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
# serve TAG BENCH-FLAGS...: one served run; its JSON and its /metrics land in $out.
serve() {
  local tag=$1
  shift
  LADLE_METRICS_OUT="$out/metrics-$tag.txt" bench/with_server.sh $model $tok --max-running 32 --threads "$threads" \
    -- bench --num-requests 512 --input-len 16 --output-len 256 --ignore-eos --json "$out/$tag.json" "$@" > /dev/null
}
for r in $(seq "$rounds"); do
  # engine_bench (re)writes the checkpoint and tokenizer the server then loads.
  row=$(build/bench/engine_bench --shapes tiny --concurrency 32 --prompt-len 46 --new-tokens 256 --no-prefix-test \
          --threads "$threads" --num-requests 512 2> "$out/offline-$r.log" | grep '^| tiny | 32 ')
  off_step=$(echo "$row" | awk -F'|' '{split($6, s, "/"); print s[1] + 0}')
  off_tpot=$(echo "$row" | awk -F'|' '{print $(NF-1) + 0}')
  serve closed-$r --concurrency 32
  serve open-$r --request-rate 300 --seed "$r"
  replay=$(build/bench/engine_bench --shapes tiny --threads "$threads" --max-running 32 --replay "$out/open-$r.json" \
             2> "$out/replay-$r.log" | grep '^| tiny | ')
  python3 - "$out" "$r" "$off_step" "$off_tpot" "$replay" <<'PY'
import json, sys
out, r, off_step, off_tpot, replay = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
run = json.load(open(f"{out}/closed-{r}.json"))["runs"][0]
m = dict(l.split() for l in open(f"{out}/metrics-closed-{r}.txt") if l.startswith("ladle_decode_step_duration_seconds_"))
step = float(m["ladle_decode_step_duration_seconds_sum"]) / float(m["ladle_decode_step_duration_seconds_count"]) * 1e3
ok = [s for s in run["samples"] if s["ok"]]
events = sum(s["content_events"] for s in ok)
tpot = run["tpot_ms"]["mean"]
cells = [c.strip() for c in replay.strip().strip("|").split("|")]
rep_off, rep_served = float(cells[6]), float(cells[7])
pct = lambda a, b: f"{(b / a - 1) * 100:+.1f}%"
print(f"| {r} | {off_step:.3f} / {step:.3f} | {pct(off_step, step)} | {off_tpot:.3f} / {tpot:.3f} | {pct(off_tpot, tpot)} | "
      f"{rep_off:.3f} / {rep_served:.3f} | {pct(rep_off, rep_served)} | {events / run['duration_s']:.0f} |")
PY
done
echo "raw files: $out"
