#include "model/br/server.h"

#include <set>

#include "absl/strings/str_split.h"
#include "fmt/format.h"
#include "model/br/log.h"
#include "model/ids.h"
#include "sim/scheduler.h"

namespace model::br {
namespace {
constexpr char kActor[] = "backup-restore-server";
}  // namespace

BackupRestore::BackupRestore(const sim::ProcessContext& process, Options options)
    : process_(process), options_(std::move(options)) {}

BackupRestore::~BackupRestore() = default;

std::string BackupRestore::LocalEndpoint() const {
  return fmt::format("http://{}-local:2379", options_.config().etcd);
}

void BackupRestore::Fatal(const std::string& message) {
  LogFatal(kActor, message);
  if (!exit_.fulfilled()) exit_.Set(kFatalExit);
  // The process is gone: the caller never runs on.
  while (true) sim::this_actor::SleepUntil(sim::SimTime::Max());
}

int BackupRestore::Run(sim::Group* container) {
  const ConfigMap config = options_.config();
  original_cluster_size_ = config.ClusterSize();
  if (process_.bucket != nullptr) store_ = std::make_unique<Snapstore>(process_.bucket, config.etcd);
  members_ = std::make_unique<MemberControl>(
      process_, MemberControl::Options{.pod = options_.pod,
                                       .config = options_.config,
                                       .kubernetes = options_.kubernetes,
                                       .profile = options_.profile});
  initializer_ = std::make_unique<Initializer>(
      process_, members_.get(),
      Initializer::Options{.pod = options_.pod,
                           .config = options_.config,
                           .store = store_.get(),
                           .profile = options_.profile,
                           .original_cluster_size = original_cluster_size_,
                           .fatal = [this](const std::string& message) { Fatal(message); }});
  initialization_ = std::make_unique<Initialization>(
      process_.scheduler, container, [this](ValidationMode mode) { return initializer_->Initialize(mode); },
      [this] { healthy_ = false; });
  server_ = std::make_unique<http::Server>(process_, kServerPort, container);
  initialization_->Register(*server_);
  server_->Handle("/config", [this](const http::Request&) { return ServeConfig(); });
  server_->Handle("/healthz", [this](const http::Request&) {
    return http::Response{.code = healthy_ ? 200 : 503, .body = fmt::format("{{\"health\":{}}}", healthy_)};
  });
  process_.scheduler->Spawn(container, "http-server", [this] {
    const absl::Status served = server_->Serve();
    if (!exit_.fulfilled()) Fatal(fmt::format("failed to start the HTTP server: {}", std::string(served.message())));
  });
  process_.scheduler->Spawn(container, "startup", [this, container] { Startup(container); });
  return exit_.GetFuture().Wait().value_or(kFatalExit);
}

http::Response BackupRestore::ServeConfig() {
  const ConfigMap config = options_.config();
  model::etcd::EtcdConfig etcd;
  etcd.name = options_.pod;
  etcd.data_dir = config.data_dir;
  etcd.initial_advertise_peer_urls = {config.peer_urls.count(options_.pod) ? config.peer_urls.at(options_.pod) : ""};
  etcd.advertise_client_urls = {config.client_urls.count(options_.pod) ? config.client_urls.at(options_.pod) : ""};
  etcd.initial_cluster_token = config.token;
  etcd.snapshot_count = config.snapshot_count;
  // initial-cluster: the configmap's, filtered by the member list when it
  // has more than one member.
  std::vector<std::pair<std::string, std::string>> entries(config.peer_urls.begin(), config.peer_urls.end());
  absl::StatusOr<etcd_dst::etcd::MemberListResponse> list = members_->ListForConfig();
  // br-fixed F10: without a client endpoint, a peer's member list.
  if (!list.ok() && options_.profile == Profile::kFixed) list = members_->ListFromPeers(list.status());
  // br-fixed F3/F5: a member the initializer just added as a learner, or
  // whose unstarted entry it found, joins that cluster (`existing`);
  // without its member list, no guess.
  const bool learner = options_.profile == Profile::kFixed && initializer_->joins_existing();
  if (!list.ok() && learner) {
    return {.code = 500, .body = fmt::format("cannot list the members the learner joins: {}",
                                             std::string(list.status().message()))};
  }
  // br-fixed: a member with no WAL to start from (etcd ignores the cluster
  // state when it has one).
  const bool fresh = options_.profile == Profile::kFixed && !process_.volume->Exists(config.data_dir + "/member/wal");
  if (!list.ok() && fresh && entries.size() > 1) {
    // br-fixed F8: without the member list, `new` is only safe for a cluster
    // that never ran. A member lease whose holder was a leader says the cluster had
    // a quorum, so a cluster ID: a lone member of a bootstrap that has not
    // formed yet renews its lease as a Member and does not count.
    for (const auto& [name, url] : entries) {
      if (name == options_.pod) continue;
      absl::StatusOr<KubernetesApi::Lease> lease = options_.kubernetes->GetLease(name);
      if (!lease.ok()) {
        return {.code = 500, .body = fmt::format("cannot list members, nor read member lease {}: {}", name,
                                                 std::string(lease.status().message()))};
      }
      if (lease->holder_identity.has_value() && lease->holder_identity->ends_with(":Leader")) {
        return {.code = 500, .body = fmt::format("cannot list the members of a cluster that exists (lease {} is "
                                                 "held by its leader {}): {}",
                                                 name, *lease->holder_identity, std::string(list.status().message()))};
      }
    }
  }
  if (list.ok() && fresh && list->members_size() > 0) {
    // br-fixed F8, the other half: a running cluster that does not list this
    // member (by name, or an unstarted entry by peer URL) is not one it may
    // bootstrap beside; it has to be added first (the initializer's
    // scale-up path, on the wrapper's next attempt).
    const auto own_url = config.peer_urls.find(options_.pod);
    bool listed = false;
    for (const etcd_dst::etcd::Member& member : list->members()) {
      listed |= member.name() == options_.pod;
      if (own_url != config.peer_urls.end()) {
        for (const std::string& url : member.peerurls()) listed |= url == own_url->second;
      }
    }
    if (!listed) {
      return {.code = 500, .body = fmt::format("{} is not a member of the running cluster ({} members): it must be "
                                               "added before it starts",
                                               options_.pod, list->members_size())};
    }
  }
  if (!list.ok()) {
    Log(kActor, fmt::format("Could not list members : {}", std::string(list.status().message())));
  } else if (list->members_size() > 1) {
    std::set<std::string> names = {options_.pod}, urls;
    for (const etcd_dst::etcd::Member& member : list->members()) {
      names.insert(member.name());
      // br-fixed: an unstarted member has no name but is in the cluster.
      if (options_.profile == Profile::kFixed) urls.insert(member.peerurls().begin(), member.peerurls().end());
    }
    std::erase_if(entries, [&](const auto& entry) { return !names.contains(entry.first) && !urls.contains(entry.second); });
  }
  etcd.initial_cluster.clear();
  for (const auto& [name, url] : entries) {
    etcd.initial_cluster += fmt::format("{}{}={}", etcd.initial_cluster.empty() ? "" : ",", name, url);
  }
  // initial-cluster-state (GetClusterState).
  etcd.initial_cluster_state = "new";
  if (learner) {
    etcd.initial_cluster_state = "existing";
  } else if (entries.size() > 1) {
    const std::string statefulset = options_.pod.substr(0, options_.pod.rfind('-'));
    absl::StatusOr<KubernetesApi::StatefulSet> set = options_.kubernetes->GetStatefulSet(statefulset);
    if (!set.ok()) {
      return {.code = 500, .body = fmt::format("failed to get statefulset: {}", std::string(set.status().message()))};
    }
    if (set->annotations.contains("gardener.cloud/scaled-to-multi-node") ||
        (set->replicas > 1 && set->replicas > set->updated_replicas)) {
      etcd.initial_cluster_state = "existing";
    } else {
      absl::StatusOr<bool> learner = members_->IsLearnerPresent();
      if (learner.ok() && *learner) etcd.initial_cluster_state = "existing";
    }
  }
  return {.code = 200, .body = RenderEtcdConfig(etcd)};
}

void BackupRestore::Startup(sim::Group* container) {
  // waitUntilEtcdRunning: Status (2 s) every 4 s.
  model::etcd::Client probe(process_.network, process_.node, {LocalEndpoint()}, process_.rng,
                            sim::SimDuration::Seconds(2), process_.resolver);
  while (!WaitForReady(process_, sim::SimDuration::Seconds(2), [&] { return probe.Status(); }).ok()) {
    sim::this_actor::SleepFor(sim::SimDuration::Seconds(4));
  }
  Log(kActor, "Etcd is now running. Continuing backup-restore startup.");
  UpdatePeerUrlIfChanged();
  process_.scheduler->Spawn(container, "member-lease", [this] {
    while (true) {
      sim::this_actor::SleepFor(options_.heartbeat);
      if (state_ != State::kUnknown) RenewMemberLease();
    }
  });
  Elect(container);
}

void BackupRestore::UpdatePeerUrlIfChanged() {
  Log(kActor, "Checking if peerURL has changed or not.");
  model::etcd::Client local(process_.network, process_.node, {LocalEndpoint()}, process_.rng,
                            sim::SimDuration::Seconds(30), process_.resolver);
  absl::StatusOr<etcd_dst::etcd::MemberListResponse> list =
      WaitForReady(process_, sim::SimDuration::Seconds(30), [&] { return local.MemberList(); });
  if (!list.ok()) Fatal(fmt::format("failed to get the member list: {}", std::string(list.status().message())));
  const std::string url = members_->PeerUrl();
  bool changed = true;
  for (const etcd_dst::etcd::Member& member : list->members()) {
    if (member.name() != options_.pod) continue;
    for (const std::string& peer : member.peerurls()) changed &= peer != url;
  }
  if (!changed) {
    Log(kActor, "No change in peerURLs found. Skipping update of member peer URLs.");
    return;
  }
  Log(kActor, "Etcd member peerURLs found to be changed.");
  absl::Status updated;
  sim::SimDuration sleep = sim::SimDuration::Millis(10);
  for (int attempt = 0; attempt < 4; ++attempt) {
    updated = members_->UpdateMemberPeerURL(local);
    if (updated.ok()) break;
    sim::this_actor::SleepFor(sleep);
    sleep = sleep * 5;
  }
  if (!updated.ok()) Fatal(fmt::format("failed to update member peer url: {}", std::string(updated.message())));
  absl::StatusOr<http::Response> stopped =
      http::Fetch(process_, "POST", fmt::format("http://{}-local:9095/stop", options_.config().etcd),
                  sim::SimDuration::Seconds(30));
  if (!stopped.ok()) Fatal(fmt::format("failed to restart the etcd-wrapper: {}", std::string(stopped.status().message())));
}

void BackupRestore::RenewMemberLease() {
  model::etcd::Client local(process_.network, process_.node, {LocalEndpoint()}, process_.rng,
                            sim::SimDuration::Seconds(5), process_.resolver);
  absl::StatusOr<etcd_dst::etcd::StatusResponse> status = local.Status();
  if (!status.ok()) {
    Log("heartbeat", fmt::format("failed to get the status of the etcd member: {}", std::string(status.status().message())));
    return;
  }
  const uint64_t id = status->header().member_id();
  const char* role = id == status->leader() ? "Leader" : "Member";
  const std::string holder = options_.lease_with_cluster_id
                                 ? fmt::format("{:x}:{:x}:{}", id, status->header().cluster_id(), role)
                                 : fmt::format("{:x}:{}", id, role);
  if (absl::Status s = options_.kubernetes->RenewLease(options_.pod, holder, process_.Now()); !s.ok()) {
    Log("heartbeat", fmt::format("failed to renew the member lease: {}", std::string(s.message())));
  }
}

void BackupRestore::Elect(sim::Group* container) {
  model::etcd::Client local(process_.network, process_.node, {LocalEndpoint()}, process_.rng,
                            sim::SimDuration::Seconds(5), process_.resolver);
  auto stop_leading = [&] {
    if (leading_ != nullptr) process_.scheduler->KillGroup(leading_);
    leading_ = nullptr;
    snapshotter_.reset();
    healthy_ = false;
  };
  while (true) {
    sim::this_actor::SleepFor(options_.election);
    absl::StatusOr<etcd_dst::etcd::StatusResponse> status = local.Status();
    if (!status.ok() || status->leader() == 0) {
      Log("leader-elector", fmt::format("failed to elect the backup-restore leader: {}",
                                        status.ok() ? "no leader" : std::string(status.status().message())));
      if (state_ == State::kLeader) {
        Log("leader-elector", "backup-restore stops leading...");
        stop_leading();
      }
      state_ = State::kUnknown;
      continue;
    }
    const bool leader = status->header().member_id() == status->leader();
    if (leader && state_ != State::kLeader) {
      Log("leader-elector", "backup-restore became: Leader");
      Log("leader-elector", "backup-restore started leading...");
      state_ = State::kLeader;
      if (store_ == nullptr) continue;
      leading_ = process_.scheduler->CreateGroup("leading", container);
      Snapshotter::Options snap = options_.snapshotter;
      snap.local_endpoint = LocalEndpoint();
      snap.set_health = [this](bool health) { healthy_ = health; };
      snap.fatal = [this](const std::string& message) { Fatal(message); };
      snap.check_leader_first = options_.profile == Profile::kFixed;
      snapshotter_ = std::make_unique<Snapshotter>(process_, store_.get(), snap);
      sim::Group* group = leading_;
      process_.scheduler->Spawn(group, "snapshotter", [this, group] { snapshotter_->Run(group); });
    } else if (!leader && state_ == State::kLeader) {
      Log("leader-elector", "backup-restore lost the election");
      Log("leader-elector", "backup-restore stops leading...");
      stop_leading();
      state_ = State::kFollower;
    } else if (!leader && state_ == State::kUnknown) {
      state_ = State::kFollower;
    } else if (!leader && status->islearner() && original_cluster_size_ > 1) {
      Log("leader-elector", "member is a learner(non-voting) member in the cluster...");
      model::etcd::Client service = members_->Client(sim::SimDuration::Seconds(30));
      if (absl::Status s = members_->PromoteMember(service); !s.ok()) {
        Log("leader-elector", fmt::format("unable to promote the learner member: {}", std::string(s.message())));
      }
    }
  }
}

}  // namespace model::br
