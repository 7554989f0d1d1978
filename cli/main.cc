// etcd-dst: the command line. Subcommands: run, plan, sweep, list, trace, ids.
// Exit codes are in cli/exit_codes.h.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "CLI/CLI.hpp"
#include "cli/exit_codes.h"
#include "cli/seed.h"
#include "cli/sweep.h"
#include "model/ids.h"
#include "sim/fault_plan.h"
#include "sim/trace_file.h"
#include "workloads/runner.h"
#include "workloads/workload.h"

namespace cli {
namespace {

int BadInput(const std::string& message) {
  std::fprintf(stderr, "etcd-dst: %s\n", message.c_str());
  return kExitBadInput;
}

// Opens (creating or truncating) `path` to prove it is writable before a run.
bool Writable(const std::string& path) {
  std::ofstream probe(path, std::ios::binary | std::ios::app);
  return static_cast<bool>(probe);
}

struct RunFlags {
  std::string workload, seed_text, trace, trace_text, result_path, plan_path, export_disks;
  bool no_buggify = false;
};

// Reads, parses and checks a plan file; on failure, one line for BadInput.
absl::StatusOr<sim::FaultPlan> LoadPlan(const std::string& path, const std::string& workload) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read plan " + path);
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<sim::FaultPlan> plan = sim::ParsePlanText(text.str());
  if (!plan.ok()) return absl::InvalidArgumentError("plan " + path + ": " + std::string(plan.status().message()));
  if (absl::Status status = workloads::CheckPlan(workload, *plan); !status.ok()) {
    return absl::InvalidArgumentError("plan " + path + ": " + std::string(status.message()));
  }
  return plan;
}

int Run(const RunFlags& flags) {
  if (workloads::FindWorkload(flags.workload) == nullptr) {
    return BadInput("unknown workload '" + flags.workload + "' (etcd-dst list shows them)");
  }
  std::optional<sim::FaultPlan> plan;
  if (!flags.plan_path.empty()) {
    absl::StatusOr<sim::FaultPlan> loaded = LoadPlan(flags.plan_path, flags.workload);
    if (!loaded.ok()) return BadInput(std::string(loaded.status().message()));
    plan = *std::move(loaded);
  }
  std::optional<uint64_t> seed;
  if (!flags.seed_text.empty()) {
    seed = ParseSeed(flags.seed_text);
    if (!seed) return BadInput("--seed '" + flags.seed_text + "' is not a number (decimal, or hex with 0x)");
  } else if (plan.has_value()) {
    seed = plan->seed();
  } else {
    return BadInput("run needs --seed (or --plan, whose seed it then uses)");
  }
  for (const std::string* path : {&flags.trace, &flags.trace_text, &flags.result_path}) {
    if (!path->empty() && *path != "-" && !Writable(*path)) return BadInput("cannot write " + *path);
  }
  if (!flags.export_disks.empty()) {
    std::error_code error;
    std::filesystem::create_directories(flags.export_disks, error);
    if (error) return BadInput("cannot create " + flags.export_disks + ": " + error.message());
  }
  const std::string& workload = flags.workload;
  const std::string& trace = flags.trace;
  const std::string& trace_text = flags.trace_text;
  const std::string& result_path = flags.result_path;
  workloads::RunOptions options;
  options.workload = workload;
  options.seed = *seed;
  options.plan = plan;
  options.export_disks_dir = flags.export_disks;
  options.trace_path = trace;
  options.trace_text_path = trace_text;
  options.buggify = !flags.no_buggify;
  absl::StatusOr<etcd_dst::result::RunResult> result = workloads::RunWorkload(options);
  if (!result.ok()) {
    if (result.status().code() == absl::StatusCode::kInternal) {
      std::fprintf(stderr, "etcd-dst: %s\n", std::string(result.status().message()).c_str());
      return kExitInternal;
    }
    return BadInput(std::string(result.status().message()));
  }
  if (!result_path.empty()) {
    std::ofstream out(result_path, std::ios::binary | std::ios::trunc);
    if (!out || !result->SerializeToOstream(&out)) {
      std::fprintf(stderr, "etcd-dst: cannot write %s\n", result_path.c_str());
      return kExitInternal;
    }
  }
  for (const auto& violation : result->violations()) {
    std::printf("violation: %s at %s in %s/%s: %s\n", violation.property().c_str(),
                sim::SimTime::FromNanos(violation.time_ns()).ToString().c_str(),
                violation.group().c_str(), violation.actor().c_str(), violation.details().c_str());
  }
  if (!result->pass()) std::printf("replay: %s\n", result->replay().c_str());
  std::printf("%s\n", workloads::ResultLine(*result).c_str());
  std::fflush(stdout);
  return result->pass() ? kExitPass : kExitViolation;
}

int PrintPlan(const std::string& workload, const std::string& seed_text) {
  const std::optional<uint64_t> seed = ParseSeed(seed_text);
  if (!seed) return BadInput("--seed '" + seed_text + "' is not a number (decimal, or hex with 0x)");
  absl::StatusOr<sim::FaultPlan> plan = workloads::PlanFor(workload, *seed);
  if (!plan.ok()) return BadInput(std::string(plan.status().message()));
  std::printf("# etcd-dst run --workload %s --seed %s --plan FILE\n", workload.c_str(), seed_text.c_str());
  for (const auto& action : plan->actions()) std::printf("# %s\n", sim::DescribeAction(action).c_str());
  std::printf("%s", sim::FormatPlanText(*plan).c_str());
  return kExitPass;
}

int Ids(const std::string& initial_cluster, const std::string& token) {
  absl::StatusOr<std::vector<model::InitialMember>> members = model::ParseInitialCluster(initial_cluster);
  if (!members.ok()) return BadInput(std::string(members.status().message()));
  std::vector<model::MemberId> ids;
  for (const model::InitialMember& member : *members) {
    ids.push_back(model::ComputeMemberId(member.peer_urls, token));
    std::printf("member %s %s\n", member.name.c_str(), model::FormatId(ids.back()).c_str());
  }
  std::printf("cluster %s\n", model::FormatId(model::ComputeClusterId(ids)).c_str());
  return kExitPass;
}

int List() {
  for (const workloads::WorkloadEntry& entry : workloads::AllWorkloads()) {
    std::printf("%-24s %s\n", entry.name.c_str(), entry.description.c_str());
  }
  return kExitPass;
}

int PrintTrace(const std::string& path) {
  absl::StatusOr<sim::TraceFileContents> contents = sim::ReadTraceFile(path);
  if (!contents.ok()) return BadInput(std::string(contents.status().message()));
  std::printf("# workload=%s seed=%llu events=%zu\n", contents->header.workload().c_str(),
              static_cast<unsigned long long>(contents->header.seed()), contents->events.size());
  for (const auto& event : contents->events) {
    std::printf("%s\n", sim::FormatTraceLine(sim::FromProto(event)).c_str());
  }
  if (contents->has_footer) {
    std::printf("# fingerprint=%016llx pass=%s\n",
                static_cast<unsigned long long>(contents->footer.fingerprint()),
                contents->footer.pass() ? "true" : "false");
  } else {
    std::printf("# no footer: the run did not finish cleanly\n");
  }
  return kExitPass;
}

std::string SelfPath(const char* argv0) {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(argv0) : self.string();
}

int Main(int argc, char** argv) {
  CLI::App app{"etcd-dst: deterministic simulation testing of etcd and etcd-backup-restore"};
  app.require_subcommand(1);

  RunFlags flags;
  CLI::App* run = app.add_subcommand("run", "Run one workload with one seed; the last line is the result");
  run->add_option("--workload", flags.workload, "Workload name (see 'list')")->required();
  run->add_option("--seed", flags.seed_text, "Root seed: decimal, or hex with 0x (default with --plan: the plan's)");
  run->add_option("--plan", flags.plan_path, "Run this fault plan (protobuf text, see 'plan') instead of the seed's");
  run->add_option("--trace", flags.trace, "Write the protobuf trace stream to FILE");
  run->add_option("--trace-text", flags.trace_text, "Write the trace as text to FILE ('-' for stdout)");
  run->add_option("--result", flags.result_path, "Write the RunResult protobuf to FILE");
  run->add_option("--export-disks", flags.export_disks,
                  "Write each disk's image at every power loss (DIR/<disk>/powerloss-<k>/) and at the end (final/)");
  run->add_flag("--no-buggify", flags.no_buggify, "Turn buggify off");

  std::string plan_workload, plan_seed;
  CLI::App* plan_cmd = app.add_subcommand("plan", "Print the fault plan a seed generates, as protobuf text");
  plan_cmd->add_option("--workload", plan_workload, "Workload name (see 'list')")->required();
  plan_cmd->add_option("--seed", plan_seed, "Root seed: decimal, or hex with 0x")->required();

  CLI::App* list = app.add_subcommand("list", "List the workloads");

  std::string ids_cluster, ids_token = "etcd-cluster";
  CLI::App* ids_cmd = app.add_subcommand("ids", "Print member and cluster IDs as etcd 3.4 computes them");
  ids_cmd->add_option("--initial-cluster", ids_cluster, "name=url[,name=url...]")->required();
  ids_cmd->add_option("--token", ids_token, "--initial-cluster-token (default etcd-cluster)");

  std::vector<std::string> sweep_workloads;
  std::string first_seed_text = "1", shard_text = "0/1", out_dir = "sweep-out";
  uint64_t seeds = 100;
  int jobs = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  CLI::App* sweep = app.add_subcommand("sweep", "Run many seeds, one process each, on all cores");
  sweep->add_option("--workload", sweep_workloads, "Workloads (repeatable); default: all");
  sweep->add_option("--seeds", seeds, "How many seeds")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000000}))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  sweep->add_option("--first-seed", first_seed_text, "First seed (decimal, or hex with 0x)");
  sweep->add_option("--jobs", jobs, "Parallel processes (default: all cores)")
      ->check(CLI::Range(1, 4096))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  sweep->add_option("--shard", shard_text, "K/N: run only seeds with index % N == K");
  sweep->add_option("--out", out_dir, "Directory for results.pb and logs of failed runs")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  std::string trace_file;
  CLI::App* trace_cmd = app.add_subcommand("trace", "Print a protobuf trace file as text");
  trace_cmd->add_option("file", trace_file, "Trace file written by run --trace")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    return kExitPass;
  } catch (const CLI::ParseError& error) {
    // Help for a subcommand arrives as CallForHelp from the subcommand.
    if (error.get_exit_code() == 0) {
      std::printf("%s", (app.get_subcommands().empty() ? app.help() : app.get_subcommands()[0]->help()).c_str());
      return kExitPass;
    }
    return BadInput(std::string(error.what()) + " (see etcd-dst --help)");
  }

  if (run->parsed()) return Run(flags);
  if (plan_cmd->parsed()) return PrintPlan(plan_workload, plan_seed);
  if (list->parsed()) return List();
  if (ids_cmd->parsed()) return Ids(ids_cluster, ids_token);
  if (trace_cmd->parsed()) return PrintTrace(trace_file);
  if (sweep->parsed()) {
    SweepOptions options;
    if (sweep_workloads.empty()) {
      for (const auto& entry : workloads::AllWorkloads()) options.workloads.push_back(entry.name);
    }
    for (const std::string& name : sweep_workloads) {
      if (workloads::FindWorkload(name) == nullptr) {
        return BadInput("unknown workload '" + name + "' (etcd-dst list shows them)");
      }
      options.workloads.push_back(name);
    }
    const std::optional<uint64_t> first = ParseSeed(first_seed_text);
    if (!first) return BadInput("--first-seed '" + first_seed_text + "' is not a number");
    const size_t slash = shard_text.find('/');
    const std::optional<uint64_t> index = ParseSeed(shard_text.substr(0, slash));
    const std::optional<uint64_t> count =
        slash == std::string::npos ? std::nullopt : ParseSeed(shard_text.substr(slash + 1));
    if (!index || !count || *count == 0 || *index >= *count) {
      return BadInput("--shard '" + shard_text + "' must be K/N with 0 <= K < N");
    }
    options.first_seed = *first;
    options.seeds = seeds;
    options.jobs = jobs;
    options.shard_index = *index;
    options.shard_count = *count;
    options.out_dir = out_dir;
    options.self = SelfPath(argv[0]);
    return RunSweep(options);
  }
  return BadInput("no subcommand (see etcd-dst --help)");
}

}  // namespace
}  // namespace cli

int main(int argc, char** argv) { return cli::Main(argc, argv); }
