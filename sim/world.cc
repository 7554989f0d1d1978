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
    : simulation_(simulation),
      network_(simulation),
      network_resolver_(&network_),
      resolver_(&network_resolver_),
      object_store_(simulation, std::move(bucket)),
      // The bucket's node exists from the start, so that partitions made
      // before its first client cut it off too; its server starts with the
      // first client.
      bucket_service_(std::make_unique<BucketService>(&simulation_->scheduler(), &network_, &object_store_,
                                                      object_store_.bucket() + "-bucket")) {}

void World::AddHost(std::string_view name) {
  SIM_CHECK(!hosts_.contains(name), "host {} added twice", name);
  hosts_.emplace(std::string(name), Host{});
}

void World::AddVolume(std::string_view name, DiskOptions options) {
  SIM_CHECK(!volumes_.contains(name), "volume {} added twice", name);
  auto it = volumes_.emplace(std::string(name), std::make_unique<Disk>(simulation_, std::string(name), options)).first;
  // A volume created after the plan (by a StatefulSet controller) gets the
  // plan's settings as it is created.
  ApplyPlannedSettings(it->first, *it->second);
}

void World::ApplyPlannedSettings(const std::string& name, Disk& disk) {
  if (auto planned = planned_persist_units_.find(name); planned != planned_persist_units_.end()) {
    disk.set_persist_unit_bytes(planned->second);
  }
  if (planned_fsync_error_per_million_ > 0) disk.set_fsync_error_per_million(planned_fsync_error_per_million_);
  if (planned_read_error_per_million_ > 0) disk.set_read_error_per_million(planned_read_error_per_million_);
}

void World::AddPod(std::string_view name, std::string_view host, std::string_view volume, BootFunction boot) {
  SIM_CHECK(!pods_.contains(name), "pod {} added twice", name);
  GetHost(host);
  Pod pod;
  pod.node = network_.AddNode(name);
  pod.host = std::string(host);
  pod.boot = std::move(boot);
  if (auto planned = planned_start_delays_.find(name); planned != planned_start_delays_.end()) {
    pod.start_delay = planned->second;
  }
  pods_.emplace(std::string(name), std::move(pod));
  if (!volume.empty()) AttachVolume(name, volume);
}

void World::AddMachine(std::string_view name, DiskOptions disk, BootFunction boot) {
  AddHost(name);
  AddVolume(name, disk);
  AddPod(name, name, name, std::move(boot));
}

World::Pod& World::GetPod(std::string_view pod) {
  auto it = pods_.find(pod);
  SIM_CHECK(it != pods_.end(), "unknown pod {}", pod);
  return it->second;
}

World::Host& World::GetHost(std::string_view host) {
  auto it = hosts_.find(host);
  SIM_CHECK(it != hosts_.end(), "unknown host {}", host);
  return it->second;
}

ProcessContext World::Context(std::string_view pod, Rng* rng, bool bucket) {
  const Pod& found = GetPod(pod);
  return {.scheduler = &simulation_->scheduler(),
          .network = &network_,
          .node = found.node,
          .resolver = resolver_,
          .volume = found.volume.empty() ? nullptr : &volume(found.volume),
          .bucket = bucket ? &Bucket(pod) : nullptr,
          .rng = rng};
}

BucketClient& World::Bucket(std::string_view pod) {
  auto it = bucket_clients_.find(pod);
  if (it != bucket_clients_.end()) return *it->second;
  if (!bucket_service_->started()) bucket_service_->Start();
  auto client = std::make_unique<BucketClient>(&network_, GetPod(pod).node, bucket_service_->address(),
                                               &simulation_->Stream("bucket-client." + std::string(pod)));
  return *bucket_clients_.emplace(std::string(pod), std::move(client)).first->second;
}

Disk& World::volume(std::string_view name) {
  auto it = volumes_.find(name);
  SIM_CHECK(it != volumes_.end(), "unknown volume {}", name);
  return *it->second;
}

Disk& World::disk(std::string_view pod) {
  const Pod& found = GetPod(pod);
  SIM_CHECK(!found.volume.empty(), "pod {} has no volume", pod);
  return volume(found.volume);
}

NodeId World::node(std::string_view pod) { return GetPod(pod).node; }
Group* World::group(std::string_view pod) { return GetPod(pod).group; }
const std::string& World::host_of(std::string_view pod) { return GetPod(pod).host; }
bool World::powered(std::string_view host) { return GetHost(host).powered; }
bool World::running(std::string_view pod) { return GetPod(pod).running; }
World::LastStop World::last_stop(std::string_view pod) { return GetPod(pod).last_stop; }
int World::boots(std::string_view pod) { return GetPod(pod).boots; }

