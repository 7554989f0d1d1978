// Determinism across processes: the CLI is run as separate processes and
// their fingerprints compared. A hash-map iteration, an address used as an
// order, or uninitialised memory shows up here and not within one process.
#include <fstream>
#include <map>
#include <string>

#include "fmt/format.h"
#include "sim/run_result.pb.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "cli/process_test_util.h"

namespace cli {
namespace {

// Seed 7 gives the same fingerprint in two processes; seed 8 a different one.
TEST(DeterminismTest, FingerprintsAcrossProcesses) {
  const Output first = RunCli("run --workload kernel-selftest --seed 7");
  const Output second = RunCli("run --workload kernel-selftest --seed 7");
  const Output other = RunCli("run --workload kernel-selftest --seed 8");
  ASSERT_EQ(first.exit_code, 0) << first.text;
  ASSERT_EQ(second.exit_code, 0) << second.text;
  ASSERT_EQ(other.exit_code, 0) << other.text;
  const std::string fingerprint = Field(first.text, "fingerprint");
  ASSERT_EQ(fingerprint.size(), 16u) << first.text;
  EXPECT_EQ(fingerprint, Field(second.text, "fingerprint"));
  EXPECT_EQ(Field(first.text, "events"), Field(second.text, "events"));
  EXPECT_NE(fingerprint, Field(other.text, "fingerprint"));
}

// A range of seeds agrees across processes, with buggify on (the default).
TEST(DeterminismTest, SeedRangeAcrossProcesses) {
  for (int seed = 100; seed < 110; ++seed) {
    const std::string args = "run --workload kernel-selftest --seed " + std::to_string(seed);
    const Output a = RunCli(args);
    const Output b = RunCli(args);
    ASSERT_EQ(a.exit_code, 0) << a.text;
    EXPECT_EQ(Field(a.text, "fingerprint"), Field(b.text, "fingerprint")) << "seed " << seed;
  }
}

// The backup-restore pods (wrapper, BR, snapshots in the bucket) replay
// across processes under both profiles.
TEST(DeterminismTest, BackupRestoreAcrossProcesses) {
  for (const char* profile : {"br-v0.35", "br-fixed"}) {
    const std::string args = std::string("run --workload bootstrap-0-to-3 --seed 3 --profile ") + profile;
    const Output a = RunCli(args);
    const Output b = RunCli(args);
    ASSERT_NE(Field(a.text, "fingerprint"), "") << a.text;
    EXPECT_EQ(Field(a.text, "fingerprint"), Field(b.text, "fingerprint")) << profile;
    EXPECT_EQ(Field(a.text, "events"), Field(b.text, "events")) << profile;
  }
}

// Every workload replays across processes: the world, the etcd model and the chaos.
TEST(DeterminismTest, EveryWorkloadAcrossProcesses) {
  for (const char* workload : {"world-selftest", "single-member-power-loss", "etcd-cluster-chaos"}) {
    for (int seed : {1, 2, 175}) {
      const std::string args = std::string("run --workload ") + workload + " --seed " + std::to_string(seed);
      const Output a = RunCli(args);
      const Output b = RunCli(args);
      ASSERT_NE(Field(a.text, "fingerprint"), "") << a.text;
      EXPECT_EQ(Field(a.text, "fingerprint"), Field(b.text, "fingerprint")) << workload << " seed " << seed;
      EXPECT_EQ(Field(a.text, "events"), Field(b.text, "events")) << workload << " seed " << seed;
    }
  }
}

// A sweep's forked children give the fingerprints of fresh `run` processes:
// the warmed parent leaves nothing behind that a run could see, and neither
// does a seed for the next one in a batch (short seeds run in batches: the
// selftests' 25 seeds do, the long workloads' seeds run alone).
TEST(DeterminismTest, SweepChildrenMatchFreshProcesses) {
  const std::string dir = testing::TempDir() + "/sweep-vs-run";
  std::filesystem::remove_all(dir);
  Output sweep = RunCli("sweep --workload etcd-cluster-chaos --workload bootstrap-0-to-3 --profile br-v0.35 "
                        "--first-seed 4 --seeds 3 --jobs 2 --out " + dir);
  ASSERT_NE(sweep.text.find("runs=6 "), std::string::npos) << sweep.text;
  sweep = RunCli("sweep --workload kernel-selftest --workload world-selftest --first-seed 4 --seeds 25 --jobs 2 --out " +
                 dir + "-short");
  ASSERT_NE(sweep.text.find("runs=50 "), std::string::npos) << sweep.text;
  etcd_dst::result::SweepResult summary, short_runs;
  std::ifstream in(dir + "/results.pb", std::ios::binary);
  ASSERT_TRUE(summary.ParseFromIstream(&in));
  std::ifstream short_in(dir + "-short/results.pb", std::ios::binary);
  ASSERT_TRUE(short_runs.ParseFromIstream(&short_in));
  summary.MergeFrom(short_runs);
  ASSERT_EQ(summary.runs_size(), 56);
  for (const auto& run : summary.runs()) {
    const std::string args = fmt::format("run --workload {} --seed {}{}", run.workload(), run.seed(),
                                         run.profile().empty() ? "" : " --profile " + run.profile());
    const Output fresh = RunCli(args);
    EXPECT_EQ(Field(fresh.text, "fingerprint"), fmt::format("{:016x}", run.result().fingerprint())) << args;
    EXPECT_EQ(Field(fresh.text, "events"), std::to_string(run.result().events())) << args;
  }
}

// A trace costs the run nothing it could see: with a trace file (which also
// records messages as observations) the fingerprint and events are those of
// the run without one.
TEST(DeterminismTest, TracingDoesNotChangeTheRun) {
  const std::string dir = testing::TempDir();
  for (const char* args : {"run --workload kernel-selftest --seed 9", "run --workload etcd-cluster-chaos --seed 3"}) {
    const Output plain = RunCli(args);
    const Output traced = RunCli(std::string(args) + " --trace " + dir + "/observed.pb --trace-text " + dir + "/observed.txt");
    ASSERT_NE(Field(plain.text, "fingerprint"), "") << plain.text;
    EXPECT_EQ(Field(plain.text, "fingerprint"), Field(traced.text, "fingerprint")) << args;
    EXPECT_EQ(Field(plain.text, "events"), Field(traced.text, "events")) << args;
  }
  std::ifstream text(dir + "/observed.txt");
  const std::string lines((std::istreambuf_iterator<char>(text)), std::istreambuf_iterator<char>());
  EXPECT_NE(lines.find("MessageSent"), std::string::npos);  // the chaos run's, traced last
}

// The text trace written by one process is byte-identical to another's.
TEST(DeterminismTest, TextTracesIdentical) {
  const std::string dir = testing::TempDir();
  ASSERT_EQ(RunCli("run --workload kernel-selftest --seed 11 --trace-text " + dir + "/a.txt").exit_code, 0);
  ASSERT_EQ(RunCli("run --workload kernel-selftest --seed 11 --trace-text " + dir + "/b.txt").exit_code, 0);
  EXPECT_EQ(system(("cmp -s " + dir + "/a.txt " + dir + "/b.txt").c_str()), 0);
}

}  // namespace
}  // namespace cli
