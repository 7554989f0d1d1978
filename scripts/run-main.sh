#!/usr/bin/env bash
# The main job: install packages, build, and sweep the default scenarios with
# embedded defaults on all cores. Results land in out/sweep/.
# Usage: scripts/run-main.sh [--seeds N] [more sweep flags...] (later flags win)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build --target etcd-dst -DCMAKE_BUILD_TYPE=Release
exec build/etcd-dst sweep --seeds 500 --out out/sweep "$@"
