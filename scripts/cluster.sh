#!/usr/bin/env bash
# N `ladle serve` replicas behind nginx, with Prometheus scraping them, on loopback as the current
# user; every log, pid and config under one folder.
#
#   scripts/cluster.sh start N [--port P] [--dir DIR] [--model M --tokenizer T] [--scrape-interval S]
#                              [-- ladle serve flags...]
#       nginx on 127.0.0.1:P (default 8080), replicas r0..rN-1 on P+1..P+N, Prometheus on P+N+1
#       (pick P below /proc/sys/net/ipv4/ip_local_port_range, where no outgoing connection can
#       hold one of those ports).
#       Without --model: the default synthetic 15M-shaped model (./models/default.bin, written once).
#   scripts/cluster.sh stop [--dir DIR]
#       ends exactly the processes `start` recorded in DIR/pids (each checked to still be the
#       program it started), and nothing else.
#   scripts/cluster.sh render-nginx --listen ADDR [--workers W] TAG=HOST:PORT...     > nginx.conf
#   scripts/cluster.sh render-prometheus [--scrape-interval S] TAG=HOST:PORT...    > prometheus.yml
#       fill deploy/nginx.conf and deploy/prometheus.yml for any set of replicas (real hosts too;
#       each replica runs `ladle serve --replica-id TAG`). rules.yml goes beside prometheus.yml.
# DIR defaults to ./cluster-run. LADLE (default build/ladle), NGINX and PROMETHEUS name the binaries.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ladle=${LADLE:-$root/build/ladle}
nginx_bin=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
prometheus_bin=${PROMETHEUS:-$(command -v prometheus || echo /usr/bin/prometheus)}

die() { echo "cluster.sh: $*" >&2; exit 1; }

