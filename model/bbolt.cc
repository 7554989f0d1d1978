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
  std::string value;  // leaves only
  uint32_t flags = 0;
};

}  // namespace

// A node of a bucket's B+tree, as bbolt's node.go: a leaf holds the
// elements, a branch the first key of each child. Nodes on disk (pgid != 0)
// are never changed: a transaction copies the ones it changes.
struct Node {
  bool leaf = true;
  uint64_t pgid = 0;   // 0: written by no transaction yet (or an inline bucket's leaf)
  uint32_t pages = 0;  // pages it occupies on disk, with its overflow
  size_t size = kPageHeaderSize;  // its encoded size in bytes
  std::vector<Item> items;
  std::vector<std::shared_ptr<Node>> children;  // branches: one per item
};

namespace {

using NodePtr = std::shared_ptr<Node>;

size_t ElementSize(const Item& item, bool leaf) {
  return kElementSize + item.key.size() + (leaf ? item.value.size() : 0);
}

NodePtr NewNode(bool leaf) {
  NodePtr node = std::make_shared<Node>();
  node->leaf = leaf;
  return node;
}

void Append(Node& node, Item item, NodePtr child) {
  node.size += ElementSize(item, node.leaf);
  node.items.push_back(std::move(item));
  if (!node.leaf) node.children.push_back(std::move(child));
}

// Serializes a node as whole pages (or, for an inline bucket, exactly its size).
std::string Encode(const Node& node, uint64_t id) {
  const size_t pages = std::max<size_t>((node.size + kPageSize - 1) / kPageSize, 1);
  std::string b(pages * kPageSize, '\0');
  WritePageHeader(b, 0, id, node.leaf ? kLeafPage : kBranchPage, static_cast<uint16_t>(node.items.size()),
                  static_cast<uint32_t>(pages - 1));
  size_t data = kPageHeaderSize + kElementSize * node.items.size();
  for (size_t i = 0; i < node.items.size(); ++i) {
    const size_t element = kPageHeaderSize + kElementSize * i;
    const Item& item = node.items[i];
    if (!node.leaf) {
      Put32(b, element, static_cast<uint32_t>(data - element));
      Put32(b, element + 4, static_cast<uint32_t>(item.key.size()));
      Put64(b, element + 8, node.children[i]->pgid);
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

struct PageWrite {
  uint64_t id;
  std::string bytes;  // whole pages
};

// etcd writes its revision keys in order with bucket.FillPercent 0.9
// (UnsafeSeqPut); everything else uses bbolt's default, 0.5.
double FillPercent(const std::string& bucket) { return bucket == "key" ? 0.9 : 0.5; }

// One write transaction over the trees: copies what the changes touch,
// hands out pages (lowest free first) and remembers the pages the new trees
// no longer use. The caller publishes (Finish) or drops (Rollback) it.
class Transaction {
 public:
  Transaction(std::set<uint64_t>* free, uint64_t high_water) : free_(free), high_water_(high_water) {}

  uint64_t high_water() const { return high_water_; }
  std::vector<PageWrite>& writes() { return writes_; }

  void FreePages(uint64_t pgid, uint32_t pages) {
    for (uint64_t p = pgid; p < pgid + pages; ++p) freed_.push_back(p);
  }
  void Free(const Node& node) {
    if (node.pgid != 0) FreePages(node.pgid, node.pages);
  }
  void FreeTree(const Node& node) {
    Free(node);
    for (const NodePtr& child : node.children) FreeTree(*child);
  }

  // The bucket rooted at `root` with `changes` applied.
  NodePtr Update(const NodePtr& root, const std::map<std::string, std::optional<std::string>>& changes, double fill) {
    std::vector<NodePtr> level = UpdateNode(root, changes.begin(), changes.end(), fill);
    return Root(std::move(level), fill);
  }

  // A tree holding `items` (sorted), e.g. the root bucket.
  NodePtr Build(std::vector<Item> items, double fill) {
    NodePtr leaf = NewNode(true);
    for (Item& item : items) Append(*leaf, std::move(item), nullptr);
    return Root(Split(leaf, fill), fill);
  }

  // Gives every node of the tree not yet on disk its pages, children
  // first, and queues its page image.
  void Assign(Node& node) {
    if (node.pgid != 0) return;
    for (const NodePtr& child : node.children) Assign(*child);
    const uint32_t pages = static_cast<uint32_t>(std::max<size_t>((node.size + kPageSize - 1) / kPageSize, 1));
    node.pgid = Allocate(pages);
    node.pages = pages;
    writes_.push_back({node.pgid, Encode(node, node.pgid)});
  }

  void Finish() { free_->insert(freed_.begin(), freed_.end()); }
  void Rollback() { free_->insert(allocated_.begin(), allocated_.end()); }

 private:
  using Change = std::map<std::string, std::optional<std::string>>::const_iterator;

  uint64_t Allocate(uint32_t count) {
    // The lowest run of `count` free pages, as bbolt's array freelist.
    uint64_t run_start = 0, run_length = 0;
    for (auto it = free_->begin(); it != free_->end(); ++it) {
      if (run_length > 0 && *it == run_start + run_length) {
        ++run_length;
      } else {
        run_start = *it;
        run_length = 1;
      }
      if (run_length == count) {
        for (uint64_t p = run_start; p < run_start + count; ++p) {
          free_->erase(p);
          allocated_.push_back(p);
        }
        return run_start;
      }
    }
    const uint64_t start = high_water_;
    high_water_ += count;
    return start;
  }

  std::vector<NodePtr> UpdateNode(const NodePtr& node, Change begin, Change end, double fill) {
    Free(*node);
    if (node->leaf) {
      NodePtr copy = NewNode(true);
      copy->items.reserve(node->items.size());
      auto old = node->items.begin();
      Change change = begin;
      while (old != node->items.end() || change != end) {
        if (change == end || (old != node->items.end() && old->key < change->first)) {
          Append(*copy, *old++, nullptr);
          continue;
        }
        if (old != node->items.end() && old->key == change->first) ++old;
        if (change->second.has_value()) Append(*copy, Item{change->first, *change->second, 0}, nullptr);
        ++change;
      }
      return Split(copy, fill);
    }
    // A branch: each child takes the changes from its key up to the next child's.
    std::vector<NodePtr> children;
    Change change = begin;
    for (size_t i = 0; i < node->children.size(); ++i) {
      Change stop = change;
      if (i + 1 < node->children.size()) {
        while (stop != end && stop->first < node->items[i + 1].key) ++stop;
      } else {
        stop = end;
      }
      if (change == stop) {
        children.push_back(node->children[i]);
        continue;
      }
      for (NodePtr& replaced : UpdateNode(node->children[i], change, stop, fill)) children.push_back(std::move(replaced));
      change = stop;
    }
    Rebalance(children, fill);
    if (children.empty()) return {};
    NodePtr branch = NewNode(false);
    for (NodePtr& child : children) Append(*branch, Item{child->items.front().key, "", 0}, child);
    return Split(branch, fill);
  }

  // Drops empty new nodes and merges a new node under a quarter page with
  // a neighbour (bbolt's rebalance), splitting the result again if needed.
  void Rebalance(std::vector<NodePtr>& nodes, double fill) {
    for (size_t i = 0; i < nodes.size();) {
      Node& node = *nodes[i];
      if (node.pgid == 0 && node.items.empty()) {
        nodes.erase(nodes.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      if (node.pgid != 0 || node.size >= kPageSize / 4 || nodes.size() == 1) {
        ++i;
        continue;
      }
      const size_t left = i + 1 < nodes.size() ? i : i - 1;
      NodePtr merged = NewNode(node.leaf);
      for (size_t k = left; k <= left + 1; ++k) {
        Free(*nodes[k]);
        for (size_t e = 0; e < nodes[k]->items.size(); ++e) {
          Append(*merged, nodes[k]->items[e], node.leaf ? nullptr : nodes[k]->children[e]);
        }
      }
      std::vector<NodePtr> pieces = Split(merged, fill);
      nodes.erase(nodes.begin() + static_cast<std::ptrdiff_t>(left), nodes.begin() + static_cast<std::ptrdiff_t>(left + 2));
      nodes.insert(nodes.begin() + static_cast<std::ptrdiff_t>(left), pieces.begin(), pieces.end());
      i = left + pieces.size();
    }
  }

  // A node over a page becomes several, each filled to `fill` of a page (a
  // single element larger than that gets a node, and overflow pages, of its own).
  static std::vector<NodePtr> Split(const NodePtr& node, double fill) {
    if (node->size <= kPageSize || node->items.size() < 2) return {node};
    const size_t threshold = static_cast<size_t>(fill * kPageSize);
    std::vector<NodePtr> pieces = {NewNode(node->leaf)};
    for (size_t i = 0; i < node->items.size(); ++i) {
      const size_t element = ElementSize(node->items[i], node->leaf);
      if (!pieces.back()->items.empty() && pieces.back()->size + element > threshold) pieces.push_back(NewNode(node->leaf));
      Append(*pieces.back(), std::move(node->items[i]), node->leaf ? nullptr : node->children[i]);
    }
    // A small last piece joins the one before it when both fit a page.
    if (pieces.size() > 1 && pieces.back()->size < kPageSize / 4 &&
        pieces[pieces.size() - 2]->size + pieces.back()->size - kPageHeaderSize <= kPageSize) {
      NodePtr last = pieces.back();
      pieces.pop_back();
      for (size_t i = 0; i < last->items.size(); ++i) {
        Append(*pieces.back(), std::move(last->items[i]), last->leaf ? nullptr : last->children[i]);
      }
    }
    return pieces;
  }

  // The root above `level`: branches added until one node is left, and a
  // branch root with one child replaced by the child.
  NodePtr Root(std::vector<NodePtr> level, double fill) {
    if (level.empty()) return NewNode(true);
    while (level.size() > 1) {
      NodePtr branch = NewNode(false);
      for (NodePtr& node : level) Append(*branch, Item{node->items.front().key, "", 0}, node);
      level = Split(branch, fill);
    }
    NodePtr root = level.front();
    while (!root->leaf && root->children.size() == 1) {
      Free(*root);
      root = root->children.front();
    }
    return root;
  }

  std::set<uint64_t>* free_;
  uint64_t high_water_;
  std::vector<uint64_t> freed_;      // pages the new trees no longer use
  std::vector<uint64_t> allocated_;  // pages taken from the free set
  std::vector<PageWrite> writes_;
};

bool Inline(const Node& root) { return root.pgid == 0 && root.leaf && root.size <= kMaxInlineBucketSize; }

// Applies `changes` to `buckets` in `txn` and returns the new root bucket's
// tree, assigned pages. `undo` receives each changed bucket's previous tree
// (nullopt: it did not exist), for a commit that fails.
NodePtr PlanCommit(Transaction& txn, std::map<std::string, BucketTree>& buckets, const Changes& changes,
                   std::map<std::string, std::optional<BucketTree>>* undo) {
  for (const auto& [name, change] : changes) {
    auto existing = buckets.find(name);
    if (undo != nullptr && !undo->contains(name)) {
      (*undo)[name] = existing == buckets.end() ? std::nullopt : std::optional<BucketTree>(existing->second);
    }
    if (change.remove) {
      if (existing != buckets.end()) {
        txn.FreeTree(*existing->second.root);
        buckets.erase(existing);
      }
      continue;
    }
    BucketTree& bucket = buckets[name];
    if (bucket.root == nullptr) bucket.root = NewNode(true);
    if (change.clear) {
      txn.FreeTree(*bucket.root);
      bucket.root = NewNode(true);
    }
    if (!change.keys.empty()) bucket.root = txn.Update(bucket.root, change.keys, FillPercent(name));
  }
  std::vector<Item> roots;
  for (auto& [name, bucket] : buckets) {
    std::string value(kBucketHeaderSize, '\0');
    Put64(value, 8, bucket.sequence);
    if (Inline(*bucket.root)) {
      if (bucket.encoded_root != bucket.root) {
        bucket.encoded_inline = Encode(*bucket.root, 0);
        bucket.encoded_inline.resize(bucket.root->size);
        bucket.encoded_root = bucket.root;
      }
      value += bucket.encoded_inline;
    } else {
      txn.Assign(*bucket.root);
      Put64(value, 0, bucket.root->pgid);
    }
    roots.push_back({name, std::move(value), kBucketLeafFlag});
  }
  NodePtr root_tree = txn.Build(std::move(roots), 0.5);
  txn.Assign(*root_tree);
  return root_tree;
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
  parsed.root = meta.root;
  if (meta.freelist != kNoFreelist) parsed.freelist = meta.freelist;
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

namespace {

Changes ChangesFor(const Buckets& state) {
  Changes changes;
  for (const auto& [name, bucket] : state) {
    BucketChange& change = changes[name];
    for (const auto& [key, value] : bucket) change.keys.emplace(key, value);
  }
  return changes;
}

}  // namespace

std::string BuildImage(const Buckets& state, uint64_t txid) {
  std::set<uint64_t> free;
  Transaction txn(&free, 2);
  std::map<std::string, BucketTree> buckets;
  const NodePtr root = PlanCommit(txn, buckets, ChangesFor(state), nullptr);
  std::string image(txn.high_water() * kPageSize, '\0');
  for (const PageWrite& write : txn.writes()) image.replace(write.id * kPageSize, write.bytes.size(), write.bytes);
  Meta meta;
  meta.root = root->pgid;
  meta.freelist = kNoFreelist;
  meta.pgid = txn.high_water();
  meta.txid = txid;
  Meta previous = meta;
  previous.txid = txid - 1;
  WriteMetaPage(image, (txid % 2) * kPageSize, txid % 2, meta);
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

namespace {

// The committed tree at `pgid` of an image ParseImage accepted, as nodes
// that know their pages; nullptr if it does not parse.
NodePtr LoadNode(const std::string& image, uint64_t pgid, int depth);

NodePtr ParseNodeAt(const std::string& image, std::string_view page, uint64_t pgid, uint32_t pages, int depth) {
  if (page.size() < kPageHeaderSize || depth > 64) return nullptr;
  const std::string header(page.substr(0, kPageHeaderSize));
  const uint16_t flags = static_cast<uint16_t>(Get(header, 8, 2));
  const uint16_t count = static_cast<uint16_t>(Get(header, 10, 2));
  if (!(flags & (kLeafPage | kBranchPage))) return nullptr;
  NodePtr node = NewNode((flags & kLeafPage) != 0);
  node->pgid = pgid;
  node->pages = pages;
  for (size_t i = 0; i < count; ++i) {
    const size_t element = kPageHeaderSize + kElementSize * i;
    if (element + kElementSize > page.size()) return nullptr;
    const std::string e(page.substr(element, kElementSize));
    if (node->leaf) {
      const size_t pos = element + Get(e, 4, 4), ksize = Get(e, 8, 4), vsize = Get(e, 12, 4);
      if (pos + ksize + vsize > page.size()) return nullptr;
      Append(*node,
             Item{std::string(page.substr(pos, ksize)), std::string(page.substr(pos + ksize, vsize)),
                  static_cast<uint32_t>(Get(e, 0, 4))},
             nullptr);
    } else {
      const size_t pos = element + Get(e, 0, 4), ksize = Get(e, 4, 4);
      if (pos + ksize > page.size()) return nullptr;
      NodePtr child = LoadNode(image, Get(e, 8, 8), depth + 1);
      if (child == nullptr) return nullptr;
      Append(*node, Item{std::string(page.substr(pos, ksize)), "", 0}, std::move(child));
    }
  }
  return node;
}

NodePtr LoadNode(const std::string& image, uint64_t pgid, int depth) {
  const size_t at = pgid * kPageSize;
  if (pgid < 2 || at + kPageHeaderSize > image.size()) return nullptr;
  const uint32_t pages = static_cast<uint32_t>(Get(image, at + 12, 4)) + 1;
  if (at + static_cast<size_t>(pages) * kPageSize > image.size()) return nullptr;
  return ParseNodeAt(image, std::string_view(image).substr(at, pages * kPageSize), pgid, pages, depth);
}

void Collect(const Node& node, Bucket* out) {
  if (node.leaf) {
    for (const Item& item : node.items) {
      if (!(item.flags & kBucketLeafFlag)) out->emplace_hint(out->end(), item.key, item.value);  // nested buckets: etcd has none
    }
    return;
  }
  for (const NodePtr& child : node.children) Collect(*child, out);
}

}  // namespace

Db::Db(sim::Disk* disk, std::string path, int fd) : disk_(disk), path_(std::move(path)), fd_(fd) {}

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
  db->txid_ = parsed.txid;
  db->high_water_ = std::max<uint64_t>(parsed.high_water, 2);
  // The trees, as nodes. ParseImage read the same pages, so they load.
  db->root_tree_ = LoadNode(*image, parsed.root, 0);
  if (db->root_tree_ == nullptr) return absl::DataLossError(fmt::format("{}: the root bucket does not load", path));
  std::vector<const Node*> leaves = {db->root_tree_.get()};
  for (size_t i = 0; i < leaves.size(); ++i) {
    for (const NodePtr& child : leaves[i]->children) leaves.push_back(child.get());
  }
  for (const Node* node : leaves) {
    if (!node->leaf) continue;
    for (const Item& entry : node->items) {
      if (!(entry.flags & kBucketLeafFlag) || entry.value.size() < kBucketHeaderSize) continue;
      BucketTree& bucket = db->buckets_[entry.key];
      bucket.sequence = Get(entry.value, 8, 8);
      const uint64_t root = Get(entry.value, 0, 8);
      if (root == 0) {
        bucket.root = ParseNodeAt(*image, std::string_view(entry.value).substr(kBucketHeaderSize), 0, 0, 0);
      } else {
        bucket.root = LoadNode(*image, root, 0);
      }
      if (bucket.root == nullptr) return absl::DataLossError(fmt::format("{}: bucket {} does not load", path, entry.key));
    }
  }
  for (uint64_t page = 2; page < db->high_water_; ++page) {
    if (!parsed.live_pages.contains(page)) db->free_.insert(page);
  }
  // bbolt's init image has a freelist page; the first commit frees it.
  db->freelist_page_ = parsed.freelist;
  result.db = std::move(db);
  return result;
}

Db::~Db() { (void)disk_->Close(fd_); }

Buckets Db::Read() const {
  Buckets buckets;
  for (const auto& [name, bucket] : buckets_) Collect(*bucket.root, &buckets[name]);
  return buckets;
}

Bucket Db::ReadBucket(const std::string& name) const {
  Bucket bucket;
  if (auto it = buckets_.find(name); it != buckets_.end()) Collect(*it->second.root, &bucket);
  return bucket;
}

std::vector<std::string> Db::BucketNames() const {
  std::vector<std::string> names;
  for (const auto& [name, bucket] : buckets_) names.push_back(name);
  return names;
}

BucketChange Diff(const Bucket& current, const Bucket& wanted) {
  BucketChange change;
  for (const auto& [key, value] : wanted) {
    auto it = current.find(key);
    if (it == current.end() || it->second != value) change.keys.emplace(key, value);
  }
  for (const auto& [key, value] : current) {
    if (!wanted.contains(key)) change.keys.emplace(key, std::nullopt);
  }
  return change;
}

absl::Status Db::Commit(const Buckets& state) {
  Changes changes;
  for (const auto& [name, tree] : buckets_) {
    if (!state.contains(name)) changes[name].remove = true;
  }
  for (const auto& [name, bucket] : state) changes[name] = Diff(ReadBucket(name), bucket);
  return Commit(changes);
}

absl::Status Db::Commit(const Changes& changes) {
  const uint64_t txid = txid_ + 1;
  Transaction txn(&free_, high_water_);
  if (freelist_page_.has_value()) txn.FreePages(*freelist_page_, 1);
  txn.FreeTree(*root_tree_);
  // The trees change in place; a failed commit puts the old ones back.
  std::map<std::string, std::optional<BucketTree>> undo;
  const NodePtr root_tree = PlanCommit(txn, buckets_, changes, &undo);
  std::vector<PageWrite>& writes = txn.writes();
  std::sort(writes.begin(), writes.end(), [](const PageWrite& a, const PageWrite& b) { return a.id < b.id; });
  auto fail = [&](absl::Status status) {
    txn.Rollback();
    for (auto& [name, tree] : undo) {
      if (tree.has_value()) {
        buckets_[name] = std::move(*tree);
      } else {
        buckets_.erase(name);
      }
    }
    return status;
  };
  for (const PageWrite& write : writes) {
    absl::StatusOr<size_t> written = disk_->Pwrite(fd_, write.id * kPageSize, write.bytes);
    if (!written.ok()) return fail(written.status());
  }
  if (absl::Status s = disk_->Fdatasync(fd_); !s.ok()) return fail(s);
  Meta meta;
  meta.root = root_tree->pgid;
  meta.freelist = kNoFreelist;
  meta.pgid = txn.high_water();
  meta.txid = txid;
  std::string meta_page(kPageSize, '\0');
  WriteMetaPage(meta_page, 0, txid % 2, meta);
  absl::StatusOr<size_t> written = disk_->Pwrite(fd_, (txid % 2) * kPageSize, meta_page);
  if (!written.ok()) return fail(written.status());
  if (absl::Status s = disk_->Fdatasync(fd_); !s.ok()) return fail(s);
  txn.Finish();
  txid_ = txid;
  high_water_ = meta.pgid;
  root_tree_ = root_tree;
  freelist_page_.reset();
  last_commit_pages_ = 0;
  for (const PageWrite& write : writes) last_commit_pages_ += write.bytes.size() / kPageSize;
  return absl::OkStatus();
}

}  // namespace model::bbolt
