#include "model/etcd/restore.h"

#include <algorithm>

#include "fmt/format.h"
#include "model/bbolt.h"
#include "model/codec.h"
#include "model/etcd/kv_store.h"
#include "model/etcd/membership.h"
#include "model/etcd/server_internal.h"
#include "model/wal.h"

namespace model::etcd {

absl::Status RestoreSnapshot(sim::Disk* disk, const std::string& snapshot, const RestoreConfig& config) {
  absl::StatusOr<std::vector<InitialMember>> initial = ParseInitialCluster(config.initial_cluster);
  if (!initial.ok()) return initial.status();
  Cluster cluster = Cluster::FromInitialCluster(*initial, config.initial_cluster_token);
  const Member* self = cluster.FindByName(config.name);
  if (self == nullptr) {
    return absl::InvalidArgumentError(
        fmt::format("couldn't find local name \"{}\" in the initial cluster configuration", config.name));
  }
  if (!config.updated_peer_urls.empty()) {
    std::vector<std::string> urls = config.updated_peer_urls;
    std::sort(urls.begin(), urls.end());
    cluster.UpdatePeerUrls(self->id, urls);
  }
  if (disk->Exists(config.data_dir)) return absl::AlreadyExistsError(fmt::format("data-dir \"{}\" exists", config.data_dir));

  // A snapshot from etcd's maintenance API carries the SHA-256 of the db
  // after it (a size 32 past a multiple of 512), verified and cut off.
  std::string_view db = snapshot;
  if (db.size() % 512 == kSha256Size) {
    const std::string_view trailer = db.substr(db.size() - kSha256Size);
    db.remove_suffix(kSha256Size);
    const std::string computed = Sha256(db);
    if (computed != trailer) {
      return absl::DataLossError(fmt::format("expected sha256 {}, got {}", Hex(trailer), Hex(computed)));
    }
  } else if (!config.skip_hash_check) {
    return absl::InvalidArgumentError("snapshot missing hash but --skip-hash-check=false");
  }

  // The db: the snapshot without the old membership, consistent index = member count.
  const bbolt::ParsedImage parsed = bbolt::ParseImage(std::string(db), "snapshot");
  if (parsed.failure.has_value()) return absl::DataLossError(parsed.failure->etcd_error);
  bbolt::Buckets buckets = parsed.buckets;
  buckets.erase("members");
  buckets.erase("members_removed");
  absl::StatusOr<KvStore> kv = KvStore::FromBuckets(buckets);
  if (!kv.ok()) return kv.status();
  const uint64_t commit = cluster.members().size();
  kv->set_consistent_index(commit);
  kv->ToBuckets(&buckets);
  const std::string snap_dir = config.data_dir + "/member/snap";
  if (absl::Status s = disk->MkdirAll(snap_dir); !s.ok()) return s;
  absl::StatusOr<int> fd = disk->Open(snap_dir + "/db", {.create = true, .truncate = true});
  if (!fd.ok()) return fd.status();
  absl::Status written = disk->Pwrite(*fd, 0, bbolt::BuildImage(buckets, 1)).status();
  if (written.ok()) written = disk->Fsync(*fd);
  (void)disk->Close(*fd);
  if (!written.ok()) return written;

  // The WAL: metadata, the bootstrap conf changes at term 1, a hard state voting for the first.
  std::vector<raftpb::Entry> entries;
  std::vector<MemberId> ids;
  for (const auto& [id, member] : cluster.members()) {
    raftpb::ConfChange change;
    change.type = raftpb::ConfChangeType::kAddNode;
    change.node_id = id;
    change.context = MemberToJson(member);
    entries.push_back({1, entries.size() + 1, raftpb::EntryType::kConfChange, raftpb::Encode(change)});
    ids.push_back(id);
  }
  const std::string metadata = raftpb::Encode(raftpb::Metadata{self->id, cluster.id()});
  absl::StatusOr<std::unique_ptr<wal::Wal>> log = wal::Wal::Create(disk, config.data_dir + "/member/wal", metadata);
  if (!log.ok()) return log.status();
  if (absl::Status s = (*log)->Save({1, ids.front(), commit}, entries); !s.ok()) return s;

  // The snapshot at the last conf change, and its WAL record.
  raft::Snapshot raft_snapshot;
  raft_snapshot.index = commit;
  raft_snapshot.term = 1;
  raft_snapshot.conf.voters.insert(ids.begin(), ids.end());
  raft_snapshot.data = internal::SnapshotData(cluster, "");
  if (absl::Status s = internal::SaveSnapshotFile(disk, snap_dir, raft_snapshot); !s.ok()) return s;
  return (*log)->SaveSnapshot({commit, 1});
}

}  // namespace model::etcd
