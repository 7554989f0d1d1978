// What the CLI reads from and writes for its user, checked so that bad input
// is one line on stderr and exit 2: input files of bounded size that must be
// regular files, output paths that must be writable files or directories and
// must not name the same file twice, and messages that stay on one line
// whatever the user typed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cli {

// `text` with control characters (newlines included) and invalid UTF-8
// escaped as \xNN, so that any echo of user input stays on one line.
std::string Printable(std::string_view text);

// Prints "etcd-dst: <message>" as one line on stderr and returns
// kExitBadInput.
int BadInput(std::string_view message);
// The same with a status's message.
int BadInput(const absl::Status& status);

// The whole of `path` if it is a regular, readable file of at most
// `max_bytes`; `what` names it in the error ("plan", "trace").
absl::StatusOr<std::string> ReadInputFile(std::string_view what, const std::string& path, size_t max_bytes);

// OK if `path` is a regular file this process can open for reading.
absl::Status CheckInputFile(std::string_view what, const std::string& path);

// An output file given with `flag`: a non-empty path whose directory exists
// and that is not a directory itself; the file is created if missing (an
// existing one is kept until the run overwrites it).
absl::Status CheckOutputFile(std::string_view flag, const std::string& path);

// An output directory given with `flag`: created if missing, and a file can
// be created in it.
absl::Status PrepareOutputDirectory(std::string_view flag, const std::string& path);

// Writes `bytes` to the output file of `flag`: a regular file through a
// temporary file and a rename (a crash leaves the old file or the new one,
// never half of one), a device such as /dev/null directly. Errors include a
// full disk.
absl::Status WriteOutputFile(std::string_view flag, const std::string& path, std::string_view bytes);

// An output file written in pieces, for outputs too large to hold in memory:
// the pieces go to a temporary file beside `path`, and Commit renames it over
// `path` (a crash leaves the old file or the new one). Dropped uncommitted,
// the temporary file is removed.
class StagedOutputFile {
 public:
  StagedOutputFile() = default;
  StagedOutputFile(const StagedOutputFile&) = delete;
  StagedOutputFile& operator=(const StagedOutputFile&) = delete;
  ~StagedOutputFile();
  absl::Status Open(std::string_view flag, const std::string& path);
  absl::Status Write(std::string_view bytes);
  absl::Status Commit();

 private:
  int fd_ = -1;
  std::string flag_, path_, temporary_;
};

// Refuses two (flag, path) pairs that name the same file, so that one output
// never silently overwrites another or an input.
absl::Status CheckDistinctPaths(const std::vector<std::pair<std::string, std::string>>& flag_paths);

}  // namespace cli
