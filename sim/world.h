// The simulated world a workload runs in: the network, the backup bucket,
// and three kinds of thing that Kubernetes keeps apart:
//   - hosts: machines that lose power (every pod on the host dies silently,
//     every volume attached to one of them loses its page cache, torn);
//   - volumes: disks (sim/disk.h) that outlive pods and restarts, attached
//     to at most one pod at a time and following it to another host;
//   - pods: a network identity and the processes a boot function starts in
//     a fresh actor group each time the pod boots; a pod runs on one host.
// A machine, as the workloads before Kubernetes know it, is a host, a volume
// and a pod of one name. A fault plan drives the world: the world configures
// links, volumes and the bucket from the plan and performs its timed actions
// (partitions and clogs between pods, process crashes of pods, power losses
// of hosts, delayed pod starts, volume and bucket trouble), each traced as
// FaultInjected.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "sim/disk.h"
#include "sim/fault_plan.h"
#include "sim/network.h"
#include "sim/object_store.h"
#include "sim/process_context.h"
#include "sim/resolver.h"

namespace sim {

class Simulation;

class World {
 public:
  explicit World(Simulation* simulation, std::string bucket = "backups");
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  Network& network() { return network_; }
  ObjectStore& object_store() { return object_store_; }
  // How processes resolve names: network node names unless a layer above
  // (cluster/) sets a resolver of its own, which must outlive the world.
  const Resolver& resolver() const { return *resolver_; }
  void set_resolver(const Resolver* resolver) { resolver_ = resolver != nullptr ? resolver : &network_resolver_; }

  // Starts the pod's processes in `group`; `boot` counts from 1.
  using BootFunction = std::function<void(Group* group, int boot)>;
  void AddHost(std::string_view name);
  void AddVolume(std::string_view name, DiskOptions options);
  // `volume` may be empty (a pod without storage).
  void AddPod(std::string_view name, std::string_view host, std::string_view volume, BootFunction boot);
  // A host, a volume and a pod, all named `name`.
  void AddMachine(std::string_view name, DiskOptions disk, BootFunction boot);

  // What a process of `pod` may touch (sim/process_context.h), with `rng`
  // as its own stream and, if `bucket`, the pod's bucket client.
  ProcessContext Context(std::string_view pod, Rng* rng, bool bucket = false);
  // The pod's client of the backup bucket, reached over the network from the
  // pod's node to the bucket's (the service starts with the first client).
  BucketClient& Bucket(std::string_view pod);

  Disk& volume(std::string_view name);
  // The volume attached to `pod` (which must have one).
  Disk& disk(std::string_view pod);
  NodeId node(std::string_view pod);
  Group* group(std::string_view pod);  // the current boot's group, or nullptr
  const std::string& host_of(std::string_view pod);
  bool powered(std::string_view host);

  enum class LastStop : uint8_t { kNone, kCrash, kPowerLoss };
  bool running(std::string_view pod);
  LastStop last_stop(std::string_view pod);
  int boots(std::string_view pod);

  // Boots the pod, after its planned start delay on the first boot, once its
  // host has power.
  void Start(std::string_view pod);
  // The pod's next Start waits `delay` first (the kube-scheduler leaves a
  // re-created pod Pending), once.
  void DelayNextStart(std::string_view pod, SimDuration delay);
  // The pod's processes die; the host's kernel stays (connections are reset,
  // the page cache survives). It stays down until Restart.
  // Stops a pod for good (a StatefulSet scaled below it): like a crash, but
  // EndAllFaults does not bring it back; Start does.
  void Retire(std::string_view name);
  void Crash(std::string_view pod);
  void Restart(std::string_view pod);
  // The host loses power: its pods die silently and stay down until PowerOn,
  // which boots those that were meant to run.
  void PowerOff(std::string_view host, const PowerLossChoice* choice = nullptr);
  void PowerOn(std::string_view host);
  // A stopped pod moves to another host (a reschedule), its volume with it.
  void MovePod(std::string_view pod, std::string_view host);
  // Attaches `volume` to the stopped `pod`, detached from any other pod.
  void AttachVolume(std::string_view pod, std::string_view volume);

