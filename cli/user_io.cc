#include "cli/user_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "cli/exit_codes.h"
#include "fmt/format.h"

namespace cli {
namespace {

// Length of the valid UTF-8 sequence at text[i], or 0 if there is none.
size_t Utf8Length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = lead >= 0xf0 && lead <= 0xf4 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 && lead < 0xe0 ? 2 : 0;
  if (length == 0 || i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  }
  // Overlong three- and four-byte forms, surrogates and code points above U+10FFFF.
  if ((lead == 0xe0 && byte(i + 1) < 0xa0) || (lead == 0xed && byte(i + 1) >= 0xa0) ||
      (lead == 0xf0 && byte(i + 1) < 0x90) || (lead == 0xf4 && byte(i + 1) >= 0x90)) {
    return 0;
  }
  return length;
}

std::string ErrnoText() { return std::strerror(errno); }

// Opens `path` with `flags` (never blocking on a FIFO), reads its mode and
// closes it; the error is errno's text.
absl::StatusOr<mode_t> OpenedMode(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError(ErrnoText());
  struct stat info {};
  const int stat_result = ::fstat(fd, &info);
  const std::string error = stat_result == 0 ? "" : ErrnoText();
  ::close(fd);
  if (stat_result != 0) return absl::UnavailableError(error);
  return info.st_mode;
}

}  // namespace

std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    const size_t length = c >= 0x80 ? Utf8Length(text, i) : 0;
    if (length > 0) {
      out.append(text.substr(i, length));
      i += length;
      continue;
    }
    out += fmt::format("\\x{:02x}", c);
    ++i;
  }
  return out;
}

int BadInput(std::string_view message) {
  std::fprintf(stderr, "etcd-dst: %s\n", Printable(message).c_str());
  std::fflush(stderr);
  return kExitBadInput;
}

int BadInput(const absl::Status& status) {
  return BadInput(std::string_view(status.message().data(), status.message().size()));
}

absl::StatusOr<std::string> ReadInputFile(std::string_view what, const std::string& path, size_t max_bytes) {
  if (path.empty()) return absl::InvalidArgumentError(fmt::format("the {} path is empty", what));
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(fmt::format("cannot read {} {}: {}", what, path, ErrnoText()));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(fmt::format("{} {} is not a regular file", what, path));
  }
  std::string contents;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string error = ErrnoText();
      ::close(fd);
      return absl::InvalidArgumentError(fmt::format("cannot read {} {}: {}", what, path, error));
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
    if (contents.size() > max_bytes) {
      ::close(fd);
      return absl::InvalidArgumentError(fmt::format("{} {} is larger than {} bytes", what, path, max_bytes));
    }
  }
  ::close(fd);
  return contents;
}

absl::Status CheckInputFile(std::string_view what, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(fmt::format("the {} path is empty", what));
  absl::StatusOr<mode_t> mode = OpenedMode(path, O_RDONLY);
  if (!mode.ok()) return absl::NotFoundError(fmt::format("cannot read {} {}: {}", what, path, std::string(mode.status().message())));
  if (!S_ISREG(*mode)) return absl::InvalidArgumentError(fmt::format("{} {} is not a regular file", what, path));
  return absl::OkStatus();
}

absl::Status CheckOutputFile(std::string_view flag, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(fmt::format("{} needs a file name", flag));
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return absl::InvalidArgumentError(fmt::format("{} {} is a directory", flag, path));
  }
  absl::StatusOr<mode_t> mode = OpenedMode(path, O_WRONLY | O_CREAT);
  if (!mode.ok()) {
    return absl::InvalidArgumentError(fmt::format("cannot write {} {}: {}", flag, path, std::string(mode.status().message())));
  }
  if (!S_ISREG(*mode) && !S_ISCHR(*mode)) {
    return absl::InvalidArgumentError(fmt::format("{} {} is not a regular file", flag, path));
  }
  return absl::OkStatus();
}

