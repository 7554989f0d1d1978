// etcd-druid v0.28 for one Etcd resource: creates the member leases (empty:
// druid never writes their spec), the Etcd object and, through the Cluster,
// the StatefulSet (Parallel, <etcd>-peer publishing not-ready addresses,
// <etcd>-client routing to Ready pods); then every status sync (15 s)
// computes the members from the leases and the pods and the conditions
// Ready and AllMembersReady, and writes them to the Etcd object's status.
// v0.28 has no ClusterIDMismatch condition (it came in v0.34).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cluster/api_server.h"
#include "cluster/cluster.h"

namespace cluster {

class Druid {
 public:
  struct Options {
    std::string etcd;  // the Etcd's name: pods <etcd>-<i>, leases <etcd>-<i>
    int replicas = 3;
    std::function<std::vector<ContainerSpec>(int ordinal)> containers;
    sim::DiskOptions volume;
    sim::SimDuration status_sync = sim::SimDuration::Seconds(15);
    // A member whose lease was not renewed for this long is Unknown (or
    // NotReady without a ready pod), and NotReady after `not_ready_after` more.
    sim::SimDuration unknown_after = sim::SimDuration::Minutes(1);
    sim::SimDuration not_ready_after = sim::SimDuration::Minutes(5);
  };

  Druid(sim::Scheduler* scheduler, ApiServer* api, Cluster* cluster, Options options);
  // Creates the objects and starts the status sync in a group of its own.
  void Start();

  // The Etcd's spec.replicas changed (an operator scaled it): the status
  // sync counts members against the new number.
  void SetReplicas(int replicas);
  // The status druid would write now (pure: reads the API server and pods).
  etcd_dst::kube::Etcd ComputeStatus() const;
  std::string MemberLease(int ordinal) const;

 private:
  void SyncStatus();

  sim::Scheduler* scheduler_;
  ApiServer* api_;
  Cluster* cluster_;
  Options options_;
};

// The status of a condition type in `etcd`, or "" if absent.
std::string ConditionStatus(const etcd_dst::kube::Etcd& etcd, const std::string& type);

}  // namespace cluster
