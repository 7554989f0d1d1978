#!/usr/bin/env bash
# Conformance: a WAL written by the real etcd 3.4 (bootstrap conf changes,
# elections, puts) decodes in the model and re-encodes byte for byte.
# Usage: wal_vs_etcd.sh <path to wal_tool>
set -euo pipefail
tool=$1
command -v etcd >/dev/null || { echo "etcd not installed (scripts/install-deps.sh installs etcd-server)"; exit 1; }
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
base=$((20000 + RANDOM % 20000))
etcd --name m0 --data-dir "$work/m0" \
  --listen-peer-urls "http://127.0.0.1:$base" --initial-advertise-peer-urls "http://127.0.0.1:$base" \
  --listen-client-urls "http://127.0.0.1:$((base + 1))" --advertise-client-urls "http://127.0.0.1:$((base + 1))" \
  --initial-cluster "m0=http://127.0.0.1:$base" --initial-cluster-token wal-conformance >"$work/log" 2>&1 &
pid=$!
for i in $(seq 1 40); do
  ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$((base + 1))" --command-timeout=1s put "k$i" "value-$i" \
    >/dev/null 2>&1 || sleep 0.25
done
ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$((base + 1))" member add extra --learner \
  --peer-urls=http://127.0.0.1:1 >/dev/null 2>&1 || true
ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$((base + 1))" put last yes >/dev/null
kill "$pid"; wait "$pid" 2>/dev/null || true
"$tool" reencode "$work/m0/member/wal/0000000000000000-0000000000000000.wal"
