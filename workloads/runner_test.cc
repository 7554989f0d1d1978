#include "workloads/runner.h"

#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "sim/trace_file.h"
#include "workloads/workload.h"

namespace workloads {
namespace {

// kernel-selftest passes over a range of seeds, with every Sometimes seen somewhere.
TEST(KernelSelftestTest, PassesAcrossSeeds) {
  std::map<std::string, uint64_t> hits;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    auto result = RunWorkload({.workload = "kernel-selftest", .seed = seed});
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(result->pass()) << ResultLine(*result);
    EXPECT_EQ(result->stop_reason(), "quiet") << "seed " << seed;
    for (const auto& property : result->properties()) {
      if (property.kind() == "sometimes") hits[property.name()] += property.hits();
    }
  }
  EXPECT_GE(hits.size(), 6u);
  for (const auto& [name, count] : hits) EXPECT_GT(count, 0u) << name << " never seen in 40 seeds";
}

// world-selftest passes across seeds, and its Sometimes properties are all seen.
TEST(WorldSelftestTest, PassesAcrossSeeds) {
  std::map<std::string, uint64_t> hits;
  for (uint64_t seed = 1; seed <= 120; ++seed) {
    auto result = RunWorkload({.workload = "world-selftest", .seed = seed});
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(result->pass()) << ResultLine(*result);
    for (const auto& property : result->properties()) {
      if (property.kind() == "sometimes") hits[property.name()] += property.hits();
    }
  }
  for (const auto& [name, count] : hits) EXPECT_GT(count, 0u) << name << " never seen in 120 seeds";
  EXPECT_GE(hits.size(), 12u);
}

// The same seed gives the same fingerprint in one process; another seed a different one.
TEST(KernelSelftestTest, SameSeedSameFingerprint) {
  auto a = RunWorkload({.workload = "kernel-selftest", .seed = 7});
  auto b = RunWorkload({.workload = "kernel-selftest", .seed = 7});
  auto c = RunWorkload({.workload = "kernel-selftest", .seed = 8});
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->fingerprint(), b->fingerprint());
  EXPECT_EQ(a->events(), b->events());
  EXPECT_NE(a->fingerprint(), c->fingerprint());
}

// The result line has the documented machine-readable shape.
TEST(RunnerTest, ResultLineShape) {
  etcd_dst::result::RunResult result;
  result.set_pass(false);
  result.set_seed(12);
  result.set_workload("w");
  result.set_fingerprint(0xabc);
  result.set_events(99);
  result.set_sim_time_ns(1500000000);
  result.add_violated("A");
  result.add_violated("B");
  EXPECT_EQ(ResultLine(result),
            "result=fail seed=12 workload=w fingerprint=0000000000000abc events=99 sim_time=1.500s "
            "violations=A,B");
}

// Unknown workloads and unwritable trace paths are errors before anything runs.
TEST(RunnerTest, BadInput) {
  EXPECT_EQ(RunWorkload({.workload = "nope", .seed = 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunWorkload({.workload = "kernel-selftest", .seed = 1, .trace_path = "/no/such/dir/t"})
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
}

// The protobuf trace holds every event, the footer agrees with the result, and a
// killed group shows up as GroupKilled.
TEST(RunnerTest, TraceFileMatchesResult) {
  const std::string path = (std::filesystem::path(testing::TempDir()) / "selftest.trace").string();
  auto result = RunWorkload({.workload = "kernel-selftest", .seed = 3, .trace_path = path});
  ASSERT_TRUE(result.ok());
  auto contents = sim::ReadTraceFile(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  ASSERT_TRUE(contents->has_footer);
  EXPECT_EQ(contents->footer.fingerprint(), result->fingerprint());
  EXPECT_EQ(contents->header.workload(), "kernel-selftest");
  bool group_killed = false;
  for (const auto& event : contents->events) group_killed |= event.name() == "GroupKilled";
  EXPECT_TRUE(group_killed);
}

}  // namespace
}  // namespace workloads

namespace workloads {
namespace {

// Building the bbolt image in a temp file leaves only the second window (no voters); also
// writing the bootstrap entries before the WAL's rename removes both. Every declared Sometimes
// mark of each variant is hit. (The search that finds every kind of #16596 failure is in
// search_test.cc: it needs thousands of seeds.)
TEST(SingleMemberPowerLossTest, TheFixesHold) {
  std::map<std::string, std::map<std::string, uint64_t>> hits;  // workload -> mark -> hits
  auto count = [&hits](const etcd_dst::result::RunResult& result) {
    for (const auto& property : result.properties()) {
      if (property.kind() == "sometimes") hits[result.workload()][property.name()] += property.hits();
    }
  };
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    auto plain = RunWorkload({.workload = "single-member-power-loss", .seed = seed});
    ASSERT_TRUE(plain.ok());
    count(*plain);
    auto atomic_init = RunWorkload({.workload = "single-member-power-loss-atomic-init", .seed = seed});
    ASSERT_TRUE(atomic_init.ok());
    count(*atomic_init);
    for (const auto& violation : atomic_init->violations()) {
      EXPECT_NE(violation.details().find("never became available"), std::string::npos) << ResultLine(*atomic_init);
    }
    auto both = RunWorkload({.workload = "single-member-power-loss-atomic-bootstrap", .seed = seed});
    ASSERT_TRUE(both.ok());
    EXPECT_TRUE(both->pass()) << ResultLine(*both);
    count(*both);
    auto pr570 = RunWorkload({.workload = "single-member-power-loss-pr570", .seed = seed});
    ASSERT_TRUE(pr570.ok());
    count(*pr570);
  }
  EXPECT_EQ(hits.size(), 4u);
  for (const auto& [workload, marks] : hits) {
    for (const auto& [name, count] : marks) EXPECT_GT(count, 0u) << workload << ": " << name << " never seen";
  }
}

}  // namespace
}  // namespace workloads

