// What a sweep's results say, for people and for CI: one JSON line per run
// (results.jsonl), the per-property summary of a set of runs, and JUnit XML.
// Reads SweepRun records (sim/run_result.proto) only, so that a sweep, a
// merge of shards and a dashboard all tell the same story.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/run_result.pb.h"

namespace viz {

// One line of results.jsonl (no newline): workload, profile, seed, pass,
// exit_code, failure, stop_reason, sim_time_s, wall_ms, cpu_ms,
// peak_rss_kib, fingerprint, events, violated, first_violation,
// properties, faults, replay, log.
std::string RunJsonLine(const etcd_dst::result::SweepRun& run);

// The replay line of a run: its result's, or one built from what the sweep
// knew when the run left no result.
std::string ReplayOf(const etcd_dst::result::SweepRun& run);

struct Example {
  uint64_t seed = 0;
  std::string replay;
  int64_t time_ns = -1;  // of its first violation of the property; -1: none
  std::string details;    // that violation's, or why the run failed
  std::string log;
};

struct PropertySummary {
  std::string kind;  // always | sometimes | eventually
  uint64_t runs_checked = 0;   // runs that evaluated it
  uint64_t runs_violated = 0;
  uint64_t runs_hit = 0;       // Sometimes: runs where it held
  uint64_t evaluations = 0;
  std::vector<Example> examples;  // fastest failure first, at most kExamples
};

struct GroupSummary {
  std::string workload, profile;
  uint64_t runs = 0, passed = 0, failed = 0, harness = 0;  // harness: crashed, hung, out of memory
  double sim_seconds = 0, wall_ms = 0;
  std::map<std::string, PropertySummary> properties;
  std::vector<Example> harness_examples;  // at most kExamples
  std::string Name() const { return profile.empty() ? workload : workload + "." + profile; }
};

class SweepSummary {
 public:
  static constexpr size_t kExamples = 5;
  void Add(const etcd_dst::result::SweepRun& run);
  // In order of first appearance.
  const std::vector<GroupSummary>& groups() const { return groups_; }
  uint64_t runs() const;

 private:
  std::vector<GroupSummary> groups_;
};

struct SweepInfo {
  std::string build;  // the commit the binary was built from
  uint64_t first_seed = 0, seeds = 0, shard_index = 0, shard_count = 1;
  double wall_seconds = 0;
};

// JUnit XML as GitLab, Jenkins and Prow's Spyglass read it: one testsuite
// per workload (and profile), one testcase per property (classname
// etcd-dst.<workload>[.<profile>], name the property), failing with the
// count and the first failing seeds' replay lines; a Sometimes property no
// run hit is skipped ("never seen"); a run-health testcase fails for runs
// that crashed, hung or ran out of memory.
std::string JUnitXml(const SweepSummary& summary, const SweepInfo& info);

}  // namespace viz
