// The documentation's example result lines are what the build prints: every
// line starting with `result=` in README.md and docs/*.md is run again (its
// workload and seed) and must come out the same, so the docs cannot drift.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/process_test_util.h"

namespace cli {
namespace {

struct Example {
  std::string file;
  int line = 0;
  std::string text;
};

std::vector<Example> ResultLinesInDocs() {
  std::vector<std::filesystem::path> files = {std::filesystem::path(ETCD_DST_SOURCE_DIR) / "README.md"};
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(ETCD_DST_SOURCE_DIR) / "docs")) {
    if (entry.path().extension() == ".md") files.push_back(entry.path());
  }
  std::vector<Example> examples;
  for (const auto& file : files) {
    std::ifstream in(file);
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      if (line.rfind("result=", 0) == 0) examples.push_back({file.filename().string(), number, line});
    }
  }
  return examples;
}

// Every documented result line replays to itself, fingerprint included.
TEST(DocsTest, ExampleResultLinesReplay) {
  const std::vector<Example> examples = ResultLinesInDocs();
  ASSERT_GE(examples.size(), 2u) << "README.md and docs/replay.md show result lines";
  for (const Example& example : examples) {
    const std::string workload = Field(example.text, "workload");
    const std::string seed = Field(example.text, "seed");
    ASSERT_FALSE(workload.empty() || seed.empty()) << example.file << ":" << example.line;
    const Output output = RunCli("run --workload " + workload + " --seed " + seed + " 2>/dev/null");
    const size_t start = output.text.rfind('\n', output.text.size() - 2);
    const std::string last = output.text.substr(start == std::string::npos ? 0 : start + 1);
    EXPECT_EQ(last, example.text + "\n") << example.file << ":" << example.line << " drifted from the build";
  }
}

}  // namespace
}  // namespace cli
