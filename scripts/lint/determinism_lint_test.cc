#include "lint/determinism_lint.h"

#include <gtest/gtest.h>

namespace lint {
namespace {

std::vector<std::string> RulesHit(const std::string& code) {
  std::vector<std::string> rules;
  for (const Finding& finding : LintSource("snippet.cc", code)) rules.push_back(finding.rule);
  return rules;
}

// Each banned API is caught.
TEST(DeterminismLintTest, CatchesBannedApis) {
  EXPECT_EQ(RulesHit("auto t = std::chrono::steady_clock::now();"), std::vector<std::string>{"wall-clock"});
  EXPECT_EQ(RulesHit("auto t = std::chrono::system_clock::now();"), std::vector<std::string>{"wall-clock"});
  EXPECT_EQ(RulesHit("time_t now = time(nullptr);"), std::vector<std::string>{"wall-clock"});
  EXPECT_EQ(RulesHit("clock_gettime(CLOCK_MONOTONIC, &ts);"), std::vector<std::string>{"wall-clock"});
  EXPECT_EQ(RulesHit("absl::Time t = absl::Now();"), std::vector<std::string>{"wall-clock"});
  EXPECT_EQ(RulesHit("std::random_device rd;"), std::vector<std::string>{"random-device"});
  EXPECT_EQ(RulesHit("int x = rand() % 6;"), std::vector<std::string>{"libc-rand"});
  EXPECT_EQ(RulesHit("srand(1);"), std::vector<std::string>{"libc-rand"});
  EXPECT_EQ(RulesHit("std::uniform_int_distribution<int> d(1, 6);"),
            std::vector<std::string>{"std-distribution"});
  EXPECT_EQ(RulesHit("std::mt19937 engine(5);"), std::vector<std::string>{"std-engine"});
  EXPECT_EQ(RulesHit("std::shuffle(v.begin(), v.end(), g);"), std::vector<std::string>{"std-engine"});
  EXPECT_EQ(RulesHit("absl::BitGen gen;"), std::vector<std::string>{"absl-random"});
  EXPECT_EQ(RulesHit("std::thread worker(f);"), std::vector<std::string>{"thread"});
  EXPECT_EQ(RulesHit("auto f = std::async(g);"), std::vector<std::string>{"thread"});
  EXPECT_EQ(RulesHit("std::set<Actor*> ready;"), std::vector<std::string>{"pointer-ordered"});
  EXPECT_EQ(RulesHit("std::map<const Node*, int> rank;"), std::vector<std::string>{"pointer-ordered"});
}

// Iterating a hash container is caught; looking things up in one is not.
TEST(DeterminismLintTest, CatchesHashIteration) {
  const std::string code =
      "absl::flat_hash_map<std::string, std::vector<int>> members_;\n"
      "std::unordered_set<int> seen;\n"
      "auto it = members_.find(key);\n"
      "for (const auto& [k, v] : members_) {}\n"
      "for (int x : seen) {}\n"
      "auto first = seen.begin();\n";
  const std::vector<Finding> findings = LintSource("f.cc", code);
  ASSERT_EQ(findings.size(), 3u);
  EXPECT_EQ(findings[0].line, 4);
  EXPECT_EQ(findings[1].line, 5);
  EXPECT_EQ(findings[2].line, 6);
  EXPECT_EQ(findings[0].rule, "hash-iteration");
}

// Comments, strings, look-alike names and explicit opt-outs are not findings.
TEST(DeterminismLintTest, IgnoresCommentsStringsAndOptOuts) {
  EXPECT_TRUE(RulesHit("// never call rand() or std::thread here").empty());
  EXPECT_TRUE(RulesHit("/* std::random_device\n steady_clock */ int x;").empty());
  EXPECT_TRUE(RulesHit("Log(\"do not use time(nullptr)\");").empty());
  EXPECT_TRUE(RulesHit("int v = rng.Next(); Brand(); operand(); x.time();").empty());
  EXPECT_TRUE(RulesHit("SimTime time(); std::map<std::string, int> m;").empty());
  EXPECT_TRUE(RulesHit("std::thread t(f);  // lint:allow(thread) test harness only").empty());
  EXPECT_EQ(RulesHit("std::thread t(f);  // lint:allow(wall-clock) wrong rule"),
            std::vector<std::string>{"thread"});
}

// The simulated code itself is clean.
TEST(DeterminismLintTest, TreeIsClean) {
  const std::vector<Finding> findings =
      LintTree(ETCD_DST_SOURCE_DIR, {"sim", "model", "cluster", "workloads"});
  std::string report;
  for (const Finding& finding : findings) report += FormatFinding(finding) + "\n";
  EXPECT_TRUE(findings.empty()) << report;
}

}  // namespace
}  // namespace lint
