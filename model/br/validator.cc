#include "model/br/validator.h"

#include <algorithm>
#include <memory>

#include "fmt/format.h"
#include "model/bbolt.h"
#include "model/br/log.h"
#include "model/etcd/client.h"
#include "model/etcd/server.h"
#include "model/etcd/server_internal.h"
#include "model/wal.h"
#include "sim/disk.h"
#include "sim/scheduler.h"

namespace model::br {
namespace {
constexpr char kActor[] = "validator";

bool HasSnapFile(sim::Disk* disk, const std::string& snap_dir) {
  absl::StatusOr<std::vector<std::string>> names = disk->ReadDir(snap_dir);
  if (!names.ok()) return false;
  return std::any_of(names->begin(), names->end(), [](const std::string& name) { return name.ends_with(".snap"); });
}
}  // namespace

const char* DataDirStatusName(DataDirStatus status) {
  switch (status) {
    case DataDirStatus::kValid: return "DataDirectoryValid";
    case DataDirStatus::kWrongVolumeMounted: return "WrongVolumeMounted";
    case DataDirStatus::kNotExist: return "DataDirectoryNotExist";
    case DataDirStatus::kInvStruct: return "DataDirectoryInvStruct";
    case DataDirStatus::kCorrupt: return "DataDirectoryCorrupt";
    case DataDirStatus::kBoltDBCorrupt: return "BoltDBCorrupt";
    case DataDirStatus::kStatusUnknown: return "DataDirectoryStatusUnknown";
    case DataDirStatus::kInvalidInMultiNode: return "DataDirStatusInvalidInMultiNode";
    case DataDirStatus::kRevisionConsistencyError: return "RevisionConsistencyError";
    case DataDirStatus::kFailBelowRevisionConsistencyError: return "FailBelowRevisionConsistencyError";
    case DataDirStatus::kFailToOpenBoltDB: return "FailToOpenBoltDBError";
  }
  return "DataDirectoryStatusUnknown";
}

absl::StatusOr<int64_t> Validator::DbRevision(sim::Disk* disk, const std::string& db_path, bool* panicked,
                                              bool* sigbus) {
  *panicked = false;
  *sigbus = false;
  absl::StatusOr<std::string> image = disk->ReadFile(db_path);
  if (!image.ok()) return image.status();
  // Read-only: an empty file cannot be initialised.
  if (image->empty()) return absl::DataLossError("file size too small");
  const bbolt::ParsedImage parsed = bbolt::ParseImage(*image, db_path);
  if (parsed.failure.has_value()) {
    *panicked = parsed.failure->kind == bbolt::OpenFailure::Kind::kPanic;
    *sigbus = parsed.failure->kind == bbolt::OpenFailure::Kind::kSigbus;
    return absl::DataLossError(parsed.failure->bbolt_error);
  }
  auto key = parsed.buckets.find("key");
  if (key == parsed.buckets.end()) return absl::NotFoundError("bucket key not found");
  if (key->second.empty()) return 1;
  const std::string& last = key->second.rbegin()->first;
  if (last.size() < 8) return absl::DataLossError("malformed revision key");
  int64_t revision = 0;
  for (int i = 0; i < 8; ++i) revision = (revision << 8) | static_cast<uint8_t>(last[i]);
  return revision;
}

absl::Status Validator::WriteSafeGuard() {
  sim::Disk* disk = process_.volume;
  if (options_.profile != Profile::kFixed) return disk->WriteFile(options_.safe_guard, options_.pod_namespace);
  const std::string tmp = options_.safe_guard + ".tmp";
  absl::StatusOr<int> fd = disk->Open(tmp, {.create = true, .truncate = true});
  if (!fd.ok()) return fd.status();
  absl::Status written = disk->Pwrite(*fd, 0, options_.pod_namespace).status();
  if (written.ok()) written = disk->Fsync(*fd);
  (void)disk->Close(*fd);
  if (!written.ok()) return written;
  if (absl::Status s = disk->Rename(tmp, options_.safe_guard); !s.ok()) return s;
  return disk->FsyncDir(options_.safe_guard.substr(0, options_.safe_guard.rfind('/')));
}

absl::StatusOr<DataDirStatus> Validator::SanityCheck() {
  sim::Disk* disk = process_.volume;
  // 1. The safe guard: the volume belongs to this namespace. Its directory
  // is the volume's mount point, which always exists in the pod.
  (void)disk->MkdirAll(options_.safe_guard.substr(0, options_.safe_guard.rfind('/')));
  const bool torn = options_.profile == Profile::kFixed &&
                    disk->Stat(options_.safe_guard).value_or(sim::FileStat{.size = 1}).size == 0;
  if (!disk->Exists(options_.safe_guard) || torn) {
    if (absl::Status s = WriteSafeGuard(); !s.ok()) {
      return absl::InternalError(fmt::format("can't create `safe_guard` file because : {}", std::string(s.message())));
    }
  }
  absl::StatusOr<std::string> guard = disk->ReadFile(options_.safe_guard);
  if (!guard.ok()) {
    Log(kActor, fmt::format("can't read the content of the `safe_guard` file to determine if a wrong volume is mounted: {}",
                            std::string(guard.status().message())));
    return DataDirStatus::kWrongVolumeMounted;
  }
  if (*guard != options_.pod_namespace) {
    Log(kActor, fmt::format("wrong volume is mounted. The shoot name derived from namespace is {} and the content of "
                            "`safe_guard` file at {} is {}",
                            options_.pod_namespace, options_.safe_guard, *guard));
    return DataDirStatus::kWrongVolumeMounted;
  }
  // 2., 3. The directory and its structure.
  if (!disk->Exists(options_.data_dir)) return DataDirStatus::kNotExist;
  Log(kActor, "Checking for data directory structure validity...");
  for (const char* sub : {"/member", "/member/snap", "/member/wal"}) {
    if (!disk->Exists(options_.data_dir + sub)) {
      Log(kActor, "Data directory structure invalid.");
      return DataDirStatus::kInvStruct;
    }
  }
  // 4. Without a snapstore, bbolt is never opened.
  if (options_.store == nullptr) {
    Log(kActor, "Skipping check for revision consistency, since no snapstore configured.");
    return DataDirStatus::kValid;
  }
  // 5. The revision, read-only.
  Log(kActor, "Checking for Etcd revision...");
  bool panicked = false, sigbus = false;
  absl::StatusOr<int64_t> revision = DbRevision(disk, options_.data_dir + "/member/snap/db", &panicked, &sigbus);
  // br-fixed F6: the db is read with Go's debug.SetPanicOnFault(true), so a
  // fault on a page pointer past the file is a recovered panic like any
  // other invalid page; v0.35 dies of it (a fatal runtime error) and the
  // kubelet restarts it into the same read, for ever.
  if (sigbus && options_.profile != Profile::kFixed) {
    return absl::InternalError("unexpected fault address (SIGBUS reading member/snap/db)");
  }
  if (panicked || sigbus) {
    Log(kActor, "Bolt database panic: database file found to be invalid.");
    return DataDirStatus::kBoltDBCorrupt;
  }
  // br-fixed F10: a db without the `key` bucket is one etcd never committed
  // to (it died in its first start, before mvcc's first commit). With a WAL
  // beside it and no raft snapshot, the WAL holds the whole history: etcd
  // creates the buckets and replays it. It is empty, not corrupt (the WAL is
  // verified below like any other).
  if (!revision.ok() && options_.profile == Profile::kFixed && absl::IsNotFound(revision.status()) &&
      wal::Exists(disk, options_.data_dir + "/member/wal") && !HasSnapFile(disk, options_.data_dir + "/member/snap")) {
    Log(kActor, "The backend db has no key bucket yet: etcd rebuilds it from the WAL.");
    revision = 1;
  }
  if (!revision.ok() && options_.profile == Profile::kFixed && sim::IsIoError(revision.status())) {
    // br-fixed F7, for the revision read too (sanity mode reads nothing
    // else): a failed read is not a corrupt db.
    Log(kActor, fmt::format("Data directory could not be read, not judged: {}", std::string(revision.status().message())));
    return absl::UnavailableError(
        fmt::format("failed to read the etcd revision: {}", std::string(revision.status().message())));
  }
  if (!revision.ok()) {
    Log(kActor, fmt::format("unable to get current etcd revision from backend db file: {}",
                            std::string(revision.status().message())));
    return DataDirStatus::kCorrupt;
  }
  // 6. A member of several gets in sync with its leader.
  if (options_.original_cluster_size > 1) {
    Log(kActor, "Skipping check for revision consistency of etcd member as it will get in sync with etcd leader.");
    return DataDirStatus::kValid;
  }
  return CheckRevisionConsistency(*revision);
}

// 7. A single member must hold at least the latest snapshot's revision; if
// its db is behind, an embedded etcd replays the WAL first.
absl::StatusOr<DataDirStatus> Validator::CheckRevisionConsistency(int64_t db_revision) {
  absl::StatusOr<std::vector<Snapshot>> listed = options_.store->List();
  if (!listed.ok()) return DataDirStatus::kStatusUnknown;
  const SnapshotSet latest = LatestSet(*listed);
  if (latest.empty()) return DataDirStatus::kValid;
  const int64_t snapshot_revision =
      latest.deltas.empty() ? latest.full->last_revision : latest.deltas.back().last_revision;
  if (db_revision >= snapshot_revision) return DataDirStatus::kValid;
  Log(kActor, fmt::format("Etcd revision ({}) is less than latest snapshot revision ({}): starting an embedded etcd",
                          db_revision, snapshot_revision));
  model::etcd::EtcdConfig config;
  config.data_dir = options_.data_dir;
  // The embedded etcd's actors unwind after the kill, and may still touch
  // it: it is freed once none is left (also when this actor is killed
  // while it waits, e.g. with its container).
  auto embedded = std::make_shared<model::etcd::EtcdServer>(process_, config);
  sim::Scheduler* scheduler = process_.scheduler;
  sim::Group* group = scheduler->CreateGroup("embedded-etcd", scheduler->current()->group());
  struct Reaper {
    sim::Scheduler* scheduler;
    sim::Group* group;
    std::shared_ptr<model::etcd::EtcdServer> server;
    ~Reaper() {
      scheduler->KillGroup(group);
      Release(scheduler, group, std::move(server));
    }
    static void Release(sim::Scheduler* scheduler, sim::Group* group, std::shared_ptr<model::etcd::EtcdServer> server) {
      if (scheduler->LiveActorsUnder(group) == 0) return;  // the last reference goes now
      scheduler->ScheduleAfter(sim::SimDuration::Millis(10), [scheduler, group, server = std::move(server)]() mutable {
        Release(scheduler, group, std::move(server));
      });
    }
  } reaper{scheduler, group, embedded};
  embedded->Start(group);
  model::etcd::Client client(process_.network, process_.node, {"http://localhost:2379"}, process_.rng,
                             sim::SimDuration::Seconds(1), process_.resolver);
  DataDirStatus status = DataDirStatus::kRevisionConsistencyError;
  for (int second = 0; second < 60; ++second) {
    if (embedded->state() == model::etcd::EtcdServer::State::kFailed) {
      status = DataDirStatus::kCorrupt;
      break;
    }
    absl::StatusOr<etcd_dst::etcd::StatusResponse> answer = client.Status();
    if (answer.ok() && answer->header().revision() >= snapshot_revision) {
      status = DataDirStatus::kValid;
      break;
    }
    sim::this_actor::SleepFor(sim::SimDuration::Seconds(1));
  }
  return status;  // the reaper kills the group
}

bool Validator::IsBackupBucketEmpty(std::optional<std::vector<Snapshot>>* listed) {
  Log("miscellaneous", "Checking whether the backup bucket is empty or not...");
  if (options_.store == nullptr) return true;
  absl::StatusOr<std::vector<Snapshot>> snapshots = options_.store->List();
  if (!snapshots.ok()) {
    Log("miscellaneous", fmt::format("failed to list the snapshot: {}", std::string(snapshots.status().message())));
    if (listed != nullptr) *listed = std::vector<Snapshot>{};
    return true;
  }
  if (listed != nullptr) *listed = *snapshots;
  if (LatestSet(*snapshots).empty()) {
    Log("miscellaneous", "No snapshot found. BackupBucket is empty");
    return true;
  }
  return false;
}

DataDirStatus Validator::CheckStatus(DataDirStatus status, std::optional<std::vector<Snapshot>>* listed) {
  if (status == DataDirStatus::kWrongVolumeMounted || status == DataDirStatus::kFailToOpenBoltDB) return status;
  if (options_.original_cluster_size > 1 && !IsBackupBucketEmpty(listed)) return DataDirStatus::kInvalidInMultiNode;
  return status;
}

absl::Status Validator::CheckForDataCorruption() {
  sim::Disk* disk = process_.volume;
  Log(kActor, "Verifying snap directory...");
  const std::string wal_dir = options_.data_dir + "/member/wal";
  raftpb::WalSnapshot walsnap;
  // br-fixed F12: the newest snap file the WAL records, as etcd 3.4.23
  // picks at its restart; v0.35's snap.Load takes the newest file, and a
  // snap file whose WAL record a crash (or a failed fsync) cut off makes
  // wal.Verify fail with "snapshot not found": a data dir etcd starts from
  // is called corrupt, and restored.
  std::optional<std::vector<raftpb::WalSnapshot>> recorded;
  if (options_.profile == Profile::kFixed) {
    absl::StatusOr<std::vector<raftpb::WalSnapshot>> entries = wal::ValidSnapshotEntries(disk, wal_dir);
    if (entries.ok()) recorded = *std::move(entries);
  }
  absl::StatusOr<model::etcd::internal::LoadedSnapshot> snap = model::etcd::internal::LoadNewestSnapshot(
      disk, options_.data_dir + "/member/snap", recorded.has_value() ? &*recorded : nullptr);
  if (snap.ok()) {
    walsnap = {snap->snapshot.index, snap->snapshot.term};
  } else if (!absl::IsNotFound(snap.status())) {
    return absl::DataLossError(fmt::format("invalid snapshot file: {}", std::string(snap.status().message())));
  }
  Log(kActor, "Verifying WAL directory...");
  wal::ReadResult read;
  absl::StatusOr<std::unique_ptr<wal::Wal>> opened = wal::Wal::Open(disk, wal_dir, walsnap, &read);
  if (!opened.ok() && opened.status().message() == "unexpected EOF" && wal::Repair(disk, wal_dir)) {
    opened = wal::Wal::Open(disk, wal_dir, walsnap, &read);
  }
  if (!opened.ok()) return opened.status();
  opened->reset();
  Log(kActor, "Verifying DB file...");
  absl::StatusOr<bbolt::Db::OpenResult> db = bbolt::Db::Open(disk, options_.data_dir + "/member/snap/db");
  if (!db.ok()) return db.status();
  if (db->failure.has_value()) return absl::DataLossError(db->failure->bbolt_error);
  return absl::OkStatus();
}

absl::StatusOr<DataDirStatus> Validator::Validate(ValidationMode mode, std::optional<std::vector<Snapshot>>* listed) {
  absl::StatusOr<DataDirStatus> status = SanityCheck();
  if (!status.ok()) return status;
  if (*status != DataDirStatus::kValid) return CheckStatus(*status, listed);
  if (mode == ValidationMode::kFull) {
    if (absl::Status s = CheckForDataCorruption(); !s.ok()) {
      // br-fixed F7: a read that failed (EIO) says nothing about the data;
      // calling it corrupt makes a single member restore from the bucket and
      // drop every write since the last delta. Fail, and be asked again.
      if (options_.profile == Profile::kFixed && sim::IsIoError(s)) {
        Log(kActor, fmt::format("Data directory could not be read, not judged: {}", std::string(s.message())));
        return absl::UnavailableError(fmt::format("failed to verify the data directory: {}", std::string(s.message())));
      }
      Log(kActor, fmt::format("Data directory corrupt. {}", std::string(s.message())));
      return DataDirStatus::kCorrupt;
    }
  }
  Log(kActor, "Data directory valid.");
  return DataDirStatus::kValid;
}

}  // namespace model::br
