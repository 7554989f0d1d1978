// A sweep: many seeds of one or more workloads, each in its own process
// (parallelism is processes, never threads in one simulation), with results
// gathered into one summary. Sharding splits the seed list across machines.
//
// The sweep is a fork server: the parent, already loaded and initialised,
// forks one child per seed. A child runs the seed exactly as `etcd-dst run`
// would, writes its result into memory shared with the parent and its output
// into the seed's log, and exits. A child that crashes, aborts, runs out of
// memory or exceeds the wall-time limit fails that seed alone (with its replay
// line); the sweep goes on. The parent keeps counters only: every finished run
// is appended to DIR/results.journal as it ends (checksummed records, see
// cli/journal.h) and results.jsonl; at the end DIR/results.pb, the JUnit file
// and the dashboard (DIR/index.html, data.js, failures/) are built from the
// journal.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cli {

struct SweepOptions {
  std::vector<std::string> workloads;
  // Profiles to run the workloads that have profiles under; empty: all of
  // each workload's.
  std::vector<std::string> profiles;
  uint64_t first_seed = 1;
  uint64_t seeds = 100;
  int jobs = 1;
  uint64_t shard_index = 0;
  uint64_t shard_count = 1;
  std::string out_dir;  // results.pb, results.journal, logs of failed runs; required
  // A seed running longer than this in real time is killed and fails.
  double seed_timeout_seconds = 300;
  // A seed's address-space limit (RLIMIT_AS); 0: none. Not applied under
  // AddressSanitizer, whose shadow memory needs terabytes of address space.
  uint64_t seed_memory_mib = 8192;
  // Failure pages drawn at most (the first failing seeds of each workload
  // and property, re-run with a trace).
  size_t failure_pages = 12;
  // A previous sweep's --out: the dashboard says what is new, ongoing or
  // resolved against it.
  std::string compare_dir;
  // Continue the sweep in out_dir (same options, same build): only the
  // seeds its journal lacks run; the results equal an uninterrupted sweep's.
  bool resume = false;
};

// Returns the process exit code (0 all passed, 1 violations, 3 internal
// failures, 2 bad input such as an unwritable output directory, 128 + the
// signal when SIGINT or SIGTERM stopped it: what finished is kept, and
// --resume runs the rest).
int RunSweep(const SweepOptions& options);

// `etcd-dst merge --out DIR SHARD_DIR...`: the shards' runs as one result set
// (journal, results.pb, JSON lines, JUnit, dashboard with the shards' failure
// pages). Refuses, with exit 2, shards of different builds or sweeps, and
// overlapping seeds. Exit codes otherwise as a sweep's.
int RunMerge(const std::string& out, const std::vector<std::string>& shard_dirs);

}  // namespace cli
