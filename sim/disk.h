// A simulated disk: a small POSIX-like file system over a page cache, as a
// PersistentVolume that outlives the processes using it.
//
// Writes land in the page cache; reads see the cache. fsync/fdatasync make a
// file's data durable; FsyncDir commits the metadata journal (creates,
// renames, unlinks, mkdirs) up to the last operation on that directory, in
// order, as ext4's single journal does. A process crash loses nothing (the
// kernel still has the cache). A power loss keeps what was synced, plus:
//   - a random prefix of the uncommitted metadata journal;
//   - for each unsynced write, any subset of its persist units (LazyFS's
//     torn-op: a 16 KiB write with 8 KiB units may keep either half, both
//     or neither), independently across writes (torn-seq);
//   - the file size either as the writes that persisted leave it, or as the
//     cache had it (unpersisted units then read back as zeros).
// Data older than the writeback age and journal entries older than the commit
// interval were flushed by the kernel already and always persist. Choices
// come from the disk's RNG stream or are forced (PowerLossChoice).
//
// Faults: fsync can fail with EIO (the failed writes then never persist,
// like Linux's fsyncgate), reads can fail, the disk can fill up.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sim/rng.h"
#include "sim/time.h"

namespace sim {

class Simulation;

// EIO's text, as the disk's failed reads and syncs return it. Callers that
// wrap the error keep the text, so IsIoError finds it in their message too:
// an I/O error says the device failed, not that the data is bad.
inline constexpr char kErrIo[] = "input/output error";
inline bool IsIoError(const absl::Status& status) {
  return !status.ok() && status.message().find(kErrIo) != absl::string_view::npos;
}

struct DiskOptions {
  uint32_t persist_unit_bytes = 4096;  // LazyFS's page: 512, 4096, 8192...
  uint64_t capacity_bytes = uint64_t{8} << 30;
  SimDuration writeback_age = SimDuration::Seconds(30);   // dirty_expire_centisecs
  SimDuration journal_commit_age = SimDuration::Seconds(5);  // ext4 commit=5
  // Calls made by an actor take this long (uniform in [min, max]); the effect
  // of a sync lands at its end, so a power loss can strike mid-fsync.
  SimDuration write_latency_min = SimDuration::Micros(5);
  SimDuration write_latency_max = SimDuration::Micros(50);
  SimDuration sync_latency_min = SimDuration::Micros(500);
  SimDuration sync_latency_max = SimDuration::Millis(8);
};

struct OpenOptions {
  bool create = false;
  bool exclusive = false;  // with create: AlreadyExists if present
  bool truncate = false;
};

struct FileStat {
  bool is_directory = false;
  uint64_t size = 0;
};

// Forces what a power loss keeps, instead of drawing it.
struct PowerLossChoice {
  std::optional<uint32_t> metadata_ops_kept;  // a prefix of the uncommitted journal
  struct FileChoice {
    std::vector<uint32_t> parts_kept;  // indices into the file's unsynced parts, in write order
    bool size_kept = false;            // the cache's size survived
  };
  std::map<std::string, FileChoice> files;  // by path at the time of the loss
  // Files not listed: everything kept (true) or drawn from the seed (false).
  bool keep_all_unlisted = false;
  bool keep_nothing_unlisted = false;
};

struct PowerLossReport {
  uint32_t metadata_ops_pending = 0;
  uint32_t metadata_ops_kept = 0;
  struct FileOutcome {
    std::string path;
    uint32_t parts_pending = 0;
    std::vector<uint32_t> parts_kept;
    bool size_kept = false;
    uint64_t size_before = 0;  // in the cache
    uint64_t size_after = 0;   // on the platter, 0 if the file is gone
    bool file_survived = true;
    // Bytes a failed fsync doomed (Linux's fsyncgate): the process was told
    // EIO once, read them back from the cache afterwards, and now they are
    // gone (zeros or the old data), whether still pending or skipped by a
    // later successful sync.
    uint64_t bytes_lost_after_failed_sync = 0;
  };
  std::vector<FileOutcome> files;
};

// A file's bytes with an implicit zero tail: `head` is stored, the rest up
// to `size` reads as zeros, so preallocating 64 MB costs nothing.
class FileContent {
 public:
  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void Resize(uint64_t size) {
    if (size < head_.size()) head_.resize(size);
    size_ = size;
  }
  void Write(uint64_t offset, std::string_view data) {
    if (offset + data.size() > head_.size()) head_.resize(offset + data.size(), '\0');
    head_.replace(offset, data.size(), data);
    if (offset + data.size() > size_) size_ = offset + data.size();
  }
  // Up to `length` bytes from `offset`, short at the end of the file.
  std::string Read(uint64_t offset, uint64_t length) const {
    if (offset >= size_) return std::string();
    length = std::min(length, size_ - offset);
    std::string out(length, '\0');
    if (offset < head_.size()) {
      const uint64_t stored = std::min<uint64_t>(length, head_.size() - offset);
      out.replace(0, stored, head_, offset, stored);
    }
    return out;
  }
  const std::string& head() const { return head_; }

