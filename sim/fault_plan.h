// Fault plans (sim/fault_plan.proto): generated from a seed, printed and
// parsed as protobuf text, and validated against what a workload exposes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sim/fault_plan.pb.h"
#include "sim/time.h"

namespace sim {

// What a workload offers to fault injection.
struct FaultSurface {
  std::vector<std::string> nodes;  // machines; each has a disk of the same name
  SimDuration horizon = SimDuration::Seconds(30);  // actions fall in [0, horizon)
  uint32_t max_actions = 12;
  bool object_store = true;
  SimDuration max_start_delay = SimDuration::Seconds(30);
  SimDuration max_outage = SimDuration::Seconds(20);
};

using etcd_dst::faults::FaultPlan;

// Deterministic in (seed, workload, surface); draws from its own RNG, never
// from the run's streams, so a run with a generated plan and a run with the
// same plan read from a file are the same run.
FaultPlan GeneratePlan(uint64_t seed, std::string_view workload, const FaultSurface& surface);

// InvalidArgument with a one-line reason for a plan that names unknown nodes,
// has negative times, impossible sizes, and the like.
absl::Status ValidatePlan(const FaultPlan& plan, const FaultSurface& surface);

std::string FormatPlanText(const FaultPlan& plan);
// InvalidArgument "line L column C: ..." for malformed text.
absl::StatusOr<FaultPlan> ParsePlanText(const std::string& text);

// One line per action, for traces and humans: "12.5s power_loss node=m1 restart_after=3s".
std::string DescribeAction(const etcd_dst::faults::Action& action);

}  // namespace sim
