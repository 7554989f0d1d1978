#include "model/etcd/server_internal.h"

#include <algorithm>

#include "fmt/format.h"
#include "model/pb.h"
#include "model/wal.h"

namespace model::etcd::internal {

raft::Config RaftConfig(const EtcdConfig& config, MemberId id, sim::Rng* rng) {
  raft::Config raft;
  raft.id = id;
  raft.heartbeat_ticks = 1;
  raft.election_ticks = static_cast<int>(config.election.nanos() / config.heartbeat.nanos());
  raft.check_quorum = true;
  raft.rng = rng;
  return raft;
}

namespace {

void PutEntries(std::string& out, int field, const std::vector<raftpb::Entry>& entries) {
  for (const raftpb::Entry& entry : entries) pb::PutBytes(out, field, raftpb::Encode(entry));
}

std::string EncodeSnapshot(const raft::Snapshot& snapshot) {
  std::string conf;
  for (uint64_t id : snapshot.conf.voters) pb::PutUint(conf, 1, id);
  for (uint64_t id : snapshot.conf.learners) pb::PutUint(conf, 2, id);
  std::string metadata;
  pb::PutBytes(metadata, 1, conf);
  pb::PutUint(metadata, 2, snapshot.index);
  pb::PutUint(metadata, 3, snapshot.term);
  std::string out;
  pb::PutBytes(out, 1, snapshot.data);
  pb::PutBytes(out, 2, metadata);
  return out;
}

bool DecodeSnapshot(std::string_view bytes, raft::Snapshot* snapshot) {
  auto ignore = [](int, uint64_t) { return true; };
  auto conf = [&](int field, uint64_t id) {
    (field == 1 ? snapshot->conf.voters : snapshot->conf.learners).insert(id);
    return true;
  };
  auto metadata = [&](int field, uint64_t v) {
    if (field == 2) snapshot->index = v;
    if (field == 3) snapshot->term = v;
    return true;
  };
  return pb::Walk(bytes, ignore, [&](int field, std::string value) {
    if (field == 1) snapshot->data = std::move(value);
    if (field != 2) return true;
    return pb::Walk(value, metadata, [&](int f, std::string nested) {
      return f != 1 || pb::Walk(nested, conf, [](int, std::string) { return true; });
    });
  });
}

}  // namespace

std::string EncodePeerFrame(ClusterId cluster, const raft::Message& m) {
  std::string out;
  pb::PutUint(out, 1, cluster);
  pb::PutUint(out, 2, static_cast<uint64_t>(m.type));
  pb::PutUint(out, 3, m.from);
  pb::PutUint(out, 4, m.to);
  pb::PutUint(out, 5, m.term);
  pb::PutUint(out, 6, m.log_term);
  pb::PutUint(out, 7, m.index);
  pb::PutUint(out, 8, m.commit);
  pb::PutUint(out, 9, m.reject ? 1 : 0);
  pb::PutUint(out, 10, m.reject_hint);
  PutEntries(out, 11, m.entries);
  if (!m.snapshot.empty()) pb::PutBytes(out, 12, EncodeSnapshot(m.snapshot));
  return out;
}

bool DecodePeerFrame(const std::string& frame, ClusterId* cluster, raft::Message* m) {
  *m = raft::Message();
  auto scalar = [&](int field, uint64_t v) {
    switch (field) {
      case 1: *cluster = v; break;
      case 2: m->type = static_cast<raft::MessageType>(v); break;
      case 3: m->from = v; break;
      case 4: m->to = v; break;
      case 5: m->term = v; break;
      case 6: m->log_term = v; break;
      case 7: m->index = v; break;
      case 8: m->commit = v; break;
      case 9: m->reject = v != 0; break;
      case 10: m->reject_hint = v; break;
    }
    return true;
  };
  return pb::Walk(frame, scalar, [&](int field, std::string bytes) {
    if (field == 11) {
      raftpb::Entry entry;
      if (!raftpb::Decode(bytes, &entry)) return false;
      m->entries.push_back(std::move(entry));
    }
    return field != 12 || DecodeSnapshot(bytes, &m->snapshot);
  });
}

std::string EncodeV2Request(const V2Request& r) {
  // Fields in number order; non-nullable zero values are written; PrevExist (8)
  // and Refresh (17) are nullable and absent.
  std::string out;
  pb::PutUint(out, 1, r.id);
  pb::PutBytes(out, 2, r.method);
  pb::PutBytes(out, 3, r.path);
  pb::PutBytes(out, 4, r.value);
  pb::PutUint(out, 5, 0);       // Dir
  pb::PutBytes(out, 6, "");     // PrevValue
  pb::PutUint(out, 7, 0);       // PrevIndex
  pb::PutUint(out, 9, 0);       // Expiration
  pb::PutUint(out, 10, 0);      // Wait
  pb::PutUint(out, 11, 0);      // Since
  pb::PutUint(out, 12, 0);      // Recursive
  pb::PutUint(out, 13, 0);      // Sorted
  pb::PutUint(out, 14, 0);      // Quorum
  pb::PutUint(out, 15, 0);      // Time
  pb::PutUint(out, 16, 0);      // Stream
  return out;
}

bool DecodeV2Request(std::string_view data, V2Request* r) {
  *r = V2Request();
  bool saw_method = false;
  const bool parsed = pb::Walk(
      data,
      [&](int field, uint64_t v) {
        if (field == 1) r->id = v;
        return true;
      },
      [&](int field, std::string bytes) {
        if (field == 2) {
          r->method = std::move(bytes);
          saw_method = true;
        } else if (field == 3) {
          r->path = std::move(bytes);
        } else if (field == 4) {
          r->value = std::move(bytes);
        }
        return true;
      });
  return parsed && saw_method;
}

std::string SnapshotData(const Cluster& cluster, const std::string& backend) {
  std::string out;
  pb::PutBytes(out, 1, cluster.SerializeV2Store());
  pb::PutBytes(out, 2, backend);
  return out;
}

absl::StatusOr<LoadedSnapshot> ParseSnapshotData(const raft::Snapshot& snapshot) {
  LoadedSnapshot loaded;
  loaded.snapshot = snapshot;
  absl::Status cluster_status;
  const bool parsed = pb::Walk(
      snapshot.data, [](int, uint64_t) { return false; },
      [&](int field, std::string bytes) {
        if (field == 1) {
          absl::StatusOr<Cluster> cluster = Cluster::Deserialize(bytes);
          cluster_status = cluster.status();
          if (cluster.ok()) loaded.cluster = *std::move(cluster);
        } else if (field == 2) {
          loaded.backend = std::move(bytes);
        }
        return cluster_status.ok();
      });
  if (!cluster_status.ok()) return cluster_status;
  if (!parsed) return absl::DataLossError("snap: bad data");
  return loaded;
}

absl::Status SaveSnapshotFile(sim::Disk* disk, const std::string& snap_dir, const raft::Snapshot& snapshot) {
  const std::string data = EncodeSnapshot(snapshot);
  std::string file;
  pb::PutUint(file, 1, wal::Crc32c(0, data));
  pb::PutBytes(file, 2, data);
  const std::string path = fmt::format("{}/{:016x}-{:016x}.snap", snap_dir, snapshot.term, snapshot.index);
  // etcd's pioutil.WriteAndSyncFile: write, fsync, close.
  absl::StatusOr<int> fd = disk->Open(path, {.create = true, .truncate = true});
  if (!fd.ok()) return fd.status();
  absl::Status status = disk->Pwrite(*fd, 0, file).status();
  if (status.ok()) status = disk->Fsync(*fd);
  (void)disk->Close(*fd);
  return status;
}

std::string DbSnapshotPath(const std::string& snap_dir, uint64_t index) {
  return fmt::format("{}/{:016x}.snap.db", snap_dir, index);
}

absl::Status SaveDbSnapshot(sim::Disk* disk, const std::string& snap_dir, uint64_t index, const std::string& db) {
  const std::string temp = fmt::format("{}/tmp{}", snap_dir, index);
  absl::StatusOr<int> fd = disk->Open(temp, {.create = true, .truncate = true});
  if (!fd.ok()) return fd.status();
  absl::Status status = disk->Pwrite(*fd, 0, db).status();
  if (status.ok()) status = disk->Fsync(*fd);
  (void)disk->Close(*fd);
  if (!status.ok()) {
    (void)disk->Unlink(temp);
    return status;
  }
  return disk->Rename(temp, DbSnapshotPath(snap_dir, index));
}

absl::StatusOr<LoadedSnapshot> LoadNewestSnapshot(sim::Disk* disk, const std::string& snap_dir,
                                                  const std::vector<raftpb::WalSnapshot>* wal_snapshots) {
  absl::StatusOr<std::vector<std::string>> names = disk->ReadDir(snap_dir);
  if (!names.ok()) return absl::NotFoundError("snap: no available snapshot");
  std::vector<std::string> snaps;
  for (const std::string& name : *names) {
    if (name.size() > 5 && name.ends_with(".snap")) snaps.push_back(name);
  }
  std::sort(snaps.rbegin(), snaps.rend());
  for (const std::string& name : snaps) {
    const std::string path = snap_dir + "/" + name;
    absl::StatusOr<std::string> file = disk->ReadFile(path);
    bool valid = false;
    raft::Snapshot snapshot;
    if (file.ok()) {
      uint64_t crc = 0;
      std::string data;
      const bool parsed = pb::Walk(
          *file,
          [&](int field, uint64_t v) {
            if (field == 1) crc = v;
            return true;
          },
          [&](int field, std::string bytes) {
            if (field == 2) data = std::move(bytes);
            return true;
          });
      valid = parsed && !data.empty() && wal::Crc32c(0, data) == crc && DecodeSnapshot(data, &snapshot);
    }
    if (!valid) {
      (void)disk->Rename(path, path + ".broken");
      continue;
    }
    if (wal_snapshots != nullptr &&
        std::find(wal_snapshots->begin(), wal_snapshots->end(), raftpb::WalSnapshot{snapshot.index, snapshot.term}) ==
            wal_snapshots->end()) {
      continue;
    }
    absl::StatusOr<LoadedSnapshot> loaded = ParseSnapshotData(snapshot);
    if (loaded.ok()) return loaded;
  }
  return absl::NotFoundError("snap: no available snapshot");
}

}  // namespace model::etcd::internal
