// BR's restorer (etcd-backup-restore v0.35.0, pkg/snapshot/restorer/
// restorer.go) and the restore path around it (pkg/initializer
// restoreCorruptData's tail): the base full snapshot through etcd 3.4's
// snapshot restore with BR's default identity (name `default`, peer URL
// http://localhost:2380, token `etcd-cluster`: druid passes none of them),
// into `<data-dir>.part`, then the deltas after it, then the rename over
// the data dir.
//
// Deltas: upstream replays them through an embedded etcd on the restored
// dir (one Txn per mod revision, the revision checked after each delta)
// and then runs MemberUpdate to set the configmap peer URL. The model
// applies the same events to the base db with model/etcd's KvStore before
// handing it to model/etcd's restore, with the peer URL update as part of
// the restore: the restored keys, revisions and membership are the same,
// the WAL is shorter. Without deltas the peer URL stays
// http://localhost:2380, as upstream.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/bbolt.h"
#include "model/br/snapstore.h"
#include "model/etcd/kv_store.h"
#include "sim/process_context.h"

namespace model::br {

struct RestoreOptions {
  std::string data_dir = "var/etcd/data/new.etcd";
  std::string temp_dir = "var/etcd/data/restoration.temp";
  std::string peer_url;  // the pod's configmap peer URL, set after deltas
};

// Restores `set` (a full and the deltas after it) into options.data_dir.
absl::Status Restore(const sim::ProcessContext& process, Snapstore& store, const SnapshotSet& set,
                     const RestoreOptions& options);

// The db image `full` (with its SHA-256 trailer, as uploaded) after the
// delta payloads (decompressed) are applied; the result carries a trailer.
absl::StatusOr<std::string> ApplyDeltas(const std::string& full, const std::vector<Snapshot>& deltas,
                                        const std::vector<std::string>& payloads);

// ApplyDeltas one delta at a time: after Open(full) and Apply() of deltas
// 1..k, Image() is ApplyDeltas(full, deltas[0..k)). A checker that restores
// every prefix of a backup set (BackupRestores) decodes each delta once.
class DeltaApplier {
 public:
  static absl::StatusOr<DeltaApplier> Open(const std::string& full);
  // The next delta of the set; an error leaves the applier unusable.
  absl::Status Apply(const Snapshot& delta, const std::string& payload);
  // The restored db with its SHA-256 trailer.
  std::string Image() const;
  const etcd::KvStore& kv() const { return kv_; }

 private:
  DeltaApplier(bbolt::ParsedImage parsed, etcd::KvStore kv) : parsed_(std::move(parsed)), kv_(std::move(kv)) {}
  bbolt::ParsedImage parsed_;
  etcd::KvStore kv_;
  size_t applied_ = 0;
};

}  // namespace model::br
