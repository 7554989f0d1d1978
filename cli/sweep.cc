#include "cli/sweep.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <tuple>

#include "cli/exit_codes.h"
#include "cli/user_io.h"
#include "workloads/workload.h"
#include "fmt/format.h"
#include "sim/run_result.pb.h"

extern char** environ;

namespace cli {
namespace {

struct Job {
  std::string workload;
  std::string profile;  // empty: the workload has none
  uint64_t seed;
  std::string result_path;
  std::string log_path;
};

pid_t Launch(const SweepOptions& options, const Job& job) {
  std::vector<std::string> args = {options.self, "run", "--workload", job.workload,
                                   "--seed", std::to_string(job.seed), "--result", job.result_path};
  if (!job.profile.empty()) {
    args.push_back("--profile");
    args.push_back(job.profile);
  }
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, job.log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  const int error = posix_spawn(&pid, options.self.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return error == 0 ? pid : -1;
}

}  // namespace

int RunSweep(const SweepOptions& options) {
  std::error_code ec;
  const std::string runs_dir = (std::filesystem::path(options.out_dir) / "runs").string();
  if (absl::Status status = PrepareOutputDirectory("--out", options.out_dir); !status.ok()) {
    return BadInput(status);
  }
  if (absl::Status status = PrepareOutputDirectory("--out", runs_dir); !status.ok()) return BadInput(status);
  const std::string summary_path = (std::filesystem::path(options.out_dir) / "results.pb").string();
  if (absl::Status status = CheckOutputFile("--out", summary_path); !status.ok()) return BadInput(status);
  std::vector<Job> pending;
  for (const std::string& workload : options.workloads) {
    std::vector<std::string> profiles = workloads::FindWorkload(workload)->make()->Profiles();
    if (!profiles.empty() && !options.profiles.empty()) {
      std::erase_if(profiles, [&](const std::string& p) {
        return std::find(options.profiles.begin(), options.profiles.end(), p) == options.profiles.end();
      });
    }
    if (profiles.empty()) profiles.push_back("");
    for (const std::string& profile : profiles)
    for (uint64_t i = 0; i < options.seeds; ++i) {
      if (i % options.shard_count != options.shard_index) continue;
      const uint64_t seed = options.first_seed + i;
      const std::string name = profile.empty() ? workload : workload + "." + profile;
      const std::string stem =
          (std::filesystem::path(options.out_dir) / "runs" / fmt::format("{}-{}", name, seed)).string();
      pending.push_back({workload, profile, seed, stem + ".result.pb", stem + ".log"});
      for (const std::string& path : {pending.back().result_path, pending.back().log_path}) {
        if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec)) {
          return BadInput(fmt::format("--out: {} is in the way (not a regular file)", path));
        }
      }
    }
  }
  if (pending.empty()) {
    return BadInput(fmt::format("--shard {}/{} selects none of the {} seeds", options.shard_index,
                                options.shard_count, options.seeds));
  }
  const auto started = std::chrono::steady_clock::now();
  std::map<pid_t, Job> running;
  std::map<std::tuple<std::string, std::string, uint64_t>, etcd_dst::result::SweepRun> finished;
  size_t next = 0;
  while (next < pending.size() || !running.empty()) {
    while (next < pending.size() && static_cast<int>(running.size()) < options.jobs) {
      const Job& job = pending[next++];
      const pid_t pid = Launch(options, job);
      if (pid < 0) {
        std::fprintf(stderr, "etcd-dst: cannot start %s\n", options.self.c_str());
        return kExitInternal;
      }
      running.emplace(pid, job);
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) break;
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const Job job = it->second;
    running.erase(it);
    etcd_dst::result::SweepRun run;
    run.set_workload(job.workload);
    run.set_seed(job.seed);
    run.set_exit_code(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    std::ifstream in(job.result_path, std::ios::binary);
    if (in && !run.mutable_result()->ParseFromIstream(&in)) run.clear_result();
    in.close();
    std::filesystem::remove(job.result_path, ec);
    if (run.exit_code() == kExitPass) {
      std::filesystem::remove(job.log_path, ec);
    } else {
      run.set_log(job.log_path);
      const std::string replay = run.result().replay().empty()
                                     ? fmt::format("etcd-dst run --workload {} --seed {}{}", job.workload, job.seed,
                                                   job.profile.empty() ? "" : " --profile " + job.profile)
                                     : run.result().replay();
      std::printf("%s: %s  (log %s)\n", run.exit_code() == kExitViolation ? "FAIL" : "INTERNAL", replay.c_str(),
                  job.log_path.c_str());
      std::fflush(stdout);
    }
    finished[{job.workload, job.profile, job.seed}] = std::move(run);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  etcd_dst::result::SweepResult summary;
  summary.set_first_seed(options.first_seed);
  summary.set_seeds(options.seeds);
  summary.set_shard_index(options.shard_index);
  summary.set_shard_count(options.shard_count);
  std::map<std::string, std::map<std::string, uint64_t>> sometimes_hits;  // workload -> name -> hits
  std::map<std::string, std::map<std::string, uint64_t>> violated_runs;   // workload -> property -> runs
  std::map<std::string, std::array<uint64_t, 3>> counts;  // pass, fail, internal
  // Per workload and profile: "bootstrap-0-to-3 profile=br-fixed".
  for (auto& [key, run] : finished) {
    const std::string& profile = std::get<1>(key);
    const std::string group = profile.empty() ? run.workload() : run.workload() + " profile=" + profile;
    auto& count = counts[group];
    if (run.exit_code() == kExitPass) {
      ++count[0];
    } else if (run.exit_code() == kExitViolation) {
      ++count[1];
    } else {
      ++count[2];
    }
    for (const auto& property : run.result().properties()) {
      if (property.kind() == "sometimes") sometimes_hits[group][property.name()] += property.hits();
    }
    for (const std::string& name : run.result().violated()) ++violated_runs[group][name];
    *summary.add_runs() = run;
  }
  if (absl::Status status = WriteOutputFile("--out", summary_path, summary.SerializeAsString()); !status.ok()) {
    return BadInput(status);
  }
  uint64_t failed = 0, internal = 0;
  for (const auto& [workload, count] : counts) {
    std::string never;
    for (const auto& [name, hits] : sometimes_hits[workload]) {
      if (hits == 0) never += (never.empty() ? "" : ",") + name;
    }
    std::string violated;
    for (const auto& [name, runs] : violated_runs[workload]) {
      violated += fmt::format("{}{}:{}", violated.empty() ? "" : ",", name, runs);
    }
    std::printf("workload=%s runs=%llu pass=%llu fail=%llu internal=%llu violated=%s sometimes_never_seen=%s\n",
                workload.c_str(), static_cast<unsigned long long>(count[0] + count[1] + count[2]),
                static_cast<unsigned long long>(count[0]), static_cast<unsigned long long>(count[1]),
                static_cast<unsigned long long>(count[2]), violated.c_str(), never.c_str());
    failed += count[1];
    internal += count[2];
  }
  std::printf("sweep=%s runs=%zu failed=%llu internal=%llu seconds=%.1f runs_per_second=%.1f results=%s\n",
              failed + internal == 0 ? "pass" : "fail", finished.size(),
              static_cast<unsigned long long>(failed), static_cast<unsigned long long>(internal),
              seconds, seconds > 0 ? finished.size() / seconds : 0.0, summary_path.c_str());
  if (internal > 0) return kExitInternal;
  return failed > 0 ? kExitViolation : kExitPass;
}

}  // namespace cli
