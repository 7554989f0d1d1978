#!/usr/bin/env bash
# Conformance: crash images exported by single-member-power-loss open in the
# real etcd 3.4 with the outcome the model predicted for its own restart:
# serves, starts but never serves (no leader), or fails with the same error.
# Usage: crash_images_vs_etcd.sh <path to etcd-dst> [seeds...]
set -euo pipefail
dst=$1
shift
seeds=${*:-"$(seq 1 10) 27 175 181 235 294"}
command -v etcd >/dev/null || { echo "etcd not installed (scripts/install-deps.sh installs etcd-server)"; exit 1; }
work=$(mktemp -d)
trap 'pkill -P $$ etcd 2>/dev/null || true; rm -rf "$work"' EXIT
failures=0
checked=0
for seed in $seeds; do
  "$dst" run --workload single-member-power-loss --seed "$seed" --export-disks "$work/$seed" \
    --trace-text "$work/$seed.trace" >/dev/null || true
  # The model's verdict after the restart.
  line=$(grep -m1 RecoveryOutcome "$work/$seed.trace")
  if [[ "$line" == *"outcome=serving"* ]]; then
    expected=ok
  elif [[ "$line" == *"outcome=unavailable"* ]]; then
    expected=unavailable
  else
    expected=$(sed -E 's/.*error="([^"]*)".*/\1/' <<<"$line")
  fi
  data="$work/$seed/m0/powerloss-0/var/etcd/data"
  mkdir -p "$data"
  # The image's paths say /var/etcd/data; the real etcd opens it where it lies.
  expected=${expected//\/var\/etcd\/data/$data}
  base=$((20000 + RANDOM % 20000))
  log="$work/$seed.etcd.log"
  etcd --data-dir "$data" --listen-peer-urls "http://127.0.0.1:$base" \
    --listen-client-urls "http://127.0.0.1:$((base + 1))" --advertise-client-urls "http://127.0.0.1:$((base + 1))" \
    >"$log" 2>&1 &
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
  checked=$((checked + 1))
  if [ "$expected" = unavailable ]; then
    if [ -z "$outcome" ]; then echo "match  seed $seed: starts but never serves"; else
      echo "DIFFER seed $seed: model says unavailable, real etcd: $outcome"; failures=$((failures + 1)); fi
  elif [ "$expected" = ok ]; then
    if [ "$outcome" = ok ]; then echo "match  seed $seed: starts and serves"; else
      echo "DIFFER seed $seed: model says ok, real etcd: $(grep -m1 -E 'panic|fatal|SIGBUS|error' "$log" || tail -1 "$log")"
      failures=$((failures + 1)); fi
  elif [ "$outcome" = died ] && grep -qF -- "$expected" "$log"; then
    echo "match  seed $seed: $expected"
  else
    echo "DIFFER seed $seed: model says '$expected', real etcd: $outcome $(grep -m1 -E 'panic|fatal|SIGBUS' "$log" || true)"
    failures=$((failures + 1))
  fi
done
[ "$failures" -eq 0 ] || { echo "$failures of $checked crash images differ"; exit 1; }
echo "all $checked crash images open in etcd $(etcd --version | head -1 | awk '{print $3}') as the model predicted"
