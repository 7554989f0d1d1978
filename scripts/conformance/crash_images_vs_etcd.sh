#!/usr/bin/env bash
# Conformance: crash images exported by single-member-power-loss open in the
# real etcd 3.4 with the outcome the model predicted for its own restart:
# serves, starts but never serves (no leader), or fails with the same error.
# Usage: crash_images_vs_etcd.sh <path to etcd-dst> [seeds...]
set -euo pipefail
dst=$1
shift
seeds=${*:-"$(seq 1 10) 27 149 214 565 1217 1670 4592"}
source "$(dirname "$0")/lib.sh"
command -v etcd >/dev/null || { echo "etcd not installed (scripts/install-deps.sh installs etcd-server)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
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
  data="$work/$seed/data-etcd-main-0/powerloss-0/var/etcd/data"
  mkdir -p "$data"
  # The image's paths say /var/etcd/data; the real etcd opens it where it lies.
  expected=${expected//\/var\/etcd\/data/$data}
  log="$work/$seed.etcd.log"
  outcome=$(run_etcd "$data" "$log")
  checked=$((checked + 1))
  if [ "$expected" = unavailable ]; then
    if [ "$outcome" = unavailable ]; then echo "match  seed $seed: starts but never serves"; else
      echo "DIFFER seed $seed: model says unavailable, real etcd: $outcome"; failures=$((failures + 1)); fi
  elif [ "$expected" = ok ]; then
    if [ "$outcome" = ok ]; then echo "match  seed $seed: starts and serves"; else
      echo "DIFFER seed $seed: model says ok, real etcd: $(first_failure "$log")"
      failures=$((failures + 1)); fi
  elif [ "$outcome" = died ] && grep -qF -- "$expected" "$log"; then
    echo "match  seed $seed: $expected"
  else
    echo "DIFFER seed $seed: model says '$expected', real etcd: $outcome $(first_failure "$log")"
    failures=$((failures + 1))
  fi
done
[ "$failures" -eq 0 ] || { echo "$failures of $checked crash images differ"; exit 1; }
echo "all $checked crash images open in etcd $(etcd --version | head -1 | awk '{print $3}') as the model predicted"
