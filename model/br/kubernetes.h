// What BR asks of the Kubernetes API (through client-go in the real code):
// the member Lease `<pod>` (GET, merge PATCH) and the StatefulSet `<etcd>`
// (GET). An interface, so that model/ depends on no cluster code; the
// cluster layer implements it over its API server, from the pod's node.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "sim/time.h"

namespace model::br {

class KubernetesApi {
 public:
  virtual ~KubernetesApi() = default;

  struct Lease {
    std::optional<std::string> holder_identity;  // nil until someone renewed it
    std::optional<sim::SimTime> renew_time;
  };
  virtual absl::StatusOr<Lease> GetLease(const std::string& name) = 0;
  // The heartbeat's merge PATCH: holderIdentity and renewTime.
  virtual absl::Status RenewLease(const std::string& name, const std::string& holder_identity,
                                  sim::SimTime renew_time) = 0;

  struct StatefulSet {
    int replicas = 0;
    int updated_replicas = 0;
    std::map<std::string, std::string> annotations;
  };
  virtual absl::StatusOr<StatefulSet> GetStatefulSet(const std::string& name) = 0;
};

}  // namespace model::br
