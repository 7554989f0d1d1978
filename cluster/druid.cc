#include "cluster/druid.h"

#include "fmt/format.h"
#include "sim/check.h"
#include "sim/trace.h"

namespace cluster {

using etcd_dst::kube::Condition;
using etcd_dst::kube::Etcd;
using etcd_dst::kube::EtcdMemberStatus;

Druid::Druid(sim::Scheduler* scheduler, ApiServer* api, Cluster* cluster, Options options)
    : scheduler_(scheduler), api_(api), cluster_(cluster), options_(std::move(options)) {
  cluster_->set_api_server(api_);
}

std::string Druid::MemberLease(int ordinal) const { return fmt::format("{}-{}", options_.etcd, ordinal); }

void Druid::Start() {
  // Sync order as reconcile_spec.go: member leases, ..., the StatefulSet.
  for (int i = 0; i < options_.replicas; ++i) {
    Object lease;
    lease.set_kind("Lease");
    lease.mutable_meta()->set_name(MemberLease(i));
    lease.mutable_lease();
    SIM_CHECK(api_->Create(lease).ok(), "druid: lease {} exists", MemberLease(i));
  }
  Object etcd;
  etcd.set_kind("Etcd");
  etcd.mutable_meta()->set_name(options_.etcd);
  etcd.mutable_etcd()->set_replicas(options_.replicas);
  SIM_CHECK(api_->Create(etcd).ok(), "druid: Etcd {} exists", options_.etcd);
  Object statefulset;
  statefulset.set_kind("StatefulSet");
  statefulset.mutable_meta()->set_name(options_.etcd);
  statefulset.mutable_statefulset()->set_replicas(options_.replicas);
  statefulset.mutable_statefulset()->set_pod_management_policy("Parallel");
  statefulset.mutable_statefulset()->set_service_name(options_.etcd + "-peer");
  SIM_CHECK(api_->Create(statefulset).ok(), "druid: StatefulSet {} exists", options_.etcd);
  cluster_->CreateStatefulSet({.name = options_.etcd,
                               .replicas = options_.replicas,
                               .policy = PodManagementPolicy::kParallel,
                               .peer_service = options_.etcd + "-peer",
                               .client_service = options_.etcd + "-client",
                               .volume = options_.volume,
                               .containers = options_.containers});
  scheduler_->Spawn(scheduler_->CreateGroup("druid"), "status-sync", [this] {
    while (true) {
      sim::this_actor::SleepFor(options_.status_sync);
      SyncStatus();
    }
  });
}

void Druid::SetReplicas(int replicas) {
  options_.replicas = replicas;
  absl::StatusOr<Object> etcd = api_->Get("Etcd", options_.etcd);
  if (!etcd.ok()) return;
  etcd->mutable_etcd()->set_replicas(replicas);
  (void)api_->Update(*etcd);
  // The sync's last step: the StatefulSet's spec follows (its status is the
  // controller's).
  absl::StatusOr<Object> statefulset = api_->Get("StatefulSet", options_.etcd);
  if (!statefulset.ok()) return;
  statefulset->mutable_statefulset()->set_replicas(replicas);
  statefulset->mutable_meta()->set_resource_version(0);
  (void)api_->Update(*statefulset);
}

Etcd Druid::ComputeStatus() const {
  const sim::SimTime now = scheduler_->Now();
  Etcd etcd;
  etcd.set_replicas(options_.replicas);
  int listed = 0, ready = 0, not_ready = 0;
  for (int i = 0; i < options_.replicas; ++i) {
    absl::StatusOr<Object> lease = api_->Get("Lease", MemberLease(i));
    if (!lease.ok() || !lease->lease().has_renew_time_ns()) continue;  // not listed
    ++listed;
    EtcdMemberStatus* member = etcd.add_members();
    member->set_name(MemberLease(i));
    const std::string& holder = lease->lease().holder_identity();
    member->set_id(holder.substr(0, holder.find(':')));
    member->set_role(holder.find(':') == std::string::npos ? "" : holder.substr(holder.find(':') + 1));
    const sim::SimTime renewed = sim::SimTime::FromNanos(lease->lease().renew_time_ns());
    const std::string pod = MemberLease(i);
    const bool pod_ready = cluster_->Created(pod) && cluster_->Ready(pod);
    if (renewed + options_.unknown_after + options_.not_ready_after < now) {
      member->set_status("NotReady");
      member->set_reason("UnknownGracePeriodExceeded");
    } else if (renewed + options_.unknown_after < now) {
      member->set_status(pod_ready ? "Unknown" : "NotReady");
      member->set_reason(pod_ready ? "LeaseExpired" : "ContainersNotReady");
    } else {
      member->set_status("Ready");
      member->set_reason("LeaseSucceeded");
    }
    ready += member->status() == "Ready";
    not_ready += member->status() == "NotReady";
  }
  etcd.set_ready_replicas(ready);
  auto add = [&](const std::string& type, const std::string& status, const std::string& reason) {
    Condition* condition = etcd.add_conditions();
    condition->set_type(type);
    condition->set_status(status);
    condition->set_reason(reason);
  };
  if (listed == 0) {
    add("Ready", "Unknown", "NoMembersInStatus");
    add("AllMembersReady", "Unknown", "NoMembersInStatus");
    return etcd;
  }
  add("Ready", listed - not_ready >= listed / 2 + 1 ? "True" : "False", "Quorum");
  if (listed < options_.replicas) {
    add("AllMembersReady", "False", "NotAllMembersReady");
  } else {
    add("AllMembersReady", ready == listed ? "True" : "False", ready == listed ? "AllMembersReady" : "NotAllMembersReady");
  }
  return etcd;
}

void Druid::SyncStatus() {
  absl::StatusOr<Object> stored = api_->Get("Etcd", options_.etcd);
  if (!stored.ok()) return;  // the API server is down: next sync
  Etcd status = ComputeStatus();
  // Conditions keep their transition time while their status stays.
  for (Condition& condition : *status.mutable_conditions()) {
    const Condition* old = nullptr;
    for (const Condition& candidate : stored->etcd().conditions()) {
      if (candidate.type() == condition.type()) old = &candidate;
    }
    const bool changed = old == nullptr || old->status() != condition.status();
    condition.set_last_transition_ns(changed ? scheduler_->Now().nanos() : old->last_transition_ns());
    if (!changed) continue;
    sim::TraceEvent("EtcdCondition")
        .Detail("etcd", options_.etcd)
        .Detail("type", condition.type())
        .Detail("status", condition.status())
        .Detail("reason", condition.reason());
  }
  *stored->mutable_etcd() = std::move(status);
  (void)api_->Update(*std::move(stored));  // a conflict: the next sync writes again
}

std::string ConditionStatus(const Etcd& etcd, const std::string& type) {
  for (const Condition& condition : etcd.conditions()) {
    if (condition.type() == type) return condition.status();
  }
  return "";
}

}  // namespace cluster
