// Runs one workload for one seed: the code path shared by `etcd-dst run`,
// sweeps and tests. Trace files are opened before the run starts, so an
// unwritable path fails fast, and flushed as the run goes.
#pragma once

#include <cstdint>
#include <string>

#include <optional>

#include "absl/status/statusor.h"
#include "sim/fault_plan.h"
#include "sim/run_result.pb.h"

namespace workloads {

struct RunOptions {
  std::string workload;
  uint64_t seed = 0;
  std::string trace_path;       // protobuf stream; empty: none
  std::string trace_text_path;  // one line per event; "-" is stdout; empty: none
  bool buggify = true;
  // Runs this plan instead of the one the seed generates.
  std::optional<sim::FaultPlan> plan;
  // Where `plan` was read from (an absolute path), for the replay line.
  std::string plan_path;
  // Writes each disk's crash image at every power loss, and its final view.
  std::string export_disks_dir;
  // Writes the bucket's objects as files named by their keys at the end.
  std::string export_bucket_dir;
  // The model profile (--profile); empty: the plan's, or the workload's default.
  std::string profile;
};

// The plan `seed` generates for `workload` (empty for workloads without
// faults). InvalidArgument for an unknown workload.
absl::StatusOr<sim::FaultPlan> PlanFor(const std::string& workload, uint64_t seed);

// InvalidArgument (one line) if `plan` does not fit `workload`.
absl::Status CheckPlan(const std::string& workload, const sim::FaultPlan& plan);

// InvalidArgument for an unknown workload or a plan that does not fit it,
// PermissionDenied for an unwritable trace path. Property violations are not
// errors: they are in the result, and so is an output that failed during the
// run (a full disk under the trace, a failed disk export) as output_error.
absl::StatusOr<etcd_dst::result::RunResult> RunWorkload(const RunOptions& options);

// A run fails, besides violated properties, when it could not check what it
// declared: "EventBudgetExhausted" if the event budget stopped it, and
// "CheckNotReached" for each declared check never evaluated (see
// sim::Properties::Unchecked).
//
// "result=pass seed=7 workload=W fingerprint=0123456789abcdef events=N sim_time=T violations=a,b"
std::string ResultLine(const etcd_dst::result::RunResult& result);

}  // namespace workloads
