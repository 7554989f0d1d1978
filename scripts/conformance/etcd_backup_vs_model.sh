#!/usr/bin/env bash
# Conformance: a db snapshot the real etcd 3.4 takes (`etcdctl snapshot
# save`, with its SHA-256 trailer), gzipped and placed in the simulated
# bucket as BR names a full snapshot, is restored by the model's BR into a
# one-member cluster, and the model's etcd serves the same keys, values, mod
# revisions and revision as the real one did.
# Usage: etcd_backup_vs_model.sh BR_SNAPSHOT_TOOL
set -euo pipefail
tool=$1
source "$(dirname "$0")/lib.sh"
single_etcd_setup
start_etcd "$work/real" "$work/etcd.log" || { echo "the real etcd did not start"; tail -3 "$work/etcd.log"; exit 1; }
ctl() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" --command-timeout=2s "$@"; }
# Overwrites, deletes and a transaction, so that revisions and versions differ.
for i in $(seq 1 40); do ctl put "registry/pods/p$i" "spec-$i" >/dev/null; done
for i in $(seq 1 10); do ctl put "registry/pods/p$i" "spec-$i-v2" >/dev/null; done
for i in $(seq 31 35); do ctl del "registry/pods/p$i" >/dev/null; done
ctl txn <<<$'\nput registry/leases/a one\nput registry/leases/b two\n\n' >/dev/null
ctl get "" --from-key -w fields | grep -E '^"(Revision|Key|ModRevision|Value)" :' >"$work/expected"
ctl snapshot save "$work/snapshot.db" >/dev/null 2>&1
gzip -c "$work/snapshot.db" >"$work/snapshot.db.gz"
"$tool" serve "$work/snapshot.db.gz" >"$work/actual" 2>"$work/serve.log" ||
  { echo "the model's BR and etcd did not serve the real snapshot"; tail -5 "$work/serve.log"; exit 1; }
if ! diff -u "$work/expected" "$work/actual" >"$work/diff"; then
  echo "DIFFER: the model serves the real etcd's snapshot differently"; head -20 "$work/diff"; exit 1
fi
echo "the model's BR restored the real etcd's snapshot: $(grep -c '"Key"' "$work/expected") keys at revision $(head -1 "$work/expected" | awk '{print $3}'), served exactly"
