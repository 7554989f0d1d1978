// `etcd-dst shrink`: a smaller fault plan that still violates the same
// property. From a seed's plan (or a plan file) it drops actions (ddmin over
// the action list), turns swarm rates off one by one, then shortens each
// remaining action's durations and moves it later while the run still fails
// the same way. Each candidate runs in a forked child with a wall-time limit.
// The minimal plan goes to stdout as protobuf text that `run --plan` takes,
// with the replay line and a note per remaining action as # comments.
#pragma once

#include <cstdint>
#include <string>

namespace cli {

struct ShrinkOptions {
  std::string workload;
  std::string seed_text;  // or
  std::string plan_path;
  std::string profile;
  std::string property;  // empty: the first property the original run violates
  int max_runs = 300;
  double run_timeout_seconds = 300;
};

// 0: a failing plan was found (printed); 2: bad input, including a seed or
// plan whose run does not violate the property (nothing to shrink); 3: the
// original run gave no verdict (it crashed or exceeded the time limit).
int RunShrink(const ShrinkOptions& options);

}  // namespace cli
