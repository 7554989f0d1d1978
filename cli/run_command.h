// `etcd-dst run` and `etcd-dst plan`: one workload, one seed (or plan file).
#pragma once

#include <string>

#include "sim/run_result.pb.h"

namespace cli {

struct RunFlags {
  std::string workload, seed_text, trace, trace_text, result_path, plan_path, export_disks, export_bucket, profile;
  bool no_buggify = false;
  bool seed_given = false, plan_given = false, trace_given = false, trace_text_given = false,
       result_given = false, export_given = false;
};

// Checks every input and output before anything runs (bad ones: one line on
// stderr, exit 2), runs, and prints the violations, the replay line of a
// failed run and the result line last. Exit codes: cli/exit_codes.h.
int Run(const RunFlags& flags);

// Prints a run's violations, the replay line of a failed run and the result
// line last, as `run` does.
void PrintOutcome(const etcd_dst::result::RunResult& result);

// The exit code of `run` for a finished run: 0 pass, 1 a violation, 2 an
// output that could not be written.
int ExitCodeOf(const etcd_dst::result::RunResult& result);

// Prints a RunResult file (run --result) as `run` printed it: violations, the
// replay line of a failed run, the result line last. Exit 0 for a pass, 1 for
// a failure, 2 for a file that is not a result.
int PrintResult(const std::string& path);

// Prints the plan `seed` generates for `workload` as protobuf text.
int PrintPlan(const std::string& workload, const std::string& seed_text, const std::string& profile);

}  // namespace cli