void World::Boot(const std::string& name) {
  Pod& pod = GetPod(name);
  pod.start_pending = false;
  pod.wanted = true;
  pod.retired = false;
  if (pod.running || !GetHost(pod.host).powered) return;  // a host without power boots it at PowerOn
  network_.NodeUp(pod.node);
  pod.running = true;
  ++pod.boots;
  pod.group = simulation_->scheduler().CreateGroup(name);
  TraceEvent("PodBooted").Detail("pod", name).Detail("host", pod.host).Detail("boot", pod.boots);
  pod.boot(pod.group, pod.boots);
}

void World::DelayNextStart(std::string_view name, SimDuration delay) { GetPod(name).next_start_delay = delay; }

void World::Start(std::string_view name) {
  Pod& pod = GetPod(name);
  if (pod.running || pod.start_pending) return;
  const std::string key(name);
  const SimDuration delay = pod.boots == 0 ? pod.start_delay : pod.next_start_delay;
  pod.next_start_delay = SimDuration::Zero();
  if (delay > SimDuration::Zero()) {
    pod.start_pending = true;
    TraceEvent("StartDelayed").Detail("pod", key).Detail("delay", delay);
    simulation_->scheduler().ScheduleAfter(delay, [this, key] { Boot(key); });
    return;
  }
  Boot(key);
}

void World::StopPod(Pod& pod) {
  pod.running = false;
  if (pod.group != nullptr) simulation_->scheduler().KillGroup(pod.group);
}

void World::Retire(std::string_view name) {
  Crash(name);
  GetPod(name).retired = true;
}

void World::Crash(std::string_view name) {
  Pod& pod = GetPod(name);
  pod.wanted = false;
  if (!pod.running) return;
  StopPod(pod);
  network_.NodeDown(pod.node, Network::DownKind::kCrash);
  if (!pod.volume.empty()) volume(pod.volume).CrashProcess();
  pod.last_stop = LastStop::kCrash;
}

void World::Restart(std::string_view name) {
  Pod& pod = GetPod(name);
  if (pod.running) return;
  Boot(std::string(name));
}

void World::PowerLossOfVolume(const std::string& name, const PowerLossChoice* choice) {
  Disk& disk = volume(name);
  disk.PowerLoss(choice);
  if (export_directory_.empty()) return;
  const std::string target =
      (std::filesystem::path(export_directory_) / name / fmt::format("powerloss-{}", disk.power_losses() - 1))
          .string();
  absl::Status status = disk.ExportDurable(target);
  if (!status.ok() && export_status_.ok()) export_status_ = status;
}

void World::PowerOff(std::string_view name, const PowerLossChoice* choice) {
  Host& host = GetHost(name);
  if (!host.powered) return;
  host.powered = false;
  TraceEvent("HostPowerOff").Detail("host", name);
  for (auto& [pod_name, pod] : pods_) {
    if (pod.host != name) continue;
    if (pod.running) StopPod(pod);  // `wanted` stays: it boots again at PowerOn
    network_.NodeDown(pod.node, Network::DownKind::kPowerOff);
    if (!pod.volume.empty()) PowerLossOfVolume(pod.volume, choice);
    pod.last_stop = LastStop::kPowerLoss;
  }
}

void World::PowerOn(std::string_view name) {
  Host& host = GetHost(name);
  if (host.powered) return;
  host.powered = true;
  TraceEvent("HostPowerOn").Detail("host", name);
  for (auto& [pod_name, pod] : pods_) {
    if (pod.host == name && pod.wanted && !pod.start_pending) Boot(pod_name);
  }
}

void World::DeletePod(std::string_view name) {
  Pod& pod = GetPod(name);
  TraceEvent("PodDeleted").Detail("pod", name);
  const bool meant_to_run = pod.running || pod.wanted;
  Crash(name);
  if (meant_to_run) Restart(name);
}

void World::LoseVolume(std::string_view name) {
  Disk& disk = volume(name);
  std::string user;
  for (auto& [pod_name, pod] : pods_) {
    if (pod.volume == name) user = pod_name;
  }
  const bool restart = !user.empty() && (GetPod(user).running || GetPod(user).wanted);
  if (!user.empty()) Crash(user);
  disk.Wipe();
  if (restart) Restart(user);
}

