// Names to network nodes, as a process sees them. "localhost" and 127.0.0.1
// are the process's own node (a pod's containers share it); other names are
// network node names here, and Kubernetes DNS names (pods, services) where
// cluster/ supplies a resolver of its own. A name resolves now or not at all:
// a pod that has no IP yet has no DNS name.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sim/network.h"

namespace sim {

class Resolver {
 public:
  virtual ~Resolver() = default;
  // NotFound "lookup <host>: no such host" if `host` does not resolve now.
  virtual absl::StatusOr<NodeId> Resolve(std::string_view host, NodeId self) const = 0;
};

// Network node names, and localhost.
class NetworkResolver : public Resolver {
 public:
  explicit NetworkResolver(const Network* network) : network_(network) {}
  absl::StatusOr<NodeId> Resolve(std::string_view host, NodeId self) const override;

 private:
  const Network* network_;
};

// "scheme://host:port" -> the host's node and the port. InvalidArgument if
// the URL is malformed, NotFound if the host does not resolve.
absl::StatusOr<Address> ResolveUrl(const Resolver& resolver, std::string_view url, NodeId self);

}  // namespace sim
