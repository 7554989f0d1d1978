#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

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
           "viz /no/such/file.pb --out /tmp/viz-never",
           "viz /dev/null",
           "plan --workload nope --seed 1",
           "plan --workload world-selftest --seed x",
           "run --workload world-selftest --plan /no/such/plan.txt",
           "run --workload kernel-selftest",
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
  const Output shard =
      RunCli("sweep --workload kernel-selftest --seeds 6 --shard 1/3 --out " + dir + "-s", "ARTIFACTS=" + dir + "-artifacts");
  ASSERT_EQ(shard.exit_code, 0) << shard.text;
  EXPECT_NE(shard.text.find("runs=2 "), std::string::npos) << shard.text;
  EXPECT_TRUE(std::filesystem::exists(dir + "-artifacts/junit_etcd-dst.xml"));
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif

// A seed that aborts, spins without yielding, runs out of memory or violates
// a property fails alone, with its replay line and the reason; the others
// pass, and every run is in results.pb. (Under AddressSanitizer there is no
// address-space limit, so the out-of-memory seed is left out.)
TEST(CliTest, SweepIsolatesMisbehavingSeeds) {
  const std::string dir = testing::TempDir() + "/isolation";
  std::filesystem::remove_all(dir);
  const int seeds = kAddressSanitizer ? 6 : 10;  // 1..6: abort at 3, spin at 5; 7: out of memory; 9: violation
  const Output output = RunCli(fmt::format(
      "sweep --workload sweep-selftest --seeds {} --jobs 2 --seed-timeout 1.5 --seed-memory-mib 1024 --out {}", seeds,
      dir));
  EXPECT_EQ(output.exit_code, 3) << output.text;
  EXPECT_NE(output.text.find("INTERNAL: etcd-dst run --workload sweep-selftest --seed 3  (killed by signal 6"),
            std::string::npos)
      << output.text;
  EXPECT_NE(output.text.find("INTERNAL: etcd-dst run --workload sweep-selftest --seed 5  (wall-time limit of 1.5 s"),
            std::string::npos)
      << output.text;
  if (!kAddressSanitizer) {
    EXPECT_NE(output.text.find("--seed 7  (out of memory (limit 1024 MiB)"), std::string::npos) << output.text;
    EXPECT_NE(output.text.find("FAIL: etcd-dst run --workload sweep-selftest --seed 9  (log "), std::string::npos)
        << output.text;
  }
  etcd_dst::result::SweepResult summary;
  std::ifstream in(dir + "/results.pb", std::ios::binary);
  ASSERT_TRUE(summary.ParseFromIstream(&in));
  ASSERT_EQ(summary.runs_size(), seeds);
  for (const auto& run : summary.runs()) {
    const bool bad = run.seed() % 10 == 3 || run.seed() % 10 == 5 || run.seed() % 10 == 7;
    EXPECT_EQ(run.failure().empty(), !bad) << run.seed() << " " << run.failure();
    EXPECT_EQ(run.log().empty(), !bad && run.seed() % 10 != 9) << run.seed();
    if (!bad) {
      EXPECT_EQ(run.result().seed(), run.seed());
      EXPECT_GT(run.result().peak_rss_kib(), 0u);
    }
  }
  // results.jsonl has a line per run, as it finished; JUnit a failing
  // run-health case; both are in $ARTIFACTS too when it is set (JUnit).
  std::ifstream jsonl(dir + "/results.jsonl");
  int lines = 0;
  for (std::string line; std::getline(jsonl, line); ++lines) {
    EXPECT_EQ(line.rfind("{\"workload\":\"sweep-selftest\"", 0), 0u) << line;
  }
  EXPECT_EQ(lines, seeds);
  std::ifstream junit(dir + "/junit_etcd-dst.xml");
  const std::string xml((std::istreambuf_iterator<char>(junit)), std::istreambuf_iterator<char>());
  EXPECT_NE(xml.find("<testcase classname=\"etcd-dst.sweep-selftest\" name=\"run-health\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("killed by signal 6"), std::string::npos) << xml;
  // The log of a killed seed says why, after whatever the seed printed.
  std::ifstream log(dir + "/runs/sweep-selftest-5.log");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("etcd-dst sweep: wall-time limit of 1.5 s exceeded"), std::string::npos) << text;
}

// (workload, profile, seed) -> "fingerprint exit_code" for each run of a results.pb.
std::map<std::string, std::string> RunsOf(const std::string& results_pb) {
  etcd_dst::result::SweepResult summary;
  std::ifstream in(results_pb, std::ios::binary);
  EXPECT_TRUE(summary.ParseFromIstream(&in)) << results_pb;
  std::map<std::string, std::string> runs;
  for (const auto& run : summary.runs()) {
    runs[fmt::format("{} {} {}", run.workload(), run.profile(), run.seed())] =
        fmt::format("{:016x} {}", run.result().fingerprint(), run.exit_code());
  }
  return runs;
}

// A sweep stopped by SIGINT keeps what finished (exit 130), one whose process
// group is SIGKILLed (a killed pod) leaves a journal that may end torn; both
// resume with --resume to the results of an uninterrupted sweep.
TEST(CliTest, InterruptedSweepsResume) {
  const std::string dir = testing::TempDir() + "/resume";
  std::filesystem::remove_all(dir);
  const std::string args = "sweep --workload etcd-cluster-chaos --workload kernel-selftest --seeds 80 --jobs 2 --out ";
  const Output interrupted = RunCli(args + dir + "/a", "timeout --preserve-status -s INT 0.5");
  EXPECT_EQ(interrupted.exit_code, 130) << interrupted.text;
  EXPECT_NE(interrupted.text.find("with --resume"), std::string::npos) << interrupted.text;
  EXPECT_EQ(interrupted.text.find("signal 2 (Interrupt)"), std::string::npos) << "a seed was failed by the Ctrl-C";
  const ProcessResult killed = RunProcess({ETCD_DST_CLI, "sweep", "--workload", "etcd-cluster-chaos", "--workload",
                                           "kernel-selftest", "--seeds", "80", "--jobs", "2", "--out", dir + "/b"},
                                          {.timeout = std::chrono::milliseconds(700)});
  EXPECT_TRUE(killed.timed_out) << killed.Describe();
  for (const char* part : {"/a", "/b"}) {
    const Output resumed = RunCli(args + dir + part + " --resume");
    EXPECT_EQ(resumed.exit_code, 0) << resumed.text;
    EXPECT_NE(resumed.text.find("resumed: "), std::string::npos) << resumed.text;
  }
  const Output whole = RunCli(args + dir + "/c");
  ASSERT_EQ(whole.exit_code, 0) << whole.text;
  const auto expected = RunsOf(dir + "/c/results.pb");
  EXPECT_EQ(expected.size(), 160u);
  EXPECT_EQ(RunsOf(dir + "/a/results.pb"), expected);
  EXPECT_EQ(RunsOf(dir + "/b/results.pb"), expected);
  std::ifstream jsonl(dir + "/b/results.jsonl");
  int lines = 0;
  for (std::string line; std::getline(jsonl, line);) ++lines;
  EXPECT_EQ(lines, 160);
  // A resume must be the same sweep.
  const Output other = RunCli("sweep --workload kernel-selftest --seeds 5 --out " + dir + "/a --resume");
  EXPECT_EQ(other.exit_code, 2) << other.text;
  EXPECT_NE(other.text.find("was started with workloads=etcd-cluster-chaos,kernel-selftest"), std::string::npos) << other.text;
  EXPECT_EQ(RunCli("sweep --workload kernel-selftest --seeds 5 --out " + dir + "/none --resume").exit_code, 2);
}

// Shards of an Indexed Job (JOB_COMPLETION_INDEX, --shards N) merge into the
// per-run results of one unsharded sweep; merge refuses a shard twice (its
// seeds overlap) and shards of another build.
TEST(CliTest, ShardsMergeToTheUnshardedSweep) {
  const std::string dir = testing::TempDir() + "/merge";
  std::filesystem::remove_all(dir);
  const std::string args =
      "sweep --workload single-member-power-loss --workload kernel-selftest --first-seed 1210 --seeds 10 --jobs 2 ";
  for (int k = 0; k < 3; ++k) {
    const Output shard = RunCli(args + "--shards 3 --out " + dir + "/s" + std::to_string(k),
                                "JOB_COMPLETION_INDEX=" + std::to_string(k));
    EXPECT_NE(shard.text.find("sweep="), std::string::npos) << shard.text;
  }
  const Output merged = RunCli("merge --out " + dir + "/all " + dir + "/s0 " + dir + "/s1 " + dir + "/s2");
  EXPECT_EQ(merged.exit_code, 1) << merged.text;  // #16596's seed 1217 fails
  EXPECT_NE(merged.text.find("merge=fail shards=3 runs=20 failed="), std::string::npos) << merged.text;
  const Output whole = RunCli(args + "--out " + dir + "/whole");
  EXPECT_EQ(RunsOf(dir + "/all/results.pb"), RunsOf(dir + "/whole/results.pb"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/all/index.html"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/all/junit_etcd-dst.xml"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/all/failures/single-member-power-loss-1217/index.html"));
  const Output twice = RunCli("merge --out " + dir + "/twice " + dir + "/s0 " + dir + "/s0");
  EXPECT_EQ(twice.exit_code, 2) << twice.text;
  EXPECT_NE(twice.text.find("overlap"), std::string::npos) << twice.text;
  // Another build: its sweep.txt names another commit.
  std::ifstream in(dir + "/s1/sweep.txt");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  text.replace(text.find("build=") + 6, 0, "other-");
  std::ofstream(dir + "/s1/sweep.txt") << text;
  const Output builds = RunCli("merge --out " + dir + "/builds " + dir + "/s0 " + dir + "/s1");
  EXPECT_EQ(builds.exit_code, 2) << builds.text;
  EXPECT_NE(builds.text.find("different builds"), std::string::npos) << builds.text;
  EXPECT_EQ(RunCli(args + "--shards 3 --out " + dir + "/noenv").exit_code, 2);  // no JOB_COMPLETION_INDEX
}

// shrink prints a smaller plan that run --plan replays to the same
// violation: etcd #16596's seed keeps its one power loss with a shorter
// outage, fsyncgate's chaos seed keeps 2 of its 11 actions.
TEST(CliShrinkTest, SmallerPlansStillFail) {
  const Output shrunk = RunCli("shrink --workload etcd-cluster-chaos --seed 1031");
  ASSERT_EQ(shrunk.exit_code, 0) << shrunk.text;
  EXPECT_NE(shrunk.text.find("# etcd-dst shrink: 2 of 11 actions left, still violating AcknowledgedWritesSurvive"),
            std::string::npos)
      << shrunk.text;
  const std::string path = testing::TempDir() + "/shrunk-1031.txt";
  std::ofstream(path) << shrunk.text;
  const Output replay = RunCli("run --workload etcd-cluster-chaos --plan " + path);
  EXPECT_EQ(replay.exit_code, 1) << replay.text;
  EXPECT_NE(Field(replay.text, "violations").find("AcknowledgedWritesSurvive"), std::string::npos) << replay.text;
  const Output small = RunCli("shrink --workload single-member-power-loss --seed 1217");
  ASSERT_EQ(small.exit_code, 0) << small.text;
  EXPECT_NE(small.text.find("restart_after_ns: 15625000"), std::string::npos) << small.text;
  EXPECT_EQ(RunCli("shrink --workload single-member-power-loss --seed 1").exit_code, 2);  // it passes
  EXPECT_EQ(RunCli("shrink --workload nope --seed 1").exit_code, 2);
  EXPECT_EQ(RunCli("shrink --workload etcd-cluster-chaos").exit_code, 2);
}

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

// An unedited plan from `plan` replays the seed exactly: the same fingerprint.
TEST(CliPlanTest, UneditedPlanReplaysTheSeed) {
  for (const char* seed : {"3", "17", "0x2a"}) {
    const Output plan = RunCli(std::string("plan --workload world-selftest --seed ") + seed);
    ASSERT_EQ(plan.exit_code, 0) << plan.text;
    const std::string path = WriteFile(std::string("plan-") + seed + ".txt", plan.text);
    const Output direct = RunCli(std::string("run --workload world-selftest --seed ") + seed);
    const Output planned = RunCli("run --workload world-selftest --plan " + path);
    ASSERT_EQ(direct.exit_code, 0) << direct.text;
    ASSERT_EQ(planned.exit_code, 0) << planned.text;
    EXPECT_EQ(Field(direct.text, "fingerprint"), Field(planned.text, "fingerprint")) << seed;
  }
}

// An edited plan runs as edited: a forced power loss that keeps only the second half of a torn
// write happens, and the fingerprint changes.
TEST(CliPlanTest, EditedPlanRunsAsEdited) {
  const std::string plan =
      "workload: \"world-selftest\" seed: 5\n"
      "link { latency_base_ns: 1000000 }\n"
      "disks { disk: \"m1\" persist_unit_bytes: 512 }\n"
      "actions { at_ns: 2000000000 power_loss { node: \"m1\" restart_after_ns: 1000000000\n"
      "  choice { metadata_ops_kept: 0 keep_nothing_unlisted: true } } }\n";
  const std::string path = WriteFile("edited.txt", plan);
  const Output run = RunCli("run --workload world-selftest --plan " + path + " --trace-text -");
  ASSERT_EQ(run.exit_code, 0) << run.text.substr(run.text.size() > 2000 ? run.text.size() - 2000 : 0);
  EXPECT_NE(run.text.find("2.000000s world - FaultInjected action=\"2s power_loss node=m1"), std::string::npos);
  EXPECT_NE(run.text.find("PowerLoss disk=m1 count=1 unit=512 metadata_ops_kept=0/"), std::string::npos);
  EXPECT_EQ(run.text.find("PartitionStarted"), std::string::npos);
  EXPECT_NE(Field(run.text, "fingerprint"), Field(RunCli("run --workload world-selftest --seed 5").text, "fingerprint"));
}

// Malformed or ill-fitting plans are one line and exit 2.
TEST(CliPlanTest, BadPlans) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"actions { at_ns: 1 crash { nod: \"m0\" } }", "line 1 column"},
      {"actions { at_ns: 1 crash { node: \"m7\" } }", "unknown node 'm7'"},
      {"actions { at_ns: -5 crash { node: \"m0\" } }", "at_ns = -5 is outside"},
      {"workload: \"kernel-selftest\"", "is for workload 'kernel-selftest'"},
      {"{{{", "line 1"},
  };
  for (const auto& [text, expected] : cases) {
    const std::string path = WriteFile("bad-plan.txt", text);
    const Output run = RunCli("run --workload world-selftest --seed 1 --plan " + path);
    EXPECT_EQ(run.exit_code, 2) << text << "\n" << run.text;
    EXPECT_EQ(LineCount(run.text), 1) << run.text;
    EXPECT_NE(run.text.find(expected), std::string::npos) << run.text;
  }
}

