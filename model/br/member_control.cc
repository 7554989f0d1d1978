#include "model/br/member_control.h"

#include "fmt/format.h"
#include "model/br/log.h"
#include "model/etcd/membership.h"
#include "model/etcd/server_internal.h"
#include "sim/network.h"
#include "sim/resolver.h"
#include "sim/scheduler.h"

namespace model::br {
namespace {

constexpr sim::SimDuration kEtcdTimeout = sim::SimDuration::Seconds(5);        // EtcdTimeout
constexpr sim::SimDuration kMemberOpTimeout = sim::SimDuration::Seconds(30);   // DefaultEtcdConnectionTimeout
constexpr sim::SimDuration kRetryPeriod = sim::SimDuration::Seconds(2);        // RetryPeriod
constexpr int kRetrySteps = 4;                                                 // RetrySteps
constexpr char kActor[] = "member-add";

std::string Hex(uint64_t id) { return fmt::format("{:x}", id); }

}  // namespace

MemberControl::MemberControl(const sim::ProcessContext& process, Options options)
    : process_(process), options_(std::move(options)) {}

std::string MemberControl::PeerUrl() const {
  const ConfigMap config = options_.config();
  auto it = config.peer_urls.find(options_.pod);
  return it == config.peer_urls.end() ? "" : it->second;
}

model::etcd::Client MemberControl::Client(sim::SimDuration timeout, const std::string& endpoint) const {
  const std::string url = endpoint.empty() ? fmt::format("http://{}-client:2379", options_.config().etcd) : endpoint;
  return model::etcd::Client(process_.network, process_.node, {url}, process_.rng, timeout, process_.resolver);
}

absl::Status MemberControl::Retry(sim::SimDuration first_sleep, int attempts,
                                  const std::function<absl::Status()>& attempt) {
  absl::Status last;
  sim::SimDuration sleep = first_sleep;
  for (int i = 0; i < attempts; ++i) {
    last = attempt();
    if (last.ok() || i + 1 == attempts) break;
    // jitter 0.1: the sleep is stretched by up to 10 %.
    const int64_t stretch = static_cast<int64_t>(process_.rng->UniformBelow(static_cast<uint64_t>(sleep.nanos() / 10) + 1));
    sim::this_actor::SleepFor(sleep + sim::SimDuration::Nanos(stretch));
    sleep = sleep * 2;
    if (sleep > sim::SimDuration::Seconds(120)) sleep = sim::SimDuration::Seconds(120);
  }
  return last;
}

bool MemberControl::Matches(const etcd_dst::etcd::Member& member) const {
  if (member.name() == options_.pod) return true;
  if (options_.profile != Profile::kFixed || !member.name().empty()) return false;
  // br-fixed: an unstarted bootstrap member has no name; its peer URL is ours.
  const std::string url = PeerUrl();
  for (const std::string& peer : member.peerurls()) {
    if (peer == url) return true;
  }
  return false;
}

absl::StatusOr<bool> MemberControl::IsMemberInCluster() {
  Log(kActor, fmt::format("Checking if member {} is part of a running cluster", options_.pod));
  model::etcd::Client client = Client(kEtcdTimeout);
  absl::Status probe = Retry(kRetryPeriod, kRetrySteps, [&] {
    absl::Status status = WaitForReady(process_, kEtcdTimeout, [&] { return client.Get("foo"); }).status();
    if (!status.ok()) Log(kActor, fmt::format("Failed to connect to etcd KV client: {}", std::string(status.message())));
    return status;
  });
  if (!probe.ok()) return probe;
  absl::StatusOr<etcd_dst::etcd::MemberListResponse> list;
  absl::Status listed = Retry(kRetryPeriod, kRetrySteps, [&] {
    list = WaitForReady(process_, kEtcdTimeout, [&] { return client.MemberList(); });
    return list.status();
  });
  if (!listed.ok()) {
    return absl::UnavailableError(fmt::format("could not list any etcd members {}", std::string(listed.message())));
  }
  for (const etcd_dst::etcd::Member& member : list->members()) {
    if (Matches(member)) {
      Log(kActor, fmt::format("Member {} part of running cluster", options_.pod));
      return true;
    }
  }
  Log(kActor, fmt::format("Member {} not part of any running cluster", options_.pod));
  Log(kActor, fmt::format("Could not find member {} in the list", options_.pod));
  return false;
}

bool MemberControl::WasMemberInCluster() {
  absl::StatusOr<bool> in_cluster = IsMemberInCluster();
  if (in_cluster.ok()) return *in_cluster;
  Log(kActor, fmt::format("unable to check member presence via api call: {}", std::string(in_cluster.status().message())));
  Log(kActor, "fetching the member lease associated with etcd member");
  absl::StatusOr<KubernetesApi::Lease> lease = options_.kubernetes->GetLease(options_.pod);
  return lease.ok() && lease->holder_identity.has_value();
}

bool MemberControl::IsClusterScaledUp() {
  Log(kActor, "Checking whether etcd cluster is marked for scale-up");
  absl::StatusOr<bool> in_cluster = IsMemberInCluster();
  if (in_cluster.ok()) return !*in_cluster;
  // The StatefulSet is named by the pod up to its last '-'.
  const std::string statefulset = options_.pod.substr(0, options_.pod.rfind('-'));
  absl::StatusOr<KubernetesApi::StatefulSet> set = options_.kubernetes->GetStatefulSet(statefulset);
  return set.ok() && set->annotations.contains("gardener.cloud/scaled-to-multi-node");
}

absl::Status MemberControl::AddMemberAsLearner() {
  const std::string url = PeerUrl();
  if (url.empty()) {
    return absl::FailedPreconditionError(fmt::format("Error fetching etcd member URL : no peer URL for {}", options_.pod));
  }
  model::etcd::Client client = Client(kEtcdTimeout);
  absl::StatusOr<etcd_dst::etcd::MemberAddResponse> added =
      WaitForReady(process_, kEtcdTimeout, [&] { return client.MemberAdd({url}, /*learner=*/true); });
  if (added.ok()) {
    Log(kActor, fmt::format("Added member {} to cluster as a learner", Hex(added->member().id())));
    return absl::OkStatus();
  }
  const std::string error(added.status().message());
  if (error == model::etcd::kErrPeerUrlExists || error == model::etcd::kErrMemberExists) {
    Log(kActor, fmt::format("Member {} with peer urls [{}] already part of etcd cluster", options_.pod, url));
    return absl::OkStatus();
  }
  if (error == model::etcd::kErrTooManyLearners) {
    Log(kActor, fmt::format("Unable to add member {} as a learner because the cluster already has a learner",
                            options_.pod));
    return added.status();
  }
  return absl::Status(added.status().code(), "error while adding member as a learner: " + error);
}

absl::Status MemberControl::AddLearnerWithRetry(int attempts, const std::string& data_dir) {
  return Retry(kRetryPeriod, attempts, [&] {
    (void)process_.volume->RemoveAll(data_dir);  // silently, before every attempt
    absl::Status status = AddMemberAsLearner();
    if (std::string(status.message()) == model::etcd::kErrTooManyLearners) sim::this_actor::SleepFor(sim::SimDuration::Seconds(5));
    return status;
  });
}

absl::Status MemberControl::RemoveMember() {
  Log(kActor, fmt::format("Removing the {} member from cluster", options_.pod));
  model::etcd::Client client = Client(kMemberOpTimeout);
  absl::StatusOr<etcd_dst::etcd::MemberListResponse> list =
      WaitForReady(process_, kMemberOpTimeout, [&] { return client.MemberList(); });
  if (!list.ok()) return list.status();
  for (const etcd_dst::etcd::Member& member : list->members()) {
    if (member.name() != options_.pod) continue;
    absl::Status removed =
        WaitForReady(process_, kMemberOpTimeout, [&] { return client.MemberRemove(member.id()); }).status();
    if (!removed.ok()) return removed;
    Log(kActor, fmt::format("successfully removed member [ID: {}] from the cluster", Hex(member.id())));
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status MemberControl::PromoteMember(model::etcd::Client& client) {
  Log(kActor, fmt::format("Attempting to promote member {}", options_.pod));
  absl::StatusOr<etcd_dst::etcd::MemberListResponse> list =
      WaitForReady(process_, kMemberOpTimeout, [&] { return client.MemberList(); });
  if (!list.ok()) return list.status();
  for (const etcd_dst::etcd::Member& member : list->members()) {
    if (member.name() != options_.pod) continue;
    absl::StatusOr<etcd_dst::etcd::MemberPromoteResponse> promoted =
        WaitForReady(process_, kMemberOpTimeout, [&] { return client.MemberPromote(member.id()); });
    if (promoted.ok()) {
      Log(kActor, "Member promoted " + options_.pod);
      return absl::OkStatus();
    }
    if (promoted.status().message() == model::etcd::kErrMemberNotLearner) return absl::OkStatus();
    return promoted.status();
  }
  return absl::NotFoundError("etcdserver: member not found");  // ErrMissingMember
}

absl::StatusOr<bool> MemberControl::IsLearnerPresent() {
  Log(kActor, "checking the presence of a learner in a cluster...");
  model::etcd::Client client = Client(kMemberOpTimeout);
  absl::StatusOr<etcd_dst::etcd::MemberListResponse> list =
      WaitForReady(process_, kMemberOpTimeout, [&] { return client.MemberList(); });
  if (!list.ok()) return list.status();
  for (const etcd_dst::etcd::Member& member : list->members()) {
    if (member.islearner()) return true;
  }
  return false;
}

absl::Status MemberControl::UpdateMemberPeerURL(model::etcd::Client& client) {
  absl::StatusOr<etcd_dst::etcd::MemberListResponse> list =
      WaitForReady(process_, kMemberOpTimeout, [&] { return client.MemberList(); });
  if (!list.ok()) return list.status();
  absl::Status updated = WaitForReady(process_, kMemberOpTimeout, [&] {
                           return client.MemberUpdate(list->header().member_id(), {PeerUrl()});
                         }).status();
  if (updated.ok()) Log(kActor, "Successfully updated the member peer URL");
  return updated;
}

absl::StatusOr<etcd_dst::etcd::MemberListResponse> MemberControl::ListForConfig() {
  const sim::SimTime deadline = process_.Now() + kEtcdTimeout;
  absl::StatusOr<etcd_dst::etcd::MemberListResponse> list = absl::DeadlineExceededError("context deadline exceeded");
  for (int attempt = 0; attempt < 2 && process_.Now() < deadline; ++attempt) {
    model::etcd::Client client = Client(deadline - process_.Now());
    list = WaitForReady(process_, deadline - process_.Now(), [&] { return client.MemberList(); });
    if (list.ok()) return list;
    if (attempt == 0 && process_.Now() + kRetryPeriod < deadline) sim::this_actor::SleepFor(kRetryPeriod);
  }
  return list;
}

absl::StatusOr<etcd_dst::etcd::MemberListResponse> MemberControl::ListFromPeers(const absl::Status& client_error) {
  const ConfigMap config = options_.config();
  for (const auto& [pod, peer] : config.peer_urls) {
    if (pod == options_.pod) continue;
    absl::StatusOr<sim::Address> target = sim::ResolveUrl(*process_.resolver, peer, process_.node);
    if (!target.ok()) continue;
    absl::StatusOr<std::string> reply =
        process_.network->Call({process_.node, sim::EphemeralPort(*process_.rng)}, *target,
                               model::etcd::internal::kMembersPath, "", sim::SimDuration::Seconds(1));
    if (!reply.ok()) continue;
    absl::StatusOr<model::etcd::Cluster> cluster = model::etcd::Cluster::Deserialize(*reply);
    if (!cluster.ok()) continue;
    Log(kActor, fmt::format("No client endpoint ({}): read the member list from peer {}",
                            std::string(client_error.message()), peer));
    etcd_dst::etcd::MemberListResponse list;
    list.mutable_header()->set_cluster_id(cluster->id());
    for (const auto& [id, member] : cluster->members()) {
      etcd_dst::etcd::Member* entry = list.add_members();
      entry->set_id(id);
      entry->set_name(member.name);
      for (const std::string& url : member.peer_urls) entry->add_peerurls(url);
      for (const std::string& url : member.client_urls) entry->add_clienturls(url);
      entry->set_islearner(member.is_learner);
    }
    return list;
  }
  return client_error;
}

}  // namespace model::br
