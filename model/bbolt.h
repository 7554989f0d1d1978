// The bbolt file (member/snap/db) on the simulated disk, in bbolt's own page
// format (etcd-io/bbolt page.go, db.go, freelist.go, node.go), so that a crash
// image exported from the simulator opens, or fails, in the real etcd exactly
// as the model predicts.
//
// Layout: 4096-byte pages. Page header {id u64, flags u16, count u16,
// overflow u32}, little endian. Pages 0 and 1 are metas {magic 0xED0CDAED,
// version 2, page size, flags, root bucket {root pgid, sequence}, freelist
// pgid, high-water pgid, txid, FNV-1a-64 checksum of the 56 bytes before it}.
// Leaf elements {flags u32, pos u32, ksize u32, vsize u32}; branch elements
// {pos u32, ksize u32, pgid u64}; pos is relative to the element. A bucket's
// value is {root pgid u64, sequence u64}, followed by an inline page when
// root is 0. The freelist page lists free pgids.
//
// Opening follows bolt.Open in read-write mode: an empty file is initialised
// with ONE 16384-byte write (two metas, an empty freelist, an empty leaf) and
// fdatasync; a file under two pages fails "file size too small"; metas are
// validated magic, version, checksum (a zero checksum passes) and the open
// fails only if both are invalid, with the first one's error; the freelist
// page must carry the freelist flag or bbolt panics; touching a page past the
// end of the file is a SIGBUS, as with bbolt's mmap.
//
// Commits are bbolt's copy-on-write: the leaves a transaction changed are
// rewritten (split when over a page, merged with a neighbour when under a
// quarter of one), then every branch above them up to the bucket's root, and
// the root bucket; unchanged pages stay where they are. New pages come from
// the lowest free ones (pages the previous transaction's tree no longer
// uses), or extend the file. The pages are written in id order, fdatasync,
// then the meta page (txid % 2), fdatasync: only the init write is exposed
// to a torn write (etcd #16596). Like etcd 3.4 (NoFreelistSync), commits
// write no freelist page: the meta's freelist is 0xffffffffffffffff and
// readers rebuild it by scanning. The init image still carries its freelist
// page. A commit costs in proportion to what it changed, not to the db.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/disk.h"

namespace model::bbolt {

inline constexpr uint32_t kPageSize = 4096;
inline constexpr uint32_t kMagic = 0xED0CDAED;
inline constexpr uint32_t kVersion = 2;

using Bucket = std::map<std::string, std::string>;
using Buckets = std::map<std::string, Bucket>;

// One transaction's changes to a bucket: keys set (a value) or deleted
// (nullopt). `clear` drops every key first; `remove` drops the bucket.
// Naming a bucket creates it.
struct BucketChange {
  bool clear = false;
  bool remove = false;
  std::map<std::string, std::optional<std::string>> keys;
};
using Changes = std::map<std::string, BucketChange>;
// The change that makes `current` equal `wanted`.
BucketChange Diff(const Bucket& current, const Bucket& wanted);

struct Node;  // a page of the tree, in memory (bbolt.cc)
struct BucketTree {
  std::shared_ptr<Node> root;  // a leaf with pgid 0 is an inline bucket
  uint64_t sequence = 0;
  // An inline bucket's encoded leaf, kept while `encoded_root` is `root`
  // (an unchanged small bucket is not re-encoded at each commit).
  std::shared_ptr<Node> encoded_root;
  std::string encoded_inline;
};

// The 16384 bytes bbolt writes into an empty file.
std::string InitImage();

// How opening a db file ends, with the text the real etcd 3.4 prints.
struct OpenFailure {
  enum class Kind : uint8_t {
    kError,   // bolt.Open returned an error; etcd panics "cannot open database at <path> (<error>)"
    kPanic,   // bbolt itself panics (e.g. "invalid freelist page: ...")
    kSigbus,  // a page past the end of the file was touched
  };
  Kind kind;
  std::string bbolt_error;  // "invalid database", "file size too small", ...
  std::string etcd_error;   // what etcd prints as it dies
};

// How an empty file is initialised.
enum class InitMode : uint8_t {
  kSingleWrite,    // bbolt as released: one 16384-byte write, then fdatasync
  kSeparateSyncs,  // bbolt PR #570 (never merged): freelist and leaf pages, sync, then metas, sync
  kAtomicRename,   // build the image in <path>.init, fsync, rename over <path>, fsync the directory
};
const char* InitModeName(InitMode mode);

class Db {
 public:
  // Opens `path` on `disk` as etcd's backend does (read-write, then reading
  // the buckets). Disk errors are returned as Status; bbolt outcomes as
  // OpenFailure through the second overload.
  struct OpenResult {
    std::unique_ptr<Db> db;                // set on success
    std::optional<OpenFailure> failure;    // set when bbolt/etcd would die
  };
  static absl::StatusOr<OpenResult> Open(sim::Disk* disk, const std::string& path,
                                         InitMode init = InitMode::kSingleWrite);

  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Everything in the db, or one bucket (empty if absent), read from the
  // in-memory copy of the committed tree.
  Buckets Read() const;
  Bucket ReadBucket(const std::string& name) const;
  std::vector<std::string> BucketNames() const;
  uint64_t txid() const { return txid_; }
  // Writes `changes` as the next transaction. A disk error (EIO, full disk)
  // leaves the previous transaction in place, as bbolt's rollback does.
  absl::Status Commit(const Changes& changes);
  // Writes `state` as the next transaction: its difference with the
  // current state (buckets absent from `state` are removed).
  absl::Status Commit(const Buckets& state);

  // What the last successful commit wrote (tree pages, without the meta).
  uint64_t last_commit_pages() const { return last_commit_pages_; }
  uint64_t high_water() const { return high_water_; }

 private:
  Db(sim::Disk* disk, std::string path, int fd);

  sim::Disk* disk_;
  std::string path_;
  int fd_;
  uint64_t txid_ = 0;
  uint64_t high_water_ = 0;              // meta.pgid
  std::map<std::string, BucketTree> buckets_;
  std::shared_ptr<Node> root_tree_;     // the root bucket's pages
  std::set<uint64_t> free_;             // pages below the high water no tree uses
  std::optional<uint64_t> freelist_page_;  // the init image's, until the first commit
  uint64_t last_commit_pages_ = 0;
};

// Parses a whole image without a disk (for tests and tools): the buckets,
// or the failure opening it would cause.
struct ParsedImage {
  std::optional<OpenFailure> failure;
  Buckets buckets;
  uint64_t txid = 0;
  uint64_t high_water = 0;           // meta.pgid
  uint64_t root = 0;                 // meta.root: the root bucket's page
  std::optional<uint64_t> freelist;  // meta.freelist, unless the meta says none was synced
  std::set<uint64_t> live_pages;     // pages the chosen meta's tree (and freelist) use
};
ParsedImage ParseImage(const std::string& image, const std::string& path_for_errors);

// Writes `state` as a complete, valid bbolt file (txid 1 in meta 1), e.g. for
// snapshots and restores.
std::string BuildImage(const Buckets& state, uint64_t txid);

}  // namespace model::bbolt
