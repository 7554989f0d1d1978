// Machines running one etcd member each, for the etcd workloads: a host, a
// volume and a pod per member, the pod's kubelet (cluster/kubelet.h)
// running an etcd container with static flags (until the etcd-wrapper
// builds them), and the servers of every start for properties to read.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster/kubelet.h"
#include "model/etcd/server.h"
#include "sim/simulation.h"
#include "sim/world.h"

namespace workloads {

class EtcdMachines {
 public:
  struct Options {
    int members = 3;
    std::string token = "etcd-cluster";
    std::string data_dir = "var/etcd/data";
    uint64_t snapshot_count = 100000;
    model::bbolt::InitMode bbolt_init = model::bbolt::InitMode::kSingleWrite;
    // One member with etcd's default flags (name "default", localhost URLs):
    // what `etcd --data-dir DIR` runs, and what a crash image needs to be
    // opened by the real etcd on any machine.
    bool etcd_defaults = false;
    bool atomic_wal_bootstrap = false;
    // Called before each etcd process starts (each boot, each restart).
    std::function<void(const std::string& machine)> on_start;
  };
  EtcdMachines(sim::Simulation* simulation, sim::World* world, Options options);

  const std::vector<std::string>& names() const { return names_; }
  // The running server of a machine, or nullptr.
  model::etcd::EtcdServer* Current(const std::string& name);
  // Every server ever started, oldest first.
  const std::vector<std::unique_ptr<model::etcd::EtcdServer>>& all() const { return all_; }
  std::vector<std::string> ClientUrls() const;
  std::string ClientUrl(const std::string& name) const;

  // The liveness phase: containers waiting out a crash-loop back-off start
  // now (an operator deleting the crash-looping pods).
  void RestartWithoutBackOff();
  // The last start of the machine's etcd failed (a start-path refusal, not
  // a crash later), and why; empty if it did not.
  std::string LastStartFailure(const std::string& name) const;

 private:
  // The etcd container's process: builds the flags, runs etcd, returns its
  // exit code.
  int RunEtcd(const std::string& name, sim::Group* container);
  model::etcd::EtcdConfig Config(const std::string& name) const;

  sim::Simulation* simulation_;
  sim::World* world_;
  Options options_;
  std::vector<std::string> names_;
  std::string initial_cluster_;
  std::map<std::string, std::unique_ptr<cluster::Kubelet>> kubelets_;
  std::map<std::string, model::etcd::EtcdServer*> current_;
  std::map<std::string, model::etcd::EtcdServer*> last_;  // the latest start's server, running or not
  std::vector<std::unique_ptr<model::etcd::EtcdServer>> all_;
};

}  // namespace workloads
