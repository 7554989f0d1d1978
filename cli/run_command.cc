#include "cli/run_command.h"

#include <cstdio>
#include <filesystem>

#include "cli/exit_codes.h"
#include "cli/seed.h"
#include "cli/user_io.h"
#include "fmt/format.h"
#include "sim/fault_plan.h"
#include "workloads/runner.h"
#include "workloads/workload.h"

namespace cli {
namespace {

// Plans are a few kilobytes; a megabyte is generous and bounds /dev/zero.
constexpr size_t kPlanBytesMax = size_t{1} << 20;

// Reads, parses and checks a plan file; the error is one line for BadInput.
absl::StatusOr<sim::FaultPlan> LoadPlan(const std::string& path, const std::string& workload) {
  absl::StatusOr<std::string> text = ReadInputFile("plan", path, kPlanBytesMax);
  if (!text.ok()) return text.status();
  absl::StatusOr<sim::FaultPlan> plan = sim::ParsePlanText(*text);
  if (!plan.ok()) return absl::InvalidArgumentError("plan " + path + ": " + std::string(plan.status().message()));
  if (plan->ByteSizeLong() == 0) {
    return absl::InvalidArgumentError(fmt::format(
        "plan {} is empty; a run without faults is the plan 'workload: \"{}\"' (etcd-dst plan prints a seed's plan)",
        path, workload));
  }
  if (absl::Status status = workloads::CheckPlan(workload, *plan); !status.ok()) {
    return absl::InvalidArgumentError("plan " + path + ": " + std::string(status.message()));
  }
  return plan;
}

// Every output path is usable and distinct, before the run starts.
absl::Status CheckOutputs(const RunFlags& flags) {
  for (auto [given, flag, path] : {std::tuple{flags.trace_given, "--trace", &flags.trace},
                                   {flags.result_given, "--result", &flags.result_path}}) {
    if (!given) continue;
    if (*path == "-") {
      return absl::InvalidArgumentError(fmt::format("{} writes protobuf and needs a file, not '-' (stdout)", flag));
    }
    if (absl::Status status = CheckOutputFile(flag, *path); !status.ok()) return status;
  }
  if (flags.trace_text_given && flags.trace_text != "-") {
    if (absl::Status status = CheckOutputFile("--trace-text", flags.trace_text); !status.ok()) return status;
  }
  if (flags.export_given) {
    if (absl::Status status = PrepareOutputDirectory("--export-disks", flags.export_disks); !status.ok()) {
      return status;
    }
  }
  if (!flags.export_bucket.empty()) {
    if (absl::Status status = PrepareOutputDirectory("--export-bucket", flags.export_bucket); !status.ok()) {
      return status;
    }
  }
  return CheckDistinctPaths({{"--plan", flags.plan_path},
                             {"--trace", flags.trace},
                             {"--trace-text", flags.trace_text},
                             {"--result", flags.result_path},
                             {"--export-disks", flags.export_disks},
                             {"--export-bucket", flags.export_bucket}});
}

}  // namespace

void PrintOutcome(const etcd_dst::result::RunResult& result) {
  for (const auto& violation : result.violations()) {
    std::printf("violation: %s at %s in %s/%s: %s\n", Printable(violation.property()).c_str(),
                sim::SimTime::FromNanos(violation.time_ns()).ToString().c_str(),
                Printable(violation.group()).c_str(), Printable(violation.actor()).c_str(),
                Printable(violation.details()).c_str());
  }
  if (!result.pass()) std::printf("replay: %s\n", Printable(result.replay()).c_str());
  std::printf("%s\n", Printable(workloads::ResultLine(result)).c_str());
}

int ExitCodeOf(const etcd_dst::result::RunResult& result) {
  if (!result.output_error().empty()) return kExitBadInput;
  return result.pass() ? kExitPass : kExitViolation;
}

int Run(const RunFlags& flags) {
  if (workloads::FindWorkload(flags.workload) == nullptr) {
    return BadInput("unknown workload '" + flags.workload + "' (etcd-dst list shows them)");
  }
  if (flags.plan_given && flags.plan_path.empty()) return BadInput("--plan needs a file name");
  std::optional<sim::FaultPlan> plan;
  if (flags.plan_given) {
    absl::StatusOr<sim::FaultPlan> loaded = LoadPlan(flags.plan_path, flags.workload);
    if (!loaded.ok()) return BadInput(loaded.status());
    plan = *std::move(loaded);
  }
  std::optional<uint64_t> seed;
  if (flags.seed_given) {
    seed = ParseSeed(flags.seed_text);
    if (!seed) return BadInput("--seed '" + flags.seed_text + "' is not a number (decimal, or hex with 0x)");
  } else if (plan.has_value()) {
    seed = plan->seed();
  } else {
    return BadInput("run needs --seed (or --plan, whose seed it then uses)");
  }
  if (absl::Status status = CheckOutputs(flags); !status.ok()) return BadInput(status);

  workloads::RunOptions options;
  options.workload = flags.workload;
  options.seed = *seed;
  options.plan = plan;
  if (plan.has_value()) {
    std::error_code error;
    options.plan_path = std::filesystem::absolute(flags.plan_path, error).string();
  }
  options.export_disks_dir = flags.export_disks;
  options.export_bucket_dir = flags.export_bucket;
  options.profile = flags.profile;
  options.trace_path = flags.trace;
  options.trace_text_path = flags.trace_text;
  options.buggify = !flags.no_buggify;
  absl::StatusOr<etcd_dst::result::RunResult> result = workloads::RunWorkload(options);
  if (!result.ok()) return BadInput(result.status());
  if (!flags.result_path.empty()) {
    if (absl::Status status = WriteOutputFile("--result", flags.result_path, result->SerializeAsString());
        !status.ok()) {
      PrintOutcome(*result);
      std::fflush(stdout);
      return BadInput(status);
    }
  }
  PrintOutcome(*result);
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) return BadInput("cannot write the result to stdout");
  if (!result->output_error().empty()) return BadInput(result->output_error());
  return ExitCodeOf(*result);
}

