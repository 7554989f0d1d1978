# Shared by the conformance scripts. Source it; needs etcd and etcdctl.

# run_etcd DATA_DIR LOG [extra etcd flags...]: starts the real etcd on
# loopback ports for the data dir, waits until it serves a put, dies, or
# 10 s pass, stops it, and prints: ok | died | unavailable. Ports are drawn
# below Linux's ephemeral range (32768+), where etcdctl's own connections
# live; a port that is taken anyway is drawn again (up to five times).
run_etcd() {
  local data=$1 log=$2
  shift 2
  local attempt base pid outcome
  for attempt in 1 2 3 4 5; do
    base=$((20000 + RANDOM % 12000))
    etcd --data-dir "$data" --listen-peer-urls "http://127.0.0.1:$base" \
      --listen-client-urls "http://127.0.0.1:$((base + 1))" --advertise-client-urls "http://127.0.0.1:$((base + 1))" \
      "$@" >"$log" 2>&1 &
    pid=$! outcome=unavailable
    for _ in $(seq 1 40); do
      if ! kill -0 "$pid" 2>/dev/null; then outcome=died; break; fi
      if ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$((base + 1))" --command-timeout=1s \
           put conformance-probe ok >/dev/null 2>&1; then outcome=ok; break; fi
      sleep 0.25
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ "$outcome" != died ] || ! grep -q "address already in use" "$log"; then break; fi
  done
  echo "$outcome"
}

# first_failure LOG: the line of the log that says why etcd died.
first_failure() { grep -m1 -E 'panic|fatal|SIGBUS' "$1" || tail -1 "$1"; }

# start_etcd DATA_DIR LOG [extra etcd flags...]: starts the real etcd on
# loopback ports (drawn as run_etcd draws them, again if taken) and leaves it
# running once it answers a health check, without writing anything. Sets
# ETCD_PID and ETCD_ENDPOINT; returns 1 if it never served.
start_etcd() {
  local data=$1 log=$2
  shift 2
  local attempt base
  for attempt in 1 2 3 4 5; do
    base=$((20000 + RANDOM % 12000))
    ETCD_ENDPOINT="http://127.0.0.1:$((base + 1))"
    etcd --data-dir "$data" --listen-peer-urls "http://127.0.0.1:$base" \
      --listen-client-urls "$ETCD_ENDPOINT" --advertise-client-urls "$ETCD_ENDPOINT" "$@" >"$log" 2>&1 &
    ETCD_PID=$!
    for _ in $(seq 1 40); do
      kill -0 "$ETCD_PID" 2>/dev/null || break
      if ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" --command-timeout=1s endpoint health >/dev/null 2>&1; then
        return 0
      fi
      sleep 0.25
    done
    kill "$ETCD_PID" 2>/dev/null || true
    wait "$ETCD_PID" 2>/dev/null || true
    grep -q "address already in use" "$log" || return 1
  done
  return 1
}

# A three-member cluster on loopback, for the scripts that start members by
# hand: checks etcd is installed, makes $work (removed at exit, with every
# pid in $pids killed), draws $base and defines `peer I`, `client I` and
# $initial ("m0=<peer 0>,m1=...,m2=...").
loopback_cluster_setup() {
  require_etcd
  work=$(mktemp -d)
  pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
  base=$((20000 + RANDOM % 10000))
  initial="m0=$(peer 0),m1=$(peer 1),m2=$(peer 2)"
}
peer() { echo "http://127.0.0.1:$((base + 10 * $1))"; }
client() { echo "http://127.0.0.1:$((base + 10 * $1 + 1))"; }

# require_etcd: exits 1 with a hint when the real etcd is not installed.
require_etcd() {
  command -v etcd >/dev/null || { echo "etcd not installed (scripts/install-deps.sh installs etcd-server)"; exit 1; }
}

# For the scripts that run one real etcd through start_etcd: checks etcd is
# installed, makes $work and stops $ETCD_PID (if set) and removes $work at exit.
single_etcd_setup() {
  require_etcd
  work=$(mktemp -d)
  ETCD_PID=
  trap '[ -n "$ETCD_PID" ] && kill "$ETCD_PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"' EXIT
}
