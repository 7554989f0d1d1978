// EtcdServer: the raft loop, apply, the backend and publishing.
#include <algorithm>

#include "fmt/format.h"
#include "model/etcd/server.h"
#include "model/etcd/server_internal.h"
#include "sim/hash.h"
#include "sim/trace.h"

namespace model::etcd {

void EtcdServer::RaftLoop() {
  const sim::SimDuration tick = config_.heartbeat;
  sim::SimTime next_tick = scheduler_->Now() + tick;
  auto handle = [this](std::unique_ptr<Event> event) {
    switch (event->kind) {
      case Event::Kind::kMessage:
        raft_->Step(event->message);
        break;
      case Event::Kind::kPropose:
        if (absl::Status s = raft_->Propose(std::move(event->data)); !s.ok()) {
          if (auto it = waiters_.find(event->waiter); it != waiters_.end()) {
            it->second.Set(absl::UnavailableError(kErrNoLeader));
            waiters_.erase(it);
          }
        }
        break;
      case Event::Kind::kConfChange:
        if (absl::Status s = raft_->ProposeConfChange(event->change); !s.ok()) {
          if (auto it = waiters_.find(event->waiter); it != waiters_.end()) {
            it->second.Set(absl::UnavailableError(kErrNoLeader));
            waiters_.erase(it);
          }
        }
        break;
    }
  };
  while (true) {
    const sim::SimTime now = scheduler_->Now();
    absl::StatusOr<std::unique_ptr<Event>> event =
        inbox_->Receive(next_tick > now ? next_tick - now : sim::SimDuration::Zero());
    if (event.ok()) {
      handle(*std::move(event));
      for (int drained = 0; drained < 1024; ++drained) {
        std::optional<std::unique_ptr<Event>> more = inbox_->TryReceive();
        if (!more.has_value()) break;
        handle(std::move(*more));
      }
    }
    if (scheduler_->Now() >= next_tick) {
      raft_->Tick();
      next_tick += tick;
    }
    for (int rounds = 0; rounds < 64 && raft_->HasReady(); ++rounds) ProcessReady();
  }
}

void EtcdServer::ProcessReady() {
  raft::Ready ready = raft_->GetReady();
  if (ready.snapshot.has_value()) {
    // A snapshot from the leader replaces everything this member had.
    const raft::Snapshot& snapshot = *ready.snapshot;
    absl::StatusOr<internal::LoadedSnapshot> loaded = internal::ParseSnapshotData(snapshot);
    if (!loaded.ok()) {
      Fatal(fmt::format("failed to restore snapshot: {}", std::string(loaded.status().message())));
      return;
    }
    // etcd persists the snapshot (.snap file, then the WAL's record) before
    // applying it; the db that came with it is already on disk as
    // <index>.snap.db (saved by the peer reader, as rafthttp does).
    if (absl::Status s = internal::SaveSnapshotFile(disk_, config_.data_dir + "/member/snap", snapshot); !s.ok()) {
      Fatal(fmt::format("failed to save snapshot: {}", std::string(s.message())));
      return;
    }
    if (absl::Status s = wal_->SaveSnapshot({snapshot.index, snapshot.term}); !s.ok()) {
      Fatal(fmt::format("failed to save snapshot: {}", std::string(s.message())));
      return;
    }
    cluster_ = loaded->cluster;
    applied_ = loaded->cluster;
    // applySnapshot: the db file replaces the backend; the mvcc store and
    // the leases both come from it (mvcc.Restore, lessor.Recover).
    if (absl::Status s = OpenSnapshotBackend(snapshot.index); !s.ok()) {
      Fatal(std::string(s.message()));
      return;
    }
    snapshot_index_ = snapshot.index;
    for (const auto& [member, info] : cluster_.members()) EnsurePeer(member);
    sim::TraceEvent("SnapshotApplied").Detail("member", config_.name).Detail("index", snapshot.index);
  }
  const raftpb::HardState state = ready.hard_state.value_or(raftpb::HardState{});
  if (absl::Status saved = wal_->Save(state, ready.entries); !saved.ok()) {
    Fatal(fmt::format("failed to save Raft hard state and entries: {}", std::string(saved.message())));
    return;
  }
  for (const raft::Message& message : ready.messages) SendRaftMessage(message);
  for (const raftpb::Entry& entry : ready.committed) {
    ApplyEntry(entry);
    if (state_ != State::kRunning) return;
  }
  raft_->Advance(ready);
  if (raft_->role() != traced_role_ || raft_->term() != traced_term_) {
    traced_role_ = raft_->role();
    traced_term_ = raft_->term();
    sim::TraceEvent("RaftState")
        .Detail("member", config_.name)
        .Detail("role", raft::RoleName(traced_role_))
        .Detail("term", traced_term_)
        .Detail("lead", sim::Hex{raft_->lead()})
        .Detail("vote", sim::Hex{ready.hard_state ? ready.hard_state->vote : 0})
        .Detail("last_index", raft_->last_index());
  }
  MaybeSnapshot();
}

void EtcdServer::ApplyEntry(const raftpb::Entry& entry) {
  if (entry.type == raftpb::EntryType::kConfChange) {
    ApplyConfChange(entry);
  } else {
    ApplyNormal(entry);
  }
  applied_log_.push_back({entry.index, entry.term, sim::StableHash(entry.data.value_or(""))});
}

namespace {
std::string ClientError(std::string_view membership_error) {
  if (membership_error == kErrIdExists) return kErrMemberExists;
  if (membership_error == kErrMembershipPeerUrlExists) return kErrPeerUrlExists;
  if (membership_error == kErrMembershipTooManyLearners) return kErrTooManyLearners;
  if (membership_error == kErrIdNotFound) return kErrMemberNotFound;
  if (membership_error == kErrMembershipNotLearner) return kErrMemberNotLearner;
  if (membership_error == kErrIdRemoved) return "etcdserver: member ID was removed";
  return std::string(membership_error);
}
}  // namespace

void EtcdServer::ApplyConfChange(const raftpb::Entry& entry) {
  raftpb::ConfChange change;
  raftpb::Decode(entry.data.value_or(""), &change);
  Member member;
  if (change.context.has_value() && change.type != raftpb::ConfChangeType::kRemoveNode) {
    absl::StatusOr<Member> parsed = MemberFromJson(*change.context);
    if (parsed.ok()) member = *parsed;
  }
  absl::Status valid;
  bool promotion = false;
  switch (change.type) {
    case raftpb::ConfChangeType::kAddNode: {
      const Member* existing = applied_.Find(change.node_id);
      promotion = existing != nullptr && existing->is_learner;
      valid = promotion ? applied_.ValidatePromote(change.node_id) : applied_.ValidateAdd(member);
      break;
    }
    case raftpb::ConfChangeType::kAddLearnerNode:
      member.is_learner = true;
      valid = applied_.ValidateAdd(member);
      break;
    case raftpb::ConfChangeType::kRemoveNode:
      valid = applied_.ValidateRemove(change.node_id);
      break;
    case raftpb::ConfChangeType::kUpdateNode:
      valid = applied_.ValidateUpdate(change.node_id, member.peer_urls);
      break;
  }
  if (entry.index > kv_.consistent_index()) kv_.set_consistent_index(entry.index);
  backend_dirty_ = true;
  absl::StatusOr<std::string> result = std::string();
  if (!valid.ok()) {
    // Rejected at apply time: raft sees a no-op change.
    raftpb::ConfChange noop = change;
    noop.node_id = raft::kNone;
    noop.type = raftpb::ConfChangeType::kUpdateNode;
    raft_->ApplyConfChange(noop);
    result = absl::FailedPreconditionError(ClientError(std::string(valid.message())));
  } else {
    switch (change.type) {
      case raftpb::ConfChangeType::kAddNode:
        if (promotion) {
          applied_.Promote(change.node_id);
          // The in-memory view may lack it (removed remotely since a join).
          if (cluster_.Find(change.node_id) != nullptr) {
            cluster_.Promote(change.node_id);
          } else {
            cluster_.Add(*applied_.Find(change.node_id));
          }
        } else {
          applied_.Add(member);
          cluster_.Add(member);
        }
        EnsurePeer(change.node_id);
        break;
      case raftpb::ConfChangeType::kAddLearnerNode:
        applied_.Add(member);
        cluster_.Add(member);
        EnsurePeer(change.node_id);
        break;
      case raftpb::ConfChangeType::kRemoveNode:
        applied_.Remove(change.node_id);
        cluster_.Remove(change.node_id);
        if (auto it = peers_.find(change.node_id); it != peers_.end()) it->second->removed = true;
        break;
      case raftpb::ConfChangeType::kUpdateNode:
        applied_.UpdatePeerUrls(change.node_id, member.peer_urls);
        if (cluster_.Find(change.node_id) != nullptr) cluster_.UpdatePeerUrls(change.node_id, member.peer_urls);
        break;
    }
    raft_->ApplyConfChange(change);
    sim::TraceEvent("MembershipChanged")
        .Detail("member", config_.name)
        .Detail("change", change.type == raftpb::ConfChangeType::kAddNode ? (promotion ? "promote" : "add")
                          : change.type == raftpb::ConfChangeType::kAddLearnerNode ? "add_learner"
                          : change.type == raftpb::ConfChangeType::kRemoveNode ? "remove" : "update")
        .Detail("node", sim::Hex{change.node_id})
        .Detail("index", entry.index);
  }
  if (auto it = waiters_.find(change.id); change.id != 0 && it != waiters_.end()) {
    it->second.Set(std::move(result));
    waiters_.erase(it);
  }
  if (change.type == raftpb::ConfChangeType::kRemoveNode && change.node_id == id_ && valid.ok()) {
    StopRemoved("removed from the cluster");
  }
}

void EtcdServer::StopRemoved(const std::string& reason) {
  // A removed member stops itself (etcd: "the member has been permanently
  // removed"; "data-dir used by this member must be removed").
  if (state_ == State::kStopped) return;
  state_ = State::kStopped;
  if (!exit_promise_.fulfilled()) exit_promise_.Set(0);
  sim::TraceEvent("EtcdStopped").Detail("member", config_.name).Detail("reason", reason);
  scheduler_->KillGroup(group_);
}

void EtcdServer::ApplyNormal(const raftpb::Entry& entry) {
  // applyEntryNormal: every entry past the consistent index moves it, even
  // an empty or v2 one (store.Commit writes it with the snapshot's commit,
  // so a snapshot is never ahead of its own backend); only v3 requests
  // already applied before a restart are skipped.
  const bool apply_v3 = entry.index > kv_.consistent_index();
  if (apply_v3) kv_.set_consistent_index(entry.index);
  if (!entry.data.has_value() || entry.data->empty()) return;  // a new leader's empty entry
  etcd_dst::etcd::InternalRaftRequest request;
  const bool v3 = request.ParseFromString(*entry.data) &&
                  (request.has_put() || request.has_range() || request.has_delete_range() || request.has_txn() ||
                   request.has_compaction() || request.has_lease_grant() || request.has_lease_revoke());
  if (!v3) {
    internal::V2Request v2;
    if (!internal::DecodeV2Request(*entry.data, &v2)) return;
    const std::string prefix = "/0/members/";
    if (v2.method == "PUT" && v2.path.starts_with(prefix) && v2.path.ends_with("/attributes")) {
      const uint64_t id = std::stoull(v2.path.substr(prefix.size(), 16), nullptr, 16);
      absl::StatusOr<Member> attributes = MemberFromJson(v2.value);
      if (attributes.ok()) {
        cluster_.UpdateAttributes(id, attributes->name, attributes->client_urls);
        applied_.UpdateAttributes(id, attributes->name, attributes->client_urls);
      }
      backend_dirty_ = true;
    } else if (v2.method == "PUT" && v2.path == "/0/version") {
      cluster_.set_version(v2.value);
      backend_dirty_ = true;
    }
    if (auto it = waiters_.find(v2.id); it != waiters_.end()) {
      it->second.Set(std::string());
      waiters_.erase(it);
    }
    return;
  }
  if (!apply_v3) return;  // applied before the restart
  backend_dirty_ = true;
  absl::StatusOr<std::string> response;
  etcd_dst::etcd::ResponseHeader header;
  if (request.has_lease_grant() || request.has_lease_revoke()) {
    response = ApplyLease(request);
  } else if (request.has_put() && request.put().lease() != 0 && !leases_.contains(request.put().lease())) {
    response = absl::NotFoundError("etcdserver: requested lease not found");
  } else if (request.has_put()) {
    etcd_dst::etcd::PutResponse put;
    std::optional<KeyValue> previous;
    {
      KvStore::Write write(&kv_);
      previous = write.Put(request.put().key(), request.put().value(), request.put().lease());
    }
    if (request.put().prev_kv() && previous) *put.mutable_prev_kv() = *previous;
    *put.mutable_header() = Header();
    response = put.SerializeAsString();
  } else if (request.has_delete_range()) {
    etcd_dst::etcd::DeleteRangeResponse deleted;
    std::vector<KeyValue> kvs;
    {
      KvStore::Write write(&kv_);
      kvs = write.DeleteRange(request.delete_range().key(), request.delete_range().range_end());
    }
    deleted.set_deleted(static_cast<int64_t>(kvs.size()));
    if (request.delete_range().prev_kv()) {
      for (const KeyValue& kv : kvs) *deleted.add_prev_kvs() = kv;
    }
    *deleted.mutable_header() = Header();
    response = deleted.SerializeAsString();
  } else if (request.has_txn()) {
    etcd_dst::etcd::TxnResponse txn = kv_.Txn(request.txn());
    *txn.mutable_header() = Header();
    response = txn.SerializeAsString();
  } else if (request.has_range()) {
    etcd_dst::etcd::RangeResponse range;
    int64_t count = 0;
    absl::StatusOr<std::vector<KeyValue>> kvs = kv_.Range(request.range().key(), request.range().range_end(),
                                                          request.range().revision(), request.range().limit(), &count);
    if (!kvs.ok()) {
      response = kvs.status();
    } else {
      for (KeyValue& kv : *kvs) *range.add_kvs() = std::move(kv);
      range.set_count(count);
      range.set_more(request.range().limit() > 0 && count > request.range().limit());
      *range.mutable_header() = Header();
      response = range.SerializeAsString();
    }
  } else if (request.has_compaction()) {
    absl::Status compacted = kv_.Compact(request.compaction().revision());
    etcd_dst::etcd::CompactionResponse compaction;
    *compaction.mutable_header() = Header();
    response = compacted.ok() ? absl::StatusOr<std::string>(compaction.SerializeAsString()) : compacted;
  }
  PublishEvents();
  if (auto it = waiters_.find(request.header().id()); it != waiters_.end()) {
    it->second.Set(std::move(response));
    waiters_.erase(it);
  }
}

void EtcdServer::MaybeSnapshot() {
  if (raft_->applied() <= snapshot_index_ + config_.snapshot_count) return;
  raft::Snapshot snapshot;
  snapshot.index = raft_->applied();
  snapshot.term = raft_->TermAt(snapshot.index).value_or(raft_->term());
  snapshot.conf = raft_->conf();
  // etcd's raft snapshot holds the v2 store (membership) only; the backend
  // goes to a follower beside it when the snapshot is sent (SendRaftMessage).
  snapshot.data = internal::SnapshotData(cluster_, "");
  CommitBackend();
  if (state_ != State::kRunning) return;
  if (absl::Status s = internal::SaveSnapshotFile(disk_, config_.data_dir + "/member/snap", snapshot); !s.ok()) {
    Fatal(fmt::format("failed to create snapshot: {}", std::string(s.message())));
    return;
  }
  if (absl::Status s = wal_->SaveSnapshot({snapshot.index, snapshot.term}); !s.ok()) {
    Fatal(fmt::format("failed to save snapshot: {}", std::string(s.message())));
    return;
  }
  // etcd keeps 5000 entries for slow followers; the model compacts at the
  // snapshot, so a follower behind it always gets the snapshot.
  raft_->Compact(snapshot);
  snapshot_index_ = snapshot.index;
  sim::TraceEvent("SnapshotSaved").Detail("member", config_.name).Detail("index", snapshot.index);
}

namespace {
constexpr const char* kSmallBuckets[] = {"alarm", "auth", "authRoles", "authUsers", "cluster", "lease", "members",
                                         "members_removed"};
}  // namespace

bbolt::Buckets EtcdServer::SmallBuckets() const {
  bbolt::Buckets buckets;
  for (const char* name : kSmallBuckets) buckets[name];
  bbolt::Bucket& members = buckets["members"];
  for (const auto& [id, member] : cluster_.members()) members[FormatId(id)] = MemberToJson(member);
  bbolt::Bucket& removed = buckets["members_removed"];
  for (MemberId id : cluster_.removed()) removed[FormatId(id)] = "removed";
  if (!cluster_.version().empty()) buckets["cluster"]["clusterVersion"] = cluster_.version();
  buckets["lease"] = bbolt::Bucket(lease_records_.begin(), lease_records_.end());
  return buckets;
}

bbolt::Buckets EtcdServer::Buckets() const {
  // Buckets the model does not keep in memory (a restored db may carry
  // some) come from the db; "key" and "meta" from the store.
  bbolt::Buckets buckets;
  for (const std::string& name : db_->BucketNames()) {
    if (name != "key" && name != "meta") buckets[name] = db_->ReadBucket(name);
  }
  kv_.ToBuckets(&buckets);
  for (auto& [name, bucket] : SmallBuckets()) buckets[name] = std::move(bucket);
  return buckets;
}

void EtcdServer::CommitBackend() {
  while (committing_) sim::WaitOn(commit_waiters_, sim::SimTime::Max());
  committing_ = true;
  backend_dirty_ = false;
  // What changed since the last commit: the new revisions and the small
  // buckets' differences; bbolt rewrites only the pages they touch. The
  // small buckets are rebuilt only when what they hold changed since the
  // last commit (most commits carry revisions alone).
  bbolt::Changes changes;
  kv_.TakeBackendChanges(&changes);
  const bool small_changed = !committed_small_.has_value() || committed_small_->members != cluster_.members() ||
                             committed_small_->removed != cluster_.removed() ||
                             committed_small_->version != cluster_.version() ||
                             committed_small_->leases != lease_records_;
  // What the small buckets are written from is taken now: the commit's
  // disk writes take simulated time, and a lease granted meanwhile must
  // still count as a change at the next commit (else it never reaches the
  // db, and a restart loses it: bootstrap-0-to-3 --seed 266 --profile br-fixed).
  std::optional<SmallBucketInputs> inputs;
  if (small_changed) {
    inputs = SmallBucketInputs{cluster_.members(), cluster_.removed(), cluster_.version(), lease_records_};
    for (const auto& [name, wanted] : SmallBuckets()) changes[name] = bbolt::Diff(db_->ReadBucket(name), wanted);
  }
  const absl::Status committed = db_->Commit(changes);
  if (committed.ok() && inputs.has_value()) {
    committed_small_ = *std::move(inputs);
  } else if (!committed.ok()) {
    committed_small_.reset();
  }
  committing_ = false;
  sim::NotifyAll(commit_waiters_);
  if (!committed.ok()) Fatal(fmt::format("failed to commit txn: {}", std::string(committed.message())));
}

absl::Status EtcdServer::OpenSnapshotBackend(uint64_t index) {
  // etcd's openSnapshotBackend: rename <index>.snap.db over the db, open it.
  const std::string snap_dir = config_.data_dir + "/member/snap";
  const std::string from = internal::DbSnapshotPath(snap_dir, index);
  if (!disk_->Stat(from).ok()) {
    return absl::NotFoundError("failed to find database snapshot file (snap: snapshot file doesn't exist)");
  }
  // No commit runs while the file changes under the backend (the disk
  // calls take simulated time).
  while (committing_) sim::WaitOn(commit_waiters_, sim::SimTime::Max());
  committing_ = true;
  const absl::Status renamed = disk_->Rename(from, snap_dir + "/db");
  absl::StatusOr<bbolt::Db::OpenResult> opened = absl::CancelledError("not opened");
  if (renamed.ok()) {
    db_.reset();
    opened = bbolt::Db::Open(disk_, snap_dir + "/db", config_.bbolt_init);
  }
  committing_ = false;
  sim::NotifyAll(commit_waiters_);
  if (!renamed.ok()) {
    return absl::InternalError(fmt::format("failed to rename database snapshot file ({})", std::string(renamed.message())));
  }
  if (absl::Status s = LoadBackend(std::move(opened), "restore"); !s.ok()) return s;
  // The db is the leader's at the time it sent it, at or past the
  // snapshot: entries it already holds are skipped by the consistent index.
  kv_.set_consistent_index(std::max(kv_.consistent_index(), index));
  backend_dirty_ = true;
  return absl::OkStatus();
}

void EtcdServer::BackendLoop() {
  // etcd's batch transaction commits every 100 ms.
  while (true) {
    sim::this_actor::SleepFor(sim::SimDuration::Millis(100));
    if (backend_dirty_) CommitBackend();
  }
}

void EtcdServer::Publish() {
  Member self;
  self.name = config_.name;
  self.client_urls = config_.advertise_client_urls;
  std::string attributes = "{\"name\":\"" + self.name + "\",\"clientURLs\":[";
  for (size_t i = 0; i < self.client_urls.size(); ++i) attributes += (i ? ",\"" : "\"") + self.client_urls[i] + "\"";
  attributes += "]}";
  while (true) {
    internal::V2Request request;
    request.id = NextRequestId();
    request.method = "PUT";
    request.path = fmt::format("/0/members/{}/attributes", FormatId(id_));
    request.value = attributes;
    absl::StatusOr<std::string> result =
        Propose(internal::EncodeV2Request(request), request.id, config_.election * 2 + sim::SimDuration::Seconds(5));
    if (result.ok()) {
      sim::TraceEvent("MemberPublished").Detail("member", config_.name).Detail("id", sim::Hex{id_});
      return;
    }
    if (result.status().message() == kErrNoLeader) sim::this_actor::SleepFor(config_.heartbeat);
  }
}

}  // namespace model::etcd