void World::MovePod(std::string_view name, std::string_view host) {
  Pod& pod = GetPod(name);
  SIM_CHECK(!pod.running, "pod {} must be stopped to move", name);
  GetHost(host);
  pod.host = std::string(host);
  TraceEvent("PodMoved").Detail("pod", name).Detail("host", host);
}

void World::AttachVolume(std::string_view name, std::string_view volume_name) {
  Pod& pod = GetPod(name);
  SIM_CHECK(!pod.running, "pod {} must be stopped to attach a volume", name);
  volume(volume_name);
  for (auto& [other_name, other] : pods_) {
    if (other.volume == volume_name) {
      SIM_CHECK(!other.running, "volume {} is in use by running pod {}", volume_name, other_name);
      other.volume.clear();
    }
  }
  pod.volume = std::string(volume_name);
}

absl::Status World::ExportFinal() {
  if (export_directory_.empty()) return absl::OkStatus();
  for (const auto& [name, disk] : volumes_) {
    const std::string target = (std::filesystem::path(export_directory_) / name / "final").string();
    if (absl::Status status = disk->ExportCurrent(target); !status.ok()) return status;
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
  // The plan's volume settings, for the volumes there are and those still to come.
  for (const auto& settings : plan.disks()) planned_persist_units_[settings.disk()] = settings.persist_unit_bytes();
  planned_fsync_error_per_million_ = swarm.fsync_errors() ? swarm.fsync_error_per_million() : 0;
  planned_read_error_per_million_ = swarm.read_errors() ? swarm.read_error_per_million() : 0;
  for (auto& [name, disk] : volumes_) ApplyPlannedSettings(name, *disk);
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
      // A pod created later (by a StatefulSet controller) finds its delay at AddPod.
      const SimDuration delay = SimDuration::Nanos(action.delay_start().delay_ns());
      auto pod = pods_.find(action.delay_start().node());
      if (pod != pods_.end()) {
        pod->second.start_delay = delay;
      } else {
        planned_start_delays_[action.delay_start().node()] = delay;
      }
      continue;
    }
    simulation_->scheduler().ScheduleAt(SimTime::FromNanos(action.at_ns()), [this, action] { Perform(action); });
  }
}

void World::RestoreObjectStoreFaults() { object_store_.set_faults(base_object_store_faults_); }

void World::EndAllFaults() {
  faults_ended_ = true;
  network_.EndFaults();
  for (auto& [name, disk] : volumes_) disk->EndFaults();
  planned_fsync_error_per_million_ = 0;
  planned_read_error_per_million_ = 0;
  base_object_store_faults_ = ObjectStoreFaults{};
  object_store_.set_faults(base_object_store_faults_);
  TraceEvent("FaultsEnded").Detail("pods", pods_.size());
  for (auto& [name, host] : hosts_) PowerOn(name);
  for (auto& [name, pod] : pods_) {
    if (!pod.running && !pod.start_pending && !pod.retired && pod.boots > 0) Boot(name);
  }
}

