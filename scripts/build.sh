#!/usr/bin/env bash
# Configures and builds etcd-dst.
# Usage: scripts/build.sh BUILD_DIR [--target T] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
shift || true
target=()
if [ "${1:-}" = "--target" ]; then
  target=(--target "$2")
  shift 2
fi
cmake -S . -B "$build_dir" -G Ninja "$@"
cmake --build "$build_dir" --parallel "$(nproc)" "${target[@]}"
