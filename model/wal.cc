#include "model/wal.h"

#include <cstring>

#include <algorithm>

#include <boost/crc.hpp>

#include "fmt/format.h"
#include "model/pb.h"

namespace model::wal {
namespace {

constexpr uint64_t kFrameSizeBytes = 8;
constexpr uint64_t kMinSectorSize = 512;
constexpr uint64_t kMaxEntrySizeLimit = 10 * 1024 * 1024;
constexpr uint64_t kReadChunk = 64 * 1024;

uint32_t Reflect32(uint32_t x) {
  uint32_t r = 0;
  for (int i = 0; i < 32; ++i) {
    r = (r << 1) | (x & 1);
    x >>= 1;
  }
  return r;
}

struct Record {
  int64_t type = 0;
  uint32_t crc = 0;
  std::optional<std::string> data;
};

std::string EncodeRecordMessage(const Record& record) {
  std::string out;
  pb::PutUint(out, 1, static_cast<uint64_t>(record.type));
  pb::PutUint(out, 2, record.crc);
  if (record.data.has_value()) pb::PutBytes(out, 3, *record.data);
  return out;
}

// gogoproto's Unmarshal of walpb.Record: truncation is io.ErrUnexpectedEOF.
absl::Status DecodeRecordMessage(std::string_view bytes, Record* record) {
  *record = Record();
  pb::Reader reader(bytes);
  while (!reader.done()) {
    int field, wire;
    if (!reader.Tag(&field, &wire)) return absl::DataLossError(kErrUnexpectedEof);
    uint64_t value;
    if (field == 1 || field == 2) {
      if (wire != 0) return absl::DataLossError(fmt::format("proto: wrong wireType = {} for field", wire));
      if (!reader.Varint(&value)) return absl::DataLossError(kErrUnexpectedEof);
      if (field == 1) record->type = static_cast<int64_t>(value);
      if (field == 2) record->crc = static_cast<uint32_t>(value);
    } else if (field == 3) {
      if (wire != 2) return absl::DataLossError(fmt::format("proto: wrong wireType = {} for field Data", wire));
      std::string data;
      if (!reader.Bytes(&data)) return absl::DataLossError(kErrUnexpectedEof);
      record->data = std::move(data);
    } else if (!reader.Skip(wire)) {
      return absl::DataLossError(kErrUnexpectedEof);
    }
  }
  return absl::OkStatus();
}

uint64_t Le64(std::string_view b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[i]);
  return v;
}

bool ParseSegmentName(const std::string& name, uint64_t* sequence, uint64_t* index) {
  if (name.size() != 16 + 1 + 16 + 4 || name.substr(33) != ".wal" || name[16] != '-') return false;
  auto hex = [](std::string_view s, uint64_t* out) {
    *out = 0;
    for (char c : s) {
      int digit;
      if (c >= '0' && c <= '9') digit = c - '0';
      else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
      else return false;
      *out = (*out << 4) | static_cast<uint64_t>(digit);
    }
    return true;
  };
  return hex(std::string_view(name).substr(0, 16), sequence) && hex(std::string_view(name).substr(17, 16), index);
}

std::vector<std::string> SegmentNames(sim::Disk* disk, const std::string& dir) {
  std::vector<std::string> names;
  absl::StatusOr<std::vector<std::string>> listing = disk->ReadDir(dir);
  if (!listing.ok()) return names;
  for (const std::string& name : *listing) {
    uint64_t sequence, index;
    if (ParseSegmentName(name, &sequence, &index)) names.push_back(name);
  }
  return names;  // ReadDir is sorted, and so are segment names
}

// Reads records across segments as etcd's decoder does.
class Decoder {
 public:
  Decoder(sim::Disk* disk, std::vector<int> fds) : disk_(disk), fds_(std::move(fds)) {}

