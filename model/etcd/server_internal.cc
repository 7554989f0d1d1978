#include "model/etcd/server_internal.h"

#include <algorithm>

#include "fmt/format.h"
#include "model/pb.h"
#include "model/wal.h"

namespace model::etcd::internal {

uint16_t EphemeralPort(sim::Rng& rng) { return static_cast<uint16_t>(rng.UniformIn(32768, 60999)); }

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
  pb::Reader reader(bytes);
  while (!reader.done()) {
    int field, wire;
    if (!reader.Tag(&field, &wire)) return false;
    if (wire != 2) {
      if (!reader.Skip(wire)) return false;
      continue;
    }
    std::string value;
    if (!reader.Bytes(&value)) return false;
    if (field == 1) snapshot->data = value;
    if (field != 2) continue;
    pb::Reader meta(value);
    while (!meta.done()) {
      int f, w;
      if (!meta.Tag(&f, &w)) return false;
      if (f == 1 && w == 2) {
        std::string conf;
        if (!meta.Bytes(&conf)) return false;
        pb::Reader c(conf);
        while (!c.done()) {
          int cf, cw;
          uint64_t id;
          if (!c.Tag(&cf, &cw) || !c.Varint(&id)) return false;
          (cf == 1 ? snapshot->conf.voters : snapshot->conf.learners).insert(id);
        }
      } else if (w == 0) {
        uint64_t v;
        if (!meta.Varint(&v)) return false;
        if (f == 2) snapshot->index = v;
        if (f == 3) snapshot->term = v;
      } else if (!meta.Skip(w)) {
        return false;
      }
    }
  }
  return true;
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
  pb::Reader reader(frame);
  while (!reader.done()) {
    int field, wire;
    if (!reader.Tag(&field, &wire)) return false;
    if (wire == 0) {
      uint64_t v;
      if (!reader.Varint(&v)) return false;
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
    } else if (wire == 2) {
      std::string bytes;
      if (!reader.Bytes(&bytes)) return false;
      if (field == 11) {
        raftpb::Entry entry;
        if (!raftpb::Decode(bytes, &entry)) return false;
        m->entries.push_back(std::move(entry));
      } else if (field == 12 && !DecodeSnapshot(bytes, &m->snapshot)) {
        return false;
      }
    } else if (!reader.Skip(wire)) {
      return false;
    }
  }
  return true;
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
  pb::Reader reader(data);
  bool saw_method = false;
  while (!reader.done()) {
    int field, wire;
    if (!reader.Tag(&field, &wire)) return false;
    if (wire == 0) {
      uint64_t v;
      if (!reader.Varint(&v)) return false;
      if (field == 1) r->id = v;
    } else if (wire == 2) {
      std::string bytes;
      if (!reader.Bytes(&bytes)) return false;
      if (field == 2) {
        r->method = bytes;
        saw_method = true;
      }
      if (field == 3) r->path = bytes;
      if (field == 4) r->value = bytes;
    } else if (!reader.Skip(wire)) {
      return false;
    }
  }
  return saw_method;
}

std::string SnapshotData(const Cluster& cluster, const std::string& kv_state) {
  std::string out;
  pb::PutBytes(out, 1, cluster.Serialize());
  pb::PutBytes(out, 2, kv_state);
  return out;
}

absl::StatusOr<LoadedSnapshot> ParseSnapshotData(const raft::Snapshot& snapshot) {
  LoadedSnapshot loaded;
  loaded.snapshot = snapshot;
  pb::Reader reader(snapshot.data);
  while (!reader.done()) {
    int field, wire;
    std::string bytes;
    if (!reader.Tag(&field, &wire) || wire != 2 || !reader.Bytes(&bytes)) return absl::DataLossError("snap: bad data");
    if (field == 1) {
      absl::StatusOr<Cluster> cluster = Cluster::Deserialize(bytes);
      if (!cluster.ok()) return cluster.status();
      loaded.cluster = *std::move(cluster);
    }
    if (field == 2) loaded.kv_state = bytes;
  }
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

absl::StatusOr<LoadedSnapshot> LoadNewestSnapshot(sim::Disk* disk, const std::string& snap_dir) {
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
      pb::Reader reader(*file);
      uint64_t crc = 0;
      std::string data;
      int field, wire;
      bool parsed = true;
      while (parsed && !reader.done()) {
        parsed = reader.Tag(&field, &wire);
        if (!parsed) break;
        if (field == 1 && wire == 0) parsed = reader.Varint(&crc);
        else if (field == 2 && wire == 2) parsed = reader.Bytes(&data);
        else parsed = reader.Skip(wire);
      }
      valid = parsed && !data.empty() && wal::Crc32c(0, data) == crc && DecodeSnapshot(data, &snapshot);
    }
    if (!valid) {
      (void)disk->Rename(path, path + ".broken");
      continue;
    }
    absl::StatusOr<LoadedSnapshot> loaded = ParseSnapshotData(snapshot);
    if (loaded.ok()) return loaded;
  }
  return absl::NotFoundError("snap: no available snapshot");
}

}  // namespace model::etcd::internal