int PrintResult(const std::string& path) {
  // A result is a few kilobytes (16 violations kept per property).
  absl::StatusOr<std::string> bytes = ReadInputFile("result", path, size_t{64} << 20);
  if (!bytes.ok()) return BadInput(bytes.status());
  etcd_dst::result::RunResult result;
  if (!result.ParseFromString(*bytes) || result.workload().empty() ||
      workloads::FindWorkload(result.workload()) == nullptr) {
    return BadInput("result " + path + " is not an etcd-dst run result (truncated, corrupt, or another file)");
  }
  PrintOutcome(result);
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) return BadInput("cannot write the result to stdout");
  return result.pass() ? kExitPass : kExitViolation;
}

int PrintPlan(const std::string& workload, const std::string& seed_text, const std::string& profile) {
  const std::optional<uint64_t> seed = ParseSeed(seed_text);
  if (!seed) return BadInput("--seed '" + seed_text + "' is not a number (decimal, or hex with 0x)");
  absl::StatusOr<sim::FaultPlan> plan = workloads::PlanFor(workload, *seed);
  if (!plan.ok()) return BadInput(plan.status());
  if (!profile.empty()) {
    plan->set_profile(profile);
    if (absl::Status status = workloads::CheckPlan(workload, *plan); !status.ok()) return BadInput(status);
  }
  std::printf("# etcd-dst run --workload %s --seed %s --plan FILE\n", workload.c_str(), seed_text.c_str());
  for (const auto& action : plan->actions()) std::printf("# %s\n", sim::DescribeAction(action).c_str());
  std::printf("%s", sim::FormatPlanText(*plan).c_str());
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) return BadInput("cannot write the plan to stdout");
  return kExitPass;
}

}  // namespace cli
