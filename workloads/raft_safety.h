// Raft safety across every member and boot of an EtcdCluster, per cluster
// ID (a restore starts a new log): at most one leader per term
// (OneLeaderPerTerm) and an index, once applied anywhere, always holds the
// same entry (CommittedEntriesNeverChange). Sampled by the caller, e.g.
// every heartbeat.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <tuple>
#include <utility>

#include "cluster/etcd_cluster.h"
#include "sim/properties.h"

namespace workloads {

class RaftSafety {
 public:
  // `lineage` tells apart clusters that share an ID (every restore from a
  // backup as BR does it is cluster cdf818194e3a8c32): it maps the k-th etcd
  // process of the cluster (EtcdCluster::all()) to a number, equal for
  // processes of one cluster. Default: the ID alone.
  using Lineage = std::function<uint64_t(size_t k)>;
  RaftSafety(cluster::EtcdCluster* cluster, sim::Properties* properties, Lineage lineage = nullptr)
      : cluster_(cluster), properties_(properties), lineage_(std::move(lineage)) {}
  // Declares LeaderChanged and SnapshotTaken as Sometimes marks.
  void Declare();
  void Check();

 private:
  cluster::EtcdCluster* cluster_;
  sim::Properties* properties_;
  Lineage lineage_;
  using Key = std::tuple<uint64_t, uint64_t, uint64_t>;  // (cluster, lineage, term or index)
  std::map<Key, uint64_t> leaders_;                          // -> leader
  std::map<Key, std::pair<uint64_t, uint64_t>> committed_;  // -> (term, digest)
  std::map<size_t, size_t> applied_seen_;  // server -> entries checked
  std::map<size_t, uint64_t> lineages_;    // server -> its lineage, fixed once it ran
  uint64_t LineageOf(size_t k);
  size_t leaders_seen_ = 0;
};

}  // namespace workloads