 private:
  std::string head_;
  uint64_t size_ = 0;
};

class Disk {
 public:
  Disk(Simulation* simulation, std::string name, DiskOptions options = {});
  Disk(const Disk&) = delete;
  Disk& operator=(const Disk&) = delete;

  const std::string& name() const { return name_; }
  const DiskOptions& options() const { return options_; }
  void set_persist_unit_bytes(uint32_t bytes);

  // --- the file system (paths are relative to the disk's root) ---------
  absl::Status Mkdir(std::string_view path);
  absl::Status MkdirAll(std::string_view path);
  absl::StatusOr<int> Open(std::string_view path, OpenOptions options = {});
  absl::Status Close(int fd);
  absl::StatusOr<size_t> Pwrite(int fd, uint64_t offset, std::string_view data);
  absl::StatusOr<size_t> Write(int fd, std::string_view data);  // at the fd's position
  absl::StatusOr<std::string> Pread(int fd, uint64_t offset, uint64_t length);
  absl::StatusOr<std::string> Read(int fd, uint64_t length);
  absl::Status Seek(int fd, uint64_t offset);
  absl::Status Ftruncate(int fd, uint64_t size);
  absl::Status Fsync(int fd);
  absl::Status Fdatasync(int fd);
  absl::Status FsyncDir(std::string_view path);
  absl::Status Rename(std::string_view from, std::string_view to);
  absl::Status Unlink(std::string_view path);
  absl::Status Rmdir(std::string_view path);
  absl::StatusOr<std::vector<std::string>> ReadDir(std::string_view path);  // sorted
  absl::StatusOr<FileStat> Stat(std::string_view path);
  absl::StatusOr<FileStat> Fstat(int fd);
  bool Exists(std::string_view path);
  // Whole-file helpers over the calls above.
  absl::StatusOr<std::string> ReadFile(std::string_view path);
  // Writes `data` as the whole file (created or truncated), as os.WriteFile
  // does: no fsync, so it lives in the page cache until written back.
  absl::Status WriteFile(std::string_view path, std::string_view data);
  // Removes a file or a directory tree; absent is fine (os.RemoveAll).
  absl::Status RemoveAll(std::string_view path);
  // Copies an open file's contents into `to` (created or truncated), as
  // io.Copy does; the copy's zero tail stays implicit.
  absl::Status CopyFile(int from_fd, std::string_view to);

  // --- what happens to it --------------------------------------------------
  // The process using the disk died: its descriptors close, the cache stays.
  void CrashProcess();
  // The machine lost power. Traced as PowerLoss (+ PowerLossFile per file).
  PowerLossReport PowerLoss(const PowerLossChoice* forced = nullptr);
  uint32_t power_losses() const { return power_losses_; }
  // Bytes of files lost at power losses although the cache had served them
  // after a failed fsync (the fsyncgate window), over the disk's life.
  uint64_t bytes_lost_after_failed_sync() const { return bytes_lost_after_failed_sync_; }

