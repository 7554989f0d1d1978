// The backup bucket as processes reach it: over the simulated network, to a
// node of the bucket's own, so that a partitioned or powered-off pod loses
// its bucket too (and a request lost on the way costs its timeout). The
// service answers each request in an actor of its own with the ObjectStore's
// verdict, latency and faults included.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sim/network.h"
#include "sim/object_store.h"
#include "sim/rng.h"
#include "sim/scheduler.h"

namespace sim {

class BucketService {
 public:
  static constexpr uint16_t kPort = 443;
  // Adds the node `node_name` to the network; Start serves on it.
  BucketService(Scheduler* scheduler, Network* network, ObjectStore* store, std::string_view node_name);
  // Spawns the server in a group of its own. Once.
  void Start();
  bool started() const { return group_ != nullptr; }
  Address address() const { return {node_, kPort}; }

 private:
  void Serve();
  void Handle(Envelope envelope);

  Scheduler* scheduler_;
  Network* network_;
  ObjectStore* store_;
  NodeId node_;
  Group* group_ = nullptr;
};

class BucketClient {
 public:
  // `rng` draws source ports. The timeout covers the bucket's own latency
  // and its ambiguous timeout (30 s by default).
  BucketClient(Network* network, NodeId self, Address bucket, Rng* rng,
               SimDuration timeout = SimDuration::Seconds(45))
      : network_(network), self_(self), bucket_(bucket), rng_(rng), timeout_(timeout) {}

  // Blocking calls (actors only), with ObjectStore's errors, plus
  // Unavailable or DeadlineExceeded when the network fails the call.
  absl::Status Put(std::string_view key, std::string data);
  absl::StatusOr<std::string> Get(std::string_view key);
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix);  // sorted by key
  absl::Status Delete(std::string_view key);

 private:
  absl::StatusOr<std::string> Call(std::string_view method, std::string_view key, std::string data);

  Network* network_;
  NodeId self_;
  Address bucket_;
  Rng* rng_;
  SimDuration timeout_;
};

}  // namespace sim
