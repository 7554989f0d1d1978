// BR's snapshots in the backup bucket (pkg/snapstore: snapshot.go,
// utils.go ParseSnapshot, swift_snapstore.go List/Save/Fetch/Delete;
// pkg/miscellaneous GetLatestFullSnapshotAndDeltaSnapList).
//
// Objects are `<prefix>/v2/<name>`, names `Full-%08d-%08d-%d` or
// `Incr-%08d-%08d-%d` (start revision, last revision, UTC Unix seconds of
// creation), then `.gz` when compressed and `.final` for a final full.
// Swift uploads chunks and then a manifest, and chunks are skipped by every
// reader, so a snapshot is invisible until its upload completes: the
// model's bucket stores each snapshot as one object, which has the same
// visibility (plus the bucket's own listing lag and ambiguous puts).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/bucket.h"

namespace model::br {

struct Snapshot {
  enum class Kind { kFull, kDelta };
  Kind kind = Kind::kFull;
  int64_t start_revision = 0;
  int64_t last_revision = 0;
  int64_t created_unix = 0;
  bool compressed = true;
  bool final = false;

  // Full-00000000-00000042-1742305012.gz
  std::string Name() const;
  bool operator==(const Snapshot&) const = default;
};

// The order BR lists snapshots in: by last revision, then creation.
bool ListedBefore(const Snapshot& a, const Snapshot& b);

// ParseSnapshot of an object key: the part after the last "v2/".
absl::StatusOr<Snapshot> ParseSnapshot(std::string_view key);

// The newest full and the deltas after it, walking the sorted list from
// its end (GetLatestFullSnapshotAndDeltaSnapList). Only deltas counts as a
// backup too.
struct SnapshotSet {
  std::optional<Snapshot> full;
  std::vector<Snapshot> deltas;
  bool empty() const { return !full.has_value() && deltas.empty(); }
};
SnapshotSet LatestSet(const std::vector<Snapshot>& sorted);

class Snapstore {
 public:
  Snapstore(sim::BucketClient* bucket, std::string prefix) : bucket_(bucket), prefix_(std::move(prefix) + "/v2/") {}

  // Every snapshot, sorted by last revision then creation; unparsable
  // names are skipped with BR's warning.
  absl::StatusOr<std::vector<Snapshot>> List();
  absl::Status Save(const Snapshot& snapshot, std::string data);
  absl::StatusOr<std::string> Fetch(const Snapshot& snapshot);
  absl::Status Delete(const Snapshot& snapshot);
  std::string Key(const Snapshot& snapshot) const { return prefix_ + snapshot.Name(); }

 private:
  sim::BucketClient* bucket_;
  std::string prefix_;
};

}  // namespace model::br
