#include "cluster/br_kubernetes.h"

namespace cluster {

absl::StatusOr<model::br::KubernetesApi::Lease> BrKubernetes::GetLease(const std::string& name) {
  absl::StatusOr<Object> object = client_.Get("Lease", name);
  if (!object.ok()) return object.status();
  Lease lease;
  if (!object->lease().holder_identity().empty()) lease.holder_identity = object->lease().holder_identity();
  if (object->lease().has_renew_time_ns()) {
    lease.renew_time = sim::SimTime::Zero() + sim::SimDuration::Nanos(object->lease().renew_time_ns());
  }
  return lease;
}

absl::Status BrKubernetes::RenewLease(const std::string& name, const std::string& holder_identity,
                                      sim::SimTime renew_time) {
  // GET, then a merge PATCH of the two fields (no resourceVersion: the
  // patch does not conflict).
  absl::StatusOr<Object> object = client_.Get("Lease", name);
  if (!object.ok()) return object.status();
  object->mutable_lease()->set_holder_identity(holder_identity);
  object->mutable_lease()->set_renew_time_ns((renew_time - sim::SimTime::Zero()).nanos());
  object->mutable_meta()->set_resource_version(0);
  return client_.Update(*object).status();
}

absl::StatusOr<model::br::KubernetesApi::StatefulSet> BrKubernetes::GetStatefulSet(const std::string& name) {
  absl::StatusOr<Object> object = client_.Get("StatefulSet", name);
  if (!object.ok()) return object.status();
  StatefulSet set;
  set.replicas = object->statefulset().replicas();
  set.updated_replicas = object->statefulset().updated_replicas();
  for (const auto& annotation : object->meta().annotations()) set.annotations[annotation.key()] = annotation.value();
  return set;
}

}  // namespace cluster
