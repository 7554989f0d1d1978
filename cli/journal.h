// An append-only file of records that survives a crash at any instant: each
// record is [length: u32 LE][crc32c of the payload: u32 LE][payload], written
// with one write(2). A reader stops at the first record that is short or
// whose checksum fails (a torn tail), and says where the good prefix ends, so
// a resumed writer truncates there and appends.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cli {

class JournalWriter {
 public:
  JournalWriter() = default;
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;
  ~JournalWriter();

  // Opens `path` for appending after its first `keep_bytes` bytes (0: a new,
  // empty journal; the end of ReadJournal's good prefix: a resumed one).
  absl::Status Open(const std::string& path, uint64_t keep_bytes);
  absl::Status Append(std::string_view payload);
  void Close();

 private:
  int fd_ = -1;
  std::string path_;
};

struct JournalScan {
  uint64_t records = 0;
  uint64_t good_bytes = 0;  // where the last whole record ends
  bool torn_tail = false;   // bytes after good_bytes were dropped
};

// Calls `record(offset, payload)` for each whole record, in order. NotFound
// if the file does not exist; a read error as Unavailable; DataLoss for a bad
// record that is not the last (corruption, not a crash). A callback error
// stops the scan and is returned.
absl::StatusOr<JournalScan> ReadJournal(
    const std::string& path, const std::function<absl::Status(uint64_t offset, std::string_view payload)>& record);

// Reads the one record at `offset` (an offset ReadJournal reported).
absl::StatusOr<std::string> ReadJournalRecord(int fd, uint64_t offset);

}  // namespace cli
