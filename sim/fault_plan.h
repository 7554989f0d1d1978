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
  // Pods (network identities): partitions, clogs, crashes, delayed starts.
  std::vector<std::string> nodes;
  // Hosts that lose power, and volumes that fail or tear; empty: the same
  // names as `nodes` (machines: a host, a volume and a pod of one name).
  std::vector<std::string> hosts;
  std::vector<std::string> volumes;
  // Containers a plan may kill (in any pod), and whether there is a
  // Kubernetes control plane (an API server to take down, an endpoints
  // controller to slow, a scheduler for drains); pod deletes and volume
  // losses need only pods and volumes.
  std::vector<std::string> containers;
  bool api_server = false;
  const std::vector<std::string>& host_names() const { return hosts.empty() ? nodes : hosts; }
  const std::vector<std::string>& volume_names() const { return volumes.empty() ? nodes : volumes; }
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

// The ranges every plan's numbers must fall in, so that no arithmetic on them
// can overflow (times and durations add up to at most a few days of int64
// nanoseconds) and every rate is a probability.
inline constexpr int64_t kPlanTimeMaxNs = int64_t{24} * 3600 * 1'000'000'000;  // at_ns, *_after_ns, durations
inline constexpr int64_t kPlanLatencyMaxNs = int64_t{60} * 1'000'000'000;      // link latency base, jitter
inline constexpr uint32_t kPlanPerMillionMax = 1'000'000;                      // every *_per_million

// InvalidArgument with a one-line reason for a plan that names unknown nodes,
// has a number outside its range, an impossible shape (a partition with a
// node on both sides), or faults of a kind the surface does not offer.
absl::Status ValidatePlan(const FaultPlan& plan, const FaultSurface& surface);
// For a workload that takes no faults: a plan may carry its workload and
// seed and nothing else.
absl::Status ValidateEmptyPlan(const FaultPlan& plan);

std::string FormatPlanText(const FaultPlan& plan);
// InvalidArgument "line L column C: ..." for malformed text.
absl::StatusOr<FaultPlan> ParsePlanText(const std::string& text);

// One line per action, for traces and humans: "12.5s power_loss node=m1 restart_after=3s".
std::string DescribeAction(const etcd_dst::faults::Action& action);

}  // namespace sim
