#include "model/bbolt.h"

#include <algorithm>
#include <set>

#include "fmt/format.h"
#include "sim/hash.h"

namespace model::bbolt {
namespace {

constexpr uint16_t kBranchPage = 0x01;
constexpr uint16_t kLeafPage = 0x02;
constexpr uint16_t kMetaPage = 0x04;
constexpr uint16_t kFreelistPage = 0x10;
constexpr uint32_t kBucketLeafFlag = 0x01;
constexpr size_t kPageHeaderSize = 16;
constexpr size_t kElementSize = 16;  // leaf and branch elements are both 16 bytes
constexpr size_t kMetaOffset = kPageHeaderSize;
constexpr size_t kMetaChecksumOffset = 56;  // within the meta
constexpr size_t kBucketHeaderSize = 16;
constexpr size_t kMaxInlineBucketSize = kPageSize / 4;
// etcd 3.4 opens bbolt with NoFreelistSync: commits write no freelist page
// and mark the meta with this, and bbolt rebuilds the freelist by scanning.
constexpr uint64_t kNoFreelist = 0xFFFFFFFFFFFFFFFFull;

void Put16(std::string& b, size_t at, uint16_t v) {
  for (int i = 0; i < 2; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void Put32(std::string& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void Put64(std::string& b, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint64_t Get(const std::string& b, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

struct Meta {
  uint32_t magic = kMagic, version = kVersion, page_size = kPageSize, flags = 0;
  uint64_t root = 0, sequence = 0, freelist = 0, pgid = 0, txid = 0, checksum = 0;
};

void WritePageHeader(std::string& b, size_t at, uint64_t id, uint16_t flags, uint16_t count, uint32_t overflow) {
  Put64(b, at, id);
  Put16(b, at + 8, flags);
  Put16(b, at + 10, count);
  Put32(b, at + 12, overflow);
}

uint64_t MetaSum(const std::string& b, size_t meta_at) {
  return sim::Fnv1a64(std::string_view(b).substr(meta_at, kMetaChecksumOffset));
}

// Writes a meta page (header + meta + checksum) at byte offset `at`.
void WriteMetaPage(std::string& b, size_t at, uint64_t id, const Meta& m) {
  WritePageHeader(b, at, id, kMetaPage, 0, 0);
  const size_t meta = at + kMetaOffset;
  Put32(b, meta + 0, m.magic);
  Put32(b, meta + 4, m.version);
  Put32(b, meta + 8, m.page_size);
  Put32(b, meta + 12, m.flags);
  Put64(b, meta + 16, m.root);
  Put64(b, meta + 24, m.sequence);
  Put64(b, meta + 32, m.freelist);
  Put64(b, meta + 40, m.pgid);
  Put64(b, meta + 48, m.txid);
  Put64(b, meta + 56, MetaSum(b, meta));
}

Meta ReadMeta(const std::string& b, size_t page_at) {
  const size_t meta = page_at + kMetaOffset;
  Meta m;
  m.magic = static_cast<uint32_t>(Get(b, meta + 0, 4));
  m.version = static_cast<uint32_t>(Get(b, meta + 4, 4));
  m.page_size = static_cast<uint32_t>(Get(b, meta + 8, 4));
  m.flags = static_cast<uint32_t>(Get(b, meta + 12, 4));
  m.root = Get(b, meta + 16, 8);
  m.sequence = Get(b, meta + 24, 8);
  m.freelist = Get(b, meta + 32, 8);
  m.pgid = Get(b, meta + 40, 8);
  m.txid = Get(b, meta + 48, 8);
  m.checksum = Get(b, meta + 56, 8);
  return m;
}

// bbolt's meta.validate(): "" when valid.
std::string Validate(const std::string& b, size_t page_at) {
  const Meta m = ReadMeta(b, page_at);
  if (m.magic != kMagic) return "invalid database";
  if (m.version != kVersion) return "version mismatch";
  if (m.checksum != 0 && m.checksum != MetaSum(b, page_at + kMetaOffset)) return "checksum error";
  return "";
}

std::string PageType(uint16_t flags) {
  if (flags & kBranchPage) return "branch";
  if (flags & kLeafPage) return "leaf";
  if (flags & kMetaPage) return "meta";
  if (flags & kFreelistPage) return "freelist";
  return fmt::format("unknown<{:02x}>", flags);
}

// ------------------------------------------------------------------ writing

struct Item {
  std::string key;
  std::string value;
  uint32_t flags = 0;
};

size_t LeafSize(const std::vector<Item>& items) {
  size_t size = kPageHeaderSize;
  for (const Item& item : items) size += kElementSize + item.key.size() + item.value.size();
  return size;
}

// Serializes a leaf (or, with `branch`, a branch whose items carry the child
// pgid as value) as one page image of whole pages.
std::string EncodeNode(const std::vector<Item>& items, bool branch, uint64_t id) {
  size_t size = kPageHeaderSize;
  for (const Item& item : items) size += kElementSize + item.key.size() + (branch ? 0 : item.value.size());
  const size_t pages = (size + kPageSize - 1) / kPageSize;
  std::string b(std::max<size_t>(pages, 1) * kPageSize, '\0');
  WritePageHeader(b, 0, id, branch ? kBranchPage : kLeafPage, static_cast<uint16_t>(items.size()),
                  static_cast<uint32_t>(pages - 1));
  size_t data = kPageHeaderSize + kElementSize * items.size();
  for (size_t i = 0; i < items.size(); ++i) {
    const size_t element = kPageHeaderSize + kElementSize * i;
    const Item& item = items[i];
    if (branch) {
      Put32(b, element, static_cast<uint32_t>(data - element));
      Put32(b, element + 4, static_cast<uint32_t>(item.key.size()));
      Put64(b, element + 8, Get(item.value, 0, 8));
      b.replace(data, item.key.size(), item.key);
      data += item.key.size();
    } else {
      Put32(b, element, item.flags);
      Put32(b, element + 4, static_cast<uint32_t>(data - element));
      Put32(b, element + 8, static_cast<uint32_t>(item.key.size()));
      Put32(b, element + 12, static_cast<uint32_t>(item.value.size()));
      b.replace(data, item.key.size(), item.key);
      b.replace(data + item.key.size(), item.value.size(), item.value);
      data += item.key.size() + item.value.size();
    }
  }
  return b;
}

// Hands out page ids for a commit: never one of `reserved` (the live tree,
// the metas), lowest first, contiguous runs for overflowing nodes.
class Allocator {
 public:
  Allocator(const std::set<uint64_t>& reserved, uint64_t high_water) : reserved_(reserved), high_water_(high_water) {}
  uint64_t Allocate(size_t count) {
    for (uint64_t start = 2; start + count <= high_water_; ++start) {
      bool free = true;
      for (uint64_t p = start; p < start + count && free; ++p) free = !reserved_.contains(p) && !used_.contains(p);
      if (!free) continue;
      for (uint64_t p = start; p < start + count; ++p) used_.insert(p);
      return start;
    }
    const uint64_t start = high_water_;
    high_water_ += count;
    for (uint64_t p = start; p < start + count; ++p) used_.insert(p);
    return start;
  }
  uint64_t high_water() const { return high_water_; }
  const std::set<uint64_t>& used() const { return used_; }

 private:
  const std::set<uint64_t>& reserved_;
  uint64_t high_water_;
  std::set<uint64_t> used_;
};

struct PageWrite {
  uint64_t id;
  std::string bytes;  // whole pages
};

void PutPgid(std::string& value, uint64_t id) {
  value.assign(8, '\0');
  Put64(value, 0, id);
}

// Writes the (sorted) items as a tree of leaf and branch pages; returns the root pgid.
uint64_t WriteTree(std::vector<Item> items, Allocator& allocator, std::vector<PageWrite>& writes) {
  bool branch = false;
  while (true) {
    // Split into nodes that fit a page; an item too big for a page gets its own (overflowing) node.
    std::vector<std::vector<Item>> nodes(1);
    size_t size = kPageHeaderSize;
    for (Item& item : items) {
      const size_t item_size = kElementSize + item.key.size() + (branch ? 0 : item.value.size());
      if (!nodes.back().empty() && size + item_size > kPageSize) {
        nodes.emplace_back();
        size = kPageHeaderSize;
      }
      nodes.back().push_back(std::move(item));
      size += item_size;
    }
    std::vector<Item> parents;
    for (auto& node : nodes) {
      std::string bytes = EncodeNode(node, branch, 0);
      const uint64_t id = allocator.Allocate(bytes.size() / kPageSize);
      Put64(bytes, 0, id);
      writes.push_back({id, std::move(bytes)});
      Item parent;
      parent.key = node.empty() ? std::string() : node.front().key;
      PutPgid(parent.value, id);
      parents.push_back(std::move(parent));
    }
    if (parents.size() == 1) return Get(parents[0].value, 0, 8);
    items = std::move(parents);
    branch = true;
  }
}

std::string BucketValue(const Bucket& bucket, Allocator& allocator, std::vector<PageWrite>& writes) {
  std::vector<Item> items;
  for (const auto& [key, value] : bucket) items.push_back({key, value, 0});
  std::string header(kBucketHeaderSize, '\0');
  if (LeafSize(items) <= kMaxInlineBucketSize) {
    std::string page = EncodeNode(items, false, 0);
    page.resize(LeafSize(items));
    return header + page;  // root 0: inline
  }
  Put64(header, 0, WriteTree(std::move(items), allocator, writes));
  return header;
}

struct Plan {
  std::vector<PageWrite> writes;  // tree and freelist pages
  Meta meta;
  std::vector<uint64_t> pages;  // every page the new tree and freelist use
};

Plan PlanCommit(const Buckets& state, const std::set<uint64_t>& reserved, uint64_t high_water, uint64_t txid) {
  Plan plan;
  Allocator allocator(reserved, high_water);
  std::vector<Item> roots;
  for (const auto& [name, bucket] : state) roots.push_back({name, BucketValue(bucket, allocator, plan.writes), kBucketLeafFlag});
  const uint64_t root = WriteTree(std::move(roots), allocator, plan.writes);
  plan.meta.root = root;
  plan.meta.freelist = kNoFreelist;
  plan.meta.pgid = allocator.high_water();
  plan.meta.txid = txid;
  plan.pages.assign(allocator.used().begin(), allocator.used().end());
  return plan;
}

// ------------------------------------------------------------------ reading

class Reader {
 public:
  Reader(const std::string& image, std::optional<OpenFailure>* failure) : image_(image), failure_(failure) {}

  // Returns false (with the failure set) if reading must stop.
  bool ReadTree(uint64_t pgid, std::vector<Item>* out, int depth = 0) {
    if (depth > 64) return Fail(OpenFailure::Kind::kPanic, "tree too deep");
    if (pgid >= image_.size() / kPageSize) return Sigbus();
    const size_t at = pgid * kPageSize;
    if (at + kPageHeaderSize > image_.size()) return Sigbus();
    const uint16_t flags = static_cast<uint16_t>(Get(image_, at + 8, 2));
    const uint16_t count = static_cast<uint16_t>(Get(image_, at + 10, 2));
    const uint32_t overflow = static_cast<uint32_t>(Get(image_, at + 12, 4));
    const size_t end = at + (static_cast<size_t>(overflow) + 1) * kPageSize;
    if (end > image_.size()) return Sigbus();
    for (uint64_t p = pgid; p <= pgid + overflow; ++p) visited_.insert(p);
    return ParseNode(std::string_view(image_).substr(at, end - at), flags, count, out, depth);
  }

  bool ParseNode(std::string_view page, uint16_t flags, uint16_t count, std::vector<Item>* out, int depth) {
    if (!(flags & (kLeafPage | kBranchPage))) {
      // bbolt's Cursor.search, in the first transaction that walks the tree,
      // with the page header's own id (real etcd 3.4.23: "invalid page type: 0: 0").
      const uint64_t id = page.size() >= 8 ? Get(std::string(page.substr(0, 8)), 0, 8) : 0;
      return Fail(OpenFailure::Kind::kPanic, fmt::format("invalid page type: {}: {:x}", id, flags));
    }
    const std::string copy(page);
    for (size_t i = 0; i < count; ++i) {
      const size_t element = kPageHeaderSize + kElementSize * i;
      if (element + kElementSize > copy.size()) return Fail(OpenFailure::Kind::kPanic, "element out of page");
      if (flags & kBranchPage) {
        const size_t pos = element + Get(copy, element, 4);
        const size_t ksize = Get(copy, element + 4, 4);
        const uint64_t child = Get(copy, element + 8, 8);
        if (pos + ksize > copy.size()) return Fail(OpenFailure::Kind::kPanic, "key out of page");
        if (!ReadTree(child, out, depth + 1)) return false;
      } else {
        Item item;
        item.flags = static_cast<uint32_t>(Get(copy, element, 4));
        const size_t pos = element + Get(copy, element + 4, 4);
        const size_t ksize = Get(copy, element + 8, 4);
        const size_t vsize = Get(copy, element + 12, 4);
        if (pos + ksize + vsize > copy.size()) return Fail(OpenFailure::Kind::kPanic, "value out of page");
        item.key = copy.substr(pos, ksize);
        item.value = copy.substr(pos + ksize, vsize);
        out->push_back(std::move(item));
      }
    }
    return true;
  }

  bool ReadBucket(const Item& entry, Bucket* bucket) {
    if (entry.value.size() < kBucketHeaderSize) return Fail(OpenFailure::Kind::kPanic, "short bucket header");
    const uint64_t root = Get(entry.value, 0, 8);
    std::vector<Item> items;
    if (root == 0) {
      const std::string_view inline_page = std::string_view(entry.value).substr(kBucketHeaderSize);
      if (inline_page.size() < kPageHeaderSize) return Fail(OpenFailure::Kind::kPanic, "short inline page");
      const std::string header(inline_page.substr(0, kPageHeaderSize));
      if (!ParseNode(inline_page, static_cast<uint16_t>(Get(header, 8, 2)), static_cast<uint16_t>(Get(header, 10, 2)),
                     &items, 0)) {
        return false;
      }
    } else if (!ReadTree(root, &items)) {
      return false;
    }
    for (Item& item : items) {
      if (item.flags & kBucketLeafFlag) continue;  // nested buckets: etcd has none
      (*bucket)[std::move(item.key)] = std::move(item.value);
    }
    return true;
  }

  bool Sigbus() { return Fail(OpenFailure::Kind::kSigbus, "unexpected fault address"); }
  const std::set<uint64_t>& visited() const { return visited_; }
  bool Fail(OpenFailure::Kind kind, std::string what) {
    if (!failure_->has_value()) *failure_ = OpenFailure{kind, std::move(what), ""};
    return false;
  }

 private:
  const std::string& image_;
  std::optional<OpenFailure>* failure_;
  std::set<uint64_t> visited_;
};

void FillEtcdError(OpenFailure& failure, const std::string& path) {
  switch (failure.kind) {
    case OpenFailure::Kind::kError:
      failure.etcd_error = fmt::format("cannot open database at {} ({})", path, failure.bbolt_error);
      break;
    case OpenFailure::Kind::kPanic:
      failure.etcd_error = failure.bbolt_error;
      break;
    case OpenFailure::Kind::kSigbus:
      failure.etcd_error = "signal SIGBUS: bus error";
      break;
  }
}

}  // namespace

std::string InitImage() {
  std::string buffer(4 * kPageSize, '\0');
  for (uint64_t i = 0; i < 2; ++i) {
    Meta m;
    m.root = 3;
    m.freelist = 2;
    m.pgid = 4;
    m.txid = i;
    WriteMetaPage(buffer, i * kPageSize, i, m);
  }
  WritePageHeader(buffer, 2 * kPageSize, 2, kFreelistPage, 0, 0);
  WritePageHeader(buffer, 3 * kPageSize, 3, kLeafPage, 0, 0);
  return buffer;
}

ParsedImage ParseImage(const std::string& image, const std::string& path_for_errors) {
  ParsedImage parsed;
  auto fail = [&](OpenFailure::Kind kind, std::string bbolt_error) {
    parsed.failure = OpenFailure{kind, std::move(bbolt_error), ""};
    FillEtcdError(*parsed.failure, path_for_errors);
    return parsed;
  };
  if (image.empty()) {
    parsed.txid = 1;
    return parsed;
  }
  if (image.size() < 2 * kPageSize) return fail(OpenFailure::Kind::kError, "file size too small");
  const std::string error0 = Validate(image, 0);
  const std::string error1 = Validate(image, kPageSize);
  if (!error0.empty() && !error1.empty()) return fail(OpenFailure::Kind::kError, error0);
  Meta meta;
  if (error0.empty() && error1.empty()) {
    const Meta m0 = ReadMeta(image, 0), m1 = ReadMeta(image, kPageSize);
    meta = m1.txid > m0.txid ? m1 : m0;
  } else {
    meta = ReadMeta(image, error0.empty() ? 0 : kPageSize);
  }
  parsed.txid = meta.txid;
  // loadFreelist: a synced freelist page must be there (else SIGBUS) and be
  // a freelist (else panic). Without one, bbolt scans instead.
  if (meta.freelist != kNoFreelist) {
    if (meta.freelist >= image.size() / kPageSize) return fail(OpenFailure::Kind::kSigbus, "unexpected fault address");
    const size_t freelist_at = meta.freelist * kPageSize;
    const uint16_t flags = static_cast<uint16_t>(Get(image, freelist_at + 8, 2));
    if (!(flags & kFreelistPage)) {
      return fail(OpenFailure::Kind::kPanic,
                  fmt::format("invalid freelist page: {}, page type is {}", Get(image, freelist_at, 8), PageType(flags)));
    }
    parsed.live_pages.insert(meta.freelist);
  }
  // Reading the root bucket and every bucket, as etcd's backend does at start.
  std::optional<OpenFailure> failure;
  Reader reader(image, &failure);
  std::vector<Item> roots;
  if (reader.ReadTree(meta.root, &roots)) {
    for (const Item& entry : roots) {
      if (!(entry.flags & kBucketLeafFlag)) continue;
      if (!reader.ReadBucket(entry, &parsed.buckets[entry.key])) break;
    }
  }
  if (failure.has_value()) {
    parsed.failure = std::move(failure);
    FillEtcdError(*parsed.failure, path_for_errors);
    parsed.buckets.clear();
  }
  parsed.live_pages.insert(reader.visited().begin(), reader.visited().end());
  parsed.high_water = meta.pgid;
  return parsed;
}

std::string BuildImage(const Buckets& state, uint64_t txid) {
  const std::set<uint64_t> reserved;
  Plan plan = PlanCommit(state, reserved, 2, txid);
  std::string image(plan.meta.pgid * kPageSize, '\0');
  for (const PageWrite& write : plan.writes) image.replace(write.id * kPageSize, write.bytes.size(), write.bytes);
  Meta previous = plan.meta;
  previous.txid = txid - 1;
  WriteMetaPage(image, (txid % 2) * kPageSize, txid % 2, plan.meta);
  WriteMetaPage(image, ((txid + 1) % 2) * kPageSize, (txid + 1) % 2, previous);
  return image;
}

// ------------------------------------------------------------------ Db

const char* InitModeName(InitMode mode) {
  switch (mode) {
    case InitMode::kSingleWrite: return "single-write";
    case InitMode::kSeparateSyncs: return "separate-syncs";
    case InitMode::kAtomicRename: return "atomic-rename";
  }
  return "?";
}

namespace {
absl::Status Initialise(sim::Disk* disk, const std::string& path, int* fd, InitMode mode) {
  const std::string image = InitImage();
  switch (mode) {
    case InitMode::kSingleWrite: {
      absl::StatusOr<size_t> written = disk->Pwrite(*fd, 0, image);
      return written.ok() ? disk->Fdatasync(*fd) : written.status();
    }
    case InitMode::kSeparateSyncs: {
      absl::StatusOr<size_t> data = disk->Pwrite(*fd, 2 * kPageSize, image.substr(2 * kPageSize));
      if (!data.ok()) return data.status();
      if (absl::Status s = disk->Fdatasync(*fd); !s.ok()) return s;
      absl::StatusOr<size_t> metas = disk->Pwrite(*fd, 0, image.substr(0, 2 * kPageSize));
      return metas.ok() ? disk->Fdatasync(*fd) : metas.status();
    }
    case InitMode::kAtomicRename: {
      const std::string temporary = path + ".init";
      absl::StatusOr<int> tmp = disk->Open(temporary, {.create = true, .truncate = true});
      if (!tmp.ok()) return tmp.status();
      absl::Status status = disk->Pwrite(*tmp, 0, image).status();
      if (status.ok()) status = disk->Fdatasync(*tmp);
      (void)disk->Close(*tmp);
      if (status.ok()) status = disk->Rename(temporary, path);
      const size_t slash = path.rfind('/');
      if (status.ok()) status = disk->FsyncDir(slash == std::string::npos ? "" : path.substr(0, slash));
      if (!status.ok()) return status;
      // The open descriptor still names the old, empty inode.
      (void)disk->Close(*fd);
      absl::StatusOr<int> reopened = disk->Open(path);
      if (!reopened.ok()) return reopened.status();
      *fd = *reopened;
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown init mode");
}
}  // namespace

absl::StatusOr<Db::OpenResult> Db::Open(sim::Disk* disk, const std::string& path, InitMode init) {
  absl::StatusOr<int> fd = disk->Open(path, {.create = true});
  if (!fd.ok()) return fd.status();
  OpenResult result;
  const std::string display_path = "/" + path;
  absl::StatusOr<sim::FileStat> stat = disk->Fstat(*fd);
  if (!stat.ok()) return stat.status();
  if (stat->size == 0) {
    absl::Status synced = Initialise(disk, path, &*fd, init);
    if (!synced.ok()) {
      (void)disk->Close(*fd);
      result.failure = OpenFailure{OpenFailure::Kind::kError, std::string(synced.message()), ""};
      FillEtcdError(*result.failure, display_path);
      return result;
    }
  }
  absl::StatusOr<std::string> image = disk->Pread(*fd, 0, UINT64_MAX);
  if (!image.ok()) {
    (void)disk->Close(*fd);
    return image.status();
  }
  ParsedImage parsed = ParseImage(*image, display_path);
  if (parsed.failure.has_value()) {
    (void)disk->Close(*fd);
    result.failure = std::move(parsed.failure);
    return result;
  }
  std::unique_ptr<Db> db(new Db(disk, path, *fd));
  db->buckets_ = std::move(parsed.buckets);
  db->txid_ = parsed.txid;
  db->high_water_ = parsed.high_water;
  const std::set<uint64_t>& live = parsed.live_pages;
  db->tree_pages_.assign(live.begin(), live.end());
  result.db = std::move(db);
  return result;
}

Db::~Db() { (void)disk_->Close(fd_); }

absl::Status Db::Commit(const Buckets& state) {
  const std::set<uint64_t> reserved(tree_pages_.begin(), tree_pages_.end());
  const uint64_t txid = txid_ + 1;
  Plan plan = PlanCommit(state, reserved, std::max<uint64_t>(high_water_, 2), txid);
  for (const PageWrite& write : plan.writes) {
    absl::StatusOr<size_t> written = disk_->Pwrite(fd_, write.id * kPageSize, write.bytes);
    if (!written.ok()) return written.status();
  }
  if (absl::Status s = disk_->Fdatasync(fd_); !s.ok()) return s;
  std::string meta_page(kPageSize, '\0');
  WriteMetaPage(meta_page, 0, txid % 2, plan.meta);
  absl::StatusOr<size_t> written = disk_->Pwrite(fd_, (txid % 2) * kPageSize, meta_page);
  if (!written.ok()) return written.status();
  if (absl::Status s = disk_->Fdatasync(fd_); !s.ok()) return s;
  txid_ = txid;
  high_water_ = plan.meta.pgid;
  tree_pages_ = std::move(plan.pages);
  buckets_ = state;
  return absl::OkStatus();
}

}  // namespace model::bbolt
