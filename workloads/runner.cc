#include "workloads/runner.h"

#include <sys/resource.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fmt/format.h"
#include "sim/simulation.h"
#include "sim/trace_file.h"
#include "workloads/workload.h"

namespace workloads {

namespace {
absl::StatusOr<const WorkloadEntry*> Find(const std::string& name) {
  const WorkloadEntry* entry = FindWorkload(name);
  if (entry == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown workload '", name, "' (etcd-dst list shows them)"));
  }
  return entry;
}

std::string ShellQuote(const std::string& text) {
  const bool plain = !text.empty() && text.find_first_not_of(
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == std::string::npos;
  if (plain) return text;
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

// What the replay line needs beyond --workload and --seed: --plan and
// --no-buggify when they change the run, paths shell-quoted.
std::string ReplayFlags(const RunOptions& options) {
  std::string flags;
  if (options.plan.has_value()) {
    flags += " --plan " + ShellQuote(options.plan_path.empty() ? "PLAN-FILE" : options.plan_path);
  }
  if (!options.profile.empty()) flags += " --profile " + options.profile;
  if (!options.buggify) flags += " --no-buggify";
  return flags;
}

// Fails the run for what it declared but could not check.
void FailUnchecked(sim::Simulation& simulation, sim::StopReason stop) {
  sim::Properties& properties = simulation.properties();
  if (stop == sim::StopReason::kEventBudget) {
    properties.Fail("EventBudgetExhausted",
                    fmt::format("the run stopped after {} events at {}, before its end",
                                simulation.scheduler().events_dispatched(), simulation.Now().ToString()));
  }
  for (const std::string& check : properties.Unchecked()) {
    properties.Fail("CheckNotReached", fmt::format("{}; the run stopped: {}", check, sim::StopReasonName(stop)));
  }
}

}  // namespace

absl::StatusOr<sim::FaultPlan> PlanFor(const std::string& workload, uint64_t seed) {
  absl::StatusOr<const WorkloadEntry*> entry = Find(workload);
  if (!entry.ok()) return entry.status();
  std::unique_ptr<Workload> instance = (*entry)->make();
  if (std::optional<sim::FaultPlan> own = instance->MakePlan(seed)) return *own;
  const std::optional<sim::FaultSurface> surface = instance->Faults();
  if (!surface.has_value()) {
    sim::FaultPlan empty;
    empty.set_workload(workload);
    empty.set_seed(seed);
    return empty;
  }
  return sim::GeneratePlan(seed, workload, *surface);
}

absl::Status CheckPlan(const std::string& workload, const sim::FaultPlan& plan) {
  absl::StatusOr<const WorkloadEntry*> entry = Find(workload);
  if (!entry.ok()) return entry.status();
  if (!plan.workload().empty() && plan.workload() != workload) {
    return absl::InvalidArgumentError(
        absl::StrCat("the plan is for workload '", plan.workload(), "', not '", workload, "'"));
  }
  std::unique_ptr<Workload> instance = (*entry)->make();
  const std::vector<std::string> profiles = instance->Profiles();
  if (!plan.profile().empty() && std::find(profiles.begin(), profiles.end(), plan.profile()) == profiles.end()) {
    return absl::InvalidArgumentError(
        profiles.empty() ? absl::StrCat("workload '", workload, "' has no profiles, the plan names '", plan.profile(), "'")
                         : absl::StrCat("unknown profile '", plan.profile(), "' (", absl::StrJoin(profiles, ", "), ")"));
  }
  const std::optional<sim::FaultSurface> surface = instance->Faults();
  if (!surface.has_value()) return sim::ValidateEmptyPlan(plan);
  return sim::ValidatePlan(plan, *surface);
}

absl::StatusOr<etcd_dst::result::RunResult> RunWorkload(const RunOptions& options) {
  absl::StatusOr<const WorkloadEntry*> found = Find(options.workload);
  if (!found.ok()) return found.status();
  const WorkloadEntry* entry = *found;
  sim::FaultPlan plan;
  if (options.plan.has_value()) {
    if (absl::Status status = CheckPlan(options.workload, *options.plan); !status.ok()) return status;
    plan = *options.plan;
  } else {
    absl::StatusOr<sim::FaultPlan> generated = PlanFor(options.workload, options.seed);
    if (!generated.ok()) return generated.status();
    plan = *std::move(generated);
  }
  if (!options.profile.empty()) {
    if (!plan.profile().empty() && plan.profile() != options.profile) {
      return absl::InvalidArgumentError(
          absl::StrCat("the plan runs under profile '", plan.profile(), "', not '", options.profile, "'"));
    }
    plan.set_profile(options.profile);
    if (absl::Status status = CheckPlan(options.workload, plan); !status.ok()) return status;
  }
  sim::SimulationOptions sim_options;
  sim_options.seed = options.seed;
  sim_options.workload = options.workload;
  sim_options.buggify.enabled = options.buggify;
  sim_options.replay_flags = ReplayFlags(options);
  sim::Simulation simulation(sim_options);

  sim::ProtoTraceSink* proto_sink = nullptr;
  if (!options.trace_path.empty()) {
    etcd_dst::trace::Header header;
    header.set_format_version(1);
    header.set_seed(options.seed);
    header.set_workload(options.workload);
    header.set_replay(simulation.ReplayLine());
    auto sink = sim::ProtoTraceSink::Open(options.trace_path, header);
    if (!sink.ok()) return sink.status();
    proto_sink = sink->get();
    simulation.trace().AddSink(std::move(*sink));
  }
  if (!options.trace_text_path.empty()) {
    if (options.trace_text_path == "-") {
      simulation.trace().AddSink(std::make_unique<sim::TextTraceSink>(stdout, false, "stdout"));
    } else {
      std::FILE* file = std::fopen(options.trace_text_path.c_str(), "w");
      if (file == nullptr) {
        return absl::PermissionDeniedError(
            absl::StrCat("cannot write text trace ", options.trace_text_path));
      }
      simulation.trace().AddSink(std::make_unique<sim::TextTraceSink>(file, true, "--trace-text " + options.trace_text_path));
    }
  }

  std::unique_ptr<Workload> workload = entry->make();
  workload->Setup(simulation, plan);
  sim::World* world = workload->world();
  if (world != nullptr && !options.export_disks_dir.empty()) world->set_export_directory(options.export_disks_dir);
  const sim::StopReason stop = simulation.scheduler().Run(workload->Limits());
  workload->Finish(simulation);
  FailUnchecked(simulation, stop);
  absl::Status exported = world != nullptr ? world->ExportFinal() : absl::OkStatus();
  if (exported.ok() && !options.export_bucket_dir.empty()) {
    exported = world != nullptr ? world->object_store().Export(options.export_bucket_dir)
                                : absl::FailedPreconditionError("the workload has no bucket");
  }

  etcd_dst::result::RunResult result;
  result.set_workload(options.workload);
  result.set_seed(options.seed);
  if (std::vector<std::string> profiles = workload->Profiles(); !profiles.empty()) {
    result.set_profile(plan.profile().empty() ? profiles.front() : plan.profile());
  }
  result.set_events(simulation.scheduler().events_dispatched());
  result.set_sim_time_ns(simulation.Now().nanos());
  result.set_stop_reason(sim::StopReasonName(stop));
  result.set_replay(simulation.ReplayLine());
  for (const auto& action : plan.actions()) {
    if (action.kind_case() == etcd_dst::faults::Action::KIND_NOT_SET) continue;
    const auto* field = action.GetDescriptor()->FindFieldByNumber(static_cast<int>(action.kind_case()));
    if (field != nullptr) ++(*result.mutable_faults())[field->name()];
  }
  const sim::Properties& properties = simulation.properties();
  for (const std::string& name : properties.ViolatedNames()) result.add_violated(name);
  for (const auto& [name, stats] : properties.stats()) {
    auto* out = result.add_properties();
    out->set_name(name);
    out->set_kind(sim::PropertyKindName(stats.kind));
    out->set_evaluations(stats.evaluations);
    out->set_hits(stats.hits);
    out->set_violations(stats.violations);
  }
  for (const sim::Violation& violation : properties.violations()) {
    auto* out = result.add_violations();
    out->set_property(violation.property);
    out->set_time_ns(violation.time.nanos());
    out->set_group(violation.group);
    out->set_actor(violation.actor);
    out->set_details(violation.details);
  }
  result.set_pass(result.violated_size() == 0);
  result.set_fingerprint(simulation.Fingerprint());
  if (rusage usage; getrusage(RUSAGE_SELF, &usage) == 0) result.set_peak_rss_kib(usage.ru_maxrss);

  if (proto_sink != nullptr) {
    etcd_dst::trace::Footer footer;
    footer.set_fingerprint(result.fingerprint());
    footer.set_events(result.events());
    footer.set_sim_time_ns(result.sim_time_ns());
    footer.set_pass(result.pass());
    for (const std::string& name : result.violated()) footer.add_violations(name);
    proto_sink->WriteFooter(footer);
  }
  simulation.trace().Flush();
  if (absl::Status sinks = simulation.trace().SinkStatus(); !sinks.ok()) {
    result.set_output_error(std::string(sinks.message()));
  } else if (!exported.ok()) {
    result.set_output_error(absl::StrCat("exporting disks or bucket: ", exported.message()));
  }
  // Actors die before the world the workload owns.
  simulation.Shutdown();
  return result;
}

std::string ResultLine(const etcd_dst::result::RunResult& result) {
  return fmt::format("result={} seed={} workload={}{} fingerprint={:016x} events={} sim_time={} violations={}",
                     result.pass() ? "pass" : "fail", result.seed(), result.workload(),
                     result.profile().empty() ? "" : " profile=" + result.profile(),
                     result.fingerprint(), result.events(),
                     sim::SimTime::FromNanos(result.sim_time_ns()).ToString(),
                     absl::StrJoin(result.violated(), ","));
}

}  // namespace workloads
