// etcd 3.4's write-ahead log on the simulated disk (etcd wal/), byte for byte:
//   - segments member/wal/%016x-%016x.wal (sequence, first index), preallocated
//     to 64,000,000 bytes; the first is built in member/wal.tmp/, which is then
//     renamed to member/wal/ and its parent fsynced;
//   - each record is an 8-byte little-endian length (low 56 bits; top byte
//     0x80|pad when the data is padded to 8 bytes) and a walpb.Record
//     {type, crc, data}; CRC-32C chained across records and files; each file
//     starts with a crc record; records go out in 4096-byte-aligned writes
//     when the log is synced;
//   - reading stops at a zero length; a short read, or a failed decode or CRC
//     where a 512-byte sector of the record is all zeros, is a torn tail
//     ("unexpected EOF"), which Repair fixes once (copy to .broken, truncate,
//     fsync); any other CRC mismatch is fatal.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/raftpb.h"
#include "sim/disk.h"

namespace model::wal {

inline constexpr uint64_t kSegmentSizeBytes = 64 * 1000 * 1000;
enum RecordType : int64_t { kMetadata = 1, kEntry = 2, kState = 3, kCrc = 4, kSnapshot = 5 };

// The errors etcd's WAL returns, by their text.
inline constexpr char kErrUnexpectedEof[] = "unexpected EOF";
inline constexpr char kErrCrcMismatch[] = "wal: crc mismatch";
inline constexpr char kErrFileNotFound[] = "wal: file not found";
inline constexpr char kErrSnapshotNotFound[] = "wal: snapshot not found";
inline constexpr char kErrSnapshotMismatch[] = "wal: snapshot mismatch";
inline constexpr char kErrMetadataConflict[] = "wal: conflicting metadata found";

std::string SegmentName(uint64_t sequence, uint64_t index);
// Frames one record as the encoder does, continuing `crc` (updated).
std::string EncodeRecord(int64_t type, const std::string* data, uint32_t* crc);
uint32_t Crc32c(uint32_t previous, std::string_view data);
// The same by table, byte by byte: what Crc32c uses where the CPU has no
// crc32 instruction, and what tests check the instruction against.
uint32_t Crc32cPortable(uint32_t previous, std::string_view data);

// One framed record at the start of `bytes`, for tools: OutOfRange at a zero
// length (the end), DataLoss if short or malformed. CRCs are not checked.
struct Frame {
  int64_t type = 0;
  uint32_t crc = 0;
  std::optional<std::string> data;
  uint64_t frame_bytes = 0;  // length word + record + padding
};
absl::StatusOr<Frame> DecodeFrame(std::string_view bytes);

// True if `dir` holds at least one segment (etcd's wal.Exist).
bool Exists(sim::Disk* disk, const std::string& dir);

struct ReadResult {
  std::string metadata;
  raftpb::HardState state;
  std::vector<raftpb::Entry> entries;
};

class Wal {
 public:
  // wal.Create: fails with AlreadyExists if `dir` exists. With `initial`
  // entries and state, they are written and synced inside the temporary
  // directory, before the rename makes the log visible (not what etcd 3.4
  // does: a variant that closes the window between creating the log and
  // persisting the bootstrap entries).
  static absl::StatusOr<std::unique_ptr<Wal>> Create(sim::Disk* disk, const std::string& dir,
                                                     const std::string& metadata,
                                                     const raftpb::HardState* initial_state = nullptr,
                                                     const std::vector<raftpb::Entry>* initial_entries = nullptr);
  // wal.Open + ReadAll in write mode, as a restarting etcd does. Errors carry
  // etcd's text; a torn tail is DataLoss "unexpected EOF" (repairable).
  static absl::StatusOr<std::unique_ptr<Wal>> Open(sim::Disk* disk, const std::string& dir,
                                                   const raftpb::WalSnapshot& snapshot, ReadResult* read);
  ~Wal();

  // wal.Save: entries then the hard state; synced when raft.MustSync says so.
  absl::Status Save(const raftpb::HardState& state, const std::vector<raftpb::Entry>& entries);
  absl::Status SaveSnapshot(const raftpb::WalSnapshot& snapshot);
  uint64_t last_index() const { return last_index_; }

 private:
  Wal(sim::Disk* disk, std::string dir) : disk_(disk), dir_(std::move(dir)) {}
  void Encode(int64_t type, const std::string* data);
  absl::Status Sync();
  absl::Status Cut();

  sim::Disk* disk_;
  std::string dir_;
  std::string metadata_;
  int fd_ = -1;              // the tail segment
  uint64_t sequence_ = 0;    // of the tail segment
  uint64_t flushed_ = 0;     // bytes of the tail written to the disk
  std::string pending_;      // encoded, not yet written (the page writer's buffer)
  uint32_t crc_ = 0;
  raftpb::HardState state_;
  uint64_t last_index_ = 0;
};

// wal.ValidSnapshotEntries: the snapshot records of the whole log, read up
// to its end or a torn tail, without those past the last hard state's
// commit (what etcd 3.4.23 matches snap files against at a restart).
absl::StatusOr<std::vector<raftpb::WalSnapshot>> ValidSnapshotEntries(sim::Disk* disk, const std::string& dir);

// wal.Repair: true if the last segment ends cleanly or its torn tail was cut.
bool Repair(sim::Disk* disk, const std::string& dir);

}  // namespace model::wal
