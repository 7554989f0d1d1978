// EtcdServer: proposals and the client API (etcdserver/v3_server.go, the
// cluster API's strict reconfiguration checks).
#include <algorithm>

#include "fmt/format.h"
#include "model/codec.h"
#include "model/etcd/server.h"
#include "model/etcd/server_internal.h"
#include "sim/trace.h"

namespace model::etcd {

namespace {
const sim::SimDuration kRequestTimeout = sim::SimDuration::Seconds(7);  // 5 s + 2 x election timeout
const sim::SimDuration kHealthInterval = sim::SimDuration::Seconds(5);
constexpr uint64_t kLearnerReadyPercent = 90;
}  // namespace

uint64_t EtcdServer::NextRequestId() {
  // idutil.Generator: 16 bits of the member ID, 40 bits of Unix milliseconds
  // at start, 8 bits of counter (carrying into the time bits).
  const uint64_t millis = static_cast<uint64_t>(kSimEpochUnixSeconds) * 1000 +
                          static_cast<uint64_t>(scheduler_->Now().nanos() / 1000000);
  if (request_counter_ == 0) request_counter_ = (millis & 0xFFFFFFFFFFull) << 8;
  ++request_counter_;
  return ((id_ & 0xFFFF) << 48) | (request_counter_ & 0xFFFFFFFFFFFFull);
}

std::optional<sim::SimTime> EtcdServer::ActiveSince(MemberId peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return std::nullopt;
  return it->second->active_since;
}

absl::StatusOr<std::string> EtcdServer::Propose(std::string data, uint64_t id, sim::SimDuration timeout) {
  if (state_ != State::kRunning) return absl::UnavailableError(kErrStopped);
  sim::Future<absl::StatusOr<std::string>> future = waiters_[id].GetFuture();
  auto event = std::make_unique<Event>();
  event->kind = Event::Kind::kPropose;
  event->data = std::move(data);
  event->waiter = id;
  if (!inbox_->TrySend(std::move(event)).ok()) {
    waiters_.erase(id);
    return absl::UnavailableError("etcdserver: too many requests");
  }
  absl::StatusOr<absl::StatusOr<std::string>> result = future.Wait(timeout);
  if (!result.ok()) {
    waiters_.erase(id);
    return absl::DeadlineExceededError(kErrTimeout);
  }
  return *std::move(result);
}

absl::StatusOr<std::string> EtcdServer::ProposeConfChange(raftpb::ConfChange change, sim::SimDuration timeout) {
  if (state_ != State::kRunning) return absl::UnavailableError(kErrStopped);
  change.id = NextRequestId();
  sim::Future<absl::StatusOr<std::string>> future = waiters_[change.id].GetFuture();
  auto event = std::make_unique<Event>();
  event->kind = Event::Kind::kConfChange;
  event->change = change;
  event->waiter = change.id;
  if (!inbox_->TrySend(std::move(event)).ok()) {
    waiters_.erase(change.id);
    return absl::UnavailableError("etcdserver: too many requests");
  }
  absl::StatusOr<absl::StatusOr<std::string>> result = future.Wait(timeout);
  if (!result.ok()) {
    waiters_.erase(change.id);
    return absl::DeadlineExceededError(kErrTimeout);
  }
  return *std::move(result);
}

etcd_dst::etcd::ResponseHeader EtcdServer::Header() const {
  etcd_dst::etcd::ResponseHeader header;
  header.set_cluster_id(cluster_.id());
  header.set_member_id(id_);
  header.set_revision(kv_.revision());
  header.set_raft_term(raft_ ? raft_->term() : 0);
  return header;
}

void EtcdServer::FillMembers(google::protobuf::RepeatedPtrField<etcd_dst::etcd::Member>* out) const {
  for (const auto& [id, member] : cluster_.members()) {
    etcd_dst::etcd::Member* m = out->Add();
    m->set_id(id);
    m->set_name(member.name);
    for (const std::string& url : member.peer_urls) m->add_peerurls(url);
    for (const std::string& url : member.client_urls) m->add_clienturls(url);
    m->set_islearner(member.is_learner);
  }
}

bool EtcdServer::ConnectedFullySince(sim::SimTime since) const {
  for (MemberId voter : cluster_.VotingIds()) {
    if (voter == id_) continue;
    std::optional<sim::SimTime> active = ActiveSince(voter);
    if (!active.has_value() || *active > since) return false;
  }
  return true;
}

size_t EtcdServer::ConnectedSince(sim::SimTime since) const {
  size_t connected = 0;
  for (MemberId voter : cluster_.VotingIds()) {
    if (voter == id_) {
      ++connected;
      continue;
    }
    std::optional<sim::SimTime> active = ActiveSince(voter);
    if (active.has_value() && *active <= since) ++connected;
  }
  return connected;
}

void EtcdServer::ServeClients() {
  absl::StatusOr<Endpoint> endpoint = sim::ResolveUrl(*resolver_, config_.advertise_client_urls.at(0), node_);
  SIM_CHECK(endpoint.ok(), "bad client URL {}: {}", config_.advertise_client_urls.at(0), endpoint.status().ToString());
  absl::StatusOr<std::unique_ptr<sim::Listener>> listener = network_->Listen({endpoint->node, endpoint->port});
  if (!listener.ok()) {
    Fatal(fmt::format("listen tcp {}: bind: address already in use", config_.advertise_client_urls.at(0)));
    return;
  }
  while (true) {
    absl::StatusOr<sim::Envelope> envelope = (*listener)->Receive();
    if (!envelope.ok()) continue;
    if (envelope->kind == sim::Envelope::Kind::kConnection) {
      scheduler_->Spawn(group_, "watch", [this, connection = std::move(envelope->connection)]() mutable {
        ServeWatch(std::move(connection));
      });
      continue;
    }
    if (envelope->kind != sim::Envelope::Kind::kCall) continue;
    scheduler_->Spawn(group_, "client-rpc", [this, envelope = *std::move(envelope)]() mutable {
      HandleClient(std::move(envelope));
    });
  }
}

void EtcdServer::HandleClient(sim::Envelope envelope) {
  envelope.Reply(Dispatch(envelope.method, envelope.payload));
}

absl::StatusOr<std::string> EtcdServer::Dispatch(const std::string& method, const std::string& payload) {
  using namespace etcd_dst::etcd;
  if (state_ != State::kRunning) return absl::UnavailableError(kErrStopped);
  auto propose = [&](InternalRaftRequest request) -> absl::StatusOr<std::string> {
    if (raft_->lead() == raft::kNone) return absl::UnavailableError(kErrNoLeader);
    const uint64_t id = NextRequestId();
    request.mutable_header()->set_id(id);
    return Propose(request.SerializeAsString(), id, kRequestTimeout);
  };
  auto parse = [&](google::protobuf::Message* message) {
    return message->ParseFromString(payload) ? absl::OkStatus() : absl::InvalidArgumentError("malformed request");
  };
  if (method == "Put") {
    InternalRaftRequest request;
    if (absl::Status s = parse(request.mutable_put()); !s.ok()) return s;
    return propose(std::move(request));
  }
  if (method == "DeleteRange") {
    InternalRaftRequest request;
    if (absl::Status s = parse(request.mutable_delete_range()); !s.ok()) return s;
    return propose(std::move(request));
  }
  if (method == "Txn") {
    InternalRaftRequest request;
    if (absl::Status s = parse(request.mutable_txn()); !s.ok()) return s;
    return propose(std::move(request));
  }
  if (method == "Compact") {
    InternalRaftRequest request;
    if (absl::Status s = parse(request.mutable_compaction()); !s.ok()) return s;
    return propose(std::move(request));
  }
  if (method == "Range") {
    InternalRaftRequest request;
    if (absl::Status s = parse(request.mutable_range()); !s.ok()) return s;
    if (!request.range().serializable()) return propose(std::move(request));  // linearizable: through raft
    RangeResponse response;
    int64_t count = 0;
    absl::StatusOr<std::vector<KeyValue>> kvs = kv_.Range(request.range().key(), request.range().range_end(),
                                                          request.range().revision(), request.range().limit(), &count);
    if (!kvs.ok()) return kvs.status();
    for (KeyValue& kv : *kvs) *response.add_kvs() = std::move(kv);
    response.set_count(count);
    *response.mutable_header() = Header();
    return response.SerializeAsString();
  }
  if (method == "LeaseGrant") {
    InternalRaftRequest request;
    if (absl::Status s = parse(request.mutable_lease_grant()); !s.ok()) return s;
    if (request.lease_grant().id() == 0) {
      request.mutable_lease_grant()->set_id(static_cast<int64_t>(NextRequestId() & ((uint64_t{1} << 63) - 1)));
    }
    return propose(std::move(request));
  }
  if (method == "LeaseRevoke") {
    InternalRaftRequest request;
    if (absl::Status s = parse(request.mutable_lease_revoke()); !s.ok()) return s;
    return propose(std::move(request));
  }
  if (method == "LeaseKeepAlive") {
    LeaseKeepAliveRequest request;
    if (absl::Status s = parse(&request); !s.ok()) return s;
    return LeaseKeepAlive(request);
  }
  if (method == "MemberList") {
    MemberListResponse response;
    *response.mutable_header() = Header();
    FillMembers(response.mutable_members());
    return response.SerializeAsString();
  }
  if (method == "MemberAdd") {
    MemberAddRequest request;
    if (absl::Status s = parse(&request); !s.ok()) return s;
    return MemberAdd(request);
  }
  if (method == "MemberRemove") {
    MemberRemoveRequest request;
    if (absl::Status s = parse(&request); !s.ok()) return s;
    return MemberRemove(request);
  }
  if (method == "MemberPromote") {
    MemberPromoteRequest request;
    if (absl::Status s = parse(&request); !s.ok()) return s;
    return MemberPromote(request);
  }
  if (method == "MemberUpdate") {
    MemberUpdateRequest request;
    if (absl::Status s = parse(&request); !s.ok()) return s;
    return MemberUpdate(request);
  }
  if (method == "Status") {
    StatusResponse response;
    *response.mutable_header() = Header();
    response.set_version("3.4.23");
    response.set_leader(raft_->lead());
    response.set_raftindex(raft_->last_index());
    response.set_raftterm(raft_->term());
    response.set_raftappliedindex(raft_->applied());
    const Member* self = cluster_.Find(id_);
    response.set_islearner(self != nullptr && self->is_learner);
    response.set_dbsize(static_cast<int64_t>(disk_->Stat(config_.data_dir + "/member/snap/db").value_or(sim::FileStat{}).size));
    return response.SerializeAsString();
  }
  if (method == "Snapshot") {
    SnapshotResponse response;
    *response.mutable_header() = Header();
    // The stream ends with the SHA-256 of the db (v3rpc maintenance.go).
    std::string db = bbolt::BuildImage(Buckets(), db_->txid());
    db += Sha256(db);
    response.set_blob(std::move(db));
    return response.SerializeAsString();
  }
  return absl::UnimplementedError(fmt::format("unknown method {}", method));
}

absl::StatusOr<std::string> EtcdServer::MemberAdd(const etcd_dst::etcd::MemberAddRequest& request) {
  if (request.peerurls().empty()) return absl::InvalidArgumentError("etcdserver: member peer URLs are empty");
  Member member;
  member.peer_urls.assign(request.peerurls().begin(), request.peerurls().end());
  std::sort(member.peer_urls.begin(), member.peer_urls.end());
  member.is_learner = request.islearner();
  // An API-added member: empty name, EMPTY token, and the current time.
  member.id = ComputeMemberId(member.peer_urls, "", UnixSeconds(scheduler_->Now()));
  if (config_.strict_reconfig_check) {
    if (!member.is_learner && !cluster_.ReadyToAddVotingMember()) {
      return absl::FailedPreconditionError(kErrNotEnoughStartedMembers);
    }
    if (!ConnectedFullySince(scheduler_->Now() - kHealthInterval)) return absl::UnavailableError(kErrUnhealthy);
  }
  raftpb::ConfChange change;
  change.type = member.is_learner ? raftpb::ConfChangeType::kAddLearnerNode : raftpb::ConfChangeType::kAddNode;
  change.node_id = member.id;
  change.context = MemberToJson(member);
  absl::StatusOr<std::string> applied = ProposeConfChange(change, kRequestTimeout);
  if (!applied.ok()) return applied.status();
  etcd_dst::etcd::MemberAddResponse response;
  *response.mutable_header() = Header();
  response.mutable_member()->set_id(member.id);
  for (const std::string& url : member.peer_urls) response.mutable_member()->add_peerurls(url);
  response.mutable_member()->set_islearner(member.is_learner);
  FillMembers(response.mutable_members());
  return response.SerializeAsString();
}

absl::StatusOr<std::string> EtcdServer::MemberRemove(const etcd_dst::etcd::MemberRemoveRequest& request) {
  const MemberId id = request.id();
  if (config_.strict_reconfig_check) {
    if (!cluster_.ReadyToRemoveVotingMember(id)) return absl::FailedPreconditionError(kErrNotEnoughStartedMembers);
    // A member that is down is safe to remove; otherwise protect the quorum.
    if (id == id_ || ActiveSince(id).has_value()) {
      const size_t voters = cluster_.VotingIds().size();
      const size_t active = ConnectedSince(scheduler_->Now() - kHealthInterval);
      if (active < 2 + (voters - 1) / 2) return absl::UnavailableError(kErrUnhealthy);
    }
  }
  raftpb::ConfChange change;
  change.type = raftpb::ConfChangeType::kRemoveNode;
  change.node_id = id;
  absl::StatusOr<std::string> applied = ProposeConfChange(change, kRequestTimeout);
  if (!applied.ok()) return applied.status();
  etcd_dst::etcd::MemberRemoveResponse response;
  *response.mutable_header() = Header();
  FillMembers(response.mutable_members());
  return response.SerializeAsString();
}

absl::StatusOr<std::string> EtcdServer::MemberPromote(const etcd_dst::etcd::MemberPromoteRequest& request) {
  const MemberId id = request.id();
  if (raft_->role() != raft::Role::kLeader) {
    // Only the leader knows the learner's progress: forward over the peer port.
    const Member* leader = cluster_.Find(raft_->lead());
    if (leader == nullptr || leader->peer_urls.empty()) return absl::UnavailableError(kErrNoLeader);
    absl::StatusOr<Endpoint> to = sim::ResolveUrl(*resolver_, leader->peer_urls[0], node_);
    absl::StatusOr<Endpoint> from = sim::ResolveUrl(*resolver_, config_.initial_advertise_peer_urls.at(0), node_);
    if (!to.ok() || !from.ok()) return absl::UnavailableError(kErrNoLeader);
    return network_->Call({from->node, sim::EphemeralPort(*rng_)}, {to->node, to->port}, internal::kPromotePath,
                          request.SerializeAsString(), kRequestTimeout);
  }
  const Member* member = cluster_.Find(id);
  if (member == nullptr) return absl::NotFoundError(kErrMemberNotFound);
  if (!member->is_learner) return absl::FailedPreconditionError(kErrMemberNotLearner);
  if (config_.strict_reconfig_check && !cluster_.ReadyToPromoteMember(id)) {
    return absl::FailedPreconditionError(kErrNotEnoughStartedMembers);
  }
  const auto& progress = raft_->progress();
  auto learner = progress.find(id);
  auto leader = progress.find(id_);
  const uint64_t leader_match = leader == progress.end() ? 0 : leader->second.match;
  const uint64_t learner_match = learner == progress.end() ? 0 : learner->second.match;
  if (learner_match * 100 < leader_match * kLearnerReadyPercent) {
    return absl::FailedPreconditionError(kErrLearnerNotReady);
  }
  Member promoted = *member;
  promoted.is_learner = false;
  raftpb::ConfChange change;
  change.type = raftpb::ConfChangeType::kAddNode;
  change.node_id = id;
  change.context = MemberToJson(promoted);
  absl::StatusOr<std::string> applied = ProposeConfChange(change, kRequestTimeout);
  if (!applied.ok()) return applied.status();
  etcd_dst::etcd::MemberPromoteResponse response;
  *response.mutable_header() = Header();
  FillMembers(response.mutable_members());
  return response.SerializeAsString();
}

absl::StatusOr<std::string> EtcdServer::MemberUpdate(const etcd_dst::etcd::MemberUpdateRequest& request) {
  const Member* member = cluster_.Find(request.id());
  if (member == nullptr) return absl::NotFoundError(kErrMemberNotFound);
  Member updated = *member;
  updated.peer_urls.assign(request.peerurls().begin(), request.peerurls().end());
  raftpb::ConfChange change;
  change.type = raftpb::ConfChangeType::kUpdateNode;
  change.node_id = request.id();
  change.context = MemberToJson(updated);
  absl::StatusOr<std::string> applied = ProposeConfChange(change, kRequestTimeout);
  if (!applied.ok()) return applied.status();
  etcd_dst::etcd::MemberUpdateResponse response;
  *response.mutable_header() = Header();
  FillMembers(response.mutable_members());
  return response.SerializeAsString();
}

}  // namespace model::etcd