// --export-disks writes every disk's final view and a crash image per power loss.
TEST(CliPlanTest, ExportDisks) {
  const std::string plan =
      "actions { at_ns: 1500000000 power_loss { node: \"m2\" restart_after_ns: 1000000000 } }\n"
      "actions { at_ns: 5000000000 power_loss { node: \"m2\" restart_after_ns: 1000000000 } }\n";
  const std::string path = WriteFile("export-plan.txt", plan);
  const std::string dir = testing::TempDir() + "/exported";
  std::filesystem::remove_all(dir);
  const Output run = RunCli("run --workload world-selftest --seed 1 --plan " + path + " --export-disks " + dir);
  ASSERT_EQ(run.exit_code, 0) << run.text;
  EXPECT_TRUE(std::filesystem::exists(dir + "/m2/powerloss-0/log"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/m2/powerloss-1/log"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/m2/powerloss-2/log"));  // the workload's final power loss
  EXPECT_FALSE(std::filesystem::exists(dir + "/m2/powerloss-3"));
  for (const char* machine : {"m0", "m1", "m2"}) {
    EXPECT_GT(std::filesystem::file_size(dir + "/" + machine + "/final/log"), 0u) << machine;
  }
  const Output unwritable = RunCli("run --workload world-selftest --seed 1 --export-disks /proc/nope");
  EXPECT_EQ(unwritable.exit_code, 2) << unwritable.text;
}

