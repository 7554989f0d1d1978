#include "sim/world.h"

#include <filesystem>

#include "fmt/format.h"
#include "sim/simulation.h"
#include "sim/trace.h"

namespace sim {

using etcd_dst::faults::Action;
using etcd_dst::faults::DiskFault;
using etcd_dst::faults::Partition;

World::World(Simulation* simulation, std::string bucket)
    : simulation_(simulation), network_(simulation), object_store_(simulation, std::move(bucket)) {}

void World::AddMachine(std::string_view name, DiskOptions disk, BootFunction boot) {
  SIM_CHECK(!machines_.contains(name), "machine {} added twice", name);
  Machine machine;
  machine.node = network_.AddNode(name);
  machine.disk = std::make_unique<Disk>(simulation_, std::string(name), disk);
  machine.boot = std::move(boot);
  machines_.emplace(std::string(name), std::move(machine));
}

World::Machine& World::Get(std::string_view machine) {
  auto it = machines_.find(machine);
  SIM_CHECK(it != machines_.end(), "unknown machine {}", machine);
  return it->second;
}

Disk& World::disk(std::string_view machine) { return *Get(machine).disk; }
NodeId World::node(std::string_view machine) { return Get(machine).node; }
Group* World::group(std::string_view machine) { return Get(machine).group; }
bool World::running(std::string_view machine) { return Get(machine).running; }
World::LastStop World::last_stop(std::string_view machine) { return Get(machine).last_stop; }
int World::boots(std::string_view machine) { return Get(machine).boots; }

void World::Boot(const std::string& name) {
  Machine& machine = Get(name);
  machine.start_pending = false;
  if (machine.running) return;
  network_.NodeUp(machine.node);
  machine.running = true;
  ++machine.boots;
  machine.group = simulation_->scheduler().CreateGroup(name);
  TraceEvent("MachineBooted").Detail("machine", name).Detail("boot", machine.boots);
  machine.boot(machine.group, machine.boots);
}

void World::Start(std::string_view name) {
  Machine& machine = Get(name);
  if (machine.running || machine.start_pending) return;
  const std::string key(name);
  if (machine.boots == 0 && machine.start_delay > SimDuration::Zero()) {
    machine.start_pending = true;
    TraceEvent("StartDelayed").Detail("machine", key).Detail("delay", machine.start_delay);
    simulation_->scheduler().ScheduleAfter(machine.start_delay, [this, key] { Boot(key); });
    return;
  }
  Boot(key);
}

void World::Stop(Machine& machine) {
  machine.running = false;
  if (machine.group != nullptr) simulation_->scheduler().KillGroup(machine.group);
}

void World::Crash(std::string_view name) {
  Machine& machine = Get(name);
  if (!machine.running) return;
  Stop(machine);
  network_.NodeDown(machine.node, Network::DownKind::kCrash);
  machine.disk->CrashProcess();
  machine.last_stop = LastStop::kCrash;
}

void World::PowerOff(std::string_view name, const PowerLossChoice* choice) {
  Machine& machine = Get(name);
  if (machine.running) Stop(machine);
  network_.NodeDown(machine.node, Network::DownKind::kPowerOff);
  machine.disk->PowerLoss(choice);
  machine.last_stop = LastStop::kPowerLoss;
  if (!export_directory_.empty()) {
    const std::string target = (std::filesystem::path(export_directory_) / std::string(name) /
                                fmt::format("powerloss-{}", machine.disk->power_losses() - 1)).string();
    absl::Status status = machine.disk->ExportDurable(target);
    if (!status.ok() && export_status_.ok()) export_status_ = status;
  }
}

void World::Restart(std::string_view name) {
  Machine& machine = Get(name);
  if (machine.running) return;
  Boot(std::string(name));
}

absl::Status World::ExportFinal() {
  if (export_directory_.empty()) return absl::OkStatus();
  for (const auto& [name, machine] : machines_) {
    const std::string target = (std::filesystem::path(export_directory_) / name / "final").string();
    if (absl::Status status = machine.disk->ExportCurrent(target); !status.ok()) return status;
  }
  return export_status_;
}

void World::ApplyPlan(const FaultPlan& plan) {
  const auto& swarm = plan.swarm();
  LinkConfig link;
  link.latency_base = SimDuration::Nanos(plan.link().latency_base_ns());
  link.latency_jitter = SimDuration::Nanos(plan.link().latency_jitter_ns());
  link.loss_per_million = swarm.packet_loss() ? swarm.packet_loss_per_million() : 0;
  link.duplicate_per_million = swarm.duplication() ? swarm.duplicate_per_million() : 0;
  network_.SetDefaultLink(link);
  for (const auto& settings : plan.disks()) {
    disk(settings.disk()).set_persist_unit_bytes(settings.persist_unit_bytes());
  }
  for (auto& [name, machine] : machines_) {
    if (swarm.fsync_errors()) machine.disk->set_fsync_error_per_million(swarm.fsync_error_per_million());
    if (swarm.read_errors()) machine.disk->set_read_error_per_million(swarm.read_error_per_million());
  }
  ObjectStoreFaults faults;
  if (swarm.object_store_errors()) faults.transient_error_per_million = swarm.object_store_error_per_million();
  if (swarm.ambiguous_timeouts()) faults.ambiguous_timeout_per_million = swarm.ambiguous_timeout_per_million();
  if (swarm.failed_uploads()) faults.failed_upload_per_million = swarm.failed_upload_per_million();
  if (swarm.listing_lag()) faults.listing_lag = SimDuration::Nanos(swarm.listing_lag_ns());
  base_object_store_faults_ = faults;
  object_store_.set_faults(faults);

  TraceEvent("FaultPlanApplied")
      .Detail("seed", plan.seed())
      .Detail("actions", plan.actions_size())
      .Detail("loss_ppm", link.loss_per_million)
      .Detail("latency_base", link.latency_base)
      .Detail("latency_jitter", link.latency_jitter);
  for (const Action& action : plan.actions()) {
    if (action.has_delay_start()) {
      Get(action.delay_start().node()).start_delay = SimDuration::Nanos(action.delay_start().delay_ns());
      continue;
    }
    simulation_->scheduler().ScheduleAt(SimTime::FromNanos(action.at_ns()), [this, action] { Perform(action); });
  }
}

void World::RestoreObjectStoreFaults() { object_store_.set_faults(base_object_store_faults_); }

void World::EndAllFaults() {
  faults_ended_ = true;
  network_.EndFaults();
  for (auto& [name, machine] : machines_) machine.disk->EndFaults();
  base_object_store_faults_ = ObjectStoreFaults{};
  object_store_.set_faults(base_object_store_faults_);
  TraceEvent("FaultsEnded").Detail("machines", machines_.size());
  for (auto& [name, machine] : machines_) {
    if (!machine.running && !machine.start_pending && machine.boots > 0) Boot(name);
  }
}

void World::Perform(const Action& action) {
  if (faults_ended_) {
    TraceEvent("FaultSkipped").Detail("action", DescribeAction(action)).Detail("reason", "faults ended");
    return;
  }
  TraceEvent("FaultInjected").Detail("action", DescribeAction(action));
  Scheduler& scheduler = simulation_->scheduler();
  switch (action.kind_case()) {
    case Action::kPartition: {
      const Partition& partition = action.partition();
      if (partition.kind() == Partition::ISOLATE) {
        network_.Isolate(node(partition.side_a(0)));
      } else if (partition.kind() == Partition::SPLIT) {
        std::vector<NodeId> a, b;
        for (const auto& name : partition.side_a()) a.push_back(node(name));
        for (const auto& name : partition.side_b()) b.push_back(node(name));
        network_.Split(a, b);
      } else {
        network_.BlockOneWay(node(partition.side_a(0)), node(partition.side_b(0)));
      }
      if (partition.heal_after_ns() > 0) {
        scheduler.ScheduleAfter(SimDuration::Nanos(partition.heal_after_ns()), [this] { network_.Heal(); });
      }
      break;
    }
    case Action::kHeal:
      network_.Heal();
      break;
    case Action::kClog:
      network_.Clog(node(action.clog().from()), node(action.clog().to()),
                    SimDuration::Nanos(action.clog().duration_ns()));
      break;
    case Action::kCrash: {
      const std::string name = action.crash().node();
      if (!running(name)) break;
      Crash(name);
      if (action.crash().restart_after_ns() > 0) {
        scheduler.ScheduleAfter(SimDuration::Nanos(action.crash().restart_after_ns()), [this, name] { Restart(name); });
      }
      break;
    }
    case Action::kPowerLoss: {
      const std::string name = action.power_loss().node();
      if (!running(name) && !Get(name).start_pending && Get(name).boots > 0) break;  // already off
      PowerLossChoice choice;
      const bool forced = action.power_loss().has_choice();
      if (forced) {
        const auto& proto = action.power_loss().choice();
        if (proto.has_metadata_ops_kept()) choice.metadata_ops_kept = proto.metadata_ops_kept();
        choice.keep_all_unlisted = proto.keep_all_unlisted();
        choice.keep_nothing_unlisted = proto.keep_nothing_unlisted();
        for (const auto& file : proto.files()) {
          choice.files[file.path()] = {{file.parts_kept().begin(), file.parts_kept().end()}, file.size_kept()};
        }
      }
      const bool was_pending = Get(name).start_pending;
      PowerOff(name, forced ? &choice : nullptr);
      if (was_pending) break;  // its delayed boot still comes
      if (action.power_loss().restart_after_ns() > 0) {
        scheduler.ScheduleAfter(SimDuration::Nanos(action.power_loss().restart_after_ns()),
                                [this, name] { Restart(name); });
      }
      break;
    }
    case Action::kDelayStart:
      break;  // applied before the start
    case Action::kObjectStore: {
      ObjectStoreFaults burst = base_object_store_faults_;
      burst.transient_error_per_million = action.object_store().transient_error_per_million();
      burst.ambiguous_timeout_per_million = std::max(burst.ambiguous_timeout_per_million,
                                                     action.object_store().ambiguous_timeout_per_million());
      burst.failed_upload_per_million = std::max(burst.failed_upload_per_million,
                                                 action.object_store().failed_upload_per_million());
      burst.listing_lag = std::max(burst.listing_lag, SimDuration::Nanos(action.object_store().listing_lag_ns()));
      object_store_.set_faults(burst);
      scheduler.ScheduleAfter(SimDuration::Nanos(action.object_store().duration_ns()),
                              [this] { RestoreObjectStoreFaults(); });
      break;
    }
    case Action::kDiskFault: {
      const DiskFault& fault = action.disk_fault();
      Disk& target = disk(fault.disk());
      const SimDuration duration = SimDuration::Nanos(fault.duration_ns());
      if (fault.kind() == DiskFault::FULL) {
        target.FillUp();
        // Back to the configured capacity, not to what it was: overlapping
        // fills must not leave the disk full for good.
        if (duration > SimDuration::Zero()) scheduler.ScheduleAfter(duration, [&target] { target.RestoreCapacity(); });
      } else {
        const bool fsync = fault.kind() == DiskFault::FSYNC_ERRORS;
        if (fsync) {
          target.set_fsync_error_per_million(fault.per_million());
        } else {
          target.set_read_error_per_million(fault.per_million());
        }
        if (duration > SimDuration::Zero()) {
          scheduler.ScheduleAfter(duration, [&target, fsync] {
            if (fsync) {
              target.set_fsync_error_per_million(0);
            } else {
              target.set_read_error_per_million(0);
            }
          });
        }
      }
      break;
    }
    case Action::KIND_NOT_SET:
      break;
  }
}

}  // namespace sim
