// Raft safety across every member and boot of an EtcdCluster, per cluster
// ID (a restore starts a new log): at most one leader per term
// (OneLeaderPerTerm) and an index, once applied anywhere, always holds the
// same entry (CommittedEntriesNeverChange). Sampled by the caller, e.g.
// every heartbeat.
#pragma once

#include <cstdint>
#include <map>
#include <utility>

#include "cluster/etcd_cluster.h"
#include "sim/properties.h"

namespace workloads {

class RaftSafety {
 public:
  RaftSafety(cluster::EtcdCluster* cluster, sim::Properties* properties) : cluster_(cluster), properties_(properties) {}
  // Declares LeaderChanged and SnapshotTaken as Sometimes marks.
  void Declare();
  void Check();

 private:
  cluster::EtcdCluster* cluster_;
  sim::Properties* properties_;
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> leaders_;  // (cluster, term) -> leader
  std::map<std::pair<uint64_t, uint64_t>, std::pair<uint64_t, uint64_t>> committed_;  // (cluster, index) -> (term, digest)
  std::map<size_t, size_t> applied_seen_;  // server -> entries checked
  size_t leaders_seen_ = 0;
};

}  // namespace workloads
