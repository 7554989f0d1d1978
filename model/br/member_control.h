// BR's member control (etcd-backup-restore v0.35.0, pkg/member/
// member_control.go): the checks and changes of the pod's own member,
// through the client service `<etcd>-client:2379` (Ready pods only).
//
// clientv3 3.4 calls are FailFast(false): with no endpoint to reach, a call
// waits out its whole timeout before it fails, so a failing
// IsMemberInCluster (4 probes and their sleeps, then 4 member lists) takes
// about 34 s. Retries follow k8s' Backoff{d, factor 2, jitter 0.1, steps n}
// under retry.OnError: n attempts, sleeps d, 2d, 4d... each stretched by up
// to 10 %, and the last error is returned.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "model/br/config.h"
#include "model/br/kubernetes.h"
#include "model/br/profile.h"
#include "model/etcd/client.h"
#include "sim/process_context.h"

namespace model::br {

class MemberControl {
 public:
  struct Options {
    std::string pod;  // POD_NAME
    std::function<ConfigMap()> config;
    KubernetesApi* kubernetes = nullptr;
    Profile profile = Profile::kV035;
  };

  MemberControl(const sim::ProcessContext& process, Options options);

  // IsMemberInCluster: true iff the cluster lists a member named POD_NAME
  // (br-fixed: or an entry with the pod's peer URL, as an unstarted
  // bootstrap member has no name). An error if etcd cannot be reached.
  absl::StatusOr<bool> IsMemberInCluster();
  // WasMemberInCluster: IsMemberInCluster, or on its error whether the
  // member lease was ever renewed.
  bool WasMemberInCluster();
  // IsClusterScaledUp: the negation of a second IsMemberInCluster; on its
  // error the StatefulSet's scaled-to-multi-node annotation.
  bool IsClusterScaledUp();
  // AddMemberAsLearner: a learner with the pod's configmap peer URL; an
  // existing peer URL or member counts as success.
  absl::Status AddMemberAsLearner();
  // AddLearnerWithRetry: `attempts` tries, each first removing the data dir.
  absl::Status AddLearnerWithRetry(int attempts, const std::string& data_dir);
  // RemoveMember: by name; none is a no-op.
  absl::Status RemoveMember();
  // PromoteMember, through `client` (the local member): by name.
  absl::Status PromoteMember(model::etcd::Client& client);
  absl::StatusOr<bool> IsLearnerPresent();
  // UpdateMemberPeerURL on `client`: the responding member gets the pod's
  // configmap peer URL.
  absl::Status UpdateMemberPeerURL(model::etcd::Client& client);
  // The member list through the client service (2 tries sharing one 5 s
  // deadline), for /config.
  absl::StatusOr<etcd_dst::etcd::MemberListResponse> ListForConfig();
  // br-fixed F10: the member list a peer holds, from its /members on the
  // peer port (served without a quorum; a joining etcd reads the same), the
  // first configmap peer that answers; `client_error` if none does.
  absl::StatusOr<etcd_dst::etcd::MemberListResponse> ListFromPeers(const absl::Status& client_error);

  std::string PeerUrl() const;
  // A clientv3 client on the client service (or `endpoint`).
  model::etcd::Client Client(sim::SimDuration timeout, const std::string& endpoint = "") const;

 private:
  // k8s CreateBackoff(d, n) under retry.OnError.
  absl::Status Retry(sim::SimDuration first_sleep, int attempts, const std::function<absl::Status()>& attempt);
  bool Matches(const etcd_dst::etcd::Member& member) const;

  sim::ProcessContext process_;
  Options options_;
};

// A FailFast(false) call: a transport failure before the deadline waits
// the rest of it and becomes "context deadline exceeded".
template <typename F>
auto WaitForReady(const sim::ProcessContext& process, sim::SimDuration timeout, F call) -> decltype(call()) {
  const sim::SimTime deadline = process.Now() + timeout;
  auto result = call();
  if (result.ok()) return result;
  const std::string message(result.status().message());
  if (message.starts_with("etcdserver:") || message.starts_with("mvcc:")) return result;
  if (process.Now() < deadline) sim::this_actor::SleepUntil(deadline);
  return absl::DeadlineExceededError("context deadline exceeded");
}

}  // namespace model::br
