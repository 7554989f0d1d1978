#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing etcd-dst needs.
# Run as root (or with sudo available). Safe to run again.
set -euo pipefail

packages=(
  build-essential cmake ninja-build git
  libboost-context-dev
  libprotobuf-dev protobuf-compiler
  libfmt-dev
  libabsl-dev
  libgtest-dev
  libcli11-dev
  libjemalloc-dev
  libssl-dev
  zlib1g-dev
  graphviz
  chromium
  etcd-server etcd-client
)

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "install-deps.sh: run as root (or install sudo) to install: ${packages[*]}" >&2
    exit 2
  fi
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps.sh: all packages present"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
