#!/usr/bin/env bash
# Runs one client command against a fresh `ladle serve` on a free loopback port, then stops it.
#   bench/with_server.sh MODEL TOKENIZER [serve flags...] -- CLIENT SUBCOMMAND [client flags...]
# e.g. bench/with_server.sh /tmp/m15.bin /tmp/tok15.bin --max-running 64 -- bench --concurrency 1,8
# The client is `build/ladle SUBCOMMAND --url http://127.0.0.1:PORT ...` (bench or cancel-test).
# With LADLE_METRICS_OUT=FILE, the server's /metrics is saved there once the client is done.
set -euo pipefail
ladle=${LADLE:-build/ladle}
model=$1 tok=$2
shift 2
serve_args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do serve_args+=("$1"); shift; done
[ $# -gt 0 ] && shift
sub=$1
shift
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$ladle" serve --model "$model" --tokenizer "$tok" --port "$port" "${serve_args[@]}" 2> /tmp/ladle_serve_$port.log &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$port/health" > /dev/null && break
  sleep 0.1
done
status=0
"$ladle" "$sub" --url "http://127.0.0.1:$port" "$@" || status=$?
if [ -n "${LADLE_METRICS_OUT:-}" ]; then curl -s "http://127.0.0.1:$port/metrics" > "$LADLE_METRICS_OUT"; fi
exit $status
