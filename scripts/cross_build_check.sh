#!/usr/bin/env bash
# Determinism across builds: the same seeds of every workload, run by the
# Release binary and by the ASan+UBSan binary, must give the same
# fingerprints (a few hundred runs). What may change a fingerprint, and what
# must not, is in docs/nightly.md ("Fingerprints across builds").
# Usage: scripts/cross_build_check.sh RELEASE_ETCD_DST ASAN_ETCD_DST
set -euo pipefail
release=$1
asan=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# workload count: cheap workloads get more seeds, the backup-restore ones 3 per profile.
plan=(
  "kernel-selftest 60" "world-selftest 40" "single-member-power-loss 20" "single-member-power-loss-pr570 10"
  "single-member-power-loss-atomic-init 10" "single-member-power-loss-atomic-bootstrap 10" "etcd-cluster-chaos 15"
  "bootstrap-0-to-3 3" "scale-up-1-to-3 3" "wake-up-0-to-3 3" "member-volume-lost 3" "restore-all-volumes-lost 3"
  "rolling-update 3" "druid-cluster-chaos 3"
)
fingerprints() {  # binary label
  local bin=$1 label=$2
  for entry in "${plan[@]}"; do
    read -r workload seeds <<<"$entry"
    "$bin" sweep --workload "$workload" --seeds "$seeds" --first-seed 1001 --pages 0 --seed-timeout 600 \
      --out "$work/$label-$workload" >/dev/null 2>&1 || true
    # A sweep that ran nothing must not compare equal to another that ran nothing.
    lines=$(wc -l 2>/dev/null < "$work/$label-$workload/results.jsonl" || echo 0)
    if [ "$lines" -lt "$seeds" ]; then
      echo "cross_build_check: $label $workload gave $lines runs of at least $seeds" >&2
      exit 1
    fi
    sed -E 's/^\{"workload":"([^"]*)","profile":"([^"]*)","seed":([0-9]+),.*"fingerprint":("[0-9a-f]+"|null).*/\1 \2 \3 \4/' \
      "$work/$label-$workload/results.jsonl"
  done | sort
}
fingerprints "$release" release > "$work/release.txt"
fingerprints "$asan" asan > "$work/asan.txt"
runs=$(wc -l < "$work/release.txt")
if ! diff -u "$work/release.txt" "$work/asan.txt" > "$work/diff.txt"; then
  echo "cross_build_check: fingerprints differ between the builds:" >&2
  head -40 "$work/diff.txt" >&2
  exit 1
fi
if grep -q " null$" "$work/release.txt"; then
  echo "cross_build_check: some runs gave no result:" >&2
  grep " null$" "$work/release.txt" >&2
  exit 1
fi
echo "cross_build_check: $runs runs, the same fingerprints in both builds"
