#!/usr/bin/env bash
# Conformance: a full snapshot the model's BR uploads restores with the real
# `etcdctl snapshot restore` (etcd 3.4, which checks the SHA-256 trailer),
# and the real etcd then serves exactly the keys, values and mod revisions
# (and the revision) the model's db held.
# Usage: model_backup_vs_etcd.sh ETCD_DST BR_SNAPSHOT_TOOL
set -euo pipefail
dst=$1 tool=$2
source "$(dirname "$0")/lib.sh"
single_etcd_setup
"$dst" run --workload bootstrap-0-to-3 --seed 1 --export-bucket "$work/bucket" >"$work/run.log" || true
full=$(ls "$work"/bucket/etcd-main/v2/Full-*.gz 2>/dev/null | sort -t- -k3 | tail -1)
[ -n "$full" ] || { echo "the run uploaded no full snapshot"; tail -3 "$work/run.log"; exit 1; }
gunzip -c "$full" >"$work/full.db"
"$tool" dump "$work/full.db" >"$work/expected"
ETCDCTL_API=3 etcdctl snapshot restore "$work/full.db" --data-dir "$work/restored" >"$work/restore.log" 2>&1 ||
  { echo "etcdctl snapshot restore refused $(basename "$full")"; cat "$work/restore.log"; exit 1; }
start_etcd "$work/restored" "$work/etcd.log" || { echo "the real etcd did not serve the restored dir"; tail -3 "$work/etcd.log"; exit 1; }
ctl() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" --command-timeout=2s "$@"; }
ctl get "" --from-key -w fields | grep -E '^"(Revision|Key|ModRevision|Value)" :' >"$work/actual"
if ! diff -u "$work/expected" "$work/actual" >"$work/diff"; then
  echo "DIFFER: the real etcd serves $(basename "$full") differently from the model's db"; head -20 "$work/diff"; exit 1
fi
echo "$(basename "$full"): the real etcd serves the model's $(grep -c '"Key"' "$work/expected") keys at revision $(head -1 "$work/expected" | awk '{print $3}') exactly"
