#include "cli/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/wal.h"

namespace cli {
namespace {

constexpr size_t kHeaderBytes = 8;
// A record is one run's result: kilobytes. Anything near this is corruption.
constexpr uint32_t kRecordBytesMax = 64u << 20;

void PutU32(char* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

uint32_t GetU32(const char* in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return value;
}

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(errno)));
}

// pread until `size` bytes or the end; returns how many were read, -1 on error.
ssize_t ReadFully(int fd, char* out, size_t size, uint64_t offset) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pread(fd, out + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

}  // namespace

JournalWriter::~JournalWriter() { Close(); }

absl::Status JournalWriter::Open(const std::string& path, uint64_t keep_bytes) {
  Close();
  path_ = path;
  fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) return Errno("open", path);
  if (ftruncate(fd_, static_cast<off_t>(keep_bytes)) != 0 ||
      lseek(fd_, static_cast<off_t>(keep_bytes), SEEK_SET) < 0) {
    const absl::Status status = Errno("truncate", path);
    Close();
    return status;
  }
  return absl::OkStatus();
}

absl::Status JournalWriter::Append(std::string_view payload) {
  if (fd_ < 0) return absl::FailedPreconditionError("journal not open");
  std::string record(kHeaderBytes + payload.size(), '\0');
  PutU32(record.data(), static_cast<uint32_t>(payload.size()));
  PutU32(record.data() + 4, model::wal::Crc32c(0, payload));
  std::memcpy(record.data() + kHeaderBytes, payload.data(), payload.size());
  size_t done = 0;
  while (done < record.size()) {
    const ssize_t n = write(fd_, record.data() + done, record.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("write", path_);
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

void JournalWriter::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

absl::StatusOr<std::string> ReadJournalRecord(int fd, uint64_t offset) {
  char header[kHeaderBytes];
  const ssize_t got = ReadFully(fd, header, kHeaderBytes, offset);
  if (got < 0) return absl::UnavailableError(absl::StrCat("cannot read the journal: ", std::strerror(errno)));
  if (got != static_cast<ssize_t>(kHeaderBytes)) {
    return absl::OutOfRangeError(absl::StrCat("journal record at ", offset, " is short"));
  }
  const uint32_t size = GetU32(header);
  if (size > kRecordBytesMax) return absl::DataLossError(absl::StrCat("journal record at ", offset, " is too large"));
  std::string payload(size, '\0');
  const ssize_t read = ReadFully(fd, payload.data(), size, offset + kHeaderBytes);
  if (read < 0) return absl::UnavailableError(absl::StrCat("cannot read the journal: ", std::strerror(errno)));
  if (read != static_cast<ssize_t>(size)) {
    return absl::OutOfRangeError(absl::StrCat("journal record at ", offset, " is short"));
  }
  if (model::wal::Crc32c(0, payload) != GetU32(header + 4)) {
    return absl::DataLossError(absl::StrCat("journal record at ", offset, " fails its checksum"));
  }
  return payload;
}

absl::StatusOr<JournalScan> ReadJournal(
    const std::string& path, const std::function<absl::Status(uint64_t, std::string_view)>& record) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, " does not exist"));
    return Errno("open", path);
  }
  const off_t end = lseek(fd, 0, SEEK_END);
  JournalScan scan;
  while (scan.good_bytes < static_cast<uint64_t>(end)) {
    absl::StatusOr<std::string> payload = ReadJournalRecord(fd, scan.good_bytes);
    if (!payload.ok()) {
      // A record cut short at the end is a crash's torn tail; so is a bad
      // last record (a power loss can leave its pages unwritten). A bad
      // record with more after it, or a read error, is not.
      const absl::StatusCode code = payload.status().code();
      bool last = code == absl::StatusCode::kOutOfRange;
      if (code == absl::StatusCode::kDataLoss) {
        char header[kHeaderBytes];
        last = ReadFully(fd, header, kHeaderBytes, scan.good_bytes) == static_cast<ssize_t>(kHeaderBytes) &&
               scan.good_bytes + kHeaderBytes + GetU32(header) >= static_cast<uint64_t>(end);
      }
      if (!last) {
        close(fd);
        return absl::DataLossError(absl::StrCat(path, ": ", payload.status().message(),
                                                " (and more records follow: not a torn tail)"));
      }
      scan.torn_tail = true;
      break;
    }
    if (absl::Status status = record(scan.good_bytes, *payload); !status.ok()) {
      close(fd);
      return status;
    }
    ++scan.records;
    scan.good_bytes += kHeaderBytes + payload->size();
  }
  close(fd);
  return scan;
}

}  // namespace cli