// Runs the CLI through the shell with stdout sent to `stdout_path`; the text is stderr alone.
Output RunCliStderr(const std::string& arguments, const std::string& stdout_path) {
  const std::string command = std::string(ETCD_DST_CLI) + " " + arguments + " 2>&1 >" + stdout_path;
  std::FILE* pipe = popen(command.c_str(), "r");
  Output output{-1, ""};
  if (pipe == nullptr) return output;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.text.append(buffer, n);
  const int status = pclose(pipe);
  output.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return output;
}

// Each class of hostile input found by fuzzing is one stderr line and exit 2, never exit 3 or a
// silent success: plan numbers out of range, unreadable or unbounded plan files, output paths
// that are directories, devices, the same file twice or '-' for binary output, wrapping seed
// ranges, repeated workloads, bad peer URLs, faults for a workload that takes none, newlines.
TEST(CliHostileInputTest, EachClassIsOneLineAndExit2) {
  const std::string dir = testing::TempDir() + "/hostile";
  std::filesystem::create_directories(dir + "/a-directory");
  std::filesystem::create_directories(dir + "/out-blocked/results.pb");
  std::ofstream(dir + "/a-file") << "x";
  const std::string empty = WriteFile("hostile-empty.txt", "");
  const std::string comments = WriteFile("hostile-comments.txt", "# nothing but a comment\n");
  const std::string latency = WriteFile("hostile-latency.txt",
                                        "link { latency_base_ns: 9223372036854775000 latency_jitter_ns: 5000 }");
  const std::string rate = WriteFile("hostile-rate.txt", "actions { object_store { transient_error_per_million: 2000000 } }");
  const std::string lag = WriteFile("hostile-lag.txt", "swarm { listing_lag: true listing_lag_ns: -7 }");
  const std::string faults_for_none = WriteFile("hostile-none.txt", "actions { at_ns: 5 heal {} }");
  const std::string plan = WriteFile("hostile-plan.txt", "workload: \"world-selftest\" seed: 3");
  for (const std::string& args : std::vector<std::string>{
           "run --workload world-selftest --plan " + latency,
           "run --workload world-selftest --plan " + rate,
           "run --workload world-selftest --plan " + lag,
           "run --workload kernel-selftest --plan " + faults_for_none,
           "run --workload world-selftest --plan /dev/zero",
           "run --workload world-selftest --plan " + dir,
           "run --workload world-selftest --plan /proc/self/mem",
           "run --workload world-selftest --plan " + empty,
           "run --workload world-selftest --plan " + comments,
           "run --workload world-selftest --seed 1 --plan ''",
           "run --workload kernel-selftest --seed 1 --trace -",
           "run --workload kernel-selftest --seed 1 --result -",
           "run --workload kernel-selftest --seed 1 --result " + dir + "/t --trace " + dir + "/t",
           "run --workload world-selftest --plan " + plan + " --result " + plan,
           "run --workload kernel-selftest --seed 1 --result " + dir + "/a-directory",
           "run --workload kernel-selftest --seed 1 --trace-text " + dir + "/a-file/x",
           "run --workload world-selftest --seed 1 --export-disks " + dir + "/a-file/sub",
           "run --workload world-selftest --seed 1 --export-disks /proc",
           "run --workload world-selftest --seed 1 --result /dev/full",
           "run --workload kernel-selftest --seed 1 --trace-text /dev/full",
           "run --workload 'a\nb' --seed 1",
           "run --workload kernel-selftest --seed '1\n2'",
           "sweep --first-seed 18446744073709551615 --seeds 2",
           "sweep --workload kernel-selftest --workload kernel-selftest --seeds 1",
           "sweep --workload kernel-selftest --seeds 1 --out " + dir + "/out-blocked",
           "sweep --workload kernel-selftest --seeds 1 --shard 3/4 --out " + dir + "/out-empty-shard",
           "ids --initial-cluster m0=ftp://x",
           "ids --initial-cluster m0=http://",
           "ids --initial-cluster m0=http://a:70000",
           "trace " + dir,
           "trace /dev/zero",
           "viz " + dir + " --out " + dir + "/viz",
           "viz /dev/zero --out " + dir + "/viz",
           "viz " + dir + "/a-file --out " + dir + "/a-file",
           "result " + dir + "/a-file",
       }) {
    const Output output = RunCliStderr(args, "/dev/null");
    EXPECT_EQ(output.exit_code, 2) << args << "\n" << output.text;
    EXPECT_EQ(LineCount(output.text), 1) << args << "\n" << output.text;
    EXPECT_EQ(output.text.rfind("etcd-dst: ", 0), 0u) << args << "\n" << output.text;
  }
  // A full stdout is an error too, not a lost result.
  const Output full = RunCliStderr("run --workload kernel-selftest --seed 1", "/dev/full");
  EXPECT_EQ(full.exit_code, 2) << full.text;
  EXPECT_EQ(LineCount(full.text), 1) << full.text;
}

