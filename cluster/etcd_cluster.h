// An etcd cluster as etcd-druid runs it, for tests and workloads to set up
// in a few lines that read as prose:
//
//   EtcdCluster cluster(&simulation, {.members = 3});
//   cluster.Pod(2).PendingFor(SimDuration::Seconds(30));  // scheduled late
//   cluster.At(SimDuration::Seconds(60)).DeletePod(1);
//   cluster.Start();
//   cluster.RunUntil(SimDuration::Seconds(90));
//   cluster.Members() ...
//
// Druid creates the StatefulSet (Parallel) and its services. With
// Options::backup_restore each pod runs druid v0.28's two containers: `etcd`
// (the etcd-wrapper, starting etcd with backup-restore's /config) and
// `backup-restore` (BR under the given profile, backing up to the world's
// bucket). Without it, the `etcd` container runs etcd with the configmap's
// flags and the wrapper's readiness (a Get of "foo" on the local member).
// Peer URLs are on the peer service's DNS names. Everything said before
// Start is a fault plan, so a scenario prints and replays like any plan.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster/api_server.h"
#include "cluster/br_kubernetes.h"
#include "cluster/cluster.h"
#include "cluster/druid.h"
#include "model/br/config.h"
#include "model/br/profile.h"
#include "model/br/server.h"
#include "model/etcd/client.h"
#include "model/wrapper/wrapper.h"
#include "model/etcd/server.h"
#include "sim/simulation.h"
#include "sim/world.h"

namespace cluster {

class EtcdCluster {
 public:
  struct Options {
    std::string name = "etcd-main";
    int members = 3;
    int nodes = 3;
    uint64_t snapshot_count = 75000;  // druid v0.28's
    std::string data_dir = "var/etcd/data/new.etcd";
    std::string token = "etcd-cluster";
    model::bbolt::InitMode bbolt_init = model::bbolt::InitMode::kSingleWrite;
    bool atomic_wal_bootstrap = false;
    // One member with etcd's default flags (name "default", localhost URLs):
    // what `etcd --data-dir DIR` runs, and what a crash image needs to be
    // opened by the real etcd on any machine.
    bool etcd_defaults = false;
    // The wrapper's readiness probe on the etcd container (druid's).
    bool readiness = true;
    // Changes a start's flags before etcd reads them (tests: a garbage
    // --initial-cluster, a small snapshot count, a joining member's
    // `existing` state).
    std::function<void(int ordinal, model::etcd::EtcdConfig& config)> configure;
    // Called as each etcd process starts (each boot, each restart).
    std::function<void(int ordinal)> on_start;
    // The pod as druid builds it: the `etcd` container runs the
    // etcd-wrapper, which starts etcd with backup-restore's /config, and a
    // `backup-restore` container runs BR with this profile, backing up to
    // the world's bucket. Unset: the etcd container runs etcd with the
    // configmap's flags (the etcd-only workloads).
    std::optional<model::br::Profile> backup_restore;
    // BR's snapshot settings (druid passes the delta period and schedule).
    model::br::Snapshotter::Options snapshots;
    // BR renews member leases as `<id>:<clusterID>:<role>` (v0.39+).
    bool lease_with_cluster_id = false;
  };

  EtcdCluster(sim::Simulation* simulation, Options options);
  ~EtcdCluster();

  // --- the scenario, said before Start -------------------------------------
  class PodFaults {
   public:
    // The pod waits Pending this long before it is bound to its node.
    PodFaults& PendingFor(sim::SimDuration delay);

   private:
    friend class EtcdCluster;
    PodFaults(EtcdCluster* cluster, int ordinal) : cluster_(cluster), ordinal_(ordinal) {}
    EtcdCluster* cluster_;
    int ordinal_;
  };
  class Moment {
   public:
    Moment& DeletePod(int ordinal);
    Moment& KillContainer(int ordinal, const std::string& container = "etcd");
    Moment& PowerLoss(int node, sim::SimDuration restart_after = sim::SimDuration::Seconds(10));
    Moment& LoseVolume(int ordinal);
    Moment& ApiServerOutage(sim::SimDuration duration);

   private:
    friend class EtcdCluster;
    Moment(EtcdCluster* cluster, sim::SimDuration at) : cluster_(cluster), at_(at) {}
    etcd_dst::faults::Action* Add();
    EtcdCluster* cluster_;
    sim::SimDuration at_;
  };
  PodFaults Pod(int ordinal) { return PodFaults(this, ordinal); }
  Moment At(sim::SimDuration at) { return Moment(this, at); }
  // What the scenario said, as a plan (before Start), or the seed's plan.
  sim::FaultPlan& plan() { return plan_; }
  // What plans for a cluster of these options may touch: its pods, nodes,
  // volumes, the etcd container and the control plane (no object store).
  static sim::FaultSurface Faults(const Options& options);
  sim::FaultSurface Faults() const { return Faults(options_); }

