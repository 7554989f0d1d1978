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
// Druid creates the StatefulSet (Parallel) and its services; each pod runs
// an `etcd` container with the flags druid's configmap gives (until the
// etcd-wrapper builds them from backup-restore's /config), peer URLs on the
// peer service's DNS names, and the wrapper's readiness (a Get of "foo" on
// the local member). Everything said before Start is a fault plan, so a
// scenario prints and replays like any plan.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster/api_server.h"
#include "cluster/cluster.h"
#include "cluster/druid.h"
#include "model/etcd/client.h"
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
  // What plans for this cluster may touch.
  sim::FaultSurface Faults() const;

  // --- running ---------------------------------------------------------------
  // Applies the plan and lets druid create everything.
  void Start();
  void RunUntil(sim::SimDuration time);

  // --- what can be observed -------------------------------------------------
  std::string PodName(int ordinal) const { return options_.name + "-" + std::to_string(ordinal); }
  std::string ClientUrl(int ordinal) const;
  std::string ClientServiceUrl() const { return "http://" + options_.name + "-client:2379"; }
  sim::World& world() { return world_; }
  Cluster& cluster() { return *cluster_; }
  ApiServer& api() { return *api_; }
  Druid& druid() { return *druid_; }
  // The member process running in the pod now, or nullptr.
  model::etcd::EtcdServer* Current(int ordinal);
  // Every etcd process ever started, oldest first.
  const std::vector<std::unique_ptr<model::etcd::EtcdServer>>& all() const { return all_; }
  // A client on a node of its own (outside the cluster), for `endpoints`.
  model::etcd::Client Client(std::vector<std::string> endpoints,
                             sim::SimDuration timeout = sim::SimDuration::Seconds(5));

 private:
  std::vector<ContainerSpec> Containers(int ordinal);
  int RunEtcd(int ordinal, sim::Group* container);
  bool EtcdReady(int ordinal);
  std::string PeerUrl(int ordinal) const;

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
  std::vector<std::unique_ptr<model::etcd::EtcdServer>> all_;
  bool started_ = false;
};

}  // namespace cluster
