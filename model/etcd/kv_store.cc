#include "model/etcd/kv_store.h"

#include <algorithm>

namespace model::etcd {
namespace {

void PutBigEndian(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}
uint64_t GetBigEndian(std::string_view b) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(b[i]);
  return v;
}

}  // namespace

std::string RevisionKey(Revision revision, bool tombstone) {
  std::string key;
  PutBigEndian(key, static_cast<uint64_t>(revision.main));
  key.push_back('_');
  PutBigEndian(key, static_cast<uint64_t>(revision.sub));
  if (tombstone) key.push_back('t');
  return key;
}

std::vector<std::string> KvStore::KeysIn(const std::string& key, const std::string& range_end) const {
  std::vector<std::string> keys;
  if (range_end.empty()) {
    if (keys_.contains(key)) keys.push_back(key);
    return keys;
  }
  const bool to_end = range_end == std::string(1, '\0');
  for (auto it = keys_.lower_bound(key); it != keys_.end() && (to_end || it->first < range_end); ++it) {
    keys.push_back(it->first);
  }
  return keys;
}

const KvStore::Version* KvStore::VersionAt(const std::string& key, int64_t at) const {
  auto it = keys_.find(key);
  if (it == keys_.end()) return nullptr;
  const Version* found = nullptr;
  for (const Version& version : it->second) {
    if (version.revision.main > at) break;
    found = &version;
  }
  return found == nullptr || found->tombstone ? nullptr : found;
}

absl::StatusOr<std::vector<KeyValue>> KvStore::Range(const std::string& key, const std::string& range_end, int64_t at,
                                                     int64_t limit, int64_t* count) const {
  if (at == 0) at = revision_;
  if (at > revision_) return absl::OutOfRangeError(kErrFutureRevision);
  if (at < compacted_) return absl::OutOfRangeError(kErrCompacted);
  std::vector<KeyValue> found;
  int64_t total = 0;
  for (const std::string& name : KeysIn(key, range_end)) {
    const Version* version = VersionAt(name, at);
    if (version == nullptr) continue;
    ++total;
    if (limit <= 0 || static_cast<int64_t>(found.size()) < limit) found.push_back(version->kv);
  }
  if (count != nullptr) *count = total;
  return found;
}

KvStore::Write::~Write() {
  if (sub_ > 0) ++store_->revision_;
}

std::optional<KeyValue> KvStore::Write::Put(const std::string& key, const std::string& value, int64_t lease) {
  const Revision revision{store_->revision_ + 1, sub_++};
  std::optional<KeyValue> previous;
  KeyValue kv;
  kv.set_key(key);
  kv.set_value(value);
  kv.set_lease(lease);
  kv.set_mod_revision(revision.main);
  if (const Version* current = store_->VersionAt(key, store_->revision_ + 1)) {
    previous = current->kv;
    kv.set_create_revision(current->kv.create_revision());
    kv.set_version(current->kv.version() + 1);
  } else {
    kv.set_create_revision(revision.main);
    kv.set_version(1);
  }
  store_->backend_changes_[RevisionKey(revision, false)] = kv.SerializeAsString();
  store_->keys_[key].push_back({revision, false, kv});
  etcd_dst::etcd::Event event;
  event.set_type(etcd_dst::etcd::Event::PUT);
  *event.mutable_kv() = kv;
  if (previous) *event.mutable_prev_kv() = *previous;
  store_->events_.push_back(std::move(event));
  return previous;
}

std::vector<KeyValue> KvStore::Write::DeleteRange(const std::string& key, const std::string& range_end) {
  std::vector<KeyValue> deleted;
  for (const std::string& name : store_->KeysIn(key, range_end)) {
    const Version* current = store_->VersionAt(name, store_->revision_ + 1);
    if (current == nullptr) continue;
    deleted.push_back(current->kv);
    KeyValue tombstone;
    tombstone.set_key(name);
    const Revision revision{store_->revision_ + 1, sub_++};
    store_->backend_changes_[RevisionKey(revision, true)] = tombstone.SerializeAsString();
    store_->keys_[name].push_back({revision, true, tombstone});
    etcd_dst::etcd::Event event;
    event.set_type(etcd_dst::etcd::Event::DELETE);
    *event.mutable_kv() = tombstone;
    event.mutable_kv()->set_mod_revision(store_->revision_ + 1);
    *event.mutable_prev_kv() = deleted.back();
    store_->events_.push_back(std::move(event));
  }
  return deleted;
}

