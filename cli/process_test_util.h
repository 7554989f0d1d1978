// Test helpers that run the etcd-dst binary (ETCD_DST_CLI) as a child process.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace cli {

struct Output {
  int exit_code;
  std::string text;  // stdout and stderr, interleaved
};

inline Output RunCli(const std::string& arguments) {
  const std::string command = std::string(ETCD_DST_CLI) + " " + arguments + " 2>&1";
  std::FILE* pipe = popen(command.c_str(), "r");
  Output output{-1, ""};
  if (pipe == nullptr) return output;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.text.append(buffer.data(), n);
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

}  // namespace cli