  // --- faults --------------------------------------------------------------
  void set_fsync_error_per_million(uint32_t rate) { fsync_error_per_million_ = rate; }
  void set_read_error_per_million(uint32_t rate) { read_error_per_million_ = rate; }
  void FailNextFsyncs(uint32_t count) { failing_fsyncs_ = count; }
  // The disk is full from now on (capacity = what is used).
  void FillUp();
  // The volume is lost (a deleted PersistentVolumeClaim, a replaced disk):
  // every file, cached or durable, is gone and open descriptors are closed.
  // Its owner stops the processes using it first.
  void Wipe();
  void RestoreCapacity() { options_.capacity_bytes = configured_capacity_bytes_; }
  // The liveness phase: fsyncs and reads stop failing and the disk has its
  // configured capacity again. Data already doomed by a failed fsync stays
  // doomed (the kernel dropped it).
  void EndFaults();
  void set_capacity_bytes(uint64_t bytes) { options_.capacity_bytes = bytes; }
  uint64_t used_bytes() const;

  // --- export: real files a real tool can open -----------------------------
  // The cache's view, or what is durable now (a power loss keeping nothing
  // unsynced would leave exactly this).
  absl::Status ExportCurrent(const std::string& directory) const;
  absl::Status ExportDurable(const std::string& directory) const;

 private:
  using InodeId = uint64_t;
  static constexpr InodeId kRoot = 1;

  struct DataOp {
    enum class Kind : uint8_t { kWrite, kTruncate } kind = Kind::kWrite;
    uint64_t offset = 0;  // write offset, or the new size of a truncate
    std::string data;
    SimTime time;
    bool doomed = false;  // an fsync failed while this was pending: never persists
  };
  struct Inode {
    bool is_directory = false;
    FileContent current;  // the page cache
    FileContent durable;  // the platter
    std::vector<DataOp> pending;
    std::map<std::string, InodeId> entries;  // directories: the current namespace
    // [begin, end) ranges the cache serves but a failed fsync kept off the
    // platter, not rewritten and synced since: what a power loss will expose.
    std::map<uint64_t, uint64_t> failed_sync_holes;
  };
  struct MetaOp {
    enum class Kind : uint8_t { kLink, kUnlink, kRename } kind = Kind::kLink;
    InodeId parent = 0;
    std::string name;
    InodeId inode = 0;
    InodeId new_parent = 0;  // rename
    std::string new_name;    // rename
    SimTime time;
  };
  using Namespace = std::map<InodeId, std::map<std::string, InodeId>>;
  struct OpenFile {
    InodeId inode = 0;
    uint64_t position = 0;
  };

  absl::StatusOr<std::vector<std::string>> Split(std::string_view path) const;
  // Resolves a path in the current namespace.
  absl::StatusOr<InodeId> Lookup(std::string_view path) const;
  absl::StatusOr<std::pair<InodeId, std::string>> LookupParent(std::string_view path) const;
  absl::StatusOr<OpenFile*> Descriptor(int fd);
  absl::Status Sync(int fd, const char* call);
  // Blocks the calling actor (if any) for a write-sized or sync-sized delay.
  void Delay(bool sync);
  static void ApplyMeta(Namespace& names, const MetaOp& op);
  static void ApplyData(FileContent& content, const DataOp& op);
  std::map<InodeId, std::string> Paths(const Namespace& names) const;
  absl::Status Export(const std::string& directory, bool durable) const;
  void CollectGarbage();

  Simulation* simulation_;
  std::string name_;
  DiskOptions options_;
  uint64_t configured_capacity_bytes_;  // options_.capacity_bytes before any FillUp
  Rng* rng_;
  std::map<InodeId, Inode> inodes_;
  Namespace durable_names_;
  std::vector<MetaOp> journal_;  // uncommitted metadata ops, in order
  std::map<int, OpenFile> fds_;
  int next_fd_ = 3;
  InodeId next_inode_ = 2;
  uint32_t power_losses_ = 0;
  uint32_t fsync_error_per_million_ = 0;
  uint32_t read_error_per_million_ = 0;
  uint32_t failing_fsyncs_ = 0;
  uint64_t bytes_lost_after_failed_sync_ = 0;
};

}  // namespace sim
