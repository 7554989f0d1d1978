// Sweep benchmark: what a seed costs on one core, per workload, and what the
// sweep adds to it. Everything runs on one core (--jobs 1) in this one run.
//
// 1. Overhead per seed, on kernel-selftest (a run of well under a
//    millisecond): the same seeds run in this process back to back (the run
//    alone), through `etcd-dst sweep` (the fork server: a forked child per
//    seed) and, as the reference the fork server replaced, one `etcd-dst run`
//    process started per seed (what sweeps did before issue 11).
// 2. Per workload: `etcd-dst sweep --jobs 1` over a fixed seed range; seeds
//    per second and simulated seconds per wall second.
// 3. The sweep parent's peak RSS over a short and a long kernel-selftest
//    sweep (--rss-seeds, 100,000 for the figure).
//
// The last lines are, per workload:
//   workload=W seeds=N seeds_per_second_per_core=X sim_seconds_per_wall_second=Y
//
// Usage: sweep_bench ETCD_DST_BINARY [--quick] [--rss-seeds N]
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "sim/run_result.pb.h"
#include "workloads/runner.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Runs argv with stdout captured (stderr to /dev/null); returns stdout.
std::string Capture(const std::vector<std::string>& args, int* exit_code) {
  std::string command;
  for (const std::string& arg : args) command += "'" + arg + "' ";
  command += "2>/dev/null";
  std::FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int status = pclose(pipe);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::string Field(const std::string& text, const std::string& key) {
  const size_t at = text.rfind(key + "=");
  if (at == std::string::npos) return "";
  const size_t start = at + key.size() + 1;
  return text.substr(start, text.find_first_of(" \n", start) - start);
}

struct SweepFigures {
  double seconds = 0;
  double sim_seconds = 0;
  uint64_t runs = 0;
  long parent_rss_kib = 0;
};

SweepFigures Sweep(const std::string& binary, const std::string& workload, const std::string& profile,
                   uint64_t seeds, const std::string& out, int jobs = 1) {
  std::filesystem::remove_all(out);
  std::vector<std::string> args = {binary, "sweep", "--workload", workload, "--seeds", std::to_string(seeds),
                                   "--jobs", std::to_string(jobs), "--out", out};
  if (!profile.empty()) {
    args.push_back("--profile");
    args.push_back(profile);
  }
  int exit_code = 0;
  const auto start = Clock::now();
  const std::string text = Capture(args, &exit_code);
  SweepFigures figures;
  figures.seconds = Since(start);
  figures.parent_rss_kib = std::atol(Field(text, "parent_peak_rss_kib").c_str());
  etcd_dst::result::SweepResult summary;
  std::ifstream in(out + "/results.pb", std::ios::binary);
  if (!summary.ParseFromIstream(&in)) {
    std::fprintf(stderr, "sweep_bench: %s left no results (exit %d)\n", workload.c_str(), exit_code);
    std::exit(1);
  }
  for (const auto& run : summary.runs()) figures.sim_seconds += run.result().sim_time_ns() / 1e9;
  figures.runs = static_cast<uint64_t>(summary.runs_size());
  return figures;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: sweep_bench ETCD_DST_BINARY [--quick] [--rss-seeds N]\n");
    return 2;
  }
  const std::string binary = argv[1];
  bool quick = false;
  uint64_t rss_seeds = 100000;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      quick = true;
    } else if (arg == "--rss-seeds" && i + 1 < argc) {
      rss_seeds = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "sweep_bench: unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  const std::string tmp = (std::filesystem::temp_directory_path() / fmt::format("sweep_bench.{}", getpid())).string();
  std::filesystem::create_directories(tmp);

  // 1. Overhead per seed.
  const uint64_t overhead_seeds = quick ? 300 : 2000;
  auto start = Clock::now();
  for (uint64_t seed = 1; seed <= overhead_seeds; ++seed) {
    workloads::RunOptions options;
    options.workload = "kernel-selftest";
    options.seed = seed;
    if (!workloads::RunWorkload(options).ok()) return 1;
  }
  const double in_process = Since(start) / overhead_seeds;
  const SweepFigures forked = Sweep(binary, "kernel-selftest", "", overhead_seeds, tmp + "/overhead");
  const double fork_server = forked.seconds / overhead_seeds;
  const uint64_t spawn_seeds = overhead_seeds / 4;
  start = Clock::now();
  for (uint64_t seed = 1; seed <= spawn_seeds; ++seed) {
    const std::string seed_text = std::to_string(seed);
    std::vector<char*> args = {const_cast<char*>(binary.c_str()), const_cast<char*>("run"), const_cast<char*>("--workload"),
                               const_cast<char*>("kernel-selftest"), const_cast<char*>("--seed"),
                               const_cast<char*>(seed_text.c_str()), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    posix_spawn(&pid, binary.c_str(), &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    int status = 0;
    waitpid(pid, &status, 0);
  }
  const double spawned = Since(start) / spawn_seeds;
  std::printf("kernel_selftest_run_ms=%.3f fork_server_ms_per_seed=%.3f process_per_seed_ms=%.3f\n",
              in_process * 1e3, fork_server * 1e3, spawned * 1e3);
  std::printf("sweep_overhead_ms_per_seed=%.3f process_start_overhead_ms_per_seed=%.3f\n",
              (fork_server - in_process) * 1e3, (spawned - in_process) * 1e3);
  std::fflush(stdout);

  // 3. Parent RSS, short against long (two jobs: it is the parent that counts).
  if (rss_seeds > 0) {
    const SweepFigures short_sweep = Sweep(binary, "kernel-selftest", "", 1000, tmp + "/rss-short", 2);
    const SweepFigures long_sweep = Sweep(binary, "kernel-selftest", "", rss_seeds, tmp + "/rss-long", 2);
    std::printf("parent_peak_rss_kib_1000=%ld parent_peak_rss_kib_%llu=%ld parent_rss_ratio=%.2f\n",
                short_sweep.parent_rss_kib, static_cast<unsigned long long>(rss_seeds), long_sweep.parent_rss_kib,
                static_cast<double>(long_sweep.parent_rss_kib) / std::max(1L, short_sweep.parent_rss_kib));
    std::fflush(stdout);
  }

  // 2. Per workload, one core.
  struct Case {
    std::string workload, profile;
    uint64_t seeds;
  };
  const uint64_t scale = quick ? 4 : 1;
  const std::vector<Case> cases = {
      {"kernel-selftest", "", 2000 / scale},
      {"world-selftest", "", 400 / scale},
      {"single-member-power-loss", "", 200 / scale},
      {"etcd-cluster-chaos", "", 40 / scale},
      {"bootstrap-0-to-3", "br-v0.35", 20 / scale},
      {"bootstrap-0-to-3", "br-fixed", 20 / scale},
      {"scale-up-1-to-3", "br-v0.35", 20 / scale},
      {"wake-up-0-to-3", "br-v0.35", 20 / scale},
      {"member-volume-lost", "br-v0.35", 20 / scale},
      {"restore-all-volumes-lost", "br-v0.35", 20 / scale},
      {"rolling-update", "br-v0.35", 20 / scale},
      {"druid-cluster-chaos", "br-v0.35", 20 / scale},
  };
  std::vector<std::string> lines;
  for (const Case& c : cases) {
    const SweepFigures figures = Sweep(binary, c.workload, c.profile, c.seeds, tmp + "/" + c.workload);
    lines.push_back(fmt::format("workload={}{} seeds={} seeds_per_second_per_core={:.1f} sim_seconds_per_wall_second={:.0f}",
                                c.workload, c.profile.empty() ? "" : "." + c.profile, figures.runs,
                                figures.runs / figures.seconds, figures.sim_seconds / figures.seconds));
  }
  for (const std::string& line : lines) std::printf("%s\n", line.c_str());
  std::error_code ec;
  std::filesystem::remove_all(tmp, ec);
  return 0;
}
