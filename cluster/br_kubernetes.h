// BR's view of the Kubernetes API (model/br/kubernetes.h) over the
// simulated API server, from the pod's node: what client-go does for BR's
// member Lease and StatefulSet calls.
#pragma once

#include <string>

#include "cluster/api_server.h"
#include "model/br/kubernetes.h"

namespace cluster {

class BrKubernetes : public model::br::KubernetesApi {
 public:
  explicit BrKubernetes(ApiClient client) : client_(std::move(client)) {}

  absl::StatusOr<Lease> GetLease(const std::string& name) override;
  absl::Status RenewLease(const std::string& name, const std::string& holder_identity, sim::SimTime renew_time) override;
  absl::StatusOr<StatefulSet> GetStatefulSet(const std::string& name) override;

 private:
  ApiClient client_;
};

}  // namespace cluster
