#!/usr/bin/env bash
# Batch work beside interactive streams through the HTTP batch API (issue 19, the served
# counterpart of build/bench/priority_bench): a synthetic checkpoint behind `ladle serve` on
# loopback, per round three runs, each on a fresh server with its own temporary --data-dir:
#   1. interactive alone: `ladle bench --concurrency 8` (streamed, --input-len 32, --output-len 64,
#      --ignore-eos, greedy) against an otherwise idle server: TTFT p99, ITL p99, output tok/s.
#   2. batch alone (best): a BATCH_LINES-line JSONL of /v1/completions lines (32 words, max_tokens
#      64, ignore_eos, greedy, distinct custom_id and seed) uploaded (POST /v1/files), a batch
#      created (POST /v1/batches); once its lines generate and SETTLE_S more seconds have passed,
#      ladle_generation_tokens_by_class_total{class="batch"} is read twice, BEST_WINDOW_S apart:
#      the batch's own output tok/s. Then POST /v1/batches/{id}/cancel, and a wait until the batch
#      reads "cancelled" and /metrics shows nothing running.
#   3. with batch: a fresh batch as in 2; once its lines generate (+ SETTLE_S), the same `ladle
#      bench` as in 1; total output tok/s of both classes from /metrics over the bench's run
#      (its warm-up included); then cancel and wait as in 2.
# A fresh server per run, so that no prefix cache, cancelled lines or learned step costs carry
# over from one run to the next; run 1 and 3 send the same prompts (same --seed).
# Printed per round: absolute figures and TTFT p99 / alone, ITL p99 / alone, total tok/s / best
# (issue 19's goals: ≤ 1.2, ≤ 1.2, ≥ 0.9); with ITL_TARGET_MS, the share of interactive ITLs over
# the target.
#
#   [SHAPE=15m|110m] [ROUNDS=3] [NUM_REQUESTS=N] [BATCH_LINES=2000] [BEST_WINDOW_S=S] [SETTLE_S=2]
#   [BATCH_STEP_SHARE=F] [BATCH_FLOOR_SHARE=F] [ITL_TARGET_MS=MS] [BATCH_MAX_IN_FLIGHT=N]
#   [SERVE_FLAGS="..."] [DATA_ROOT=DIR] bash bench/batch_http_bench.sh
#
# NUM_REQUESTS (per `ladle bench`, after 8 unrecorded warm-up requests) defaults to 256 on 15M
# and 40 on 110M (~10-20 s each alone on this project's 2-vCPU machine); BEST_WINDOW_S to 10 and
# 20. BATCH_STEP_SHARE, BATCH_FLOOR_SHARE, ITL_TARGET_MS and BATCH_MAX_IN_FLIGHT map to `ladle
# serve --batch-step-share`, `--batch-floor-share`, `--itl-target-ms` and
# `--batch-max-in-flight`; unset, the server's defaults apply (--batch-max-in-flight 8: the
# batch then runs at most 8 lines at once, alone too, so "best" is the batch API's best at that
# setting, not the engine's; BATCH_MAX_IN_FLIGHT=64 lets it fill the engine's slots as
# priority_bench's batch does). SERVE_FLAGS adds any other `ladle serve` flags. DATA_ROOT is where
# the temporary data dirs go (default: the raw files' folder under /tmp; e.g. /dev/shm to take the
# store's fsyncs, on the batch runner's own threads, out of the comparison).
# The model is `ladle make-model --preset SHAPE` with LLaMA's 32k tokenizer
# (LADLE_BENCH_TOKENIZER, default ../shared/models/tokenizer32k.bin), as bench/vs_llama_server.sh.
# Needs the Release build (build/ladle), curl and python3. Every process it starts is stopped on
# exit; the data dirs are removed; bench JSON and server logs stay in a temporary folder named at
# the end.
set -euo pipefail
[ -n "${DATA_ROOT:-}" ] && DATA_ROOT=$(realpath -m "$DATA_ROOT")
cd "$(dirname "$0")/.."
L=build/ladle
shape=${SHAPE:-15m}
rounds=${ROUNDS:-3}
lines=${BATCH_LINES:-2000}
settle=${SETTLE_S:-2}
case $shape in
  15m) num_requests=${NUM_REQUESTS:-256} window=${BEST_WINDOW_S:-10} ;;
  110m) num_requests=${NUM_REQUESTS:-40} window=${BEST_WINDOW_S:-20} ;;
  *) echo "SHAPE must be 15m or 110m" >&2; exit 2 ;;
esac
tok=$(realpath "${LADLE_BENCH_TOKENIZER:-../shared/models/tokenizer32k.bin}")
serve_flags=()
[ -n "${BATCH_STEP_SHARE:-}" ] && serve_flags+=(--batch-step-share "$BATCH_STEP_SHARE")
[ -n "${BATCH_FLOOR_SHARE:-}" ] && serve_flags+=(--batch-floor-share "$BATCH_FLOOR_SHARE")
[ -n "${ITL_TARGET_MS:-}" ] && serve_flags+=(--itl-target-ms "$ITL_TARGET_MS")
[ -n "${BATCH_MAX_IN_FLIGHT:-}" ] && serve_flags+=(--batch-max-in-flight "$BATCH_MAX_IN_FLIGHT")
# shellcheck disable=SC2206  # a list of flags
[ -n "${SERVE_FLAGS:-}" ] && serve_flags+=($SERVE_FLAGS)
load=(--concurrency 8 --num-requests "$num_requests" --warmup 8 --duration 600 --input-len 32 --output-len 64
      --ignore-eos --temperature 0 --seed 1)

