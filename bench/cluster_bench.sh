#!/usr/bin/env bash
# Past one process (issue 21), on this machine, each comparison side by side:
#   1. direct vs through nginx: one replica, the same `ladle bench` load (8 and 32 streams) sent
#      to the replica's port and to nginx's, alternated ROUNDS times; TTFT and ITL p50/p99. Then
#      one stream at a time, direct and through nginx in pairs (bench/proxy_overhead.py): the
#      same comparison without the batch's noise.
#   2. one replica (--threads 2) vs two (--threads 1 each) behind nginx, 32 streams.
#   3. a multi-turn chat workload through nginx to two replicas, without and with
#      X-Session-Affinity, alternated ROUNDS times: the prefix-cache hit rate.
#   4. direct and through nginx in the same run: one replica, `ladle bench --alt-url` sends every
#      client's requests in turns (pairs) to the replica's port and to nginx's (8 and 32 streams), with
#      --jitter (closed-loop bursts arrive in random, not path, order) and --server-timing (the TTFT
#      spent outside the server); ROUNDS4 short rounds, pooled by bench/paired_rounds.py with 95 %
#      intervals from a bootstrap over rounds, and a verdict against issue 21's goals.
#   [SECTIONS="1 2 3 4"] [THREADS1=N] [ROUNDS4=N] bench/cluster_bench.sh [ROUNDS]   (ROUNDS default 2,
#   ROUNDS4 default 20; needs build/ladle, nginx, prometheus). THREADS1 sets the replica --threads of
#   sections 1 and 4 (default: the server's own choice, both cores): THREADS1=1 leaves a core to
#   nginx and the load generator on both paths.
# The model is the synthetic 15M shape (ladle make-model --preset 15m). Raw JSON goes to a
# temporary folder named at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
sections=${SECTIONS:-1 2 3 4}
rounds4=${ROUNDS4:-20}
want() { [[ " $sections " == *" $1 "* ]]; }
out=$(mktemp -d /tmp/ladle_cluster_bench.XXXXXX)
model=$out/m15.bin tok=$out/tok15.bin
build/ladle make-model --preset 15m --out "$model" --tokenizer-out "$tok" > /dev/null
# Below the ephemeral range (32768-), so that no outgoing connection holds one of these ports.
port=$(python3 -c 'import random; print(random.randint(20000, 31000))')
dir=$out/cluster
trap 'bash scripts/cluster.sh stop --dir "$dir" > /dev/null 2>&1 || true' EXIT
load=(--num-requests 64 --warmup 4 --input-len 32 --output-len 128 --ignore-eos --temperature 0)

cluster() {  # cluster N [serve flags]
  local n=$1
  shift
  bash scripts/cluster.sh start "$n" --port "$port" --dir "$dir" --model "$model" --tokenizer "$tok" -- "$@" > /dev/null
}
stop() { bash scripts/cluster.sh stop --dir "$dir" > /dev/null; rm -rf "$dir"; }
row() {  # row LABEL JSON: one table row per level
  python3 - "$1" "$2" <<'PY'
import json, sys
for r in json.load(open(sys.argv[2]))["runs"]:
    print(f"| {sys.argv[1]} | {r['concurrency']} | {r['completed']}/{r['completed'] + r['failed']} | "
          f"{r['ttft_ms']['p50']:.2f} | {r['ttft_ms']['p99']:.2f} | {r['itl_ms']['p50']:.2f} | {r['itl_ms']['p99']:.2f} | "
          f"{r['output_throughput']:.0f} |")
PY
}

if want 1; then
echo "## 1. direct vs through nginx (1 replica, 15M, $([ -n "${THREADS1:-}" ] && echo "--threads $THREADS1" || echo "default threads"))"
echo "| path (round) | streams | ok | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms | tok/s |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
cluster 1 ${THREADS1:+--threads "$THREADS1"}
for r in $(seq "$rounds"); do
  build/ladle bench --url "http://127.0.0.1:$((port + 1))" --concurrency 8,32 "${load[@]}" --seed "$r" \
    --json "$out/direct-$r.json" > /dev/null
  row "direct ($r)" "$out/direct-$r.json"
  build/ladle bench --url "http://127.0.0.1:$port" --concurrency 8,32 "${load[@]}" --seed "$r" \
    --json "$out/nginx-$r.json" > /dev/null
  row "nginx ($r)" "$out/nginx-$r.json"
done
echo
echo "one stream at a time, in pairs (32 tokens each):"
echo "| path | pairs | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms |"
echo "| --- | --- | --- | --- | --- | --- |"
python3 bench/proxy_overhead.py --direct $((port + 1)) --nginx "$port" --pairs 200
stop
fi

if want 2; then
echo
echo "## 2. one replica (--threads 2) vs two (--threads 1 each), through nginx, 32 streams"
echo "| replicas (round) | streams | ok | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms | tok/s |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for r in $(seq "$rounds"); do
  cluster 1 --threads 2
  build/ladle bench --url "http://127.0.0.1:$port" --concurrency 32 "${load[@]}" --num-requests 96 --seed "$r" \
    --json "$out/one-$r.json" > /dev/null
  row "1 × 2 threads ($r)" "$out/one-$r.json"
  stop
  cluster 2 --threads 1
  build/ladle bench --url "http://127.0.0.1:$port" --concurrency 32 "${load[@]}" --num-requests 96 --seed "$r" \
    --json "$out/two-$r.json" > /dev/null
  row "2 × 1 thread ($r)" "$out/two-$r.json"
  stop
done
fi

if want 3; then
echo
echo "## 3. multi-turn chat through nginx to two replicas: prefix-cache hit rate"
cluster 2 --threads 1
for r in $(seq "$rounds"); do
  for mode in none affinity; do
    flag=(); [ $mode = affinity ] && flag=(--affinity)
    python3 bench/cluster_affinity.py --nginx "$port" --replica $((port + 1)) --replica $((port + 2)) "${flag[@]}" \
      --tag "round$r-$mode" | tee "$out/affinity-$r-$mode.json"
  done
done
stop
fi
if want 4; then
echo
echo "## 4. direct vs through nginx in the same runs (1 replica, 15M, $([ -n "${THREADS1:-}" ] && echo "--threads $THREADS1" || echo "default threads"), $rounds4 rounds)"
cluster 1 ${THREADS1:+--threads "$THREADS1"}
for r in $(seq "$rounds4"); do
  build/ladle bench --url "http://127.0.0.1:$((port + 1))" --alt-url "http://127.0.0.1:$port" --concurrency 8,32 \
    "${load[@]}" --jitter 20 --server-timing --seed "$r" --json "$out/paired-$r.json" > /dev/null
done
python3 bench/paired_rounds.py "$out"/paired-*.json
stop
fi
echo "raw files: $out"
