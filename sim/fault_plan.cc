#include "sim/fault_plan.h"

#include <algorithm>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "fmt/format.h"
#include "fmt/ranges.h"
#include "sim/rng.h"

namespace sim {
namespace {

using etcd_dst::faults::Action;
using etcd_dst::faults::DiskFault;
using etcd_dst::faults::Partition;

std::string Nanos(int64_t ns) { return SimDuration::Nanos(ns).ToString(); }

std::vector<std::string> PickDistinct(Rng& rng, const std::vector<std::string>& from, size_t count) {
  std::vector<std::string> shuffled = from;
  rng.Shuffle(shuffled);
  shuffled.resize(std::min(count, shuffled.size()));
  return shuffled;
}

class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (first_.empty()) first_ = fmt::format("line {} column {}: {}", line + 1, column + 1, message);
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

}  // namespace

FaultPlan GeneratePlan(uint64_t seed, std::string_view workload, const FaultSurface& surface) {
  Rng rng = Rng::Stream(seed, "fault-plan");
  FaultPlan plan;
  plan.set_workload(std::string(workload));
  plan.set_seed(seed);

  auto* swarm = plan.mutable_swarm();
  const bool multi = surface.nodes.size() > 1;
  swarm->set_partitions(multi && rng.Chance(1, 2));
  swarm->set_clogging(multi && rng.Chance(1, 2));
  swarm->set_packet_loss(multi && rng.Chance(1, 3));
  swarm->set_duplication(multi && rng.Chance(1, 3));
  swarm->set_crashes(rng.Chance(1, 2));
  swarm->set_power_loss(rng.Chance(1, 2));
  swarm->set_fsync_errors(rng.Chance(1, 6));
  swarm->set_read_errors(rng.Chance(1, 6));
  swarm->set_disk_full(rng.Chance(1, 6));
  swarm->set_object_store_errors(surface.object_store && rng.Chance(1, 2));
  swarm->set_listing_lag(surface.object_store && rng.Chance(1, 2));
  swarm->set_ambiguous_timeouts(surface.object_store && rng.Chance(1, 3));
  swarm->set_failed_uploads(surface.object_store && rng.Chance(1, 3));
  swarm->set_start_delays(rng.Chance(1, 2));
  const bool kubernetes = !surface.containers.empty() || surface.api_server;
  if (kubernetes) swarm->set_kubernetes(rng.Chance(1, 2));
  if (swarm->packet_loss()) swarm->set_packet_loss_per_million(static_cast<uint32_t>(rng.UniformIn(100, 50000)));
  if (swarm->duplication()) swarm->set_duplicate_per_million(static_cast<uint32_t>(rng.UniformIn(100, 20000)));
  if (swarm->fsync_errors()) swarm->set_fsync_error_per_million(static_cast<uint32_t>(rng.UniformIn(100, 20000)));
  if (swarm->read_errors()) swarm->set_read_error_per_million(static_cast<uint32_t>(rng.UniformIn(100, 5000)));
  if (swarm->object_store_errors()) {
    swarm->set_object_store_error_per_million(static_cast<uint32_t>(rng.UniformIn(1000, 200000)));
  }
  if (swarm->ambiguous_timeouts()) {
    swarm->set_ambiguous_timeout_per_million(static_cast<uint32_t>(rng.UniformIn(1000, 50000)));
  }
  if (swarm->failed_uploads()) swarm->set_failed_upload_per_million(static_cast<uint32_t>(rng.UniformIn(1000, 50000)));
  if (swarm->listing_lag()) {
    swarm->set_listing_lag_ns(rng.DurationIn(SimDuration::Millis(100), SimDuration::Seconds(5)).nanos());
  }

  plan.mutable_link()->set_latency_base_ns(rng.DurationIn(SimDuration::Micros(100), SimDuration::Millis(2)).nanos());
  plan.mutable_link()->set_latency_jitter_ns(rng.DurationIn(SimDuration::Zero(), SimDuration::Millis(5)).nanos());
  static const std::vector<uint32_t> kUnits = {512, 4096, 8192};
  for (const std::string& volume : surface.volume_names()) {
    auto* disk = plan.add_disks();
    disk->set_disk(volume);
    disk->set_persist_unit_bytes(rng.Pick(kUnits));
  }

  if (swarm->start_delays()) {
    for (const std::string& node : surface.nodes) {
      if (!rng.Chance(1, 3)) continue;
      Action* action = plan.add_actions();
      action->set_at_ns(0);
      action->mutable_delay_start()->set_node(node);
      action->mutable_delay_start()->set_delay_ns(
          rng.DurationIn(SimDuration::Seconds(1), surface.max_start_delay).nanos());
    }
  }

  enum Kind {
    kPartition, kClog, kCrash, kPowerLoss, kDiskFull, kObjectStoreBurst,
    kContainerKill, kPodDelete, kNodeDrain, kApiServerOutage, kEndpointLag,
  };
  std::vector<Kind> kinds;
  if (swarm->partitions()) kinds.push_back(kPartition);
  if (swarm->clogging()) kinds.push_back(kClog);
  if (swarm->crashes()) kinds.push_back(kCrash);
  if (swarm->power_loss()) kinds.push_back(kPowerLoss);
  if (swarm->disk_full()) kinds.push_back(kDiskFull);
  if (swarm->object_store_errors()) kinds.push_back(kObjectStoreBurst);
  if (swarm->kubernetes()) {
    if (!surface.containers.empty()) {
      kinds.push_back(kContainerKill);
      kinds.push_back(kPodDelete);
    }
    if (surface.api_server) {
      if (surface.host_names().size() > 1) kinds.push_back(kNodeDrain);
      kinds.push_back(kApiServerOutage);
      kinds.push_back(kEndpointLag);
    }
  }
  const uint32_t count = kinds.empty() || surface.nodes.empty()
                             ? 0 : static_cast<uint32_t>(rng.UniformIn(1, surface.max_actions));
  const SimDuration outage_min = SimDuration::Millis(100);
  for (uint32_t i = 0; i < count; ++i) {
    Action* action = plan.add_actions();
    action->set_at_ns(rng.DurationIn(SimDuration::Zero(), surface.horizon).nanos());
    const std::string& node = rng.Pick(surface.nodes);
    switch (rng.Pick(kinds)) {
      case kPartition: {
        Partition* partition = action->mutable_partition();
        const uint64_t shape = rng.UniformBelow(3);
        if (shape == 0) {
          partition->set_kind(Partition::ISOLATE);
          partition->add_side_a(node);
        } else {
          std::vector<std::string> order = surface.nodes;
          rng.Shuffle(order);
          if (shape == 1) {
            partition->set_kind(Partition::SPLIT);
            const size_t cut = 1 + rng.UniformBelow(order.size() - 1);
            for (size_t n = 0; n < order.size(); ++n) {
              (n < cut ? partition->add_side_a() : partition->add_side_b())->assign(order[n]);
            }
          } else {
            partition->set_kind(Partition::ONE_WAY);
            partition->add_side_a(order[0]);
            partition->add_side_b(order[1]);
          }
        }
        partition->set_heal_after_ns(rng.DurationIn(outage_min, surface.max_outage).nanos());
        break;
      }
      case kClog: {
        const std::vector<std::string> pair = PickDistinct(rng, surface.nodes, 2);
        action->mutable_clog()->set_from(pair[0]);
        action->mutable_clog()->set_to(pair[1]);
        action->mutable_clog()->set_duration_ns(rng.DurationIn(outage_min, SimDuration::Seconds(5)).nanos());
        break;
      }
      case kCrash:
        action->mutable_crash()->set_node(node);
        action->mutable_crash()->set_restart_after_ns(rng.DurationIn(outage_min, surface.max_outage).nanos());
        break;
      case kPowerLoss:
        action->mutable_power_loss()->set_node(surface.hosts.empty() ? node : rng.Pick(surface.hosts));
        action->mutable_power_loss()->set_restart_after_ns(rng.DurationIn(outage_min, surface.max_outage).nanos());
        break;
      case kDiskFull:
        action->mutable_disk_fault()->set_disk(surface.volumes.empty() ? node : rng.Pick(surface.volumes));
        action->mutable_disk_fault()->set_kind(DiskFault::FULL);
        action->mutable_disk_fault()->set_duration_ns(rng.DurationIn(outage_min, surface.max_outage).nanos());
        break;
      case kObjectStoreBurst: {
        auto* window = action->mutable_object_store();
        window->set_duration_ns(rng.DurationIn(outage_min, SimDuration::Seconds(10)).nanos());
        window->set_transient_error_per_million(static_cast<uint32_t>(rng.UniformIn(200000, 1000000)));
        window->set_listing_lag_ns(rng.DurationIn(SimDuration::Zero(), SimDuration::Seconds(10)).nanos());
        break;
      }
      case kContainerKill:
        action->mutable_container_kill()->set_pod(node);
        action->mutable_container_kill()->set_container(rng.Pick(surface.containers));
        break;
      case kPodDelete:
        action->mutable_pod_delete()->set_pod(node);
        break;
      case kNodeDrain:
        action->mutable_node_drain()->set_host(rng.Pick(surface.host_names()));
        action->mutable_node_drain()->set_duration_ns(rng.DurationIn(outage_min, surface.max_outage).nanos());
        break;
      case kApiServerOutage:
        action->mutable_api_server_outage()->set_duration_ns(rng.DurationIn(outage_min, surface.max_outage).nanos());
        break;
      case kEndpointLag:
        action->mutable_endpoint_lag()->set_lag_ns(rng.DurationIn(SimDuration::Seconds(1), SimDuration::Seconds(10)).nanos());
        action->mutable_endpoint_lag()->set_duration_ns(rng.DurationIn(outage_min, surface.max_outage).nanos());
        break;
    }
  }
  std::stable_sort(plan.mutable_actions()->begin(), plan.mutable_actions()->end(),
                   [](const Action& a, const Action& b) { return a.at_ns() < b.at_ns(); });
  return plan;
}

std::string FormatPlanText(const FaultPlan& plan) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(plan, &text);
  return text;
}

