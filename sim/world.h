// The simulated world a workload runs in: the network, the backup bucket, and
// machines (a network node, a disk that outlives restarts, and the processes
// a boot function starts in a fresh actor group each time). A fault plan
// drives it: the world configures links, disks and the bucket from the plan
// and performs its timed actions (partitions, clogs, crashes, power losses,
// delayed starts, disk and bucket trouble), each traced as FaultInjected.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "sim/disk.h"
#include "sim/fault_plan.h"
#include "sim/network.h"
#include "sim/object_store.h"

namespace sim {

class Simulation;

class World {
 public:
  explicit World(Simulation* simulation, std::string bucket = "backups");
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  Network& network() { return network_; }
  ObjectStore& object_store() { return object_store_; }

  // Starts the machine's processes in `group`; `boot` counts from 1.
  using BootFunction = std::function<void(Group* group, int boot)>;
  void AddMachine(std::string_view name, DiskOptions disk, BootFunction boot);
  Disk& disk(std::string_view machine);
  NodeId node(std::string_view machine);
  Group* group(std::string_view machine);  // the current boot's group, or nullptr

  enum class LastStop : uint8_t { kNone, kCrash, kPowerLoss };
  bool running(std::string_view machine);
  LastStop last_stop(std::string_view machine);
  int boots(std::string_view machine);

  // Boots the machine, after its planned start delay on the first boot.
  void Start(std::string_view machine);
  void Crash(std::string_view machine);
  void PowerOff(std::string_view machine, const PowerLossChoice* choice = nullptr);
  void Restart(std::string_view machine);

  // Configures the world from the plan and schedules its actions. Call once,
  // before starting the machines.
  void ApplyPlan(const FaultPlan& plan);

  // The liveness phase (TigerBeetle's VOPR): every fault ends for good. The
  // network heals and stops losing packets, disks stop failing and get
  // their capacity back, the bucket stops failing and lagging, planned
  // actions still to come are skipped, and every machine that is down boots
  // (a delayed first start keeps its delay). What happens next must be
  // recovery.
  void EndAllFaults();
  bool faults_ended() const { return faults_ended_; }

  // With a directory set, each power loss exports the disk's crash image to
  // <dir>/<disk>/powerloss-<k>/ (k from 0), and ExportFinal writes each
  // disk's current view to <dir>/<disk>/final/.
  void set_export_directory(std::string directory) { export_directory_ = std::move(directory); }
  absl::Status ExportFinal();
  // The first export error, if any (exports happen inside the run).
  const absl::Status& export_status() const { return export_status_; }

 private:
  struct Machine {
    NodeId node = 0;
    std::unique_ptr<Disk> disk;
    BootFunction boot;
    Group* group = nullptr;
    int boots = 0;
    bool running = false;
    bool start_pending = false;
    LastStop last_stop = LastStop::kNone;
    SimDuration start_delay;
  };
  Machine& Get(std::string_view machine);
  void Boot(const std::string& name);
  void Stop(Machine& machine);
  void Perform(const etcd_dst::faults::Action& action);
  void RestoreObjectStoreFaults();

  Simulation* simulation_;
  Network network_;
  ObjectStore object_store_;
  std::map<std::string, Machine, std::less<>> machines_;
  ObjectStoreFaults base_object_store_faults_;
  std::string export_directory_;
  absl::Status export_status_;
  bool faults_ended_ = false;
};

}  // namespace sim
