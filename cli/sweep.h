// A sweep: many seeds of one or more workloads, each in its own process
// (parallelism is processes, never threads in one simulation), with results
// gathered into one summary. Sharding splits the seed list across machines.
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
  std::string out_dir;  // results.pb, failed logs; required
  std::string self;     // path of this executable
};

// Returns the process exit code (0 all passed, 1 violations, 3 internal
// failures, 2 bad input such as an unwritable output directory).
int RunSweep(const SweepOptions& options);

}  // namespace cli
