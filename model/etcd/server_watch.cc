// EtcdServer: watches (a client stream per watch: history from a revision,
// then live events) and minimal leases (grant, revoke, keep-alive on the
// leader, expiry revoked through raft by the leader).
#include "fmt/format.h"
#include "model/etcd/server.h"
#include "model/etcd/server_internal.h"
#include "model/pb.h"
#include "sim/trace.h"

namespace model::etcd {

namespace {
constexpr size_t kWatchQueue = 4096;
constexpr char kErrLeaseNotFound[] = "etcdserver: requested lease not found";
constexpr char kErrLeaseExists[] = "etcdserver: lease already exists";

std::string LeaseKey(int64_t id) {
  std::string key;
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>((static_cast<uint64_t>(id) >> shift) & 0xff));
  return key;
}
}  // namespace

void EtcdServer::ServeWatch(std::unique_ptr<sim::Connection> connection) {
  using etcd_dst::etcd::WatchResponse;
  absl::StatusOr<std::string> first = connection->Receive(sim::SimDuration::Seconds(5));
  etcd_dst::etcd::WatchCreateRequest request;
  if (!first.ok() || !request.ParseFromString(*first)) return;
  WatchResponse created;
  *created.mutable_header() = Header();
  const int64_t id = next_watch_id_++;
  created.set_watch_id(id);
  created.set_created(true);
  absl::StatusOr<std::vector<etcd_dst::etcd::Event>> history =
      request.start_revision() > 0 ? kv_.EventsSince(request.key(), request.range_end(), request.start_revision())
                                   : absl::StatusOr<std::vector<etcd_dst::etcd::Event>>(std::vector<etcd_dst::etcd::Event>{});
  if (!history.ok()) {
    created.set_canceled(true);
    created.set_compact_revision(kv_.compacted());
    created.set_cancel_reason(std::string(history.status().message()));
    (void)connection->Send(created.SerializeAsString());
    return;
  }
  // Registered before anything blocks: no event falls between history and live.
  sim::Channel<etcd_dst::etcd::Event> queue(kWatchQueue);
  Watcher watcher{request.key(), request.range_end(), &queue};
  watchers_[id] = &watcher;
  struct Unregister {
    EtcdServer* server;
    int64_t id;
    ~Unregister() { server->watchers_.erase(id); }
  } unregister{this, id};
  if (!connection->Send(created.SerializeAsString()).ok()) return;
  if (!history->empty()) {
    WatchResponse past;
    *past.mutable_header() = Header();
    past.set_watch_id(id);
    for (auto& event : *history) *past.add_events() = std::move(event);
    if (!connection->Send(past.SerializeAsString()).ok()) return;
  }
  while (!watcher.overflowed) {
    absl::StatusOr<etcd_dst::etcd::Event> event = queue.Receive(sim::SimDuration::Seconds(1));
    if (!event.ok()) {
      if (connection->broken()) return;
      continue;
    }
    WatchResponse live;
    *live.mutable_header() = Header();
    live.set_watch_id(id);
    *live.add_events() = *std::move(event);
    while (std::optional<etcd_dst::etcd::Event> more = queue.TryReceive()) *live.add_events() = *std::move(more);
    if (!connection->Send(live.SerializeAsString()).ok()) return;
  }
  WatchResponse canceled;
  canceled.set_watch_id(id);
  canceled.set_canceled(true);
  canceled.set_cancel_reason("etcdserver: watcher fell too far behind");
  (void)connection->Send(canceled.SerializeAsString());
}

void EtcdServer::PublishEvents() {
  std::vector<etcd_dst::etcd::Event> events = kv_.TakeEvents();
  if (events.empty() || watchers_.empty()) return;
  for (const auto& event : events) {
    for (auto& [id, watcher] : watchers_) {
      if (watcher->overflowed || !KvStore::InRange(event.kv().key(), watcher->key, watcher->range_end)) continue;
      if (!watcher->queue->TrySend(event).ok()) watcher->overflowed = true;
    }
  }
}