out=$(mktemp -d /tmp/ladle_batch_http.XXXXXX)
data=${DATA_ROOT:-$out}/$(basename "$out")-data
pid='' child=''
cleanup() {
  [ -n "$child" ] && kill -TERM "$child" 2> /dev/null
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
  fi
  rm -rf "$data"-* "$out/m$shape.bin" "$out/batch.jsonl"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# interruptible CMD...: CMD in the background, waited for, so that a signal to this script ends it
# at once (bash runs a trap only after the foreground command it waits on has returned).
interruptible() {
  local status=0
  "$@" &
  child=$!
  wait "$child" || status=$?
  child=
  return $status
}

echo "# issue 19 through the HTTP batch API: $shape, $rounds round(s)"
echo
python3 - <<'PY'
import subprocess
f = dict(l.split(":", 1) for l in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines() if ":" in l)
g = lambda k: f.get(k, "?").strip()
flags = g("Flags").split()
avx512 = "avx512 " + "/".join(x[6:].lstrip("_") for x in flags if x.startswith("avx512")) if "avx512f" in flags else "no avx512"
print(f"- CPU: {g('Model name')}, family {g('CPU family')} model {g('Model')}, {g('CPU(s)')} CPUs;",
      "avx2" if "avx2" in flags else "no avx2", "/", avx512)
PY
echo "- commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2> /dev/null || echo ' (tree modified)'); $(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- ladle serve flags: ${serve_flags[*]:-(defaults)}; ladle bench ${load[*]}"
echo "- batch: $lines lines, best window ${window} s after ${settle} s of settling; data dirs $data-*; raw files: $out"
echo

model=$out/m$shape.bin
$L make-model --preset "$shape" --out "$model" > /dev/null
# The batch's input: 32 words (each one token in LLaMA's 32k vocabulary: the word list of
# bench/loadgen/workload.cc) per prompt, like `ladle bench --input-len 32`.
python3 - "$lines" "$out/batch.jsonl" <<'PY'
import json, random, sys
words = ("the a little girl boy dog cat saw big red tree park sun happy sad went to and she he was very ball play "
         "with friend mom day one time there lived in house small bird fly sky blue green said look at run fast slow "
         "jump tall box toy car food eat good new old water cold warm night star moon walk home").split()
rng = random.Random(19)
with open(sys.argv[2], "w") as f:
    for i in range(int(sys.argv[1])):
        body = {"prompt": " ".join(rng.choice(words) for _ in range(32)), "max_tokens": 64, "ignore_eos": True,
                "temperature": 0, "seed": i}
        f.write(json.dumps({"custom_id": f"line-{i}", "method": "POST", "url": "/v1/completions", "body": body}) + "\n")
PY

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
die() { echo "batch_http_bench: $*" >&2; exit 1; }

# start_server TAG: a fresh `ladle serve` ($pid, $url) with the data dir $data-TAG.
start_server() {
  local port
  port=$(free_port)
  url=http://127.0.0.1:$port
  $L serve --model "$model" --tokenizer "$tok" --port "$port" --data-dir "$data-$1" "${serve_flags[@]}" \
    2> "$out/$1.log" &
  pid=$!
  for _ in $(seq 600); do
    curl -sf "$url/health" > /dev/null && return
    kill -0 "$pid" 2> /dev/null || die "ladle serve exited (log: $out/$1.log)"
    sleep 0.1
  done
  die "ladle serve not healthy after 60 s (log: $out/$1.log)"
}
stop_server() {
  kill -TERM "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
  pid=
  rm -rf "$data-$1"
}
# metric NAME: a sample's value on /metrics (NAME with its labels, as printed), 0 when absent.
metric() { curl -sf "$url/metrics" | awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'; }
batch_tokens() { metric 'ladle_generation_tokens_by_class_total{class="batch"}'; }
all_tokens() { metric ladle_generation_tokens_total; }
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# start_batch: uploads the JSONL, creates a batch ($batch) and waits until its lines generate.
start_batch() {
  local file
  file=$(curl -sf -F purpose=batch -F "file=@$out/batch.jsonl;type=application/jsonl" "$url/v1/files" | json_field id) ||
    die "upload failed"
  batch=$(curl -sf -H 'Content-Type: application/json' "$url/v1/batches" \
            -d "{\"input_file_id\": \"$file\", \"endpoint\": \"/v1/completions\", \"completion_window\": \"24h\"}" |
            json_field id) || die "batch creation failed"
  for _ in $(seq 1200); do
    [ "$(batch_tokens)" != 0 ] && { sleep "$settle"; return; }
    sleep 0.1
  done
  die "batch $batch generated nothing in 120 s: $(curl -s "$url/v1/batches/$batch")"
}
# cancel_batch: cancels $batch, waits until it reads cancelled and nothing runs.
cancel_batch() {
  local status running
  curl -sf -X POST "$url/v1/batches/$batch/cancel" > /dev/null || die "cancel of $batch failed"
  for _ in $(seq 600); do
    status=$(curl -sf "$url/v1/batches/$batch" | json_field status)
    running=$(curl -sf "$url/metrics" | awk '$1 ~ /^ladle_requests_running\{/ || $1 == "ladle_batch_lines_running" { s += $2 }
                                               END { print s + 0 }')
    if [ "$status" = cancelled ] && [ "$running" = 0 ]; then
      # Every line is in the output or the error file: completed + failed = total.
      curl -sf "$url/v1/batches/$batch" | python3 -c '
import json, sys
c = json.load(sys.stdin)["request_counts"]
sys.exit(0 if c["completed"] + c["failed"] == c["total"] else f"cancelled batch: request_counts {c} do not add up")'
      return
    fi
    sleep 0.1
  done
  die "batch $batch not cancelled and idle after 60 s (status $status, running $running)"
}

for r in $(seq "$rounds"); do
  echo "== round $r: interactive alone" >&2
  start_server "alone-$r"
  interruptible $L bench --url "$url" "${load[@]}" --json "$out/alone-$r.json" > "$out/alone-$r.txt" || die "bench failed (alone)"
  stop_server "alone-$r"

  echo "== round $r: batch alone" >&2
  start_server "best-$r"
  start_batch
  t0=$(now) b0=$(batch_tokens)
  interruptible sleep "$window"
  t1=$(now) b1=$(batch_tokens)
  cancel_batch
  stop_server "best-$r"
  echo "best_s=$(python3 -c "print($t1 - $t0)") best_tokens=$((b1 - b0))" > "$out/best-$r.env"

  echo "== round $r: with batch" >&2
  start_server "with-$r"
  start_batch
  t0=$(now) a0=$(all_tokens) b0=$(batch_tokens)
  interruptible $L bench --url "$url" "${load[@]}" --json "$out/with-$r.json" > "$out/with-$r.txt" || die "bench failed (with batch)"
  t1=$(now) a1=$(all_tokens) b1=$(batch_tokens)
  cancel_batch
  stop_server "with-$r"
  echo "with_s=$(python3 -c "print($t1 - $t0)") with_tokens=$((a1 - a0)) with_batch_tokens=$((b1 - b0))" > "$out/with-$r.env"

  python3 - "$out" "$r" "${ITL_TARGET_MS:-0}" <<'PY'
import json, sys
out, r, target = sys.argv[1], sys.argv[2], float(sys.argv[3])
env = {}
for name in ("best", "with"):
    for kv in open(f"{out}/{name}-{r}.env").read().split():
        k, v = kv.split("=")
        env[k] = float(v)
alone = json.load(open(f"{out}/alone-{r}.json"))
withb = json.load(open(f"{out}/with-{r}.json"))
a, w = alone["runs"][0], withb["runs"][0]
best = env["best_tokens"] / env["best_s"]
total = env["with_tokens"] / env["with_s"]
batch_with = env["with_batch_tokens"] / env["with_s"]
def over(run):
    itls = [x for s in run.get("samples", []) if s.get("ok") for x in s.get("itl_ms", [])]
    if target <= 0 or not itls: return "-"
    return f"{100 * sum(x > target for x in itls) / len(itls):.1f} %"
print(f"round {r}:\n")
print("| run | requests ok | TTFT ms p50 / p99 | ITL ms p50 / p99 | ITLs over target | interactive tok/s | batch tok/s | "
      "total tok/s | TTFT p99 / alone | ITL p99 / alone | total / best |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
print(f"| batch alone (best) | - | - | - | - | - | {best:.0f} | {best:.0f} | - | - | 1.00 |")
for name, run, batch, tot in (("interactive alone", a, 0.0, None), ("with batch", w, batch_with, total)):
    tot_cell = f"{tot:.0f}" if tot is not None else f"{run['output_throughput']:.0f}"
    ratio = (tot if tot is not None else run["output_throughput"]) / best
    print(f"| {name} | {run['completed']}/{run['completed'] + run['failed']} | "
          f"{run['ttft_ms']['p50']:.1f} / {run['ttft_ms']['p99']:.1f} | {run['itl_ms']['p50']:.1f} / {run['itl_ms']['p99']:.1f} | "
          f"{over(run)} | {run['output_throughput']:.0f} | {batch:.0f} | {tot_cell} | "
          f"{run['ttft_ms']['p99'] / a['ttft_ms']['p99']:.2f} | {run['itl_ms']['p99'] / a['itl_ms']['p99']:.2f} | {ratio:.2f} |")
print(f"\n(with batch: window {env['with_s']:.1f} s; goals: TTFT p99 / alone ≤ 1.2, ITL p99 / alone ≤ 1.2, total / best ≥ 0.9)\n")
PY
done
echo "raw files: $out"