void World::Perform(const Action& action) {
  if (faults_ended_) {
    TraceEvent("FaultSkipped").Detail("action", DescribeAction(action)).Detail("reason", "faults ended");
    return;
  }
  // A pod or volume the plan names may not exist yet (a StatefulSet scaled
  // up later): nothing to break.
  std::vector<std::string> pods, volumes;
  switch (action.kind_case()) {
    case Action::kPartition:
      pods.assign(action.partition().side_a().begin(), action.partition().side_a().end());
      pods.insert(pods.end(), action.partition().side_b().begin(), action.partition().side_b().end());
      break;
    case Action::kClog:
      pods = {action.clog().from(), action.clog().to()};
      break;
    case Action::kCrash:
      pods = {action.crash().node()};
      break;
    case Action::kPodDelete:
      pods = {action.pod_delete().pod()};
      break;
    case Action::kDiskFault:
      volumes = {action.disk_fault().disk()};
      break;
    case Action::kVolumeLoss:
      volumes = {action.volume_loss().volume()};
      break;
    default:
      break;
  }
  for (const std::string& pod : pods) {
    if (!pods_.contains(pod)) {
      TraceEvent("FaultSkipped").Detail("action", DescribeAction(action)).Detail("reason", "no pod " + pod + " yet");
      return;
    }
  }
  for (const std::string& name : volumes) {
    if (!volumes_.contains(name)) {
      TraceEvent("FaultSkipped").Detail("action", DescribeAction(action)).Detail("reason", "no volume " + name + " yet");
      return;
    }
  }
  TraceEvent("FaultInjected").Detail("action", DescribeAction(action));
  if (action_handler_ && action_handler_(action)) return;
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
        // A pod retired meanwhile (its StatefulSet scaled down) stays down:
        // a deleted pod never comes back, only its controller's new one.
        scheduler.ScheduleAfter(SimDuration::Nanos(action.crash().restart_after_ns()), [this, name] {
          if (!GetPod(name).retired) Restart(name);
        });
      }
      break;
    }
    case Action::kPowerLoss:
      PerformPowerLoss(action.power_loss());
      break;
    case Action::kDelayStart:
      break;  // applied before the start
    case Action::kObjectStore:
      PerformBucketWindow(action.object_store());
      break;
    case Action::kDiskFault:
      PerformDiskFault(action.disk_fault());
      break;
    case Action::kPodDelete:
      DeletePod(action.pod_delete().pod());
      break;
    case Action::kVolumeLoss:
      LoseVolume(action.volume_loss().volume());
      break;
    case Action::kContainerKill:
    case Action::kApiServerOutage:
    case Action::kNodeDrain:
    case Action::kEndpointLag:
      SIM_CHECK(false, "no layer performs {}: the workload's fault surface offers what it does not model",
                DescribeAction(action));
      break;
    case Action::KIND_NOT_SET:
      break;
  }
}

void World::PerformPowerLoss(const etcd_dst::faults::PowerLoss& power_loss) {
  const std::string host = power_loss.node();
  if (!powered(host)) return;  // already off
  PowerLossChoice choice;
  const bool forced = power_loss.has_choice();
  if (forced) {
    const auto& proto = power_loss.choice();
    if (proto.has_metadata_ops_kept()) choice.metadata_ops_kept = proto.metadata_ops_kept();
    choice.keep_all_unlisted = proto.keep_all_unlisted();
    choice.keep_nothing_unlisted = proto.keep_nothing_unlisted();
    for (const auto& file : proto.files()) {
      choice.files[file.path()] = {{file.parts_kept().begin(), file.parts_kept().end()}, file.size_kept()};
    }
  }
  PowerOff(host, forced ? &choice : nullptr);
  if (power_loss.restart_after_ns() > 0) {
    simulation_->scheduler().ScheduleAfter(SimDuration::Nanos(power_loss.restart_after_ns()),
                                           [this, host] { PowerOn(host); });
  }
}

void World::PerformBucketWindow(const etcd_dst::faults::ObjectStoreWindow& window) {
  ObjectStoreFaults burst = base_object_store_faults_;
  burst.transient_error_per_million = window.transient_error_per_million();
  burst.ambiguous_timeout_per_million =
      std::max(burst.ambiguous_timeout_per_million, window.ambiguous_timeout_per_million());
  burst.failed_upload_per_million = std::max(burst.failed_upload_per_million, window.failed_upload_per_million());
  burst.listing_lag = std::max(burst.listing_lag, SimDuration::Nanos(window.listing_lag_ns()));
  object_store_.set_faults(burst);
  simulation_->scheduler().ScheduleAfter(SimDuration::Nanos(window.duration_ns()),
                                         [this] { RestoreObjectStoreFaults(); });
}

void World::PerformDiskFault(const DiskFault& fault) {
  Disk& target = volume(fault.disk());
  const SimDuration duration = SimDuration::Nanos(fault.duration_ns());
  Scheduler& scheduler = simulation_->scheduler();
  if (fault.kind() == DiskFault::FULL) {
    target.FillUp();
    // Back to the configured capacity, not to what it was: overlapping
    // fills must not leave the disk full for good.
    if (duration > SimDuration::Zero()) scheduler.ScheduleAfter(duration, [&target] { target.RestoreCapacity(); });
    return;
  }
  const bool fsync = fault.kind() == DiskFault::FSYNC_ERRORS;
  if (fsync) {
    target.set_fsync_error_per_million(fault.per_million());
  } else {
    target.set_read_error_per_million(fault.per_million());
  }
  if (duration <= SimDuration::Zero()) return;
  scheduler.ScheduleAfter(duration, [&target, fsync] {
    if (fsync) {
      target.set_fsync_error_per_million(0);
    } else {
      target.set_read_error_per_million(0);
    }
  });
}

}  // namespace sim
