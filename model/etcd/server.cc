// EtcdServer: construction, start paths and process death.
#include "model/etcd/server.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "model/etcd/server_internal.h"
#include "sim/trace.h"

namespace model::etcd {

int64_t UnixSeconds(sim::SimTime now) { return kSimEpochUnixSeconds + now.nanos() / 1000000000; }

EtcdServer::EtcdServer(const sim::ProcessContext& context, EtcdConfig config)
    : scheduler_(context.scheduler),
      network_(context.network),
      node_(context.node),
      resolver_(context.resolver),
      disk_(context.volume),
      config_(std::move(config)),
      rng_(context.rng) {
  SIM_CHECK(scheduler_ != nullptr && network_ != nullptr && resolver_ != nullptr && disk_ != nullptr &&
                rng_ != nullptr,
            "member {} needs a scheduler, a network, a resolver, a volume and an RNG stream", config_.name);
}

EtcdServer::~EtcdServer() = default;

void EtcdServer::Start(sim::Group* group) {
  group_ = group;
  inbox_ = std::make_unique<sim::Channel<std::unique_ptr<Event>>>(1 << 16);
  scheduler_->Spawn(group, "etcd", [this] { Run(); });
}

void EtcdServer::Fail(const std::string& error) {
  state_ = State::kFailed;
  failure_ = error;
  failed_at_start_ = true;
  if (!exit_promise_.fulfilled()) exit_promise_.Set(1);
  sim::TraceEvent("EtcdStart")
      .Detail("member", config_.name)
      .Detail("path", path_.empty() ? "-" : path_)
      .Detail("outcome", "failed")
      .Detail("error", error);
}

void EtcdServer::Fatal(const std::string& error) {
  if (state_ == State::kStopped || state_ == State::kFailed) return;
  state_ = State::kFailed;
  failure_ = error;
  sim::TraceEvent("EtcdFatal").Detail("member", config_.name).Detail("error", error);
  if (!exit_promise_.fulfilled()) exit_promise_.Set(1);
  // The process exits: every actor of the container dies with it.
  scheduler_->KillGroup(group_);
}

void EtcdServer::Run() {
  absl::Status started = Bootstrap();
  if (!started.ok()) {
    Fail(std::string(started.message()));
    return;  // the process exits
  }
  state_ = State::kRunning;
  sim::TraceEvent("EtcdStart")
      .Detail("member", config_.name)
      .Detail("id", sim::Hex{id_})
      .Detail("cluster", sim::Hex{cluster_.id()})
      .Detail("path", path_)
      .Detail("outcome", "ok");
  sim::Scheduler& scheduler = *scheduler_;
  scheduler.Spawn(group_, "raft", [this] { RaftLoop(); });
  scheduler.Spawn(group_, "peer", [this] { ServePeers(); });
  scheduler.Spawn(group_, "client", [this] { ServeClients(); });
  scheduler.Spawn(group_, "backend", [this] { BackendLoop(); });
  scheduler.Spawn(group_, "publish", [this] { Publish(); });
  scheduler.Spawn(group_, "lessor", [this] { LessorLoop(); });
  for (const auto& [member, info] : cluster_.members()) EnsurePeer(member);
}

absl::Status EtcdServer::Bootstrap() {
  // Flag parsing: a URL must name a scheme, a host and a port.
  for (const std::string& url : config_.initial_advertise_peer_urls) {
    const size_t scheme = url.find("://");
    if (scheme == std::string::npos || url.find(':', scheme + 3) == std::string::npos) {
      return absl::InvalidArgumentError(fmt::format("--initial-advertise-peer-urls: invalid URL \"{}\"", url));
    }
  }
  if (config_.initial_advertise_peer_urls.empty()) {
    return absl::InvalidArgumentError("--initial-advertise-peer-urls must not be empty");
  }
  const std::string member_dir = config_.data_dir + "/member";
  const std::string snap_dir = member_dir + "/snap";
  const std::string wal_dir = member_dir + "/wal";
  const bool have_wal = wal::Exists(disk_, wal_dir);
  if (absl::Status s = disk_->MkdirAll(snap_dir); !s.ok()) return absl::InternalError(fmt::format("cannot access data directory: {}", std::string(s.message())));

  // The backend opens before the WAL exists (etcd #16596's window).
  if (absl::Status s = LoadBackend(bbolt::Db::Open(disk_, snap_dir + "/db", config_.bbolt_init), "recover"); !s.ok()) {
    return s;
  }

  if (have_wal) {
    path_ = "restart";
    return StartRestart();
  }
  absl::StatusOr<std::vector<InitialMember>> initial = ParseInitialCluster(config_.initial_cluster);
  if (!initial.ok()) return initial.status();
  if (config_.initial_cluster_state == "new") {
    path_ = "new";
    return StartNew(*initial);
  }
  if (config_.initial_cluster_state == "existing") {
    path_ = "join";
    return StartJoin(*initial);
  }
  return absl::InvalidArgumentError(fmt::format("unexpected initial cluster state {}", config_.initial_cluster_state));
}

namespace {

std::vector<std::string> Sorted(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  return values;
}

std::vector<std::string> RemotePeerUrls(const Cluster& cluster, const std::string& self) {
  std::vector<std::string> urls;
  for (const auto& [id, member] : cluster.members()) {
    if (member.name == self) continue;
    urls.insert(urls.end(), member.peer_urls.begin(), member.peer_urls.end());
  }
  std::sort(urls.begin(), urls.end());
  return urls;
}

}  // namespace

absl::StatusOr<Cluster> EtcdServer::FetchRemoteCluster(const std::vector<std::string>& peer_urls,
                                                       sim::SimDuration timeout) {
  const Endpoint self = *sim::ResolveUrl(*resolver_, config_.initial_advertise_peer_urls.at(0), node_);
  for (const std::string& url : peer_urls) {
    absl::StatusOr<Endpoint> endpoint = sim::ResolveUrl(*resolver_, url, node_);
    if (!endpoint.ok()) continue;
    absl::StatusOr<std::string> reply = network_->Call({self.node, sim::EphemeralPort(*rng_)},
                                                        {endpoint->node, endpoint->port}, internal::kMembersPath, "", timeout);
    if (!reply.ok()) continue;
    absl::StatusOr<Cluster> cluster = Cluster::Deserialize(*reply);
    if (cluster.ok()) return cluster;
  }
  return absl::UnavailableError("could not retrieve cluster information from the given URLs");
}

absl::Status EtcdServer::StartNew(const std::vector<InitialMember>& initial) {
  cluster_ = Cluster::FromInitialCluster(initial, config_.initial_cluster_token);
  const Member* self = cluster_.FindByName(config_.name);
  if (self == nullptr) {
    return absl::InvalidArgumentError(
        fmt::format("couldn't find local name \"{}\" in the initial cluster configuration", config_.name));
  }
  if (Sorted(self->peer_urls) != Sorted(config_.initial_advertise_peer_urls)) {
    return absl::InvalidArgumentError(fmt::format("--initial-cluster has {} but missing from --initial-advertise-peer-urls={}",
                                                  fmt::join(self->peer_urls, ","),
                                                  fmt::join(config_.initial_advertise_peer_urls, ",")));
  }
  id_ = self->id;
  // isMemberBootstrapped: a peer that knows this member as started (with
  // client URLs) means it bootstrapped before and lost its data.
  const std::vector<std::string> remotes = RemotePeerUrls(cluster_, config_.name);
  if (!remotes.empty()) {
    absl::StatusOr<Cluster> remote = FetchRemoteCluster(remotes, sim::SimDuration::Seconds(1));
    if (remote.ok()) {
      const Member* known = remote->Find(id_);
      if (known != nullptr && !known->client_urls.empty()) {
        return absl::FailedPreconditionError(fmt::format("member {} has already been bootstrapped", FormatId(id_)));
      }
    }
  }
  const std::string metadata = raftpb::Encode(raftpb::Metadata{id_, cluster_.id()});
  std::vector<std::pair<uint64_t, std::string>> peers;
  for (const auto& [id, member] : cluster_.members()) peers.push_back({id, MemberToJson(member)});
  const Cluster bootstrap = cluster_;
  // Membership is rebuilt by applying the bootstrap conf changes.
  cluster_ = Cluster();
  cluster_.set_id(bootstrap.id());
  applied_ = cluster_;
  raft_ = std::make_unique<raft::Raft>(internal::RaftConfig(config_, id_, rng_), raft::Snapshot{}, raftpb::HardState{},
                                       std::vector<raftpb::Entry>{}, peers);
  if (!config_.atomic_wal_bootstrap) {
    absl::StatusOr<std::unique_ptr<wal::Wal>> created = wal::Wal::Create(disk_, config_.data_dir + "/member/wal", metadata);
    if (!created.ok()) return absl::InternalError(fmt::format("create wal error: {}", std::string(created.status().message())));
    wal_ = *std::move(created);
    return absl::OkStatus();
  }
  // The variant: the bootstrap entries go into the log before it is visible,
  // and raft starts as if restarting from that log.
  raft::Ready first = raft_->GetReady();
  const raftpb::HardState state = first.hard_state.value_or(raftpb::HardState{});
  absl::StatusOr<std::unique_ptr<wal::Wal>> created =
      wal::Wal::Create(disk_, config_.data_dir + "/member/wal", metadata, &state, &first.entries);
  if (!created.ok()) return absl::InternalError(fmt::format("create wal error: {}", std::string(created.status().message())));
  wal_ = *std::move(created);
  raft_ = std::make_unique<raft::Raft>(internal::RaftConfig(config_, id_, rng_), raft::Snapshot{}, state,
                                       std::move(first.entries));
  return absl::OkStatus();
}

absl::Status EtcdServer::StartJoin(const std::vector<InitialMember>& initial) {
  Cluster local = Cluster::FromInitialCluster(initial, config_.initial_cluster_token);
  absl::StatusOr<Cluster> remote = FetchRemoteCluster(RemotePeerUrls(local, config_.name), sim::SimDuration::Seconds(5));
  if (!remote.ok()) {
    return absl::UnavailableError(fmt::format("cannot fetch cluster info from peer urls: {}", std::string(remote.status().message())));
  }
  // ValidateClusterAndAssignIDs: same member count, same peer URLs; adopt the remote IDs.
  if (remote->members().size() != local.members().size()) {
    return absl::FailedPreconditionError(
        fmt::format("error validating peerURLs {{ClusterID:{} ...}}: member count is unequal", FormatId(remote->id())));
  }
  std::vector<Member> remote_members, local_members;
  for (const auto& [id, m] : remote->members()) remote_members.push_back(m);
  for (const auto& [id, m] : local.members()) local_members.push_back(m);
  auto by_urls = [](const Member& a, const Member& b) { return Sorted(a.peer_urls) < Sorted(b.peer_urls); };
  std::sort(remote_members.begin(), remote_members.end(), by_urls);
  std::sort(local_members.begin(), local_members.end(), by_urls);
  for (size_t i = 0; i < remote_members.size(); ++i) {
    if (Sorted(remote_members[i].peer_urls) != Sorted(local_members[i].peer_urls)) {
      return absl::FailedPreconditionError(fmt::format(
          "error validating peerURLs {{ClusterID:{} ...}}: unmatched member while checking PeerURLs", FormatId(remote->id())));
    }
    if (local_members[i].name == config_.name) id_ = remote_members[i].id;
  }
  cluster_ = *remote;
  applied_ = Cluster();
  applied_.set_id(remote->id());
  const std::string metadata = raftpb::Encode(raftpb::Metadata{id_, cluster_.id()});
  absl::StatusOr<std::unique_ptr<wal::Wal>> created = wal::Wal::Create(disk_, config_.data_dir + "/member/wal", metadata);
  if (!created.ok()) return absl::InternalError(fmt::format("create wal error: {}", std::string(created.status().message())));
  wal_ = *std::move(created);
  raft_ = std::make_unique<raft::Raft>(internal::RaftConfig(config_, id_, rng_), raft::Snapshot{}, raftpb::HardState{},
                                       std::vector<raftpb::Entry>{});
  return absl::OkStatus();
}

absl::Status EtcdServer::LoadBackend(absl::StatusOr<bbolt::Db::OpenResult> opened, std::string_view verb) {
  if (!opened.ok()) return absl::InternalError(fmt::format("cannot open database: {}", std::string(opened.status().message())));
  if (opened->failure.has_value()) return absl::InternalError(opened->failure->etcd_error);
  db_ = std::move(opened->db);
  committed_small_.reset();
  const bbolt::Buckets backend = db_->Read();
  absl::StatusOr<KvStore> kv = KvStore::FromBuckets(backend);
  if (!kv.ok()) return absl::InternalError(fmt::format("failed to {} mvcc store: {}", verb, std::string(kv.status().message())));
  kv_ = *std::move(kv);
  LoadLeases(backend);
  return absl::OkStatus();
}

absl::Status EtcdServer::StartRestart() {
  const std::string wal_dir = config_.data_dir + "/member/wal";
  raft::Snapshot snapshot;
  // LoadNewestAvailable: the newest snap file the WAL records.
  absl::StatusOr<std::vector<raftpb::WalSnapshot>> wal_snapshots = wal::ValidSnapshotEntries(disk_, wal_dir);
  if (!wal_snapshots.ok()) return absl::InternalError(std::string(wal_snapshots.status().message()));
  absl::StatusOr<internal::LoadedSnapshot> loaded =
      internal::LoadNewestSnapshot(disk_, config_.data_dir + "/member/snap", &*wal_snapshots);
  if (loaded.ok()) {
    snapshot = loaded->snapshot;
    cluster_ = loaded->cluster;
    // recoverSnapshotBackend: a snapshot ahead of the backend (a received
    // snapshot persisted, its db not yet renamed into place) opens the db
    // that came with it.
    if (snapshot.index > kv_.consistent_index()) {
      if (absl::Status s = OpenSnapshotBackend(snapshot.index); !s.ok()) {
        return absl::InternalError(fmt::format("failed to recover v3 backend from snapshot: {}", std::string(s.message())));
      }
    }
  }
  wal::ReadResult read;
  bool repaired = false;
  while (true) {
    absl::StatusOr<std::unique_ptr<wal::Wal>> opened = wal::Wal::Open(disk_, wal_dir, {snapshot.index, snapshot.term}, &read);
    if (opened.ok()) {
      wal_ = *std::move(opened);
      break;
    }
    const std::string error(opened.status().message());
    if (error == wal::kErrFileNotFound) return absl::InternalError(fmt::format("open wal error: {}", error));
    // etcd repairs a torn tail once, and nothing else.
    if (repaired || error != wal::kErrUnexpectedEof) {
      return absl::InternalError(fmt::format("read wal error ({}) and cannot be repaired", error));
    }
    if (!wal::Repair(disk_, wal_dir)) {
      return absl::InternalError(fmt::format("WAL error ({}) cannot be repaired", error));
    }
    sim::TraceEvent("WalRepaired").Detail("member", config_.name).Detail("error", error);
    repaired = true;
  }
  sim::TraceEvent("WalRead")
      .Detail("member", config_.name)
      .Detail("entries", read.entries.size())
      .Detail("last_index", read.entries.empty() ? snapshot.index : read.entries.back().index)
      .Detail("term", read.state.term)
      .Detail("commit", read.state.commit);
  raftpb::Metadata metadata;
  raftpb::Decode(read.metadata, &metadata);
  id_ = metadata.node_id;
  cluster_.set_id(metadata.cluster_id);
  applied_ = cluster_;
  snapshot_index_ = snapshot.index;
  raft_ = std::make_unique<raft::Raft>(internal::RaftConfig(config_, id_, rng_), snapshot, read.state,
                                       std::move(read.entries));
  return absl::OkStatus();
}

}  // namespace model::etcd
