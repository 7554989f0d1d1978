// A client of the model's etcd API over the simulated network, as clientv3
// is to etcd: it tries the endpoints in order until one answers (a dead or
// partitioned endpoint costs its timeout), and returns etcd's error texts.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/etcd/api.pb.h"
#include "sim/network.h"
#include "sim/resolver.h"
#include "sim/rng.h"

namespace model::etcd {

// One watch: the events of a key range from a revision, as they happen.
class WatchStream {
 public:
  explicit WatchStream(std::unique_ptr<sim::Connection> connection) : connection_(std::move(connection)) {}
  friend class Client;
  // The next batch of events; Unavailable when the member went away,
  // Cancelled (with the reason) when the watch was canceled.
  absl::StatusOr<etcd_dst::etcd::WatchResponse> Next(sim::SimDuration timeout);

 private:
  std::unique_ptr<sim::Connection> connection_;
};

class Client {
 public:
  // Endpoint URLs resolve through `resolver` (network node names if null).
  Client(sim::Network* network, sim::NodeId self, std::vector<std::string> endpoints, sim::Rng* rng,
         sim::SimDuration timeout = sim::SimDuration::Seconds(5), const sim::Resolver* resolver = nullptr)
      : network_(network),
        self_(self),
        endpoints_(std::move(endpoints)),
        rng_(rng),
        timeout_(timeout),
        network_resolver_(network),
        resolver_(resolver) {}

  absl::StatusOr<etcd_dst::etcd::PutResponse> Put(const std::string& key, const std::string& value);
  // Linearizable unless `serializable`.
  absl::StatusOr<etcd_dst::etcd::RangeResponse> Get(const std::string& key, bool serializable = false);
  // Keys in [key, range_end), linearizable.
  absl::StatusOr<etcd_dst::etcd::RangeResponse> Range(const std::string& key, const std::string& range_end);
  absl::StatusOr<etcd_dst::etcd::DeleteRangeResponse> Delete(const std::string& key);
  absl::StatusOr<etcd_dst::etcd::TxnResponse> Txn(const etcd_dst::etcd::TxnRequest& request);
  absl::StatusOr<etcd_dst::etcd::MemberListResponse> MemberList();
  absl::StatusOr<etcd_dst::etcd::MemberAddResponse> MemberAdd(const std::vector<std::string>& peer_urls, bool learner);
  absl::StatusOr<etcd_dst::etcd::MemberRemoveResponse> MemberRemove(uint64_t id);
  absl::StatusOr<etcd_dst::etcd::MemberPromoteResponse> MemberPromote(uint64_t id);
  absl::StatusOr<etcd_dst::etcd::MemberUpdateResponse> MemberUpdate(uint64_t id, const std::vector<std::string>& peer_urls);
  absl::StatusOr<etcd_dst::etcd::StatusResponse> Status();
  absl::StatusOr<etcd_dst::etcd::SnapshotResponse> Snapshot();
  absl::StatusOr<etcd_dst::etcd::LeaseGrantResponse> LeaseGrant(int64_t ttl_seconds);
  absl::StatusOr<etcd_dst::etcd::LeaseRevokeResponse> LeaseRevoke(int64_t id);
  absl::StatusOr<etcd_dst::etcd::LeaseKeepAliveResponse> LeaseKeepAlive(int64_t id);
  absl::StatusOr<etcd_dst::etcd::PutResponse> PutWithLease(const std::string& key, const std::string& value,
                                                           int64_t lease);
  // Opens a watch on the first endpoint that answers. A compacted start
  // revision is OutOfRange "mvcc: required revision has been compacted".
  absl::StatusOr<std::unique_ptr<WatchStream>> Watch(const std::string& key, const std::string& range_end,
                                                     int64_t start_revision);

  // Sends one request to the endpoints in turn.
  absl::StatusOr<std::string> Call(const std::string& method, const google::protobuf::Message& request);

 private:
  sim::Network* network_;
  sim::NodeId self_;
  std::vector<std::string> endpoints_;
  sim::Rng* rng_;
  sim::SimDuration timeout_;
  // Copies stay valid: the fallback is a member, chosen at each use.
  const sim::Resolver& resolver() const { return resolver_ != nullptr ? *resolver_ : network_resolver_; }
  sim::NetworkResolver network_resolver_;
  const sim::Resolver* resolver_;
};

}  // namespace model::etcd