void EtcdServer::LoadLeases(const bbolt::Buckets& buckets) {
  leases_.clear();
  lease_records_.clear();
  auto bucket = buckets.find("lease");
  if (bucket == buckets.end()) return;
  lease_records_ = std::map<std::string, std::string>(bucket->second.begin(), bucket->second.end());
  for (const auto& [key, value] : bucket->second) {
    int64_t id = 0, ttl = 0;
    const bool parsed = pb::Walk(
        value,
        [&](int field, uint64_t v) {
          if (field == 1) id = static_cast<int64_t>(v);
          if (field == 2) ttl = static_cast<int64_t>(v);
          return true;
        },
        [](int, std::string) { return true; });
    if (!parsed) continue;  // damaged record: skipped (the model never writes one)
    // After a restart every lease gets its full TTL again, as etcd's lessor does.
    leases_[id] = Lease{ttl, scheduler_->Now() + sim::SimDuration::Seconds(ttl), false};
  }
}

absl::StatusOr<std::string> EtcdServer::ApplyLease(const etcd_dst::etcd::InternalRaftRequest& request) {
  if (request.has_lease_grant()) {
    const int64_t id = request.lease_grant().id();
    if (leases_.contains(id)) return absl::AlreadyExistsError(kErrLeaseExists);
    const int64_t ttl = std::max<int64_t>(request.lease_grant().ttl(), 5);  // etcd's minimum TTL
    leases_[id] = Lease{ttl, scheduler_->Now() + sim::SimDuration::Seconds(ttl), false};
    std::string record;
    pb::PutUint(record, 1, static_cast<uint64_t>(id));
    pb::PutUint(record, 2, static_cast<uint64_t>(ttl));
    lease_records_[LeaseKey(id)] = record;
    etcd_dst::etcd::LeaseGrantResponse response;
    *response.mutable_header() = Header();
    response.set_id(id);
    response.set_ttl(ttl);
    return response.SerializeAsString();
  }
  const int64_t id = request.lease_revoke().id();
  if (!leases_.contains(id)) return absl::NotFoundError(kErrLeaseNotFound);
  leases_.erase(id);
  lease_records_.erase(LeaseKey(id));
  {
    KvStore::Write write(&kv_);
    for (const std::string& key : kv_.KeysWithLease(id)) write.DeleteRange(key, "");
  }
  sim::TraceEvent("LeaseRevoked").Detail("member", config_.name).Detail("lease", sim::Hex{static_cast<uint64_t>(id)});
  etcd_dst::etcd::LeaseRevokeResponse response;
  *response.mutable_header() = Header();
  return response.SerializeAsString();
}

absl::StatusOr<std::string> EtcdServer::LeaseKeepAlive(const etcd_dst::etcd::LeaseKeepAliveRequest& request) {
  if (raft_->role() != raft::Role::kLeader) return absl::UnavailableError("etcdserver: not leader");
  auto it = leases_.find(request.id());
  if (it == leases_.end()) return absl::NotFoundError(kErrLeaseNotFound);
  it->second.expiry = scheduler_->Now() + sim::SimDuration::Seconds(it->second.ttl);
  etcd_dst::etcd::LeaseKeepAliveResponse response;
  *response.mutable_header() = Header();
  response.set_id(request.id());
  response.set_ttl(it->second.ttl);
  return response.SerializeAsString();
}

void EtcdServer::LessorLoop() {
  bool was_leader = false;
  while (true) {
    sim::this_actor::SleepFor(sim::SimDuration::Millis(500));
    const bool leader = raft_->role() == raft::Role::kLeader;
    if (leader && !was_leader) {
      // A new leader extends every lease: nobody could keep them alive meanwhile.
      for (auto& [id, lease] : leases_) lease.expiry = scheduler_->Now() + sim::SimDuration::Seconds(lease.ttl);
    }
    was_leader = leader;
    if (!leader) continue;
    for (auto& [id, lease] : leases_) {
      if (lease.revoking || lease.expiry > scheduler_->Now()) continue;
      lease.revoking = true;
      const int64_t lease_id = id;
      scheduler_->Spawn(group_, "lease-revoke", [this, lease_id] {
        etcd_dst::etcd::InternalRaftRequest request;
        request.mutable_lease_revoke()->set_id(lease_id);
        const uint64_t request_id = NextRequestId();
        request.mutable_header()->set_id(request_id);
        absl::StatusOr<std::string> revoked = Propose(request.SerializeAsString(), request_id, sim::SimDuration::Seconds(7));
        if (!revoked.ok()) {
          if (auto it = leases_.find(lease_id); it != leases_.end()) it->second.revoking = false;
        }
      });
    }
  }
}

}  // namespace model::etcd
