#!/usr/bin/env bash
# One shard of the nightly sweep, as a pod of the Indexed Job
# (deploy/nightly-job.json) runs it. The shard's results live under
#   $RESULTS_REMOTE/$RUN_ID/shard-$JOB_COMPLETION_INDEX/
# (rclone, any object store it speaks). A retried pod (evicted, OOM-killed)
# downloads what its shard already finished and resumes from there.
#
# Exit codes, for the Job's podFailurePolicy:
#   0  the shard's results are uploaded, whatever the seeds found (violations
#      and crashed seeds are results: they are in the JUnit file and the
#      dashboard, and a retry would find them again);
#   2  bad input (the sweep's exit 2): the index fails, no retry;
#   4  the results could not be uploaded: a harness error, retried;
#   128+N  stopped by signal N (eviction): uploaded what finished; retried.
set -uo pipefail
: "${JOB_COMPLETION_INDEX:?run by an Indexed Job}" "${SHARDS:?}" "${SEEDS:?}" "${RESULTS_REMOTE:?}" "${RUN_ID:?}"
out=/out/shard-$JOB_COMPLETION_INDEX
remote=$RESULTS_REMOTE/$RUN_ID/shard-$JOB_COMPLETION_INDEX
resume=()
if rclone copy "$remote" "$out" 2>/dev/null && [ -f "$out/sweep.txt" ]; then resume=(--resume); fi
upload() { rclone copy "$out" "$remote" || return 4; }
trap 'kill -TERM "$sweep" 2>/dev/null' TERM
etcd-dst sweep --seeds "$SEEDS" --first-seed "${FIRST_SEED:-1}" --shards "$SHARDS" --jobs "$(nproc)" \
  --out "$out" "${resume[@]}" ${SWEEP_FLAGS:-} &
sweep=$!
wait "$sweep"; status=$?
# A TERM interrupts the first wait: wait again for the sweep to stop.
if [ "$status" -gt 128 ] && kill -0 "$sweep" 2>/dev/null; then wait "$sweep"; status=$?; fi
upload || exit 4
case "$status" in
  0|1|3) exit 0 ;;
  2) exit 2 ;;
  *) exit "$status" ;;
esac
