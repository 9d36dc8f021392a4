#!/usr/bin/env bash
# Soak: N requests (default 10000) against a live `ladle serve` through `ladle bench --mix
# --drop-rate`: completions and chat, streamed and not, stop strings, 30% dropped by the client
# at a random point (queued, prefill, decode), 64 at a time. Then it checks, from /metrics and
# /proc, that nothing leaked:
#   - 0 running, 0 waiting, 0 used KV blocks;
#   - RSS back within 10% of its value after the warm-up;
#   - every request that was not dropped got a valid response (ladle bench exits 0);
#   - SIGTERM ends the server with status 0.
# Prints the figures and exits non-zero on any failure.
#
# usage: scripts/soak.sh [N]
# environment: LADLE (binary, default build/ladle), SOAK_PRESET (make-model preset, default 15m),
#   SOAK_MODEL + SOAK_TOKENIZER (serve these instead), SOAK_CONCURRENCY (64), SOAK_DROP_RATE (0.3),
#   SOAK_INPUT_LEN (32), SOAK_OUTPUT_LEN (32), SOAK_DIR (work folder), SOAK_SERVE_FLAGS (extra flags).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
LADLE=${LADLE:-build/ladle}
PRESET=${SOAK_PRESET:-15m}
CONCURRENCY=${SOAK_CONCURRENCY:-64}
DROP_RATE=${SOAK_DROP_RATE:-0.3}
INPUT_LEN=${SOAK_INPUT_LEN:-32}
OUTPUT_LEN=${SOAK_OUTPUT_LEN:-32}
DIR=${SOAK_DIR:-$(mktemp -d /tmp/ladle-soak.XXXXXX)}
mkdir -p "$DIR"
WARMUP=$(( N / 10 > 200 ? N / 10 : 200 ))

if [ -n "${SOAK_MODEL:-}" ]; then
  MODEL=$SOAK_MODEL; TOKENIZER=${SOAK_TOKENIZER:?SOAK_TOKENIZER goes with SOAK_MODEL}
else
  MODEL=$DIR/model-$PRESET.bin; TOKENIZER=$DIR/tokenizer-$PRESET.bin
  [ -f "$MODEL" ] || "$LADLE" make-model --preset "$PRESET" --out "$MODEL" --tokenizer-out "$TOKENIZER" 2>/dev/null
fi

LOG=$DIR/serve.log
# shellcheck disable=SC2086
"$LADLE" serve --port 0 --model "$MODEL" --tokenizer "$TOKENIZER" --max-running "$CONCURRENCY" \
  ${SOAK_SERVE_FLAGS:-} 2> "$LOG" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 600); do grep -q "ladle serve: ready" "$LOG" && break; kill -0 $PID || { cat "$LOG"; exit 1; }; sleep 0.1; done
PORT=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$LOG" | head -1)
URL=http://127.0.0.1:$PORT

# metric NAME: one value from /metrics (0 when absent).
metric() {
  python3 - "$URL" "$1" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(sys.argv[1] + "/metrics", timeout=10).read().decode()
vals = [l.rsplit(" ", 1)[1] for l in text.splitlines() if l.startswith(sys.argv[2] + " ") ]
print(int(float(vals[0])) if vals else 0)
PY
}
rss_kib() { awk '/^VmRSS:/ {print $2}' /proc/$PID/status; }
# Waits (up to 60 s) for 0 running, 0 waiting, 0 used KV blocks.
wait_idle() {
  for _ in $(seq 600); do
    [ "$(metric ladle_num_requests_running)" = 0 ] && [ "$(metric ladle_num_requests_waiting)" = 0 ] &&
      [ "$(metric ladle_kv_cache_blocks_used)" = 0 ] && return 0
    sleep 0.1
  done
  return 1
}
bench() {
  "$LADLE" bench --url "$URL" --concurrency "$CONCURRENCY" --mix --drop-rate "$DROP_RATE" \
    --input-len "$INPUT_LEN" --output-len "$OUTPUT_LEN" --range-ratio 0.5 --duration 100000 --timeout 120 "$@"
}

echo "soak: $N requests, concurrency $CONCURRENCY, drop rate $DROP_RATE, model $MODEL ($DIR)"
bench --num-requests "$WARMUP" --seed 1 > "$DIR/warmup.txt" 2>&1 || { echo "FAIL: warm-up requests failed"; tail -5 "$DIR/warmup.txt"; exit 1; }
wait_idle || { echo "FAIL: not idle after the warm-up"; exit 1; }
RSS_WARM=$(rss_kib)
START=$(date +%s.%N)
STATUS=0
bench --num-requests "$N" --seed 2 --json "$DIR/soak.json" > "$DIR/soak.txt" 2> "$DIR/soak.err" || STATUS=$?
END=$(date +%s.%N)
IDLE=ok; wait_idle || IDLE=FAIL
RSS_END=$(rss_kib)
RUNNING=$(metric ladle_num_requests_running); WAITING=$(metric ladle_num_requests_waiting)
KV_USED=$(metric ladle_kv_cache_blocks_used)
CANCELLED=$(metric 'ladle_requests_finished_total{reason="cancelled"}')
DISCONNECTS=$(metric ladle_client_disconnects_total)
read -r COMPLETED FAILED DROPPED < <(python3 -c '
import json, sys; r = json.load(open(sys.argv[1]))["runs"][0]; print(r["completed"], r["failed"], r["dropped"])' "$DIR/soak.json")
kill -TERM $PID; EXIT=0; wait $PID || EXIT=$?; trap - EXIT

RSS_OK=$(python3 -c "print('ok' if $RSS_END <= 1.10 * $RSS_WARM else 'FAIL')")
python3 -c "print('duration            %.1f s' % ($END - $START))"
echo "requests            $N: $COMPLETED completed, $DROPPED dropped by the client, $FAILED failed (bench exit $STATUS)"
echo "server              $CANCELLED cancelled, $DISCONNECTS client disconnects"
echo "after the run       running $RUNNING, waiting $WAITING, KV blocks used $KV_USED ($IDLE)"
echo "RSS                 $RSS_WARM KiB after warm-up, $RSS_END KiB at the end ($RSS_OK: within 10%)"
echo "SIGTERM             exit status $EXIT"
[ "$FAILED" -gt 0 ] && head -5 "$DIR/soak.err"
[ "$STATUS" = 0 ] && [ "$FAILED" = 0 ] && [ "$IDLE" = ok ] && [ "$RSS_OK" = ok ] && [ "$EXIT" = 0 ] &&
  [ "$DROPPED" -gt 0 ] && { echo "soak: PASS"; [ -n "${SOAK_DIR:-}" ] || rm -rf "$DIR"; exit 0; }
echo "soak: FAIL"; exit 1
