// BR's data validator (etcd-backup-restore v0.35.0,
// pkg/initializer/validator/datavalidator.go, types.go), on the pod's volume.
//
// sanityCheck (both modes): the safe-guard file, the data dir, its
// structure (member, member/snap, member/wal), then, with a snapstore, the
// bbolt file opened READ-ONLY for its revision (size 0, under two pages, or
// no `key` bucket: Corrupt; a bbolt panic: BoltDBCorrupt; a page past the
// end: SIGBUS, which kills BR); multi-node skips the revision check; a single
// node compares with the latest snapshot's revision and, if behind, replays
// the WAL in an embedded etcd for up to 60 s. Full mode then checks for
// corruption (snap files, WAL with one repair, bbolt opened read-write).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "model/br/initialization.h"
#include "model/br/profile.h"
#include "model/br/snapstore.h"
#include "sim/process_context.h"

namespace model::br {

enum class DataDirStatus {
  kValid,
  kWrongVolumeMounted,
  kNotExist,
  kInvStruct,
  kCorrupt,
  kBoltDBCorrupt,
  kStatusUnknown,
  kInvalidInMultiNode,
  kRevisionConsistencyError,
  kFailBelowRevisionConsistencyError,
  kFailToOpenBoltDB,
};
const char* DataDirStatusName(DataDirStatus status);

class Validator {
 public:
  struct Options {
    std::string data_dir = "var/etcd/data/new.etcd";
    std::string safe_guard = "var/etcd/data/safe_guard";
    std::string pod_namespace = "default";  // POD_NAMESPACE
    int original_cluster_size = 1;
    Snapstore* store = nullptr;  // nullptr: no snapstore configured
    // br-fixed F4: the safe guard is written crash-safely, and an empty one
    // (a creation torn by a power loss or a full disk) is written again.
    Profile profile = Profile::kV035;
  };
  Validator(const sim::ProcessContext& process, Options options) : process_(process), options_(std::move(options)) {}

  // Validate: sanityCheck, checkStatus on a non-valid result, corruption
  // check in full mode. An error is a crash of BR (Fatalf or SIGBUS).
  // `listed` gets what checkStatus's listing returned, if it listed.
  absl::StatusOr<DataDirStatus> Validate(ValidationMode mode, std::optional<std::vector<Snapshot>>* listed);
  absl::StatusOr<DataDirStatus> SanityCheck();
  // checkStatus with IsBackupBucketEmpty; `listed` gets what the listing
  // returned (br-fixed hands it to the restore).
  DataDirStatus CheckStatus(DataDirStatus status, std::optional<std::vector<Snapshot>>* listed = nullptr);
  // IsBackupBucketEmpty: a List error counts as empty.
  bool IsBackupBucketEmpty(std::optional<std::vector<Snapshot>>* listed = nullptr);
  absl::Status CheckForDataCorruption();

  // The revision in the bbolt file's `key` bucket (its last key's main
  // revision, or 1), or the open's failure as a status.
  static absl::StatusOr<int64_t> DbRevision(sim::Disk* disk, const std::string& db_path, bool* panicked,
                                            bool* sigbus);

 private:
  absl::StatusOr<DataDirStatus> CheckRevisionConsistency(int64_t db_revision);
  // os.WriteFile (v0.35: no fsync), or br-fixed's temp file, fsync, rename,
  // fsync of the directory.
  absl::Status WriteSafeGuard();

  sim::ProcessContext process_;
  Options options_;
};

}  // namespace model::br
