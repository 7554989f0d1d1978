#!/usr/bin/env bash
# Conformance: a bootstrap member that never started keeps its name only in
# memory. Two of three bootstrap members of the real etcd 3.4 start (the
# third never does), take raft snapshots (--snapshot-count 10) and restart
# from them; `member list` shows the third with its name before the restart
# and with an EMPTY name after it (the v2 store's snapshot holds its raft
# attributes only), no client URLs either time: BR #864's member table.
# cluster_etcd_server_test's UnstartedMemberLosesItsNameInASnapshot checks
# the model does the same.
# Usage: unstarted_member_vs_etcd.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
loopback_cluster_setup
start() {
  etcd --name "m$1" --data-dir "$work/m$1" --snapshot-count 10 \
    --listen-peer-urls "$(peer "$1")" --initial-advertise-peer-urls "$(peer "$1")" \
    --listen-client-urls "$(client "$1")" --advertise-client-urls "$(client "$1")" \
    --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token conformance \
    >>"$work/m$1.log" 2>&1 &
  pids+=($!)
}
ctl() { ETCDCTL_API=3 etcdctl --endpoints "$(client 0),$(client 1)" --command-timeout=2s "$@"; }
wait_serving() {
  for _ in $(seq 1 80); do
    if ctl put conformance-probe ok >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  echo "the two members never served"; tail -5 "$work/m0.log"; exit 1
}
# The never-started member's entry, as "name=<name> clientURLs=<n>".
unstarted() {
  ctl member list -w json | tr -d ' \n' | grep -o '{[^{}]*}' | grep '"peerURLs"' | grep -v '"clientURLs"' |
    sed -E 's/.*"name":"([^"]*)".*/name=\1/; t; s/.*/name=/' | head -1
}
start 0
start 1
wait_serving
before=$(unstarted)
for i in $(seq 1 30); do ctl put "k$i" "v$i" >/dev/null; done
ls "$work"/m0/member/snap/*.snap >/dev/null 2>&1 || { echo "m0 took no raft snapshot"; exit 1; }
for p in "${pids[@]}"; do kill "$p"; done
wait 2>/dev/null || true
pids=()
start 0
start 1
wait_serving
after=$(unstarted)
echo "before the restart: $before; after it: $after"
[ "$before" = "name=m2" ] || { echo "DIFFER: expected the unstarted member named m2 before the restart"; exit 1; }
[ "$after" = "name=" ] || { echo "DIFFER: expected the unstarted member with an empty name after the restart"; exit 1; }
echo "etcd $(etcd --version | head -1 | awk '{print $3}') keeps a never-started member's name only in memory, as the model does"
