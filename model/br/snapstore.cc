#include "model/br/snapstore.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "fmt/format.h"
#include "sim/trace.h"

namespace model::br {

std::string Snapshot::Name() const {
  return fmt::format("{}-{:08d}-{:08d}-{}{}{}", kind == Kind::kFull ? "Full" : "Incr", start_revision, last_revision,
                     created_unix, compressed ? ".gz" : "", final ? ".final" : "");
}

absl::StatusOr<Snapshot> ParseSnapshot(std::string_view key) {
  const size_t v2 = key.rfind("v2/");
  std::string_view name = v2 == std::string_view::npos ? key : key.substr(v2 + 3);
  auto invalid = [&] { return absl::InvalidArgumentError(fmt::format("invalid snapshot name: {}", std::string(name))); };
  std::vector<std::string> fields = absl::StrSplit(std::string(name), '-');
  if (fields.size() != 4) return invalid();
  Snapshot snapshot;
  if (fields[0] == "Full") {
    snapshot.kind = Snapshot::Kind::kFull;
  } else if (fields[0] == "Incr") {
    snapshot.kind = Snapshot::Kind::kDelta;
  } else {
    return invalid();
  }
  std::vector<std::string> time_and_suffix = absl::StrSplit(fields[3], '.');
  if (!absl::SimpleAtoi(fields[1], &snapshot.start_revision) || !absl::SimpleAtoi(fields[2], &snapshot.last_revision) ||
      !absl::SimpleAtoi(time_and_suffix[0], &snapshot.created_unix)) {
    return invalid();
  }
  snapshot.compressed = false;
  for (size_t i = 1; i < time_and_suffix.size(); ++i) {
    if (time_and_suffix[i] == "gz") {
      snapshot.compressed = true;
    } else if (time_and_suffix[i] == "final") {
      snapshot.final = true;
    } else {
      return invalid();
    }
  }
  if (snapshot.start_revision > snapshot.last_revision) return invalid();
  return snapshot;
}

SnapshotSet LatestSet(const std::vector<Snapshot>& sorted) {
  SnapshotSet set;
  for (auto it = sorted.rbegin(); it != sorted.rend(); ++it) {
    if (it->kind == Snapshot::Kind::kFull) {
      set.full = *it;
      break;
    }
    set.deltas.insert(set.deltas.begin(), *it);
  }
  return set;
}

absl::StatusOr<std::vector<Snapshot>> Snapstore::List() {
  absl::StatusOr<std::vector<sim::ObjectInfo>> objects = bucket_->List(prefix_);
  if (!objects.ok()) return objects.status();
  std::vector<Snapshot> snapshots;
  for (const sim::ObjectInfo& object : *objects) {
    absl::StatusOr<Snapshot> snapshot = ParseSnapshot(object.key);
    if (!snapshot.ok()) {
      sim::TraceEvent("BrLog").Detail("actor", "snapstore").Detail("msg", "Invalid snapshot found. Ignoring it:" + object.key);
      continue;
    }
    snapshots.push_back(*snapshot);
  }
  std::stable_sort(snapshots.begin(), snapshots.end(), ListedBefore);
  return snapshots;
}

bool ListedBefore(const Snapshot& a, const Snapshot& b) {
  return a.last_revision != b.last_revision ? a.last_revision < b.last_revision : a.created_unix < b.created_unix;
}

absl::Status Snapstore::Save(const Snapshot& snapshot, std::string data) { return bucket_->Put(Key(snapshot), std::move(data)); }

absl::StatusOr<std::string> Snapstore::Fetch(const Snapshot& snapshot) { return bucket_->Get(Key(snapshot)); }

absl::Status Snapstore::Delete(const Snapshot& snapshot) { return bucket_->Delete(Key(snapshot)); }

}  // namespace model::br
