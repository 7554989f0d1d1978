#!/usr/bin/env bash
# Wall time to the first failing seed: from each of N first seeds, run the
# seeds in order on one core until a run violates PROPERTY (and, if PATTERN
# is given, its text trace contains PATTERN: the seed is run again with
# --trace-text to check, and that time counts); print each time and the
# median. The figures issue 10 asks for:
#   variant A: bench/time_to_first_failure.sh build/etcd-dst bootstrap-0-to-3 br-v0.35 OneClusterId
#   variant B: bench/time_to_first_failure.sh build/etcd-dst bootstrap-0-to-3 br-v0.35 MembersConverge 20 400 \
#                'unable to add a learner in a cluster'
# Usage: bench/time_to_first_failure.sh [BINARY] [WORKLOAD] [PROFILE] [PROPERTY] [N] [MAX_SEEDS] [PATTERN]
set -euo pipefail
bin=${1:-build/etcd-dst}
workload=${2:-bootstrap-0-to-3}
profile=${3:-br-v0.35}
property=${4:-OneClusterId}
starts=${5:-20}
max_seeds=${6:-400}
pattern=${7:-}
trace=$(mktemp)
trap 'rm -f "$trace"' EXIT
times=()
for ((k = 0; k < starts; ++k)); do
  first=$((100000 + k * 10007))
  begin=$(date +%s.%N)
  found=""
  for ((seed = first; seed < first + max_seeds; ++seed)); do
    line=$("$bin" run --workload "$workload" --seed "$seed" --profile "$profile" 2>/dev/null | tail -1 || true)
    [[ "$line" == *"violations="*"$property"* ]] || continue
    if [[ -n "$pattern" ]]; then
      "$bin" run --workload "$workload" --seed "$seed" --profile "$profile" --trace-text "$trace" >/dev/null 2>&1 || true
      grep -aqF -- "$pattern" "$trace" || continue
    fi
    found=$seed
    break
  done
  end=$(date +%s.%N)
  t=$(awk -v a="$begin" -v b="$end" 'BEGIN {printf "%.1f", b - a}')
  echo "first_seed=$first failing_seed=${found:-none} seeds_run=$((seed - first + 1)) seconds=$t"
  times+=("$t")
done
median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
echo "median_seconds_to_first_failure=$median workload=$workload profile=$profile property=$property starts=$starts${pattern:+ pattern=\"$pattern\"}"
