#!/usr/bin/env bash
# Conformance: bbolt images (torn init images from MODEL_FACTS's table, a db
# the model built whole and one it wrote by 80 incremental commits) are
# opened by the real etcd 3.4 with the outcome the model predicts; and a db
# the real etcd then wrote reads back in the model.
# Usage: bbolt_vs_etcd.sh <path to bbolt_images>
set -euo pipefail
tool=$1
source "$(dirname "$0")/lib.sh"
command -v etcd >/dev/null || { echo "etcd not installed (scripts/install-deps.sh installs etcd-server)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$tool" write "$work"

failures=0
while read -r name expected; do
  log="$work/$name.log"
  outcome=$(run_etcd "$work/$name" "$log" --name default)
  if [ "$expected" = "ok" ]; then
    if [ "$outcome" = ok ]; then echo "match  $name: starts and serves"; else
      echo "DIFFER $name: model says ok, real etcd: $(first_failure "$log")"; failures=$((failures + 1)); fi
  else
    if [ "$outcome" = died ] && grep -qF -- "$expected" "$log"; then echo "match  $name: $expected"; else
      echo "DIFFER $name: model says '$expected', real etcd: $outcome $(first_failure "$log")"
      failures=$((failures + 1)); fi
  fi
done <"$work/expected.txt"

# The real etcd wrote its own transactions into the model's file: the model reads them back.
if ! "$tool" read "$work/model-committed/member/snap/db" conformance 2000; then failures=$((failures + 1)); fi
if ! "$tool" read "$work/whole-init/member/snap/db" key 1; then failures=$((failures + 1)); fi
# ... and a db the model wrote by incremental commits (copy-on-write pages, reused free pages).
if ! "$tool" read "$work/model-incremental/member/snap/db" conformance "$(cat "$work/incremental_keys.txt")"; then
  failures=$((failures + 1)); fi
[ "$failures" -eq 0 ] || { echo "$failures differences"; exit 1; }
echo "all bbolt outcomes match etcd $(etcd --version | head -1 | awk '{print $3}')"
