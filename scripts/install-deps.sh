#!/usr/bin/env bash
# Installs ladle's build and test dependencies from Debian's packages. Idempotent; run as root.
set -euo pipefail
pkgs=(build-essential cmake git pkg-config
      libopenblas-dev libboost-dev nlohmann-json3-dev prometheus-cpp-dev libsqlite3-dev
      libgtest-dev libgmock-dev libbenchmark-dev prometheus
      nginx python3 curl  # the cluster test: nginx in front of replicas, driven by a Python script
      python3-jinja2)     # the chat templates' reference renderer (tests/chat_templates)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