  // OK with a record; OutOfRange at the clean end; DataLoss otherwise.
  absl::Status Decode(Record* record) {
    while (true) {
      if (file_ >= fds_.size()) return absl::OutOfRangeError("EOF");
      std::string length_bytes;
      absl::StatusOr<bool> full = ReadFull(offset_, kFrameSizeBytes, &length_bytes);
      if (!full.ok()) return full.status();  // an I/O error is not a torn tail
      if (!*full) {
        if (length_bytes.empty()) {
          NextFile();
          continue;
        }
        return absl::DataLossError(kErrUnexpectedEof);
      }
      const uint64_t length = Le64(length_bytes);
      if (length == 0) {  // preallocated space: the end of this file
        NextFile();
        continue;
      }
      const uint64_t record_bytes = length & ~(uint64_t{0xff} << 56);
      const uint64_t pad_bytes = (length >> 63) ? (length >> 56) & 0x7 : 0;
      if (record_bytes >= kMaxEntrySizeLimit - pad_bytes) {
        return absl::DataLossError("wal: max entry size limit exceeded");
      }
      std::string data;
      absl::StatusOr<bool> read = ReadFull(offset_ + kFrameSizeBytes, record_bytes + pad_bytes, &data);
      if (!read.ok()) return read.status();
      if (!*read) return absl::DataLossError(kErrUnexpectedEof);
      absl::Status decoded = DecodeRecordMessage(std::string_view(data).substr(0, record_bytes), record);
      if (!decoded.ok()) return IsTorn(data) ? absl::DataLossError(kErrUnexpectedEof) : decoded;
      if (record->type != kCrc) {
        crc_ = Crc32c(crc_, record->data.value_or(""));
        if (record->crc != crc_) {
          return IsTorn(data) ? absl::DataLossError(kErrUnexpectedEof) : absl::DataLossError(kErrCrcMismatch);
        }
      }
      offset_ += kFrameSizeBytes + record_bytes + pad_bytes;
      return absl::OkStatus();
    }
  }
  uint64_t last_offset() const { return offset_; }
  uint32_t crc() const { return crc_; }
  void UpdateCrc(uint32_t crc) { crc_ = crc; }

 private:
  // io.ReadFull: false (with what was read) when short; an error when the
  // read itself fails (EIO), which etcd reports and never repairs.
  absl::StatusOr<bool> ReadFull(uint64_t offset, uint64_t length, std::string* out) {
    out->clear();
    while (out->size() < length) {
      absl::StatusOr<std::string> chunk =
          disk_->Pread(fds_[file_], offset + out->size(), std::min(length - out->size(), kReadChunk));
      if (!chunk.ok()) return absl::InternalError(std::string(chunk.status().message()));
      if (chunk->empty()) return false;
      out->append(*chunk);
    }
    return true;
  }
  // Past the last file the offset stays: it is where appending resumes.
  void NextFile() {
    ++file_;
    if (file_ < fds_.size()) offset_ = 0;
  }
  // A record is torn if some 512-byte sector of it is all zeros (only in the last file).
  bool IsTorn(const std::string& data) const {
    if (fds_.size() - file_ != 1) return false;
    uint64_t file_offset = offset_ + kFrameSizeBytes;
    size_t at = 0;
    while (at < data.size()) {
      const size_t chunk = std::min<size_t>(kMinSectorSize - (file_offset % kMinSectorSize), data.size() - at);
      bool zero = true;
      for (size_t i = at; i < at + chunk && zero; ++i) zero = data[i] == 0;
      if (zero) return true;
      at += chunk;
      file_offset += chunk;
    }
    return false;
  }

  sim::Disk* disk_;
  std::vector<int> fds_;
  size_t file_ = 0;
  uint64_t offset_ = 0;
  uint32_t crc_ = 0;
};


std::string Parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

// The file pipeline keeps the next segment preallocated as <dir>/0.tmp.
absl::Status PreallocateNext(sim::Disk* disk, const std::string& dir) {
  absl::StatusOr<int> fd = disk->Open(dir + "/0.tmp", {.create = true});
  if (!fd.ok()) return fd.status();
  absl::Status status = disk->Ftruncate(*fd, kSegmentSizeBytes);
  (void)disk->Close(*fd);
  return status;
}

}  // namespace