# fill TEMPLATE NAME=FILE...: TEMPLATE with every line "<indent># @NAME@" replaced by FILE's lines
# (each indented like the marker) and every other @NAME@ by FILE's one line.
fill() {
  local template=$1
  shift
  awk -v specs="$*" '
    BEGIN {
      n = split(specs, pairs, " ")
      for (i = 1; i <= n; i++) {
        split(pairs[i], kv, "=")
        text = ""
        while ((getline line < kv[2]) > 0) text = text (text == "" ? "" : "\n") line
        value[kv[1]] = text
      }
    }
    {
      if (match($0, /^[ \t]*# @[A-Z_]+@[ \t]*$/)) {
        indent = $0; sub(/#.*/, "", indent)
        name = $0; gsub(/[ \t#@]/, "", name)
        if (!(name in value)) { print "unknown marker " name > "/dev/stderr"; exit 1 }
        m = split(value[name], lines, "\n")
        for (i = 1; i <= m; i++) print indent lines[i]
        next
      }
      for (name in value) gsub("@" name "@", value[name])
      print
    }' "$template"
}

# check_replicas TAG=HOST:PORT...: tags as ladle makes them (letters, digits, '-').
check_replicas() {
  [ $# -gt 0 ] || die "no replicas (TAG=HOST:PORT)"
  local r
  for r in "$@"; do
    [[ $r =~ ^[A-Za-z0-9-]+=[^=[:space:]]+:[0-9]+$ ]] || die "bad replica '$r' (want TAG=HOST:PORT, TAG of letters, digits, '-')"
  done
}

render_nginx() {
  local listen="" workers=1
  while [ $# -gt 0 ]; do
    case $1 in
      --listen) listen=$2; shift 2 ;;
      --workers) workers=$2; shift 2 ;;
      *) break ;;
    esac
  done
  [ -n "$listen" ] || die "render-nginx: --listen ADDR required"
  check_replicas "$@"
  local tmp r tag addr
  tmp=$(mktemp -d)
  : > "$tmp/pool" ; : > "$tmp/map" ; : > "$tmp/owners"
  for r in "$@"; do
    tag=${r%%=*} addr=${r#*=}
    echo "server $addr max_fails=1 fail_timeout=5s;" >> "$tmp/pool"
    echo "$tag ladle_owner_$tag;" >> "$tmp/map"
    printf 'upstream ladle_owner_%s {\n    zone ladle_owner_%s 64k;\n    server %s;\n    keepalive 8;\n    keepalive_timeout 30s;\n}\n' \
      "$tag" "$tag" "$addr" >> "$tmp/owners"
  done
  echo "$listen" > "$tmp/listen"
  echo "$workers" > "$tmp/workers"
  fill "$root/deploy/nginx.conf" POOL_SERVERS="$tmp/pool" OWNER_MAP="$tmp/map" OWNER_UPSTREAMS="$tmp/owners" \
       LISTEN="$tmp/listen" WORKERS="$tmp/workers"
  rm -rf "$tmp"
}

render_prometheus() {
  local interval=5s
  if [ "${1:-}" = --scrape-interval ]; then interval=$2; shift 2; fi
  check_replicas "$@"
  local tmp r
  tmp=$(mktemp -d)
  : > "$tmp/targets"
  for r in "$@"; do
    printf -- '- targets: ["%s"]\n  labels: {replica: "%s"}\n' "${r#*=}" "${r%%=*}" >> "$tmp/targets"
  done
  echo "$interval" > "$tmp/interval"
  fill "$root/deploy/prometheus.yml" TARGETS="$tmp/targets" SCRAPE_INTERVAL="$tmp/interval"
  rm -rf "$tmp"
}

# wait_http URL SECONDS PIDFILE: until URL answers 200; fails at once if that process has exited.
wait_http() {
  local deadline=$((SECONDS + $2)) pid
  pid=$(cat "$3")
  while [ $SECONDS -lt $deadline ]; do
    curl -sf -o /dev/null "$1" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# spawn NAME LOG CMD...: starts CMD in the background, its pid in $dir/pids/NAME.pid.
spawn() {
  local name=$1 log=$2
  shift 2
  "$@" > "$log" 2>&1 < /dev/null &
  echo $! > "$dir/pids/$name.pid"
}

start() {
  local n=${1:-}
  [[ $n =~ ^[1-9][0-9]*$ ]] || die "start: N (replicas) required"
  shift
  local port=8080 model="" tok="" interval=5s
  dir=$PWD/cluster-run
  while [ $# -gt 0 ]; do
    case $1 in
      --port) port=$2; shift 2 ;;
      --dir) dir=$2; shift 2 ;;
      --model) model=$2; shift 2 ;;
      --tokenizer) tok=$2; shift 2 ;;
      --scrape-interval) interval=$2; shift 2 ;;
      --) shift; break ;;
      *) die "start: unknown option $1" ;;
    esac
  done
  [ -x "$ladle" ] || die "$ladle not built (cmake --build build --target ladle)"
  mkdir -p "$dir/pids" "$dir/logs"
  dir=$(cd "$dir" && pwd)
  if compgen -G "$dir/pids/*.pid" > /dev/null; then die "$dir already holds a cluster (cluster.sh stop --dir $dir)"; fi
  if [ -z "$model" ]; then
    model=$root/models/default.bin tok=$root/models/default-tokenizer.bin
    [ -f "$model" ] || "$ladle" make-model --preset 15m --out "$model" --tokenizer-out "$tok" > /dev/null
  fi
  local replicas=() i p
  for i in $(seq 0 $((n - 1))); do
    p=$((port + 1 + i))
    replicas+=("r$i=127.0.0.1:$p")
    spawn "replica-r$i" "$dir/logs/replica-r$i.log" "$ladle" serve --model "$model" ${tok:+--tokenizer "$tok"} \
      --host 127.0.0.1 --port "$p" --replica-id "r$i" --data-dir "$dir/data/r$i" "$@"
  done
  mkdir -p "$dir/nginx/logs" "$dir/nginx/tmp"
  render_nginx --listen "127.0.0.1:$port" "${replicas[@]}" > "$dir/nginx/nginx.conf"
  spawn nginx "$dir/logs/nginx.log" "$nginx_bin" -p "$dir/nginx" -e "$dir/nginx/logs/error.log" -c "$dir/nginx/nginx.conf" \
    -g "daemon off;"
  local prom_port=$((port + n + 1))
  mkdir -p "$dir/prometheus"
  render_prometheus --scrape-interval "$interval" "${replicas[@]}" > "$dir/prometheus/prometheus.yml"
  cp "$root/deploy/rules.yml" "$dir/prometheus/rules.yml"
  spawn prometheus "$dir/logs/prometheus.log" "$prometheus_bin" --config.file="$dir/prometheus/prometheus.yml" \
    --storage.tsdb.path="$dir/prometheus/data" --web.listen-address="127.0.0.1:$prom_port"
  for i in $(seq 0 $((n - 1))); do
    wait_http "http://127.0.0.1:$((port + 1 + i))/health" 120 "$dir/pids/replica-r$i.pid" || { stop_dir "$dir"; die "replica r$i did not become ready (see $dir/logs)"; }
  done
  wait_http "http://127.0.0.1:$port/health" 20 "$dir/pids/nginx.pid" || { stop_dir "$dir"; die "nginx did not answer (see $dir/logs)"; }
  wait_http "http://127.0.0.1:$prom_port/-/ready" 30 "$dir/pids/prometheus.pid" || { stop_dir "$dir"; die "prometheus did not start (see $dir/logs)"; }
  echo "cluster in $dir"
  echo "  API (nginx):  http://127.0.0.1:$port/v1"
  for i in $(seq 0 $((n - 1))); do echo "  replica r$i:   http://127.0.0.1:$((port + 1 + i))"; done
  echo "  Prometheus:   http://127.0.0.1:$prom_port"
  echo "  stop with:    scripts/cluster.sh stop --dir $dir"
}

# What each recorded pid must still be running (a recycled pid is left alone).
expected_program() {
  case $1 in
    replica-*) echo "$ladle" ;;
    nginx) echo "$nginx_bin" ;;
    prometheus) echo "$prometheus_bin" ;;
  esac
}

stop_dir() {
  local d=$1 f name pid exe waited
  for f in "$d"/pids/*.pid; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .pid) pid=$(cat "$f")
    exe=$(readlink -f "/proc/$pid/exe" 2>/dev/null || true)
    if [ -n "$exe" ] && [ "$exe" = "$(readlink -f "$(expected_program "$name")")" ]; then
      kill -TERM "$pid" 2>/dev/null || true
      for waited in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

stop() {
  local d=$PWD/cluster-run
  if [ "${1:-}" = --dir ]; then d=$2; fi
  [ -d "$d/pids" ] || die "no cluster in $d"
  stop_dir "$d"
  echo "stopped the cluster in $d"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
  start) start "$@" ;;
  stop) stop "$@" ;;
  render-nginx) render_nginx "$@" ;;
  render-prometheus) render_prometheus "$@" ;;
  *) sed -n '2,18p' "$0" >&2; exit 2 ;;
esac
