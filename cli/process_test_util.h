// Test helpers that run the etcd-dst binary (ETCD_DST_CLI) as a child process:
// RunCli through the shell with stdout and stderr interleaved, and
// RunProcess with an argument vector, the two streams apart and a timeout.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace cli {

struct Output {
  int exit_code;
  std::string text;  // stdout and stderr, interleaved
};

// `environment`: assignments before the command ("ARTIFACTS=/tmp/a").
inline Output RunCli(const std::string& arguments, const std::string& environment = "") {
  const std::string command = environment + " " + std::string(ETCD_DST_CLI) + " " + arguments + " 2>&1";
  std::FILE* pipe = popen(command.c_str(), "r");
  Output output{-1, ""};
  if (pipe == nullptr) return output;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    output.text.append(buffer.data(), n);
  const int status = pclose(pipe);
  output.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return output;
}

// The value of the last `key=value` in `text`.
inline std::string Field(const std::string& text, const std::string& key) {
  const size_t at = text.rfind(key + "=");
  if (at == std::string::npos) return "";
  const size_t start = at + key.size() + 1;
  return text.substr(start, text.find_first_of(" \n", start) - start);
}

inline int LineCount(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  return lines;
}

// How a child run by RunProcess ended. Exactly one of: `spawn_error` is set
// (it never ran), `timed_out` (killed at the deadline), `signal` > 0 (it died
// of that signal), or it exited with `exit_code`.
struct ProcessResult {
  std::string spawn_error;
  bool timed_out = false;
  int signal = 0;
  int exit_code = -1;
  std::string stdout_text;
  std::string stderr_text;
  bool output_truncated = false;  // a stream passed ProcessOptions::output_bytes_max

  bool Exited() const { return spawn_error.empty() && !timed_out && signal == 0; }
  // "exit 2", "signal 11", "timed out", "spawn failed: ...": for failure messages.
  std::string Describe() const {
    if (!spawn_error.empty()) return "spawn failed: " + spawn_error;
    if (timed_out) return "timed out";
    if (signal != 0) return "signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
    return "exit " + std::to_string(exit_code);
  }
};

struct ProcessOptions {
  std::chrono::milliseconds timeout{30'000};   // wall clock, from the spawn
  size_t output_bytes_max = size_t{16} << 20;  // per stream; the rest is read and dropped
  std::string working_directory;               // empty: the caller's
};

namespace process_internal {

// Appends what `fd` has to `out` (up to `max` bytes kept); false at end of file.
inline bool Drain(int fd, std::string& out, size_t max, bool& truncated) {
  std::array<char, 65536> buffer;
  const ssize_t n = ::read(fd, buffer.data(), buffer.size());
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  const size_t keep = std::min(static_cast<size_t>(n), max - std::min(max, out.size()));
  out.append(buffer.data(), keep);
  truncated = truncated || keep < static_cast<size_t>(n);
  return true;
}

}  // namespace process_internal

// Runs `argv` (argv[0] is the program's path; no shell, no PATH lookup) with
// stdin from /dev/null and stdout and stderr captured through two pipes that
// are polled together, so a child filling either never blocks. The child leads
// its own process group; at the deadline the whole group gets SIGKILL, so
// grandchildren (sweep's runs) cannot hold the pipes open past it.
inline ProcessResult RunProcess(const std::vector<std::string>& argv,
                                const ProcessOptions& options = {}) {
  ProcessResult result;
  if (argv.empty()) {
    result.spawn_error = "empty argv";
    return result;
  }
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.spawn_error = std::strerror(errno);
    return result;
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.spawn_error = std::strerror(errno);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  if (!options.working_directory.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, options.working_directory.c_str());
  }
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setpgroup(&attributes, 0);
  // The child starts with default signal handling whatever the test runner set.
  sigset_t all_signals, no_signals;
  sigfillset(&all_signals);
  sigemptyset(&no_signals);
  posix_spawnattr_setsigdefault(&attributes, &all_signals);
  posix_spawnattr_setsigmask(&attributes, &no_signals);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> raw_argv;
  for (const std::string& argument : argv) raw_argv.push_back(const_cast<char*>(argument.c_str()));
  raw_argv.push_back(nullptr);
  pid_t pid = -1;
  const int spawn_status =
      posix_spawn(&pid, argv[0].c_str(), &actions, &attributes, raw_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (spawn_status != 0) {
    result.spawn_error = std::strerror(spawn_status);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return result;
  }

  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  std::array<pollfd, 2> fds{pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0}};
  std::array<std::string*, 2> sinks{&result.stdout_text, &result.stderr_text};
  int open_streams = 2;
  while (open_streams > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    const int ready =
        ::poll(fds.data(), fds.size(), static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    for (size_t i = 0; i < fds.size() && ready > 0; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      if (!process_internal::Drain(fds[i].fd, *sinks[i], options.output_bytes_max,
                                   result.output_truncated)) {
        ::close(fds[i].fd);
        fds[i].fd = -1;  // poll skips negative descriptors
        --open_streams;
      }
    }
  }
  for (pollfd& fd : fds) {
    if (fd.fd >= 0) ::close(fd.fd);
  }
  // A child may close both streams and still run: the deadline holds here too.
  int status = 0;
  while (true) {
    if (result.timed_out) ::kill(-pid, SIGKILL);
    const pid_t waited = ::waitpid(pid, &status, result.timed_out ? 0 : WNOHANG);
    if (waited == pid || (waited < 0 && errno != EINTR)) break;
    if (waited == 0 && std::chrono::steady_clock::now() >= deadline) result.timed_out = true;
    if (waited == 0 && !result.timed_out) ::usleep(1000);
  }
  if (result.timed_out) return result;
  if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

}  // namespace cli