uint32_t Crc32cPortable(uint32_t previous, std::string_view data) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc(Reflect32(~previous));
  crc.process_bytes(data.data(), data.size());
  return crc.checksum();
}

namespace {
#if defined(__x86_64__)
// The same Castagnoli CRC with SSE4.2's crc32 instruction, 8 bytes a step
// (the WAL checksums every record; byte-at-a-time tables were 3% of a run).
__attribute__((target("sse4.2"))) uint32_t Crc32cSse42(uint32_t previous, std::string_view data) {
  uint64_t crc = ~previous;
  const char* p = data.data();
  size_t n = data.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    crc = __builtin_ia32_crc32di(crc, word);
  }
  uint32_t crc32 = static_cast<uint32_t>(crc);
  for (; n > 0; ++p, --n) crc32 = __builtin_ia32_crc32qi(crc32, static_cast<unsigned char>(*p));
  return ~crc32;
}
#endif
}  // namespace

uint32_t Crc32c(uint32_t previous, std::string_view data) {
#if defined(__x86_64__)
  static const bool kHardware = __builtin_cpu_supports("sse4.2");
  if (kHardware) return Crc32cSse42(previous, data);
#endif
  return Crc32cPortable(previous, data);
}

std::string SegmentName(uint64_t sequence, uint64_t index) { return fmt::format("{:016x}-{:016x}.wal", sequence, index); }

