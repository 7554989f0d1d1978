// A client of the model's etcd API over the simulated network, as clientv3
// is to etcd: it tries the endpoints in order until one answers (a dead or
// partitioned endpoint costs its timeout), and returns etcd's error texts.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/etcd/api.pb.h"
#include "sim/network.h"
#include "sim/rng.h"

namespace model::etcd {

class Client {
 public:
  Client(sim::Network* network, sim::NodeId self, std::vector<std::string> endpoints, sim::Rng* rng,
         sim::SimDuration timeout = sim::SimDuration::Seconds(5))
      : network_(network), self_(self), endpoints_(std::move(endpoints)), rng_(rng), timeout_(timeout) {}

  absl::StatusOr<etcd_dst::etcd::PutResponse> Put(const std::string& key, const std::string& value);
  // Linearizable unless `serializable`.
  absl::StatusOr<etcd_dst::etcd::RangeResponse> Get(const std::string& key, bool serializable = false);
  absl::StatusOr<etcd_dst::etcd::MemberListResponse> MemberList();
  absl::StatusOr<etcd_dst::etcd::MemberAddResponse> MemberAdd(const std::vector<std::string>& peer_urls, bool learner);
  absl::StatusOr<etcd_dst::etcd::MemberRemoveResponse> MemberRemove(uint64_t id);
  absl::StatusOr<etcd_dst::etcd::MemberPromoteResponse> MemberPromote(uint64_t id);
  absl::StatusOr<etcd_dst::etcd::StatusResponse> Status();
  absl::StatusOr<etcd_dst::etcd::SnapshotResponse> Snapshot();

  // Sends one request to the endpoints in turn.
  absl::StatusOr<std::string> Call(const std::string& method, const google::protobuf::Message& request);

 private:
  sim::Network* network_;
  sim::NodeId self_;
  std::vector<std::string> endpoints_;
  sim::Rng* rng_;
  sim::SimDuration timeout_;
};

}  // namespace model::etcd
