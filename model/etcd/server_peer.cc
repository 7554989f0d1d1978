// EtcdServer: the peer transport (etcdserver/api/rafthttp): one outgoing
// stream per peer with its "active since" time, incoming streams checked for
// the cluster ID (a mismatch is answered with 412 and logged by the sender)
// and for this member's ID (a frame for another member is ignored),
// and the /members endpoint other members ask at bootstrap.
#include "fmt/format.h"
#include "model/etcd/server.h"
#include "model/etcd/server_internal.h"
#include "sim/trace.h"

namespace model::etcd {

namespace {
const sim::SimDuration kDialTimeout = sim::SimDuration::Seconds(1);
const sim::SimDuration kRetryInterval = sim::SimDuration::Millis(100);
}  // namespace

void EtcdServer::ServePeers() {
  absl::StatusOr<Endpoint> endpoint = sim::ResolveUrl(*resolver_, config_.initial_advertise_peer_urls.at(0), node_);
  SIM_CHECK(endpoint.ok(), "bad peer URL {}: {}", config_.initial_advertise_peer_urls.at(0), endpoint.status().ToString());
  absl::StatusOr<std::unique_ptr<sim::Listener>> listener = network_->Listen({endpoint->node, endpoint->port});
  if (!listener.ok()) {
    Fatal(fmt::format("listen tcp {}: bind: address already in use", config_.initial_advertise_peer_urls.at(0)));
    return;
  }
  while (true) {
    absl::StatusOr<sim::Envelope> envelope = (*listener)->Receive();
    if (!envelope.ok()) continue;
    if (envelope->kind == sim::Envelope::Kind::kConnection) {
      scheduler_->Spawn(group_, "peer-reader",
                                     [this, connection = std::move(envelope->connection)]() mutable {
                                       PeerReader(std::move(connection));
                                     });
    } else if (envelope->kind == sim::Envelope::Kind::kCall && envelope->method == internal::kMembersPath) {
      envelope->Reply(cluster_.Serialize());
    } else if (envelope->kind == sim::Envelope::Kind::kCall && envelope->method == internal::kPromotePath) {
      scheduler_->Spawn(group_, "promote-rpc", [this, envelope = *std::move(envelope)]() mutable {
        etcd_dst::etcd::MemberPromoteRequest request;
        if (!request.ParseFromString(envelope.payload)) {
          envelope.Reply(absl::InvalidArgumentError("malformed request"));
          return;
        }
        envelope.Reply(MemberPromote(request));
      });
    }
  }
}

void EtcdServer::PeerReader(std::unique_ptr<sim::Connection> connection) {
  while (true) {
    absl::StatusOr<std::string> frame = connection->Receive();
    if (!frame.ok()) return;
    ClusterId remote_cluster = 0;
    raft::Message message;
    if (!internal::DecodePeerFrame(*frame, &remote_cluster, &message)) continue;
    if (remote_cluster != cluster_.id()) {
      (void)connection->Send(internal::kMismatchPrefix + FormatId(cluster_.id()));
      continue;
    }
    // rafthttp ignores a stream for another member ("streaming request
    // ignored (ID mismatch ...)", 412): e.g. a peer URL of another member
    // that resolves here (a restored member's http://localhost:2380). Raft
    // never sees it, so a forwarded proposal cannot come back to its sender.
    if (message.to != id_) continue;
    // rafthttp refuses a removed member's stream with 410 Gone, and the
    // server its messages ("cannot process message from removed member").
    if (cluster_.removed().contains(message.from)) {
      (void)connection->Send(internal::kRemovedPrefix + std::string("removed member"));
      continue;
    }
    if (message.type == raft::MessageType::kSnapshot && !SaveSnapshotDb(&message)) continue;
    OnPeerMessage(std::move(message));
  }
}

bool EtcdServer::SaveSnapshotDb(raft::Message* message) {
  // rafthttp's snapshotHandler: the db that follows the snapshot is saved as
  // <index>.snap.db before raft sees the message; raft keeps the v2 store.
  if (message->snapshot.empty()) return true;  // nothing to save (the model's raft may send one)
  absl::StatusOr<internal::LoadedSnapshot> loaded = internal::ParseSnapshotData(message->snapshot);
  if (!loaded.ok()) return false;
  const absl::Status saved =
      internal::SaveDbSnapshot(disk_, config_.data_dir + "/member/snap", message->snapshot.index, loaded->backend);
  if (!saved.ok()) {
    sim::TraceEvent("SnapshotReceiveFailed")
        .Detail("member", config_.name)
        .Detail("index", message->snapshot.index)
        .Detail("error", std::string(saved.message()));
    return false;
  }
  message->snapshot.data = internal::SnapshotData(loaded->cluster, "");
  return true;
}

void EtcdServer::OnPeerMessage(raft::Message message) {
  auto event = std::make_unique<Event>();
  event->kind = Event::Kind::kMessage;
  event->message = std::move(message);
  (void)inbox_->TrySend(std::move(event));  // a full inbox drops, as a full rafthttp buffer does
}

void EtcdServer::SendRaftMessage(const raft::Message& message) {
  if (message.type == raft::MessageType::kSnapshot) {
    // createMergedSnapshotMessage: the snapshot's v2 store with this
    // member's whole backend as it is now (committed first, as
    // backend.Snapshot does).
    absl::StatusOr<internal::LoadedSnapshot> loaded = internal::ParseSnapshotData(message.snapshot);
    if (!loaded.ok()) return;
    CommitBackend();
    if (state_ != State::kRunning) return;
    raft::Message merged = message;
    merged.snapshot.data = internal::SnapshotData(loaded->cluster, bbolt::BuildImage(Buckets(), db_->txid()));
    QueuePeerFrame(merged);
    return;
  }
  QueuePeerFrame(message);
}

void EtcdServer::QueuePeerFrame(const raft::Message& message) {
  auto it = peers_.find(message.to);
  if (it == peers_.end() || it->second->removed) return;
  (void)it->second->queue->TrySend(internal::EncodePeerFrame(cluster_.id(), message));
}

void EtcdServer::EnsurePeer(MemberId peer) {
  if (peer == id_ || peers_.contains(peer)) return;
  auto link = std::make_unique<PeerLink>();
  link->id = peer;
  link->queue = std::make_unique<sim::Channel<std::string>>(4096);
  peers_[peer] = std::move(link);
  scheduler_->Spawn(group_, fmt::format("peer-writer-{}", FormatId(peer)), [this, peer] { PeerWriter(peer); });
}

void EtcdServer::PeerWriter(MemberId peer) {
  PeerLink& link = *peers_.at(peer);
  absl::StatusOr<Endpoint> self = sim::ResolveUrl(*resolver_, config_.initial_advertise_peer_urls.at(0), node_);
  SIM_CHECK(self.ok(), "bad peer URL");
  while (!link.removed) {
    const Member* member = cluster_.Find(peer);
    absl::StatusOr<Endpoint> target =
        member != nullptr && !member->peer_urls.empty() ? sim::ResolveUrl(*resolver_, member->peer_urls[0], node_)
                                                        : absl::StatusOr<Endpoint>(absl::NotFoundError("no URL"));
    if (!target.ok()) {
      sim::this_actor::SleepFor(kRetryInterval);
      continue;
    }
    absl::StatusOr<std::unique_ptr<sim::Connection>> connection =
        network_->Connect({self->node, sim::EphemeralPort(*rng_)}, {target->node, target->port}, kDialTimeout);
    if (!connection.ok()) {
      link.active_since.reset();
      sim::this_actor::SleepFor(kRetryInterval);
      continue;
    }
    link.active_since = scheduler_->Now();
    sim::TraceEvent("PeerActive").Detail("member", config_.name).Detail("peer", sim::Hex{peer});
    bool healthy = true;
    while (healthy && !link.removed) {
      absl::StatusOr<std::string> frame = link.queue->Receive(kRetryInterval);
      if (frame.ok() && !(*connection)->Send(*std::move(frame)).ok()) healthy = false;
      // Rejections come back on the same stream.
      absl::StatusOr<std::string> answer = (*connection)->Receive(sim::SimDuration::Zero());
      if (answer.ok() && answer->starts_with(internal::kMismatchPrefix)) {
        sim::TraceEvent("ClusterIdMismatch")
            .Detail("member", config_.name)
            .Detail("peer", sim::Hex{peer})
            .Detail("remote_cluster", answer->substr(4))
            .Detail("local_cluster", sim::Hex{cluster_.id()})
            .Detail("error", fmt::format("request sent was ignored (cluster ID mismatch: remote[{}]={}, local={})",
                                         FormatId(peer), answer->substr(4), FormatId(cluster_.id())));
        healthy = false;
      } else if (answer.ok() && answer->starts_with(internal::kRemovedPrefix)) {
        // The sender learns it was removed: a critical error that stops the
        // server ("the member has been permanently removed from the cluster").
        StopRemoved("the member has been permanently removed from the cluster");
        return;
      } else if (!answer.ok() && answer.status().code() != absl::StatusCode::kDeadlineExceeded) {
        healthy = false;
      }
    }
    link.active_since.reset();
    (*connection)->Close();
    sim::this_actor::SleepFor(kRetryInterval);
  }
}

}  // namespace model::etcd
