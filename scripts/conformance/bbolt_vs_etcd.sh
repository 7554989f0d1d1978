#!/usr/bin/env bash
# Conformance: bbolt images (torn init images from MODEL_FACTS's table, and a
# db the model wrote) are opened by the real etcd 3.4 with the outcome the
# model predicts; and a db the real etcd then wrote reads back in the model.
# Usage: bbolt_vs_etcd.sh <path to bbolt_images>
set -euo pipefail
tool=$1
command -v etcd >/dev/null || { echo "etcd not installed (scripts/install-deps.sh installs etcd-server)"; exit 1; }
work=$(mktemp -d)
trap 'pkill -P $$ etcd 2>/dev/null || true; rm -rf "$work"' EXIT
"$tool" write "$work"

failures=0
while read -r name expected; do
  base=$((20000 + RANDOM % 20000))
  log="$work/$name.log"
  etcd --name default --data-dir "$work/$name" \
    --listen-peer-urls "http://127.0.0.1:$base" --initial-advertise-peer-urls "http://127.0.0.1:$base" \
    --listen-client-urls "http://127.0.0.1:$((base + 1))" --advertise-client-urls "http://127.0.0.1:$((base + 1))" \
    --initial-cluster "default=http://127.0.0.1:$base" >"$log" 2>&1 &
  pid=$!
  outcome=""
  for _ in $(seq 1 40); do
    if ! kill -0 "$pid" 2>/dev/null; then outcome=died; break; fi
    if ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$((base + 1))" --command-timeout=1s \
         put conformance-probe ok >/dev/null 2>&1; then outcome=ok; break; fi
    sleep 0.25
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ "$expected" = "ok" ]; then
    if [ "$outcome" = ok ]; then echo "match  $name: starts and serves"; else
      echo "DIFFER $name: model says ok, real etcd: $(grep -m1 -E 'panic|fatal|SIGBUS' "$log" || tail -1 "$log")"; failures=$((failures + 1)); fi
  else
    if [ "$outcome" = died ] && grep -qF -- "$expected" "$log"; then echo "match  $name: $expected"; else
      echo "DIFFER $name: model says '$expected', real etcd: $outcome $(grep -m1 -E 'panic|fatal|SIGBUS' "$log" || true)"
      failures=$((failures + 1)); fi
  fi
done <"$work/expected.txt"

# The real etcd wrote its own transactions into the model's file: the model reads them back.
if ! "$tool" read "$work/model-committed/member/snap/db" conformance 2000; then failures=$((failures + 1)); fi
if ! "$tool" read "$work/whole-init/member/snap/db" key 1; then failures=$((failures + 1)); fi
[ "$failures" -eq 0 ] || { echo "$failures differences"; exit 1; }
echo "all bbolt outcomes match etcd $(etcd --version | head -1 | awk '{print $3}')"