  // Configures the world from the plan and schedules its actions. Call once,
  // before starting the pods.
  void ApplyPlan(const FaultPlan& plan);
  // A layer above (cluster/) performs the actions about what it models
  // (container kills, API-server outages; pod deletes, which it may do its
  // own way): the handler returns true if it performed the action.
  using ActionHandler = std::function<bool(const etcd_dst::faults::Action& action)>;
  void set_action_handler(ActionHandler handler) { action_handler_ = std::move(handler); }
  // A pod deleted and created again by its controller: its processes die,
  // it boots again at once on its host, with its volume.
  void DeletePod(std::string_view pod);
  // The volume's data is lost: the pod using it stops, the volume is
  // emptied, the pod starts again.
  void LoseVolume(std::string_view volume);

  // The liveness phase (TigerBeetle's VOPR): every fault ends for good. The
  // network heals and stops losing packets, volumes stop failing and get
  // their capacity back, the bucket stops failing and lagging, planned
  // actions still to come are skipped, every host has power and every pod
  // that is down boots (a delayed first start keeps its delay). What happens
  // next must be recovery.
  void EndAllFaults();

  // With a directory set, each power loss exports each torn volume's crash
  // image to <dir>/<volume>/powerloss-<k>/ (k from 0), and ExportFinal
  // writes each volume's current view to <dir>/<volume>/final/.
  void set_export_directory(std::string directory) { export_directory_ = std::move(directory); }
  absl::Status ExportFinal();
  // The first export error, if any (exports happen inside the run).
  const absl::Status& export_status() const { return export_status_; }

 private:
  struct Pod {
    NodeId node = 0;
    std::string host;
    std::string volume;  // empty: none
    BootFunction boot;
    Group* group = nullptr;
    int boots = 0;
    bool running = false;
    bool wanted = false;  // meant to run: boots when its host has power
    bool retired = false;  // removed on purpose (scaled away): the end of faults leaves it down
    bool start_pending = false;
    LastStop last_stop = LastStop::kNone;
    SimDuration start_delay;
    SimDuration next_start_delay;
  };
  struct Host {
    bool powered = true;
  };
  Pod& GetPod(std::string_view pod);
  Host& GetHost(std::string_view host);
  void Boot(const std::string& pod);
  void StopPod(Pod& pod);
  void PowerLossOfVolume(const std::string& volume, const PowerLossChoice* choice);
  // The plan's persist unit and error rates for this volume (ApplyPlan).
  void ApplyPlannedSettings(const std::string& name, Disk& disk);
  void Perform(const etcd_dst::faults::Action& action);
  void PerformPowerLoss(const etcd_dst::faults::PowerLoss& power_loss);
  void PerformBucketWindow(const etcd_dst::faults::ObjectStoreWindow& window);
  void PerformDiskFault(const etcd_dst::faults::DiskFault& fault);
  void RestoreObjectStoreFaults();

  Simulation* simulation_;
  Network network_;
  NetworkResolver network_resolver_;
  const Resolver* resolver_;
  ObjectStore object_store_;
  std::unique_ptr<BucketService> bucket_service_;
  std::map<std::string, std::unique_ptr<BucketClient>, std::less<>> bucket_clients_;  // by pod
  std::map<std::string, Host, std::less<>> hosts_;
  std::map<std::string, std::unique_ptr<Disk>, std::less<>> volumes_;
  std::map<std::string, Pod, std::less<>> pods_;
  std::map<std::string, SimDuration, std::less<>> planned_start_delays_;  // of pods not yet added
  std::map<std::string, uint32_t, std::less<>> planned_persist_units_;  // the plan's, by volume
  uint32_t planned_fsync_error_per_million_ = 0;
  uint32_t planned_read_error_per_million_ = 0;
  ObjectStoreFaults base_object_store_faults_;
  std::string export_directory_;
  absl::Status export_status_;
  bool faults_ended_ = false;
  ActionHandler action_handler_;
};

}  // namespace sim