absl::StatusOr<FaultPlan> ParsePlanText(const std::string& text) {
  FaultPlan plan;
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &plan)) {
    return absl::InvalidArgumentError(errors.first().empty() ? "malformed plan" : errors.first());
  }
  return plan;
}

std::string DescribeAction(const Action& action) {
  const std::string at = Nanos(action.at_ns());
  switch (action.kind_case()) {
    case Action::kPartition: {
      const Partition& p = action.partition();
      const char* kind = p.kind() == Partition::ISOLATE ? "isolate" : p.kind() == Partition::SPLIT ? "split" : "one_way";
      return fmt::format("{} partition kind={} side_a={} side_b={} heal_after={}", at, kind, fmt::join(p.side_a(), ","),
                         fmt::join(p.side_b(), ","), Nanos(p.heal_after_ns()));
    }
    case Action::kHeal:
      return fmt::format("{} heal", at);
    case Action::kClog:
      return fmt::format("{} clog from={} to={} duration={}", at, action.clog().from(), action.clog().to(),
                         Nanos(action.clog().duration_ns()));
    case Action::kCrash:
      return fmt::format("{} crash node={} restart_after={}", at, action.crash().node(),
                         Nanos(action.crash().restart_after_ns()));
    case Action::kPowerLoss:
      return fmt::format("{} power_loss node={} restart_after={}{}", at, action.power_loss().node(),
                         Nanos(action.power_loss().restart_after_ns()),
                         action.power_loss().has_choice() ? " forced_choice" : "");
    case Action::kDelayStart:
      return fmt::format("{} delay_start node={} delay={}", at, action.delay_start().node(),
                         Nanos(action.delay_start().delay_ns()));
    case Action::kObjectStore:
      return fmt::format("{} object_store_burst duration={} transient_ppm={} listing_lag={}", at,
                         Nanos(action.object_store().duration_ns()),
                         action.object_store().transient_error_per_million(),
                         Nanos(action.object_store().listing_lag_ns()));
    case Action::kDiskFault: {
      const DiskFault& d = action.disk_fault();
      const char* kind = d.kind() == DiskFault::FULL ? "full" : d.kind() == DiskFault::FSYNC_ERRORS ? "fsync_errors" : "read_errors";
      return fmt::format("{} disk_fault disk={} kind={} per_million={} duration={}", at, d.disk(), kind,
                         d.per_million(), Nanos(d.duration_ns()));
    }
    case Action::kContainerKill:
      return fmt::format("{} container_kill pod={} container={}", at, action.container_kill().pod(),
                         action.container_kill().container());
    case Action::kPodDelete:
      return fmt::format("{} pod_delete pod={}", at, action.pod_delete().pod());
    case Action::kVolumeLoss:
      return fmt::format("{} volume_loss volume={}", at, action.volume_loss().volume());
    case Action::kApiServerOutage:
      return fmt::format("{} api_server_outage duration={}", at, Nanos(action.api_server_outage().duration_ns()));
    case Action::kNodeDrain:
      return fmt::format("{} node_drain host={} duration={}", at, action.node_drain().host(),
                         Nanos(action.node_drain().duration_ns()));
    case Action::kEndpointLag:
      return fmt::format("{} endpoint_lag lag={} duration={}", at, Nanos(action.endpoint_lag().lag_ns()),
                         Nanos(action.endpoint_lag().duration_ns()));
    case Action::KIND_NOT_SET:
      break;
  }
  return fmt::format("{} (empty action)", at);
}

}  // namespace sim