std::vector<etcd_dst::etcd::Event> KvStore::TakeEvents() {
  std::vector<etcd_dst::etcd::Event> events = std::move(events_);
  events_.clear();
  return events;
}

bool KvStore::InRange(const std::string& key, const std::string& start, const std::string& range_end) {
  if (range_end.empty()) return key == start;
  if (range_end == std::string(1, '\0')) return key >= start;
  return key >= start && key < range_end;
}

absl::StatusOr<std::vector<etcd_dst::etcd::Event>> KvStore::EventsSince(const std::string& key,
                                                                       const std::string& range_end,
                                                                       int64_t start) const {
  if (start > 0 && start <= compacted_) return absl::OutOfRangeError(kErrCompacted);
  std::vector<std::pair<Revision, etcd_dst::etcd::Event>> found;
  for (const std::string& name : KeysIn(key, range_end)) {
    const std::vector<Version>& versions = keys_.at(name);
    for (size_t i = 0; i < versions.size(); ++i) {
      if (versions[i].revision.main < start) continue;
      etcd_dst::etcd::Event event;
      event.set_type(versions[i].tombstone ? etcd_dst::etcd::Event::DELETE : etcd_dst::etcd::Event::PUT);
      *event.mutable_kv() = versions[i].kv;
      if (versions[i].tombstone) event.mutable_kv()->set_mod_revision(versions[i].revision.main);
      found.push_back({versions[i].revision, std::move(event)});
    }
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<etcd_dst::etcd::Event> events;
  for (auto& [revision, event] : found) events.push_back(std::move(event));
  return events;
}

std::vector<std::string> KvStore::KeysWithLease(int64_t lease) const {
  std::vector<std::string> keys;
  for (const auto& [key, versions] : keys_) {
    if (!versions.empty() && !versions.back().tombstone && versions.back().kv.lease() == lease) keys.push_back(key);
  }
  return keys;
}

absl::Status KvStore::Compact(int64_t revision) {
  if (revision <= compacted_) return absl::OutOfRangeError(kErrCompacted);
  if (revision > revision_) return absl::OutOfRangeError(kErrFutureRevision);
  compacted_ = revision;
  for (auto it = keys_.begin(); it != keys_.end();) {
    std::vector<Version>& versions = it->second;
    // Keep the newest version at or before `revision` (unless a tombstone) and all after.
    size_t keep_from = 0;
    for (size_t i = 0; i < versions.size(); ++i) {
      if (versions[i].revision.main <= revision) keep_from = i;
    }
    if (!versions.empty() && versions[keep_from].revision.main <= revision && versions[keep_from].tombstone) {
      ++keep_from;
    }
    for (size_t i = 0; i < keep_from; ++i) backend_changes_[RevisionKey(versions[i].revision, versions[i].tombstone)] = std::nullopt;
    versions.erase(versions.begin(), versions.begin() + static_cast<std::ptrdiff_t>(keep_from));
    it = versions.empty() ? keys_.erase(it) : std::next(it);
  }
  return absl::OkStatus();
}

bool KvStore::CompareMatches(const etcd_dst::etcd::Compare& compare) const {
  using etcd_dst::etcd::Compare;
  const Version* version = VersionAt(compare.key(), revision_);
  auto result = [&](auto left, auto right) {
    switch (compare.result()) {
      case Compare::EQUAL: return left == right;
      case Compare::GREATER: return left > right;
      case Compare::LESS: return left < right;
      case Compare::NOT_EQUAL: return left != right;
      default: return false;
    }
  };
  switch (compare.target()) {
    case Compare::VERSION: return result(version ? version->kv.version() : 0, compare.version());
    case Compare::CREATE: return result(version ? version->kv.create_revision() : 0, compare.create_revision());
    case Compare::MOD: return result(version ? version->kv.mod_revision() : 0, compare.mod_revision());
    case Compare::VALUE: return version != nullptr && result(version->kv.value(), compare.value());
    case Compare::LEASE: return result(version ? version->kv.lease() : 0, compare.lease());
    default: return false;
  }
}

etcd_dst::etcd::TxnResponse KvStore::Txn(const etcd_dst::etcd::TxnRequest& request) {
  etcd_dst::etcd::TxnResponse response;
  bool succeeded = true;
  for (const auto& compare : request.compare()) succeeded = succeeded && CompareMatches(compare);
  response.set_succeeded(succeeded);
  const auto& ops = succeeded ? request.success() : request.failure();
  Write write(this);
  for (const auto& op : ops) {
    auto* out = response.add_responses();
    if (op.has_request_put()) {
      std::optional<KeyValue> previous = write.Put(op.request_put().key(), op.request_put().value(), op.request_put().lease());
      if (op.request_put().prev_kv() && previous) *out->mutable_response_put()->mutable_prev_kv() = *previous;
      out->mutable_response_put();
    } else if (op.has_request_delete_range()) {
      std::vector<KeyValue> deleted = write.DeleteRange(op.request_delete_range().key(), op.request_delete_range().range_end());
      out->mutable_response_delete_range()->set_deleted(static_cast<int64_t>(deleted.size()));
    } else if (op.has_request_range()) {
      int64_t count = 0;
      absl::StatusOr<std::vector<KeyValue>> kvs =
          Range(op.request_range().key(), op.request_range().range_end(), 0, op.request_range().limit(), &count);
      auto* range = out->mutable_response_range();
      if (kvs.ok()) {
        for (const KeyValue& kv : *kvs) *range->add_kvs() = kv;
      }
      range->set_count(count);
    }
  }
  return response;
}

void KvStore::ToBuckets(bbolt::Buckets* buckets) const {
  bbolt::Bucket& key_bucket = (*buckets)["key"];
  key_bucket.clear();
  for (const auto& [key, versions] : keys_) {
    for (const Version& version : versions) {
      key_bucket[RevisionKey(version.revision, version.tombstone)] = version.kv.SerializeAsString();
    }
  }
  for (auto& [key, value] : MetaBucket()) (*buckets)["meta"][key] = std::move(value);
}

bbolt::Bucket KvStore::MetaBucket() const {
  bbolt::Bucket meta;
  std::string index;
  PutBigEndian(index, consistent_index_);
  meta["consistent_index"] = index;
  if (compacted_ > 0) {
    meta["finishedCompactRev"] = RevisionKey({compacted_, 0}, false);
    meta["scheduledCompactRev"] = RevisionKey({compacted_, 0}, false);
  }
  return meta;
}

void KvStore::TakeBackendChanges(bbolt::Changes* changes) {
  std::map<std::string, std::optional<std::string>>& keys = (*changes)["key"].keys;
  if (keys.empty()) {
    keys.swap(backend_changes_);
  } else {
    for (auto& [key, value] : backend_changes_) keys[key] = std::move(value);
    backend_changes_.clear();
  }
  for (auto& [key, value] : MetaBucket()) (*changes)["meta"].keys[key] = std::move(value);
}

absl::StatusOr<KvStore> KvStore::FromBuckets(const bbolt::Buckets& buckets) {
  KvStore store;
  if (auto meta = buckets.find("meta"); meta != buckets.end()) {
    if (auto it = meta->second.find("consistent_index"); it != meta->second.end() && it->second.size() == 8) {
      store.consistent_index_ = GetBigEndian(it->second);
    }
    if (auto it = meta->second.find("finishedCompactRev"); it != meta->second.end() && it->second.size() >= 8) {
      store.compacted_ = static_cast<int64_t>(GetBigEndian(it->second));
    }
  }
  auto keys = buckets.find("key");
  if (keys == buckets.end()) return store;
  for (const auto& [revision_key, value] : keys->second) {
    if (revision_key.size() < 17) return absl::DataLossError("malformed revision key");
    Version version;
    version.revision.main = static_cast<int64_t>(GetBigEndian(revision_key));
    version.revision.sub = static_cast<int64_t>(GetBigEndian(std::string_view(revision_key).substr(9)));
    version.tombstone = revision_key.size() == 18 && revision_key[17] == 't';
    if (!version.kv.ParseFromString(value)) return absl::DataLossError("malformed key value");
    store.revision_ = std::max(store.revision_, version.revision.main);
    store.keys_[version.kv.key()].push_back(std::move(version));
  }
  // Revision keys sort by (main, sub), so each key's versions are in order.
  // A compaction can remove the newest revision's tombstone: mvcc's restore
  // never goes below the compacted revision.
  store.revision_ = std::max(store.revision_, store.compacted_);
  return store;
}

}  // namespace model::etcd
