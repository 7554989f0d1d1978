#!/usr/bin/env bash
# Conformance: `etcd-dst ids` must print the member and cluster IDs the real
# etcd 3.4 (Debian's etcd-server) reports for the same flags. Starts three
# members on loopback, reads `etcdctl member list -w json`, compares.
# Usage: ids_vs_etcd.sh <path to etcd-dst>
set -euo pipefail
dst=$1
command -v etcd >/dev/null || { echo "etcd not installed (scripts/install-deps.sh installs etcd-server)"; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

base=$((20000 + RANDOM % 20000))
token="conformance-$RANDOM"
cluster=""
for i in 0 1 2; do cluster+="${cluster:+,}c$i=http://127.0.0.1:$((base + 10 * i))"; done
for i in 0 1 2; do
  peer=$((base + 10 * i)); client=$((peer + 1))
  etcd --name "c$i" --data-dir "$work/c$i" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --initial-cluster "$cluster" --initial-cluster-token "$token" --initial-cluster-state new \
    >"$work/c$i.log" 2>&1 &
  pids+=($!)
done
json=""
for _ in $(seq 1 60); do
  json=$(ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$((base + 1))" --command-timeout=1s \
         member list -w json 2>/dev/null || true)
  [ "$(grep -o '"name":"c[0-9]"' <<<"$json" | wc -l)" -eq 3 ] && break
  sleep 0.5
done
[ -n "$json" ] || { echo "etcd did not answer"; cat "$work/c0.log" | tail -20; exit 1; }

real=$( (grep -o '"cluster_id":[0-9]*' <<<"$json" | head -1 | cut -d: -f2 | xargs printf 'cluster %016x\n';
        grep -o '"ID":[0-9]*,"name":"c[0-9]"' <<<"$json" |
          sed -E 's/"ID":([0-9]*),"name":"(c[0-9])"/\2 \1/' |
          while read -r name id; do printf 'member %s %016x\n' "$name" "$id"; done) | sort)
ours=$("$dst" ids --initial-cluster "$cluster" --token "$token" | sort)
if [ "$real" != "$ours" ]; then
  echo "MISMATCH"; echo "real etcd:"; echo "$real"; echo "etcd-dst:"; echo "$ours"; exit 1
fi
echo "ids match etcd $(etcd --version | head -1 | awk '{print $3}'):"; echo "$ours"
