// Pieces shared by the EtcdServer files: the peer wire format, snapshot
// files, the raft configuration. Not for use outside model/etcd.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "model/etcd/membership.h"
#include "model/etcd/server.h"
#include "model/raft.h"
#include "sim/disk.h"
#include "sim/rng.h"

namespace model::etcd {

struct EtcdServer::Event {
  enum class Kind : uint8_t { kMessage, kPropose, kConfChange };
  Kind kind = Kind::kMessage;
  raft::Message message;
  std::string data;
  raftpb::ConfChange change;
  uint64_t waiter = 0;
};

struct EtcdServer::PeerLink {
  MemberId id = 0;
  std::unique_ptr<sim::Channel<std::string>> queue;  // encoded frames to send
  std::optional<sim::SimTime> active_since;
  bool removed = false;
};

}  // namespace model::etcd

namespace model::etcd::internal {

// The peer HTTP path that returns the member list (etcd's /members).
inline constexpr char kMembersPath[] = "/members";
// Forwards a learner promotion to the leader.
inline constexpr char kPromotePath[] = "/members/promote";

raft::Config RaftConfig(const EtcdConfig& config, MemberId id, sim::Rng* rng);

inline constexpr char kMismatchPrefix[] = "412 ";
// rafthttp's answer to a removed member's stream (410 Gone, "removed member").
inline constexpr char kRemovedPrefix[] = "410 ";
// v2 requests etcd proposes itself (etcdserverpb.Request, gogoproto encoding).
struct V2Request {
  uint64_t id = 0;
  std::string method;
  std::string path;
  std::string value;
};
std::string EncodeV2Request(const V2Request& request);
bool DecodeV2Request(std::string_view data, V2Request* request);

// A raft message on a peer stream, with the sender's cluster ID (etcd's
// X-Etcd-Cluster-ID header). Rejections travel back as a frame "412 <cluster id>".
std::string EncodePeerFrame(ClusterId cluster, const raft::Message& message);
bool DecodePeerFrame(const std::string& frame, ClusterId* cluster, raft::Message* message);

// Snap files member/snap/%016x-%016x.snap: snappb.Snapshot{crc, data} where
// data is a raftpb.Snapshot whose own data is the model's state.
struct LoadedSnapshot {
  raft::Snapshot snapshot;
  Cluster cluster;
  std::string backend;
};
std::string SnapshotData(const Cluster& cluster, const std::string& backend);
absl::Status SaveSnapshotFile(sim::Disk* disk, const std::string& snap_dir, const raft::Snapshot& snapshot);
// The newest valid snapshot; broken files are renamed *.broken. NotFound if
// none. With `wal_snapshots`, only one the WAL records (etcd 3.4.23's
// LoadNewestAvailable: a snap file written just before a crash, whose WAL
// record never was, is passed over).
absl::StatusOr<LoadedSnapshot> LoadNewestSnapshot(sim::Disk* disk, const std::string& snap_dir,
                                                  const std::vector<raftpb::WalSnapshot>* wal_snapshots = nullptr);
absl::StatusOr<LoadedSnapshot> ParseSnapshotData(const raft::Snapshot& snapshot);

// The db a leader sends beside a snapshot: member/snap/%016x.snap.db.
// SaveDbSnapshot is etcd's snap.Snapshotter.SaveDBFrom (a temp file written,
// fsynced, then renamed, without syncing the directory), done by rafthttp
// before raft sees the message.
std::string DbSnapshotPath(const std::string& snap_dir, uint64_t index);
absl::Status SaveDbSnapshot(sim::Disk* disk, const std::string& snap_dir, uint64_t index, const std::string& db);

}  // namespace model::etcd::internal
