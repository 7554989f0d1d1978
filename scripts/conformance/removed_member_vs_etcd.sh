#!/usr/bin/env bash
# Conformance: a member removed from the cluster that starts again (a fresh
# data dir, `new`, the same --initial-cluster: what BR does when it removed
# the member and the next Initialize finds an empty bucket) is refused by
# its peers and stops itself: the real etcd 3.4 logs "the member has been
# permanently removed from the cluster" and exits 0. The model does the
# same (EtcdServer::StopRemoved; the regression seed rolling-update@br-fixed 1
# is a run that depends on it).
# Usage: removed_member_vs_etcd.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
loopback_cluster_setup
flags() {
  echo --name "m$1" --data-dir "$work/m$1" --listen-peer-urls "$(peer "$1")" --initial-advertise-peer-urls "$(peer "$1")" \
    --listen-client-urls "$(client "$1")" --advertise-client-urls "$(client "$1")" \
    --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token conformance
}
ctl() { ETCDCTL_API=3 etcdctl --endpoints "$(client 0),$(client 1)" --command-timeout=2s "$@"; }
for i in 0 1 2; do
  # shellcheck disable=SC2046
  etcd $(flags "$i") >>"$work/m$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 1 80); do ctl put probe ok >/dev/null 2>&1 && break; sleep 0.25; done
id=$(ctl member list | grep ', m2,' | cut -d, -f1)
[[ -n "$id" ]] || { echo "m2 not listed"; exit 1; }
kill "${pids[2]}"; wait "${pids[2]}" 2>/dev/null || true
ctl member remove "$id" >/dev/null
rm -rf "$work/m2"
set +e
# shellcheck disable=SC2046
timeout 30 etcd $(flags 2) >"$work/m2-again.log" 2>&1
code=$?
set -e
if [[ $code -ne 0 ]] || ! grep -q "the member has been permanently removed from the cluster" "$work/m2-again.log"; then
  echo "expected exit 0 and 'permanently removed', got exit $code:"; tail -5 "$work/m2-again.log"; exit 1
fi
echo "ok: the removed member stopped itself (exit 0, 'the member has been permanently removed from the cluster')"
