#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "cli/process_test_util.h"
#include "fmt/format.h"
#include "sim/run_result.pb.h"

namespace cli {
namespace {

// Each kind of bad input is one line on stderr and exit code 2.
TEST(CliTest, BadInputIsOneLineAndExit2) {
  for (const char* args : {
           "run --workload no-such-workload --seed 7",
           "run --workload kernel-selftest --seed seven",
           "run --workload kernel-selftest --seed -3",
           "run --workload kernel-selftest --seed 99999999999999999999999",
           "run --workload kernel-selftest",
           "run --seed 7",
           "run --workload kernel-selftest --seed 7 --trace /no/such/dir/t.pb",
           "run --workload kernel-selftest --seed 7 --trace-text /no/such/dir/t.txt",
           "run --workload kernel-selftest --seed 7 --bogus-flag",
           "frobnicate",
           "",
           "sweep --shard 3/2 --seeds 1",
           "sweep --workload nope --seeds 1",
           "sweep --seeds 0",
           "trace /no/such/file.pb",
       }) {
    const Output output = RunCli(args);
    EXPECT_EQ(output.exit_code, 2) << args << "\n" << output.text;
    EXPECT_EQ(LineCount(output.text), 1) << args << "\n" << output.text;
    EXPECT_EQ(output.text.rfind("etcd-dst: ", 0), 0u) << args << "\n" << output.text;
  }
}

// A corrupt trace file is a clear error (exit 2), not a crash.
TEST(CliTest, CorruptTraceFile) {
  const std::string path = testing::TempDir() + "/corrupt.trace";
  std::ofstream(path) << "\x05garbage-that-is-not-protobuf";
  const Output output = RunCli("trace " + path);
  EXPECT_EQ(output.exit_code, 2) << output.text;
  EXPECT_NE(output.text.find("corrupt"), std::string::npos) << output.text;
}

// --help works for the tool and each subcommand; list names kernel-selftest.
TEST(CliTest, HelpAndList) {
  for (const char* args : {"--help", "run --help", "list --help", "sweep --help", "trace --help"}) {
    const Output output = RunCli(args);
    EXPECT_EQ(output.exit_code, 0) << args << "\n" << output.text;
    EXPECT_NE(output.text.find("Usage"), std::string::npos) << args << "\n" << output.text;
  }
  const Output list = RunCli("list");
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.text.find("kernel-selftest"), std::string::npos);
}

// run prints the result line last, writes a RunResult, and trace prints the protobuf trace.
TEST(CliTest, RunWritesResultAndTrace) {
  const std::string dir = testing::TempDir();
  const Output output = RunCli("run --workload kernel-selftest --seed 0x2a --trace " + dir +
                            "/t.pb --result " + dir + "/r.pb");
  ASSERT_EQ(output.exit_code, 0) << output.text;
  const std::string last = output.text.substr(output.text.rfind('\n', output.text.size() - 2) + 1);
  EXPECT_EQ(last.rfind("result=pass seed=42 workload=kernel-selftest fingerprint=", 0), 0u) << last;
  etcd_dst::result::RunResult result;
  std::ifstream in(dir + "/r.pb", std::ios::binary);
  ASSERT_TRUE(result.ParseFromIstream(&in));
  EXPECT_EQ(result.seed(), 42u);
  EXPECT_EQ(Field(last, "fingerprint"), fmt::format("{:016x}", result.fingerprint()));
  const Output trace = RunCli("trace " + dir + "/t.pb");
  EXPECT_EQ(trace.exit_code, 0);
  EXPECT_NE(trace.text.find("GroupKilled"), std::string::npos);
  EXPECT_NE(trace.text.find("# fingerprint=" + Field(last, "fingerprint")), std::string::npos);
}

// A sweep runs each seed in its own process, shards split the seeds, and results are kept.
TEST(CliTest, SweepAndShards) {
  const std::string dir = testing::TempDir() + "/sweep";
  const Output all = RunCli("sweep --workload kernel-selftest --seeds 6 --jobs 2 --out " + dir);
  ASSERT_EQ(all.exit_code, 0) << all.text;
  EXPECT_NE(all.text.find("sweep=pass runs=6 failed=0"), std::string::npos) << all.text;
  etcd_dst::result::SweepResult summary;
  std::ifstream in(dir + "/results.pb", std::ios::binary);
  ASSERT_TRUE(summary.ParseFromIstream(&in));
  ASSERT_EQ(summary.runs_size(), 6);
  EXPECT_EQ(summary.runs(0).seed(), 1u);
  EXPECT_TRUE(summary.runs(5).result().pass());
  const Output shard = RunCli("sweep --workload kernel-selftest --seeds 6 --shard 1/3 --out " + dir + "-s");
  ASSERT_EQ(shard.exit_code, 0) << shard.text;
  EXPECT_NE(shard.text.find("runs=2 "), std::string::npos) << shard.text;
}

}  // namespace
}  // namespace cli
