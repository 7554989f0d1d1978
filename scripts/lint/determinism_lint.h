// The determinism lint, after TigerBeetle's tidy.zig: scans the simulated
// code (sim/ model/ cluster/ workloads/) for APIs that break replay: wall
// clocks, unseeded or version-dependent randomness, threads, iteration over
// hash containers, and containers ordered by pointer. A line may opt out of
// one rule with a trailing comment `lint:allow(<rule>) <why>`.
#pragma once

#include <string>
#include <vector>

namespace lint {

struct Finding {
  std::string file;
  int line = 0;
  std::string rule;
  std::string text;  // the offending line, trimmed
};

// Lints one file's contents; `file` is only used in the findings.
std::vector<Finding> LintSource(const std::string& file, const std::string& text);

// Lints every .h/.cc file under each directory of `roots` below `top`.
std::vector<Finding> LintTree(const std::string& top, const std::vector<std::string>& roots);

std::string FormatFinding(const Finding& finding);

}  // namespace lint