std::string EncodeRecord(int64_t type, const std::string* data, uint32_t* crc) {
  Record record;
  record.type = type;
  if (data != nullptr) {
    *crc = Crc32c(*crc, *data);
    record.data = *data;
  }
  record.crc = *crc;
  std::string message = EncodeRecordMessage(record);
  uint64_t length = message.size();
  const uint64_t pad = (8 - message.size() % 8) % 8;
  if (pad != 0) length |= (0x80 | pad) << 56;
  std::string frame(8, '\0');
  for (int i = 0; i < 8; ++i) frame[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  frame += message;
  frame.append(pad, '\0');
  return frame;
}

absl::StatusOr<Frame> DecodeFrame(std::string_view bytes) {
  if (bytes.size() < kFrameSizeBytes) return absl::DataLossError(kErrUnexpectedEof);
  const uint64_t length = Le64(bytes);
  if (length == 0) return absl::OutOfRangeError("EOF");
  const uint64_t record_bytes = length & ~(uint64_t{0xff} << 56);
  const uint64_t pad_bytes = (length >> 63) ? (length >> 56) & 0x7 : 0;
  if (bytes.size() < kFrameSizeBytes + record_bytes + pad_bytes) return absl::DataLossError(kErrUnexpectedEof);
  Record record;
  if (absl::Status s = DecodeRecordMessage(bytes.substr(kFrameSizeBytes, record_bytes), &record); !s.ok()) return s;
  return Frame{record.type, record.crc, record.data, kFrameSizeBytes + record_bytes + pad_bytes};
}

bool Exists(sim::Disk* disk, const std::string& dir) { return !SegmentNames(disk, dir).empty(); }

void Wal::Encode(int64_t type, const std::string* data) { pending_ += EncodeRecord(type, data, &crc_); }

absl::Status Wal::Sync() {
  if (!pending_.empty()) {
    absl::StatusOr<size_t> written = disk_->Pwrite(fd_, flushed_, pending_);
    if (!written.ok()) return written.status();
    flushed_ += pending_.size();
    pending_.clear();
  }
  return disk_->Fdatasync(fd_);
}

absl::StatusOr<std::unique_ptr<Wal>> Wal::Create(sim::Disk* disk, const std::string& dir, const std::string& metadata,
                                                 const raftpb::HardState* initial_state,
                                                 const std::vector<raftpb::Entry>* initial_entries) {
  if (disk->Exists(dir)) return absl::AlreadyExistsError("file exists");
  const std::string tmp = dir + ".tmp";
  if (absl::Status s = disk->RemoveAll(tmp); !s.ok()) return s;
  if (absl::Status s = disk->MkdirAll(tmp); !s.ok()) return s;
  std::unique_ptr<Wal> wal(new Wal(disk, dir));
  absl::StatusOr<int> fd = disk->Open(tmp + "/" + SegmentName(0, 0), {.create = true});
  if (!fd.ok()) return fd.status();
  wal->fd_ = *fd;
  if (absl::Status s = disk->Ftruncate(*fd, kSegmentSizeBytes); !s.ok()) return s;
  wal->metadata_ = metadata;
  wal->Encode(kCrc, nullptr);
  wal->Encode(kMetadata, &metadata);
  if (absl::Status s = wal->SaveSnapshot({}); !s.ok()) return s;
  if (initial_state != nullptr && initial_entries != nullptr) {
    if (absl::Status s = wal->Save(*initial_state, *initial_entries); !s.ok()) return s;
  }
  if (absl::Status s = disk->Rename(tmp, dir); !s.ok()) return s;
  if (absl::Status s = PreallocateNext(disk, dir); !s.ok()) return s;
  if (absl::Status s = disk->FsyncDir(Parent(dir)); !s.ok()) return s;
  return wal;
}

absl::StatusOr<std::vector<raftpb::WalSnapshot>> ValidSnapshotEntries(sim::Disk* disk, const std::string& dir) {
  const std::vector<std::string> names = SegmentNames(disk, dir);
  if (names.empty()) return absl::NotFoundError(kErrFileNotFound);
  std::vector<int> fds;
  for (const std::string& name : names) {
    absl::StatusOr<int> fd = disk->Open(dir + "/" + name);
    if (!fd.ok()) {
      for (int open : fds) (void)disk->Close(open);
      return fd.status();
    }
    fds.push_back(*fd);
  }
  std::vector<raftpb::WalSnapshot> snapshots;
  raftpb::HardState state;
  Decoder decoder(disk, fds);
  Record record;
  absl::Status status;
  while ((status = decoder.Decode(&record)).ok()) {
    if (record.type == kSnapshot) {
      raftpb::WalSnapshot found;
      raftpb::Decode(record.data.value_or(""), &found);
      snapshots.push_back(found);
    } else if (record.type == kState) {
      raftpb::Decode(record.data.value_or(""), &state);
    } else if (record.type == kCrc) {
      if (decoder.crc() != 0 && record.crc != decoder.crc()) {
        status = absl::DataLossError(kErrCrcMismatch);
        break;
      }
      decoder.UpdateCrc(record.crc);
    }
  }
  for (int fd : fds) (void)disk->Close(fd);
  // Read mode: a torn tail ends the list, anything else is an error.
  if (status.code() != absl::StatusCode::kOutOfRange && status.message() != kErrUnexpectedEof) return status;
  // Snapshots past the committed hard state do not count.
  std::erase_if(snapshots, [&](const raftpb::WalSnapshot& s) { return s.index > state.commit; });
  return snapshots;
}

absl::StatusOr<std::unique_ptr<Wal>> Wal::Open(sim::Disk* disk, const std::string& dir,
                                               const raftpb::WalSnapshot& snapshot, ReadResult* read) {
  const std::vector<std::string> names = SegmentNames(disk, dir);
  // The last segment whose first index is at or before the snapshot, and all after it, in sequence.
  int start = -1;
  for (size_t i = 0; i < names.size(); ++i) {
    uint64_t sequence, index;
    ParseSegmentName(names[i], &sequence, &index);
    if (index <= snapshot.index) start = static_cast<int>(i);
  }
  if (start < 0) return absl::NotFoundError(kErrFileNotFound);
  std::vector<int> fds;
  uint64_t expected_sequence = 0;
  for (size_t i = start; i < names.size(); ++i) {
    uint64_t sequence, index;
    ParseSegmentName(names[i], &sequence, &index);
    if (i > static_cast<size_t>(start) && sequence != expected_sequence) {
      for (int fd : fds) (void)disk->Close(fd);
      return absl::NotFoundError(kErrFileNotFound);
    }
    expected_sequence = sequence + 1;
    absl::StatusOr<int> fd = disk->Open(dir + "/" + names[i]);
    if (!fd.ok()) {
      for (int open : fds) (void)disk->Close(open);
      return fd.status();
    }
    fds.push_back(*fd);
  }
  std::unique_ptr<Wal> wal(new Wal(disk, dir));
  uint64_t tail_sequence, tail_index;
  ParseSegmentName(names.back(), &tail_sequence, &tail_index);
  wal->sequence_ = tail_sequence;
  auto close_others = [&]() {
    for (size_t i = 0; i + 1 < fds.size(); ++i) (void)disk->Close(fds[i]);
  };

  Decoder decoder(disk, fds);
  *read = ReadResult();
  bool have_metadata = false;
  bool match = false;
  Record record;
  absl::Status status;
  while ((status = decoder.Decode(&record)).ok()) {
    switch (record.type) {
      case kEntry: {
        raftpb::Entry entry;
        if (!raftpb::Decode(record.data.value_or(""), &entry)) {
          status = absl::DataLossError(kErrUnexpectedEof);
          break;
        }
        if (entry.index > snapshot.index) {
          const uint64_t keep = entry.index - snapshot.index - 1;
          if (keep > read->entries.size()) {
            close_others();
            (void)disk->Close(fds.back());
            return absl::InternalError("runtime error: slice bounds out of range");
          }
          read->entries.resize(keep);
          read->entries.push_back(entry);
        }
        wal->last_index_ = entry.index;
        break;
      }
      case kState:
        raftpb::Decode(record.data.value_or(""), &read->state);
        break;
      case kMetadata:
        if (have_metadata && read->metadata != record.data.value_or("")) {
          close_others();
          (void)disk->Close(fds.back());
          return absl::FailedPreconditionError(kErrMetadataConflict);
        }
        have_metadata = true;
        read->metadata = record.data.value_or("");
        break;
      case kCrc:
        if (decoder.crc() != 0 && record.crc != decoder.crc()) {
          close_others();
          (void)disk->Close(fds.back());
          return absl::DataLossError(kErrCrcMismatch);
        }
        decoder.UpdateCrc(record.crc);
        break;
      case kSnapshot: {
        raftpb::WalSnapshot found;
        raftpb::Decode(record.data.value_or(""), &found);
        if (found.index == snapshot.index) {
          if (found.term != snapshot.term) {
            close_others();
            (void)disk->Close(fds.back());
            return absl::FailedPreconditionError(kErrSnapshotMismatch);
          }
          match = true;
        }
        if (found.index > wal->last_index_) wal->last_index_ = found.index;
        break;
      }
      default:
        close_others();
        (void)disk->Close(fds.back());
        return absl::DataLossError(fmt::format("unexpected block type {}", record.type));
    }
    if (!status.ok()) break;
  }
  close_others();
  // Write mode must read to the clean end: a torn tail is an error the caller may repair.
  if (status.code() != absl::StatusCode::kOutOfRange) {
    (void)disk->Close(fds.back());
    return status;
  }
  if (!match) {
    (void)disk->Close(fds.back());
    return absl::NotFoundError(kErrSnapshotNotFound);
  }
  // Zero what follows the last record (a torn write may have left records
  // past a zero length), keeping the space allocated.
  wal->fd_ = fds.back();
  const uint64_t last = decoder.last_offset();
  absl::StatusOr<sim::FileStat> stat = disk->Fstat(wal->fd_);
  if (!stat.ok()) return stat.status();
  if (absl::Status s = disk->Ftruncate(wal->fd_, last); !s.ok()) return s;
  if (absl::Status s = disk->Ftruncate(wal->fd_, stat->size); !s.ok()) return s;
  wal->flushed_ = last;
  wal->crc_ = decoder.crc();
  wal->metadata_ = read->metadata;
  wal->state_ = read->state;
  if (absl::Status s = PreallocateNext(disk, dir); !s.ok()) return s;
  return wal;
}

Wal::~Wal() {
  if (fd_ >= 0) (void)disk_->Close(fd_);
}

absl::Status Wal::SaveSnapshot(const raftpb::WalSnapshot& snapshot) {
  const std::string data = raftpb::Encode(snapshot);
  Encode(kSnapshot, &data);
  if (snapshot.index > last_index_) last_index_ = snapshot.index;
  return Sync();
}

absl::Status Wal::Save(const raftpb::HardState& state, const std::vector<raftpb::Entry>& entries) {
  if (state.empty() && entries.empty()) return absl::OkStatus();
  const bool must_sync = !entries.empty() || state.vote != state_.vote || state.term != state_.term;
  for (const raftpb::Entry& entry : entries) {
    const std::string data = raftpb::Encode(entry);
    Encode(kEntry, &data);
    last_index_ = entry.index;
  }
  if (!state.empty()) {
    state_ = state;
    const std::string data = raftpb::Encode(state);
    Encode(kState, &data);
  }
  if (flushed_ + pending_.size() >= kSegmentSizeBytes) return Cut();
  return must_sync ? Sync() : absl::OkStatus();
}

absl::Status Wal::Cut() {
  // Close out the full segment at its logical end, then continue in a new
  // one that starts with the chained crc, the metadata and the hard state.
  if (absl::Status s = Sync(); !s.ok()) return s;
  if (absl::Status s = disk_->Ftruncate(fd_, flushed_); !s.ok()) return s;
  if (absl::Status s = disk_->Fdatasync(fd_); !s.ok()) return s;
  (void)disk_->Close(fd_);
  const std::string tmp = dir_ + "/0.tmp";
  if (!disk_->Exists(tmp)) {
    if (absl::Status s = PreallocateNext(disk_, dir_); !s.ok()) return s;
  }
  absl::StatusOr<int> fd = disk_->Open(tmp);
  if (!fd.ok()) return fd.status();
  fd_ = *fd;
  flushed_ = 0;
  ++sequence_;
  Encode(kCrc, nullptr);
  Encode(kMetadata, &metadata_);
  const std::string state = raftpb::Encode(state_);
  Encode(kState, &state);
  if (absl::Status s = Sync(); !s.ok()) return s;
  if (absl::Status s = disk_->Rename(tmp, dir_ + "/" + SegmentName(sequence_, last_index_ + 1)); !s.ok()) return s;
  if (absl::Status s = disk_->FsyncDir(dir_); !s.ok()) return s;
  return PreallocateNext(disk_, dir_);
}

bool Repair(sim::Disk* disk, const std::string& dir) {
  const std::vector<std::string> names = SegmentNames(disk, dir);
  if (names.empty()) return false;
  const std::string path = dir + "/" + names.back();
  absl::StatusOr<int> fd = disk->Open(path);
  if (!fd.ok()) return false;
  Decoder decoder(disk, {*fd});
  Record record;
  while (true) {
    const uint64_t last = decoder.last_offset();
    absl::Status status = decoder.Decode(&record);
    if (status.ok()) {
      if (record.type == kCrc) {
        if (decoder.crc() != 0 && record.crc != decoder.crc()) {
          (void)disk->Close(*fd);
          return false;
        }
        decoder.UpdateCrc(record.crc);
      }
      continue;
    }
    if (status.code() == absl::StatusCode::kOutOfRange) {
      (void)disk->Close(*fd);
      return true;
    }
    if (status.message() != kErrUnexpectedEof) {
      (void)disk->Close(*fd);
      return false;
    }
    // Keep a copy of the broken file, cut at the last good record, sync.
    bool ok = disk->CopyFile(*fd, path + ".broken").ok();
    ok = ok && disk->Ftruncate(*fd, last).ok() && disk->Fsync(*fd).ok();
    (void)disk->Close(*fd);
    return ok;
  }
}

}  // namespace model::wal
