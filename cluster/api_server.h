// The Kubernetes API server: typed objects (cluster/api.proto) with a
// resourceVersion per write from one global revision, optimistic concurrency
// (an update that names an older resourceVersion is a conflict), watches
// from a resourceVersion, and unavailability as a fault. Controllers of the
// control plane call it directly; processes in pods call it over the
// simulated network with ApiClient, so a partitioned pod loses it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "cluster/api.pb.h"
#include "sim/channel.h"
#include "sim/network.h"
#include "sim/rng.h"
#include "sim/scheduler.h"

namespace cluster {

using etcd_dst::kube::Object;
using etcd_dst::kube::WatchEvent;

// The conflict text the real API server returns.
inline constexpr char kConflict[] =
    "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest "
    "version and try again";

class ApiServer {
 public:
  static constexpr uint16_t kPort = 6443;
  // Watch history kept for watches that start in the past.
  static constexpr size_t kHistory = 4096;

  ApiServer(sim::Scheduler* scheduler, sim::Network* network, std::string_view node_name = "kube-apiserver");
  // Serves ApiClient calls from an actor of its own. Once.
  void Start();
  sim::Address address() const { return {node_, kPort}; }

  // Unavailable "the server is currently unable to handle the request" while off.
  void set_available(bool available);
  bool available() const { return available_; }

  // NotFound if absent.
  absl::StatusOr<Object> Get(const std::string& kind, const std::string& name) const;
  std::vector<Object> List(const std::string& kind) const;  // by name
  // AlreadyExists if present. Sets resourceVersion and creation time.
  absl::StatusOr<Object> Create(Object object);
  // NotFound if absent; Aborted (kConflict) if object.meta.resource_version
  // is set and not the stored one (0 means an unconditional update).
  absl::StatusOr<Object> Update(Object object);
  absl::Status Delete(const std::string& kind, const std::string& name);

  // The events of `kind` after `resource_version`, then live ones. OutOfRange
  // "too old resource version" if the history no longer reaches back.
  absl::StatusOr<std::shared_ptr<sim::Channel<WatchEvent>>> Watch(const std::string& kind, int64_t resource_version);
  int64_t revision() const { return revision_; }

 private:
  void Serve();
  void Handle(sim::Envelope envelope);
  void ServeWatch(std::unique_ptr<sim::Connection> connection);
  void Publish(const std::string& type, const Object& object);
  absl::Status CheckAvailable() const;

  sim::Scheduler* scheduler_;
  sim::Network* network_;
  sim::NodeId node_;
  sim::Group* group_ = nullptr;
  bool available_ = true;
  int64_t revision_ = 0;
  std::map<std::pair<std::string, std::string>, Object> objects_;  // (kind, name)
  std::deque<WatchEvent> history_;
  std::vector<std::pair<std::string, std::weak_ptr<sim::Channel<WatchEvent>>>> watchers_;  // kind
};

// A watch over the network: the events, in order, until it breaks.
class ApiWatch {
 public:
  explicit ApiWatch(std::unique_ptr<sim::Connection> connection) : connection_(std::move(connection)) {}
  // The next event; DeadlineExceeded on timeout, Unavailable when the
  // connection broke, OutOfRange (with the server's reason) when the server
  // ended the watch: the caller lists and watches again.
  absl::StatusOr<WatchEvent> Next(sim::SimDuration timeout = sim::SimDuration::Max());

 private:
  std::unique_ptr<sim::Connection> connection_;
};

// ApiServer's calls over the network, from a pod's node.
class ApiClient {
 public:
  ApiClient(sim::Network* network, sim::NodeId self, sim::Address server, sim::Rng* rng,
            sim::SimDuration timeout = sim::SimDuration::Seconds(10))
      : network_(network), self_(self), server_(server), rng_(rng), timeout_(timeout) {}

  absl::StatusOr<Object> Get(const std::string& kind, const std::string& name);
  absl::StatusOr<Object> Create(const Object& object);
  absl::StatusOr<Object> Update(const Object& object);
  // The objects of `kind`, by name, and the revision to watch from.
  absl::StatusOr<etcd_dst::kube::ObjectList> List(const std::string& kind);
  absl::Status Delete(const std::string& kind, const std::string& name);
  // Events of `kind` after `resource_version`, as ApiServer::Watch.
  absl::StatusOr<std::unique_ptr<ApiWatch>> Watch(const std::string& kind, int64_t resource_version);

 private:
  // The raw reply to one call, from a port of its own.
  absl::StatusOr<std::string> Send(std::string_view method, const Object& request);
  absl::StatusOr<Object> Call(std::string_view method, const Object& request);

  sim::Network* network_;
  sim::NodeId self_;
  sim::Address server_;
  sim::Rng* rng_;
  sim::SimDuration timeout_;
};

}  // namespace cluster
