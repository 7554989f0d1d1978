// ValidatePlan: every field of a plan against its stated range and the
// workload's fault surface. Errors name the field and the action index.
#include <algorithm>
#include <set>

#include "fmt/format.h"
#include "fmt/ranges.h"
#include "sim/fault_plan.h"

namespace sim {
namespace {

using etcd_dst::faults::Action;
using etcd_dst::faults::DiskFault;
using etcd_dst::faults::Partition;

// A `where` names the field for the error, e.g. "action 3: heal_after_ns".
absl::Status InRange(int64_t value, int64_t max, std::string_view where) {
  if (value >= 0 && value <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(fmt::format("{} = {} is outside [0, {}]", where, value, max));
}

absl::Status Time(int64_t ns, std::string_view where) { return InRange(ns, kPlanTimeMaxNs, where); }

absl::Status Rate(uint32_t ppm, std::string_view where) {
  return InRange(ppm, kPlanPerMillionMax, fmt::format("{} (per million)", where));
}

class Validator {
 public:
  explicit Validator(const FaultSurface& surface)
      : surface_(surface),
        nodes_(surface.nodes.begin(), surface.nodes.end()),
        hosts_(surface.host_names().begin(), surface.host_names().end()),
        volumes_(surface.volume_names().begin(), surface.volume_names().end()) {}

  absl::Status Node(const std::string& node, int index) const {
    if (nodes_.contains(node)) return absl::OkStatus();
    return absl::InvalidArgumentError(fmt::format("action {} names unknown node '{}' (known: {})", index, node,
                                                  fmt::join(surface_.nodes, ", ")));
  }

  absl::Status Host(const std::string& host, int index) const {
    if (hosts_.contains(host)) return absl::OkStatus();
    return absl::InvalidArgumentError(fmt::format("action {} names unknown host '{}' (known: {})", index, host,
                                                  fmt::join(surface_.host_names(), ", ")));
  }

  absl::Status Volume(const std::string& volume, int index) const {
    if (volumes_.contains(volume)) return absl::OkStatus();
    return absl::InvalidArgumentError(fmt::format("action {} names unknown volume '{}' (known: {})", index, volume,
                                                  fmt::join(surface_.volume_names(), ", ")));
  }

  absl::Status Swarm(const etcd_dst::faults::Swarm& swarm) const {
    for (auto [ppm, name] : {std::pair{swarm.packet_loss_per_million(), "packet_loss_per_million"},
                             {swarm.duplicate_per_million(), "duplicate_per_million"},
                             {swarm.fsync_error_per_million(), "fsync_error_per_million"},
                             {swarm.read_error_per_million(), "read_error_per_million"},
                             {swarm.object_store_error_per_million(), "object_store_error_per_million"},
                             {swarm.ambiguous_timeout_per_million(), "ambiguous_timeout_per_million"},
                             {swarm.failed_upload_per_million(), "failed_upload_per_million"}}) {
      if (absl::Status s = Rate(ppm, name); !s.ok()) return s;
    }
    if (absl::Status s = Time(swarm.listing_lag_ns(), "listing_lag_ns"); !s.ok()) return s;
    const bool bucket_faults = swarm.object_store_errors() || swarm.listing_lag() ||
                               swarm.ambiguous_timeouts() || swarm.failed_uploads();
    if (bucket_faults && !surface_.object_store) {
      return absl::InvalidArgumentError("swarm turns on object-store faults, but this workload has no bucket");
    }
    if (swarm.kubernetes() && surface_.containers.empty() && !surface_.api_server) {
      return absl::InvalidArgumentError("swarm turns on Kubernetes faults, but this workload runs no cluster");
    }
    return absl::OkStatus();
  }

  absl::Status Links(const etcd_dst::faults::LinkSettings& link) const {
    if (auto s = InRange(link.latency_base_ns(), kPlanLatencyMaxNs, "latency_base_ns"); !s.ok()) return s;
    return InRange(link.latency_jitter_ns(), kPlanLatencyMaxNs, "latency_jitter_ns");
  }

  absl::Status Disks(const FaultPlan& plan) const {
    std::set<std::string> seen;
    for (const auto& disk : plan.disks()) {
      if (!volumes_.contains(disk.disk())) {
        return absl::InvalidArgumentError(fmt::format("unknown disk '{}'", disk.disk()));
      }
      if (!seen.insert(disk.disk()).second) {
        return absl::InvalidArgumentError(fmt::format("disk '{}' is configured twice", disk.disk()));
      }
      const uint32_t unit = disk.persist_unit_bytes();
      if (unit < 512 || unit > (1u << 20) || (unit & (unit - 1)) != 0) {
        return absl::InvalidArgumentError(fmt::format(
            "disk '{}': persist_unit_bytes {} is not a power of two in [512, 1 MiB]", disk.disk(), unit));
      }
    }
    return absl::OkStatus();
  }

  absl::Status PartitionShape(const Partition& partition, int i) const {
    if (!Partition::Kind_IsValid(partition.kind())) {
      return absl::InvalidArgumentError(fmt::format("action {}: unknown partition kind {}", i, partition.kind()));
    }
    std::set<std::string> sides;
    for (const auto& node : partition.side_a()) {
      if (auto s = Node(node, i); !s.ok()) return s;
      if (!sides.insert(node).second) return Twice(node, i);
    }
    for (const auto& node : partition.side_b()) {
      if (auto s = Node(node, i); !s.ok()) return s;
      if (!sides.insert(node).second) return Twice(node, i);
    }
    const int a = partition.side_a_size(), b = partition.side_b_size();
    const bool fits = partition.kind() == Partition::ISOLATE ? a == 1 && b == 0
                      : partition.kind() == Partition::ONE_WAY ? a == 1 && b == 1
                                                                : a >= 1 && b >= 1;
    if (!fits) {
      return absl::InvalidArgumentError(fmt::format(
          "action {}: a {} partition needs {}, not {} and {} nodes", i, Partition::Kind_Name(partition.kind()),
          partition.kind() == Partition::ISOLATE  ? "one node in side_a and none in side_b"
          : partition.kind() == Partition::ONE_WAY ? "one node on each side"
                                                   : "nodes on both sides",
          a, b));
    }
    return Time(partition.heal_after_ns(), fmt::format("action {}: heal_after_ns", i));
  }

  absl::Status ActionFields(const Action& action, int i) const {
    auto where = [i](const char* field) { return fmt::format("action {}: {}", i, field); };
    switch (action.kind_case()) {
      case Action::kPartition:
        return PartitionShape(action.partition(), i);
      case Action::kHeal:
        return absl::OkStatus();
      case Action::kClog:
        if (auto s = Node(action.clog().from(), i); !s.ok()) return s;
        if (auto s = Node(action.clog().to(), i); !s.ok()) return s;
        if (action.clog().from() == action.clog().to()) {
          return absl::InvalidArgumentError(fmt::format("action {}: a clog needs two different nodes", i));
        }
        return Time(action.clog().duration_ns(), where("duration_ns"));
      case Action::kCrash:
        if (auto s = Node(action.crash().node(), i); !s.ok()) return s;
        return Time(action.crash().restart_after_ns(), where("restart_after_ns"));
      case Action::kPowerLoss:
        if (auto s = Host(action.power_loss().node(), i); !s.ok()) return s;
        return Time(action.power_loss().restart_after_ns(), where("restart_after_ns"));
      case Action::kDelayStart:
        if (auto s = Node(action.delay_start().node(), i); !s.ok()) return s;
        if (action.at_ns() != 0) {
          return absl::InvalidArgumentError(fmt::format("action {}: delay_start must be at 0", i));
        }
        return Time(action.delay_start().delay_ns(), where("delay_ns"));
      case Action::kObjectStore:
        return BucketWindow(action.object_store(), i);
      case Action::kDiskFault: {
        const DiskFault& fault = action.disk_fault();
        if (!DiskFault::Kind_IsValid(fault.kind())) {
          return absl::InvalidArgumentError(fmt::format("action {}: unknown disk fault kind {}", i, fault.kind()));
        }
        if (auto s = Volume(fault.disk(), i); !s.ok()) return s;
        if (auto s = Rate(fault.per_million(), where("per_million")); !s.ok()) return s;
        return Time(fault.duration_ns(), where("duration_ns"));
      }
      case Action::kContainerKill: {
        if (auto s = Node(action.container_kill().pod(), i); !s.ok()) return s;
        const auto& containers = surface_.containers;
        if (std::find(containers.begin(), containers.end(), action.container_kill().container()) == containers.end()) {
          return absl::InvalidArgumentError(fmt::format("action {} names unknown container '{}' (known: {})", i,
                                                        action.container_kill().container(),
                                                        fmt::join(containers, ", ")));
        }
        return absl::OkStatus();
      }
      case Action::kPodDelete:
        return Node(action.pod_delete().pod(), i);
      case Action::kVolumeLoss:
        return Volume(action.volume_loss().volume(), i);
      case Action::kApiServerOutage:
        if (!surface_.api_server) {
          return absl::InvalidArgumentError(fmt::format("action {}: this workload has no API server", i));
        }
        return Time(action.api_server_outage().duration_ns(), where("duration_ns"));
      case Action::kNodeDrain:
        if (!surface_.api_server) {
          return absl::InvalidArgumentError(fmt::format("action {}: this workload has no Kubernetes scheduler", i));
        }
        if (auto s = Host(action.node_drain().host(), i); !s.ok()) return s;
        return Time(action.node_drain().duration_ns(), where("duration_ns"));
      case Action::kEndpointLag:
        if (!surface_.api_server) {
          return absl::InvalidArgumentError(fmt::format("action {}: this workload has no Kubernetes services", i));
        }
        if (auto s = Time(action.endpoint_lag().lag_ns(), where("lag_ns")); !s.ok()) return s;
        return Time(action.endpoint_lag().duration_ns(), where("duration_ns"));
      case Action::KIND_NOT_SET:
        break;
    }
    return absl::InvalidArgumentError(fmt::format("action {} has no kind", i));
  }

 private:
  static absl::Status Twice(const std::string& node, int i) {
    return absl::InvalidArgumentError(fmt::format("action {}: node '{}' is named twice", i, node));
  }

  absl::Status BucketWindow(const etcd_dst::faults::ObjectStoreWindow& window, int i) const {
    if (!surface_.object_store) {
      return absl::InvalidArgumentError(fmt::format("action {}: this workload has no bucket", i));
    }
    auto where = [i](const char* field) { return fmt::format("action {}: {}", i, field); };
    if (auto s = Time(window.duration_ns(), where("duration_ns")); !s.ok()) return s;
    if (auto s = Time(window.listing_lag_ns(), where("listing_lag_ns")); !s.ok()) return s;
    if (auto s = Rate(window.transient_error_per_million(), where("transient_error_per_million")); !s.ok()) return s;
    if (auto s = Rate(window.ambiguous_timeout_per_million(), where("ambiguous_timeout_per_million")); !s.ok()) {
      return s;
    }
    return Rate(window.failed_upload_per_million(), where("failed_upload_per_million"));
  }

  const FaultSurface& surface_;
  std::set<std::string> nodes_, hosts_, volumes_;
};

}  // namespace

absl::Status ValidatePlan(const FaultPlan& plan, const FaultSurface& surface) {
  const Validator validator(surface);
  if (absl::Status s = validator.Swarm(plan.swarm()); !s.ok()) return s;
  if (absl::Status s = validator.Links(plan.link()); !s.ok()) return s;
  if (absl::Status s = validator.Disks(plan); !s.ok()) return s;
  for (int i = 0; i < plan.actions_size(); ++i) {
    const Action& action = plan.actions(i);
    if (absl::Status s = Time(action.at_ns(), fmt::format("action {}: at_ns", i)); !s.ok()) return s;
    if (absl::Status s = validator.ActionFields(action, i); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ValidateEmptyPlan(const FaultPlan& plan) {
  FaultPlan bare;
  bare.set_workload(plan.workload());
  bare.set_seed(plan.seed());
  if (plan.SerializeAsString() == bare.SerializeAsString()) return absl::OkStatus();
  return absl::InvalidArgumentError(fmt::format(
      "workload '{}' takes no faults: its plan may hold only workload and seed", plan.workload()));
}

}  // namespace sim