  // --- running ---------------------------------------------------------------
  // Applies the plan (the scenario's, or `plan` from a seed or a file) and
  // lets druid create everything.
  void Start();
  void Start(const sim::FaultPlan& plan);
  void RunUntil(sim::SimDuration time);
  // Scales the StatefulSet (an operator editing the Etcd's replicas).
  void ScaleTo(int replicas);
  // The liveness phase: containers waiting out a crash-loop back-off start
  // now (an operator deleting the crash-looping pods).
  void RestartWithoutBackOff();

  // --- what can be observed -------------------------------------------------
  std::string PodName(int ordinal) const { return PodName(options_, ordinal); }
  static std::string PodName(const Options& options, int ordinal) {
    return options.name + "-" + std::to_string(ordinal);
  }
  std::string ClientUrl(int ordinal) const;
  std::string ClientServiceUrl() const { return "http://" + options_.name + "-client:2379"; }
  // The member's URL on the peer service, as --initial-advertise-peer-urls.
  std::string PeerUrl(int ordinal) const;
  std::vector<std::string> ClientUrls() const;
  std::string VolumeName(int ordinal) const { return "data-" + PodName(ordinal); }
  std::string NodeName(int node) const { return "node-" + std::to_string(node); }
  int members() const { return options_.members; }
  const Options& options() const { return options_; }
  sim::World& world() { return world_; }
  Cluster& cluster() { return *cluster_; }
  ApiServer& api() { return *api_; }
  Druid& druid() { return *druid_; }
  // Every BR process ever started, oldest first, with its pod's ordinal.
  std::vector<std::pair<int, const model::br::BackupRestore*>> AllBackupRestores() const;
  // Every snapshot upload any BR tried, in the order they ended, with its
  // pod and its process (the index in AllBackupRestores()).
  struct SnapshotRecord {
    int ordinal;
    size_t process;
    model::br::SnapshotAttempt attempt;
  };
  const std::vector<SnapshotRecord>& snapshot_attempts() const { return snapshot_attempts_; }
  // The BR process running in the pod now, or nullptr.
  model::br::BackupRestore* CurrentBackupRestore(int ordinal);
  // druid's configmap now (all spec.replicas members).
  model::br::ConfigMap ConfigMap() const;
  // The member process running in the pod now, or nullptr.
  model::etcd::EtcdServer* Current(int ordinal);
  // Every etcd process ever started, oldest first, and when each started.
  const std::vector<std::unique_ptr<model::etcd::EtcdServer>>& all() const { return all_; }
  sim::SimTime StartedAt(size_t k) const { return started_at_.at(k); }
  // Why the pod's latest etcd refused to start (a start-path failure, not a
  // crash later); empty if it did not.
  std::string LastStartFailure(int ordinal) const;
  // A client on a node of its own (outside the cluster), for `endpoints`.
  // Its RNG is `rng`, or the stream "client".
  model::etcd::Client Client(std::vector<std::string> endpoints,
                             sim::SimDuration timeout = sim::SimDuration::Seconds(5), sim::Rng* rng = nullptr);

 private:
  std::vector<ContainerSpec> Containers(int ordinal);
  int RunEtcd(int ordinal, sim::Group* container);
  int RunWrapper(int ordinal, sim::Group* container);
  int RunBackupRestore(int ordinal, sim::Group* container);
  model::etcd::EtcdServer* CreateEtcd(int ordinal, const model::etcd::EtcdConfig& config);
  bool HttpReady(int ordinal, uint16_t port, const std::string& path);
  bool EtcdReady(int ordinal);
  // The flags druid's configmap gives the pod's etcd (without a wrapper).
  model::etcd::EtcdConfig Flags(int ordinal) const;

  sim::Simulation* simulation_;
  Options options_;
  sim::World world_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<Druid> druid_;
  sim::FaultPlan plan_;
  sim::NodeId client_node_;
  std::string initial_cluster_;
  std::map<int, model::etcd::EtcdServer*> current_;
  std::map<int, model::etcd::EtcdServer*> last_;  // the latest start's, running or not
  std::vector<std::unique_ptr<model::etcd::EtcdServer>> all_;
  std::vector<sim::SimTime> started_at_;  // parallel to all_
  // Processes of the BR pods, each start a new one (kept: traces and tests
  // look at them after they exit).
  std::vector<std::unique_ptr<model::wrapper::Wrapper>> wrappers_;
  std::vector<std::pair<int, std::unique_ptr<model::br::BackupRestore>>> brs_;  // (ordinal, process)
  std::vector<std::unique_ptr<BrKubernetes>> br_kubernetes_;
  std::vector<SnapshotRecord> snapshot_attempts_;
  std::map<int, model::wrapper::Wrapper*> current_wrapper_;
  std::map<int, model::br::BackupRestore*> current_br_;
  int replicas_ = 0;  // spec.replicas, what the configmap lists
  bool started_ = false;
};

}  // namespace cluster
