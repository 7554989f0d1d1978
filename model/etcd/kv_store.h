// etcd's MVCC key-value store (mvcc/), in memory, persisted into the bbolt
// buckets as etcd lays them out: "key" maps revision keys (8-byte big-endian
// main revision, '_', 8-byte sub revision, and 't' for tombstones) to
// mvccpb.KeyValue; "meta" holds consistent_index (8 bytes big-endian) and the
// compaction revisions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/bbolt.h"
#include "model/etcd/api.pb.h"

namespace model::etcd {

using etcd_dst::etcd::KeyValue;

inline constexpr char kErrCompacted[] = "mvcc: required revision has been compacted";
inline constexpr char kErrFutureRevision[] = "mvcc: required revision is a future revision";

struct Revision {
  int64_t main = 0;
  int64_t sub = 0;
  auto operator<=>(const Revision&) const = default;
};
std::string RevisionKey(Revision revision, bool tombstone);

class KvStore {
 public:
  int64_t revision() const { return revision_; }
  int64_t compacted() const { return compacted_; }
  uint64_t consistent_index() const { return consistent_index_; }
  void set_consistent_index(uint64_t index) { consistent_index_ = index; }

  // Reads at `at` (0: the current revision); keys in [key, range_end), or
  // just `key` when range_end is empty, or all keys >= key when it is "\0".
  absl::StatusOr<std::vector<KeyValue>> Range(const std::string& key, const std::string& range_end, int64_t at,
                                              int64_t limit, int64_t* count) const;

  // A write transaction: every change in it shares one main revision.
  class Write {
   public:
    explicit Write(KvStore* store) : store_(store) {}
    ~Write();
    std::optional<KeyValue> Put(const std::string& key, const std::string& value, int64_t lease);
    std::vector<KeyValue> DeleteRange(const std::string& key, const std::string& range_end);

   private:
    KvStore* store_;
    int64_t sub_ = 0;
  };

  absl::Status Compact(int64_t revision);

  // Changes made since the last call, in revision order (for watchers).
  std::vector<etcd_dst::etcd::Event> TakeEvents();
  // Every change to keys in the range at or after `start` (OutOfRange if
  // `start` was compacted), in revision order.
  absl::StatusOr<std::vector<etcd_dst::etcd::Event>> EventsSince(const std::string& key, const std::string& range_end,
                                                                 int64_t start) const;
  // Keys attached to `lease`.
  std::vector<std::string> KeysWithLease(int64_t lease) const;
  etcd_dst::etcd::TxnResponse Txn(const etcd_dst::etcd::TxnRequest& request);

  // The bbolt buckets for this state (besides membership).
  void ToBuckets(bbolt::Buckets* buckets) const;
  // What changed in the "key" and "meta" buckets since the last call (or
  // since FromBuckets), for the backend's next commit.
  void TakeBackendChanges(bbolt::Changes* changes);
  static absl::StatusOr<KvStore> FromBuckets(const bbolt::Buckets& buckets);

 private:
  struct Version {
    Revision revision;
    bool tombstone = false;
    KeyValue kv;
  };
  bbolt::Bucket MetaBucket() const;  // consistent index and compaction revisions
  std::vector<std::string> KeysIn(const std::string& key, const std::string& range_end) const;
  const Version* VersionAt(const std::string& key, int64_t at) const;
  bool CompareMatches(const etcd_dst::etcd::Compare& compare) const;
 public:
  // Whether `key` falls in [key_start, range_end) as the API defines ranges.
  static bool InRange(const std::string& key, const std::string& start, const std::string& range_end);

 private:

  std::map<std::string, std::vector<Version>> keys_;
  int64_t revision_ = 1;  // etcd starts at revision 1
  int64_t compacted_ = 0;
  uint64_t consistent_index_ = 0;
  std::vector<etcd_dst::etcd::Event> events_;
  std::map<std::string, std::optional<std::string>> backend_changes_;  // revision key -> value, or deleted
};

}  // namespace model::etcd
