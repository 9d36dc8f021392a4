#!/usr/bin/env bash
# Installs dependencies, builds ladle (Release) and starts the server on the default model (a
# synthetic stories15M-shaped checkpoint that `ladle serve` creates under ./models on first run).
# Extra arguments go to `ladle serve` (for example --port 8081, or --model/--tokenizer).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLADLE_BUILD_TESTS=OFF -DLADLE_BUILD_BENCH=OFF
cmake --build build -j"$(nproc)" --target ladle
exec ./build/ladle serve "$@"
