// etcd-dst: the command line. Subcommands: run, plan, sweep, list, trace, ids.
// Exit codes are in cli/exit_codes.h.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include "CLI/CLI.hpp"
#include "cli/exit_codes.h"
#include "cli/run_command.h"
#include "cli/seed.h"
#include "cli/shrink.h"
#include "cli/sweep.h"
#include "cli/user_io.h"
#include "fmt/format.h"
#include "model/br/profile.h"
#include "model/ids.h"
#include "sim/fault_plan.h"
#include "sim/trace_file.h"
#include "viz/failure_page.h"
#include "workloads/runner.h"
#include "workloads/workload.h"

namespace cli {
namespace {

int Ids(const std::string& initial_cluster, const std::string& token) {
  absl::StatusOr<std::vector<model::InitialMember>> members = model::ParseInitialCluster(initial_cluster);
  if (!members.ok()) return BadInput(members.status());
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
  if (absl::Status status = CheckInputFile("trace", path); !status.ok()) return BadInput(status);
  absl::StatusOr<sim::TraceFileContents> contents = sim::ReadTraceFile(path);
  if (!contents.ok()) return BadInput(contents.status());
  std::printf("# workload=%s seed=%llu events=%zu\n", Printable(contents->header.workload()).c_str(),
              static_cast<unsigned long long>(contents->header.seed()), contents->events.size());
  for (const auto& event : contents->events) {
    std::printf("%s\n", Printable(sim::FormatTraceLine(sim::FromProto(event))).c_str());
  }
  if (contents->has_footer) {
    std::printf("# fingerprint=%016llx pass=%s\n",
                static_cast<unsigned long long>(contents->footer.fingerprint()),
                contents->footer.pass() ? "true" : "false");
  } else {
    std::printf("# no footer: the run did not finish cleanly\n");
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) return BadInput("cannot write the trace to stdout");
  return kExitPass;
}

int Main(int argc, char** argv) {
  CLI::App app{"etcd-dst: deterministic simulation testing of etcd and etcd-backup-restore"};
  app.require_subcommand(1);

  RunFlags flags;
  CLI::App* run = app.add_subcommand("run", "Run one workload with one seed; the last line is the result");
  run->add_option("--workload", flags.workload, "Workload name (see 'list')")->required();
  CLI::Option* seed_option = run->add_option(
      "--seed", flags.seed_text, "Root seed: decimal, or hex with 0x (default with --plan: the plan's)");
  CLI::Option* plan_option = run->add_option(
      "--plan", flags.plan_path, "Run this fault plan (protobuf text, see 'plan') instead of the seed's");
  CLI::Option* trace_option = run->add_option("--trace", flags.trace, "Write the protobuf trace stream to FILE");
  CLI::Option* trace_text_option =
      run->add_option("--trace-text", flags.trace_text, "Write the trace as text to FILE ('-' for stdout)");
  CLI::Option* result_option = run->add_option("--result", flags.result_path, "Write the RunResult protobuf to FILE");
  CLI::Option* export_option = run->add_option(
      "--export-disks", flags.export_disks,
      "Write each disk's image at every power loss (DIR/<disk>/powerloss-<k>/) and at the end (final/)");
  CLI::Option* bucket_option = run->add_option(
      "--export-bucket", flags.export_bucket, "Write the bucket's objects at the end as files named by their keys");
  CLI::Option* profile_option = run->add_option(
      "--profile", flags.profile, "Model profile: br-v0.35 (default) or br-fixed, for the backup-restore workloads");
  run->add_flag("--no-buggify", flags.no_buggify, "Turn buggify off");
  for (CLI::Option* option : {seed_option, plan_option, trace_option, trace_text_option, result_option,
                              export_option, bucket_option, profile_option, run->get_option("--workload")}) {
    option->multi_option_policy(CLI::MultiOptionPolicy::Throw);
  }

  std::string plan_workload, plan_seed;
  CLI::App* plan_cmd = app.add_subcommand("plan", "Print the fault plan a seed generates, as protobuf text");
  plan_cmd->add_option("--workload", plan_workload, "Workload name (see 'list')")->required();
  plan_cmd->add_option("--seed", plan_seed, "Root seed: decimal, or hex with 0x")->required();
  std::string plan_profile;
  plan_cmd->add_option("--profile", plan_profile, "Model profile the plan runs under (br-v0.35, br-fixed)");

  CLI::App* list = app.add_subcommand("list", "List the workloads");

  std::string ids_cluster, ids_token = "etcd-cluster";
  CLI::App* ids_cmd = app.add_subcommand("ids", "Print member and cluster IDs as etcd 3.4 computes them");
  ids_cmd->add_option("--initial-cluster", ids_cluster, "name=url[,name=url...]")->required();
  ids_cmd->add_option("--token", ids_token, "--initial-cluster-token (default etcd-cluster)");

  std::vector<std::string> sweep_workloads;
  std::string first_seed_text = "1", shard_text = "0/1", out_dir = "sweep-out";
  uint64_t seeds = 100;
  int jobs = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  CLI::App* sweep = app.add_subcommand("sweep", "Run many seeds, one forked process each, on all cores");
  sweep->add_option("--workload", sweep_workloads, "Workloads (repeatable); default: all");
  std::vector<std::string> sweep_profiles;
  sweep->add_option("--profile", sweep_profiles,
                    "Profiles (repeatable) for the workloads that have them; default: all of each workload's");
  sweep->add_option("--seeds", seeds, "How many seeds")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000000}))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  sweep->add_option("--first-seed", first_seed_text, "First seed (decimal, or hex with 0x)");
  sweep->add_option("--jobs", jobs, "Parallel processes (default: all cores)")
      ->check(CLI::Range(1, 4096))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  CLI::Option* shard_option = sweep->add_option(
      "--shard", shard_text,
      "K/N: run only seeds with index % N == K (default: K from $JOB_COMPLETION_INDEX when --shards N is given)");
  std::string shards_text;
  sweep->add_option("--shards", shards_text,
                    "N shards, this one's index from $JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)");
  sweep->add_option("--out", out_dir, "Directory for results.pb and logs of failed runs")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  double seed_timeout = 300;
  sweep->add_option("--seed-timeout", seed_timeout, "Kill and fail a seed running longer than this (wall seconds)")
      ->check(CLI::Range(0.001, 1e6))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  size_t failure_pages = 12;
  sweep->add_option("--pages", failure_pages, "Failure pages drawn at most (seeds re-run with a trace)")
      ->check(CLI::Range(size_t{0}, size_t{1000}))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::string compare_dir;
  sweep->add_option("--compare", compare_dir, "A previous sweep's --out: mark failures new, ongoing or resolved")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  bool resume = false;
  sweep->add_flag("--resume", resume, "Continue the sweep in --out: run only the seeds it has not finished");
  uint64_t seed_memory = 8192;
  sweep->add_option("--seed-memory-mib", seed_memory, "Fail a seed that needs more address space (0: no limit)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 30))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  std::string trace_file;
  CLI::App* trace_cmd = app.add_subcommand("trace", "Print a protobuf trace file as text");
  trace_cmd->add_option("file", trace_file, "Trace file written by run --trace")->required();

  std::string viz_trace, viz_out;
  double viz_from = -1, viz_to = -1;
  viz::SpaceTimeOptions viz_options;
  CLI::App* viz_cmd = app.add_subcommand(
      "viz", "Draw a trace (run --trace) as a space-time diagram: DIR/index.html, space-time.svg and .dot");
  viz_cmd->add_option("trace", viz_trace, "Trace file written by run --trace")->required();
  viz_cmd->add_option("--out", viz_out, "Directory for the page and the pictures")->required();
  viz_cmd->add_option("--from", viz_from, "Window start, simulated seconds (default: around the first violation)")
      ->check(CLI::Range(0.0, 1e9));
  viz_cmd->add_option("--to", viz_to, "Window end, simulated seconds")->check(CLI::Range(0.0, 1e9));
  viz_cmd->add_option("--before", viz_options.before, "Events before the first violation")
      ->check(CLI::Range(size_t{0}, size_t{1000000}));
  viz_cmd->add_option("--after", viz_options.after, "Events after it")->check(CLI::Range(size_t{0}, size_t{1000000}));
  viz_cmd->add_option("--max-boxes", viz_options.max_boxes, "Boxes drawn at most (earlier ones are truncated)")
      ->check(CLI::Range(size_t{10}, size_t{100000}));

  ShrinkOptions shrink_options;
  CLI::App* shrink_cmd = app.add_subcommand(
      "shrink", "Find a smaller fault plan that still violates the same property; print it as a plan file");
  shrink_cmd->add_option("--workload", shrink_options.workload, "Workload name (see 'list')")->required();
  CLI::Option* shrink_seed = shrink_cmd->add_option("--seed", shrink_options.seed_text, "The failing seed");
  CLI::Option* shrink_plan = shrink_cmd->add_option("--plan", shrink_options.plan_path, "Or a failing plan file");
  shrink_seed->excludes(shrink_plan);
  shrink_cmd->add_option("--profile", shrink_options.profile, "Model profile (br-v0.35, br-fixed)");
  shrink_cmd->add_option("--property", shrink_options.property, "The property to keep violating (default: the first)");
  shrink_cmd->add_option("--max-runs", shrink_options.max_runs, "Runs at most")->check(CLI::Range(1, 100000));
  shrink_cmd->add_option("--run-timeout", shrink_options.run_timeout_seconds, "Wall seconds per run")
      ->check(CLI::Range(0.1, 1e6));

  std::string merge_out;
  std::vector<std::string> merge_shards;
  CLI::App* merge_cmd = app.add_subcommand("merge", "Combine sharded sweeps' --out directories into one result set");
  merge_cmd->add_option("--out", merge_out, "Directory for the merged results")->required();
  merge_cmd->add_option("shards", merge_shards, "The shards' --out directories")->required();

  std::string result_file;
  CLI::App* result_cmd = app.add_subcommand("result", "Print a run result file (run --result) as run printed it");
  result_cmd->add_option("file", result_file, "Result file written by run --result")->required();

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

  if (run->parsed()) {
    flags.seed_given = seed_option->count() > 0;
    flags.plan_given = plan_option->count() > 0;
    flags.trace_given = trace_option->count() > 0;
    flags.trace_text_given = trace_text_option->count() > 0;
    flags.result_given = result_option->count() > 0;
    flags.export_given = export_option->count() > 0;
    return Run(flags);
  }
  if (plan_cmd->parsed()) return PrintPlan(plan_workload, plan_seed, plan_profile);
  if (list->parsed()) return List();
  if (ids_cmd->parsed()) return Ids(ids_cluster, ids_token);
  if (trace_cmd->parsed()) return PrintTrace(trace_file);
  if (result_cmd->parsed()) return PrintResult(result_file);
  if (merge_cmd->parsed()) return RunMerge(merge_out, merge_shards);
  if (shrink_cmd->parsed()) {
    if (shrink_seed->count() == 0 && shrink_plan->count() == 0) return BadInput("shrink needs --seed N or --plan FILE");
    if (!shrink_options.profile.empty() && !model::br::ParseProfile(shrink_options.profile).has_value()) {
      return BadInput("unknown profile '" + shrink_options.profile + "' (br-v0.35, br-fixed)");
    }
    return RunShrink(shrink_options);
  }
  if (viz_cmd->parsed()) {
    if (absl::Status status = CheckInputFile("trace", viz_trace); !status.ok()) return BadInput(status);
    if (absl::Status status = PrepareOutputDirectory("--out", viz_out); !status.ok()) return BadInput(status);
    if (viz_from >= 0) viz_options.from_ns = static_cast<int64_t>(viz_from * 1e9);
    if (viz_to >= 0) viz_options.to_ns = static_cast<int64_t>(viz_to * 1e9);
    if (absl::Status status = viz::WriteFailurePage(viz_trace, viz_out, viz_options); !status.ok()) {
      return BadInput(status);
    }
    std::printf("%s/index.html\n", viz_out.c_str());
    return kExitPass;
  }
  if (sweep->parsed()) {
    SweepOptions options;
    if (sweep_workloads.empty()) {
      for (const auto& entry : workloads::AllWorkloads()) {
        if (entry.in_default_sweep) options.workloads.push_back(entry.name);
      }
    }
    for (const std::string& name : sweep_workloads) {
      if (workloads::FindWorkload(name) == nullptr) {
        return BadInput("unknown workload '" + name + "' (etcd-dst list shows them)");
      }
      if (std::find(options.workloads.begin(), options.workloads.end(), name) != options.workloads.end()) {
        return BadInput("--workload " + name + " is given twice");
      }
      options.workloads.push_back(name);
    }
    for (const std::string& profile : sweep_profiles) {
      if (!model::br::ParseProfile(profile).has_value()) {
        return BadInput("unknown profile '" + profile + "' (br-v0.35, br-fixed)");
      }
    }
    options.profiles = sweep_profiles;
    const std::optional<uint64_t> first = ParseSeed(first_seed_text);
    if (!first) return BadInput("--first-seed '" + first_seed_text + "' is not a number");
    if (seeds - 1 > UINT64_MAX - *first) {
      return BadInput(fmt::format("--first-seed {} with --seeds {} runs past the last seed {}", *first, seeds,
                                  UINT64_MAX));
    }
    if (!shards_text.empty()) {
      if (shard_option->count() > 0) return BadInput("give --shard K/N or --shards N, not both");
      const char* index_env = std::getenv("JOB_COMPLETION_INDEX");
      if (index_env == nullptr || *index_env == '\0') {
        return BadInput("--shards " + shards_text + " needs $JOB_COMPLETION_INDEX (set by an Indexed Job) for this shard's index");
      }
      shard_text = std::string(index_env) + "/" + shards_text;
    }
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
    options.seed_timeout_seconds = seed_timeout;
    options.seed_memory_mib = seed_memory;
    options.failure_pages = failure_pages;
    if (!compare_dir.empty()) {
      const std::string journal = (std::filesystem::path(compare_dir) / "results.journal").string();
      if (absl::Status status = CheckInputFile("--compare", journal); !status.ok()) return BadInput(status);
    }
    options.compare_dir = compare_dir;
    options.resume = resume;
    return RunSweep(options);
  }
  return BadInput("no subcommand (see etcd-dst --help)");
}

}  // namespace
}  // namespace cli

int main(int argc, char** argv) {
  // Protobuf logs parse trouble (invalid UTF-8 in a string field) on stderr
  // by itself; our callers report the failed parse in one line of their own.
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return cli::Main(argc, argv);
}