// The replay line carries what the run needs: a failing run from an edited plan file (another run
// than its seed's) replays through --plan, and a --no-buggify run keeps --no-buggify; running the
// printed line gives the same fingerprint and verdict.
TEST(CliReplayTest, EveryReplayLineReplays) {
  const Output plan = RunCli("plan --workload single-member-power-loss --seed 1217");
  ASSERT_EQ(plan.exit_code, 0) << plan.text;
  std::string text = plan.text;
  const size_t latency = text.find("latency_base_ns: 200000");
  ASSERT_NE(latency, std::string::npos) << text;
  text.replace(latency, std::string("latency_base_ns: 200000").size(), "latency_base_ns: 300000");
  const std::string path = WriteFile("replay plan 1217.txt", text);  // a space, to be quoted
  const std::string seed_only = Field(RunCli("run --workload single-member-power-loss --seed 1217").text, "fingerprint");
  for (const std::string& args : {"run --workload single-member-power-loss --plan '" + path + "'",
                                  std::string("run --workload single-member-power-loss --seed 1217 --no-buggify")}) {
    const Output first = RunCli(args);
    ASSERT_EQ(first.exit_code, 1) << args << "\n" << first.text;
    const size_t at = first.text.find("replay: etcd-dst ");
    ASSERT_NE(at, std::string::npos) << first.text;
    const size_t start = at + std::string("replay: etcd-dst ").size();
    const std::string replay = first.text.substr(start, first.text.find('\n', start) - start);
    const Output again = RunCli(replay);
    EXPECT_EQ(again.exit_code, 1) << replay << "\n" << again.text;
    EXPECT_EQ(Field(again.text, "fingerprint"), Field(first.text, "fingerprint")) << replay;
    EXPECT_EQ(Field(again.text, "violations"), Field(first.text, "violations")) << replay;
    if (args.find("--no-buggify") != std::string::npos) {
      EXPECT_NE(replay.find("--no-buggify"), std::string::npos) << replay;
    } else {
      EXPECT_NE(replay.find("--plan"), std::string::npos) << replay;
      EXPECT_NE(Field(first.text, "fingerprint"), seed_only) << "the edited plan is another run";
    }
  }
}

}  // namespace
}  // namespace cli