absl::Status PrepareOutputDirectory(std::string_view flag, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(fmt::format("{} needs a directory name", flag));
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) return absl::InvalidArgumentError(fmt::format("cannot create {} {}: {}", flag, path, error.message()));
  if (!std::filesystem::is_directory(path, error)) {
    return absl::InvalidArgumentError(fmt::format("{} {} is not a directory", flag, path));
  }
  std::string probe = (std::filesystem::path(path) / ".etcd-dst-probe-XXXXXX").string();
  const int fd = ::mkstemp(probe.data());
  if (fd < 0) return absl::InvalidArgumentError(fmt::format("cannot write in {} {}: {}", flag, path, ErrnoText()));
  ::close(fd);
  ::unlink(probe.c_str());
  return absl::OkStatus();
}

namespace {
absl::Status WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::DataLossError(n < 0 ? ErrnoText() : "short write");
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}
}  // namespace

absl::Status WriteOutputFile(std::string_view flag, const std::string& path, std::string_view bytes) {
  auto failed = [&](const std::string& why) {
    return absl::DataLossError(fmt::format("cannot write {} {}: {}", flag, path, why));
  };
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && !S_ISREG(info.st_mode)) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return failed(ErrnoText());
    absl::Status status = WriteAll(fd, bytes);
    if (::close(fd) != 0 && status.ok()) status = absl::DataLossError(ErrnoText());
    return status.ok() ? status : failed(std::string(status.message()));
  }
  std::string temporary = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) return failed(ErrnoText());
  ::fchmod(fd, 0644);
  absl::Status status = WriteAll(fd, bytes);
  if (::close(fd) != 0 && status.ok()) status = absl::DataLossError(ErrnoText());
  if (status.ok() && ::rename(temporary.c_str(), path.c_str()) != 0) status = absl::DataLossError(ErrnoText());
  if (!status.ok()) {
    ::unlink(temporary.c_str());
    return failed(std::string(status.message()));
  }
  return absl::OkStatus();
}

StagedOutputFile::~StagedOutputFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temporary_.c_str());
  }
}

absl::Status StagedOutputFile::Open(std::string_view flag, const std::string& path) {
  flag_ = std::string(flag);
  path_ = path;
  temporary_ = path + ".tmp-XXXXXX";
  fd_ = ::mkstemp(temporary_.data());
  if (fd_ < 0) return absl::DataLossError(fmt::format("cannot write {} {}: {}", flag_, path_, ErrnoText()));
  ::fchmod(fd_, 0644);
  return absl::OkStatus();
}

absl::Status StagedOutputFile::Write(std::string_view bytes) {
  if (fd_ < 0) return absl::FailedPreconditionError(fmt::format("{} {} is not open", flag_, path_));
  absl::Status status = WriteAll(fd_, bytes);
  if (!status.ok()) return absl::DataLossError(fmt::format("cannot write {} {}: {}", flag_, path_, std::string(status.message())));
  return status;
}

absl::Status StagedOutputFile::Commit() {
  if (fd_ < 0) return absl::FailedPreconditionError(fmt::format("{} {} is not open", flag_, path_));
  const bool closed = ::close(fd_) == 0;
  fd_ = -1;
  if (!closed || ::rename(temporary_.c_str(), path_.c_str()) != 0) {
    const std::string why = ErrnoText();
    ::unlink(temporary_.c_str());
    return absl::DataLossError(fmt::format("cannot write {} {}: {}", flag_, path_, why));
  }
  return absl::OkStatus();
}

absl::Status CheckDistinctPaths(const std::vector<std::pair<std::string, std::string>>& flag_paths) {
  std::vector<std::pair<std::string, std::filesystem::path>> seen;
  for (const auto& [flag, path] : flag_paths) {
    if (path.empty() || path == "-") continue;
    std::error_code error;
    std::filesystem::path canonical = std::filesystem::weakly_canonical(path, error);
    if (error) canonical = std::filesystem::absolute(path, error);
    for (const auto& [other_flag, other] : seen) {
      if (other == canonical) {
        return absl::InvalidArgumentError(fmt::format("{} and {} name the same file {}", other_flag, flag, path));
      }
    }
    seen.emplace_back(flag, canonical);
  }
  return absl::OkStatus();
}

}  // namespace cli
