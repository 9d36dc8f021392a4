#!/usr/bin/env bash
# deploy/ as scripts/cluster.sh renders it for two replicas: nginx accepts the configuration
# (nginx -t), Prometheus accepts its configuration and rules (promtool check config / rules), and
# the recording rules and alerts compute what they claim (promtool test rules, rules_test.yml).
#   tests/cluster/config_check.sh [SOURCE_DIR]
set -euo pipefail
src=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
tmp=$(mktemp -d /tmp/ladle_cluster_config.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
replicas=(r0=127.0.0.1:8081 r1=10.0.0.2:8080)
mkdir -p "$tmp/nginx/logs" "$tmp/nginx/tmp" "$tmp/prometheus"
bash "$src/scripts/cluster.sh" render-nginx --listen 127.0.0.1:8080 "${replicas[@]}" > "$tmp/nginx/nginx.conf"
nginx -t -q -p "$tmp/nginx" -e "$tmp/nginx/logs/error.log" -c "$tmp/nginx/nginx.conf"
echo "nginx -t: ok"
bash "$src/scripts/cluster.sh" render-prometheus "${replicas[@]}" > "$tmp/prometheus/prometheus.yml"
cp "$src/deploy/rules.yml" "$src/tests/cluster/rules_test.yml" "$tmp/prometheus/"
promtool check config "$tmp/prometheus/prometheus.yml"
promtool check rules "$tmp/prometheus/rules.yml"
promtool test rules "$tmp/prometheus/rules_test.yml"
