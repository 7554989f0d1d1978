#include "cli/shrink.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "cli/exit_codes.h"
#include "cli/seed.h"
#include "cli/user_io.h"
#include "fmt/format.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/reflection.h"
#include "sim/fault_plan.h"
#include "workloads/runner.h"
#include "workloads/workload.h"

namespace cli {
namespace {

using etcd_dst::faults::Action;
using sim::FaultPlan;

class Shrinker {
 public:
  explicit Shrinker(const ShrinkOptions& options) : options_(options) {}

  // The properties `plan` violates, or an error (the run crashed, hung, or
  // the plan does not fit the workload).
  absl::StatusOr<std::vector<std::string>> Violated(const FaultPlan& plan) {
    ++runs_;
    if (absl::Status status = workloads::CheckPlan(options_.workload, plan); !status.ok()) return status;
    int fds[2];
    if (pipe(fds) != 0) return absl::InternalError("pipe failed");
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) return absl::InternalError("fork failed");
    if (pid == 0) {
      close(fds[0]);
      const int null = open("/dev/null", O_WRONLY);
      if (null >= 0) {
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
      }
      workloads::RunOptions run;
      run.workload = options_.workload;
      run.seed = plan.seed();
      run.plan = plan;
      absl::StatusOr<etcd_dst::result::RunResult> result = workloads::RunWorkload(run);
      std::string names;
      if (result.ok()) {
        for (const std::string& name : result->violated()) names += name + "\n";
      }
      [[maybe_unused]] ssize_t n = write(fds[1], names.data(), names.size());
      _exit(result.ok() ? 0 : 2);
    }
    close(fds[1]);
    std::string names;
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(static_cast<int64_t>(options_.run_timeout_seconds * 1000));
    bool timed_out = false;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        kill(pid, SIGKILL);
        break;
      }
      pollfd poll_fd{fds[0], POLLIN, 0};
      if (poll(&poll_fd, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000))) <= 0) continue;
      char buffer[4096];
      const ssize_t n = read(fds[0], buffer, sizeof buffer);
      if (n <= 0) break;
      names.append(buffer, static_cast<size_t>(n));
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (timed_out) return absl::DeadlineExceededError("the run exceeded the time limit");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return absl::InternalError("the run did not finish");
    std::vector<std::string> violated;
    size_t start = 0;
    while (start < names.size()) {
      const size_t end = names.find('\n', start);
      violated.push_back(names.substr(start, end - start));
      start = end + 1;
    }
    return violated;
  }

  bool Fails(const FaultPlan& plan) {
    if (runs_ >= options_.max_runs) return false;
    absl::StatusOr<std::vector<std::string>> violated = Violated(plan);
    if (!violated.ok()) return false;
    return std::find(violated->begin(), violated->end(), property_) != violated->end();
  }

  void set_property(std::string property) { property_ = std::move(property); }
  int runs() const { return runs_; }

  // ddmin over the actions: the smallest subset (1-minimal within the run
  // budget) that still fails.
  FaultPlan DropActions(FaultPlan plan) {
    size_t granularity = 2;
    while (plan.actions_size() >= 2 && runs_ < options_.max_runs) {
      const size_t n = static_cast<size_t>(plan.actions_size());
      const size_t chunk = (n + granularity - 1) / granularity;
      bool reduced = false;
      for (size_t start = 0; start < n && !reduced; start += chunk) {
        // The complement of [start, start + chunk): drop that chunk.
        FaultPlan candidate = plan;
        candidate.clear_actions();
        for (size_t i = 0; i < n; ++i) {
          if (i < start || i >= start + chunk) *candidate.add_actions() = plan.actions(static_cast<int>(i));
        }
        if (Fails(candidate)) {
          plan = std::move(candidate);
          granularity = std::max<size_t>(granularity - 1, 2);
          reduced = true;
        }
      }
      if (reduced) continue;
      if (granularity >= n) break;
      granularity = std::min(granularity * 2, n);
    }
    if (plan.actions_size() == 1) {
      FaultPlan none = plan;
      none.clear_actions();
      if (Fails(none)) plan = std::move(none);
    }
    return plan;
  }

  // Each swarm setting back to its default (off), one at a time.
  FaultPlan SwarmOff(FaultPlan plan) {
    const google::protobuf::Descriptor* descriptor = plan.swarm().GetDescriptor();
    for (int f = 0; f < descriptor->field_count(); ++f) {
      const google::protobuf::FieldDescriptor* field = descriptor->field(f);
      const google::protobuf::Reflection* reflection = plan.swarm().GetReflection();
      if (!reflection->HasField(plan.swarm(), field)) continue;
      FaultPlan candidate = plan;
      candidate.mutable_swarm()->GetReflection()->ClearField(candidate.mutable_swarm(), field);
      if (Fails(candidate)) plan = std::move(candidate);
    }
    return plan;
  }

  // Each action's durations (its *_ns fields but the time) halved while it
  // still fails, then the action moved later (half way to the next one).
  FaultPlan ShortenAndDelay(FaultPlan plan) {
    for (int a = 0; a < plan.actions_size(); ++a) {
      google::protobuf::Message* kind = KindOf(plan.mutable_actions(a));
      if (kind != nullptr) {
        const google::protobuf::Descriptor* descriptor = kind->GetDescriptor();
        for (int f = 0; f < descriptor->field_count(); ++f) {
          const google::protobuf::FieldDescriptor* field = descriptor->field(f);
          if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_INT64 || field->is_repeated() ||
              !field->name().ends_with("_ns")) {
            continue;
          }
          for (int step = 0; step < 6; ++step) {
            const int64_t value = kind->GetReflection()->GetInt64(*kind, field);
            if (value <= 1'000'000) break;  // a millisecond is short enough
            FaultPlan candidate = plan;
            google::protobuf::Message* candidate_kind = KindOf(candidate.mutable_actions(a));
            candidate_kind->GetReflection()->SetInt64(candidate_kind, field, value / 2);
            if (!Fails(candidate)) break;
            plan = std::move(candidate);
            kind = KindOf(plan.mutable_actions(a));
          }
        }
      }
      for (int step = 0; step < 4; ++step) {
        const int64_t at = plan.actions(a).at_ns();
        const int64_t limit = a + 1 < plan.actions_size() ? plan.actions(a + 1).at_ns() : at;
        if (limit - at <= 1'000'000) break;
        FaultPlan candidate = plan;
        candidate.mutable_actions(a)->set_at_ns(at + (limit - at) / 2);
        if (!Fails(candidate)) break;
        plan = std::move(candidate);
      }
    }
    return plan;
  }

 private:
  static google::protobuf::Message* KindOf(Action* action) {
    if (action->kind_case() == Action::KIND_NOT_SET) return nullptr;
    const google::protobuf::FieldDescriptor* field =
        action->GetDescriptor()->FindFieldByNumber(static_cast<int>(action->kind_case()));
    return field == nullptr ? nullptr : action->GetReflection()->MutableMessage(action, field);
  }

  const ShrinkOptions& options_;
  std::string property_;
  int runs_ = 0;
};

}  // namespace

int RunShrink(const ShrinkOptions& options) {
  if (workloads::FindWorkload(options.workload) == nullptr) {
    return BadInput("unknown workload '" + options.workload + "' (etcd-dst list shows them)");
  }
  FaultPlan plan;
  if (!options.plan_path.empty()) {
    absl::StatusOr<std::string> text = ReadInputFile("plan", options.plan_path, size_t{1} << 20);
    if (!text.ok()) return BadInput(text.status());
    absl::StatusOr<FaultPlan> parsed = sim::ParsePlanText(*text);
    if (!parsed.ok()) return BadInput("plan " + options.plan_path + ": " + std::string(parsed.status().message()));
    plan = *std::move(parsed);
    if (plan.workload().empty()) plan.set_workload(options.workload);
  } else {
    const std::optional<uint64_t> seed = ParseSeed(options.seed_text);
    if (!seed) return BadInput("shrink needs --seed N (decimal, or hex with 0x) or --plan FILE");
    absl::StatusOr<FaultPlan> generated = workloads::PlanFor(options.workload, *seed);
    if (!generated.ok()) return BadInput(generated.status());
    plan = *std::move(generated);
  }
  if (!options.profile.empty()) plan.set_profile(options.profile);
  if (absl::Status status = workloads::CheckPlan(options.workload, plan); !status.ok()) return BadInput(status);

  Shrinker shrinker(options);
  absl::StatusOr<std::vector<std::string>> original = shrinker.Violated(plan);
  if (!original.ok()) {
    std::fprintf(stderr, "etcd-dst: the original run gives no verdict: %s\n",
                 Printable(std::string(original.status().message())).c_str());
    return kExitInternal;
  }
  std::string property = options.property;
  if (property.empty()) {
    if (original->empty()) return BadInput("the run passes: nothing to shrink (give a failing seed or plan)");
    property = original->front();
  } else if (std::find(original->begin(), original->end(), property) == original->end()) {
    return BadInput("the run does not violate " + property + ": nothing to shrink");
  }
  shrinker.set_property(property);
  const int before = plan.actions_size();
  plan = shrinker.DropActions(std::move(plan));
  plan = shrinker.SwarmOff(std::move(plan));
  plan = shrinker.ShortenAndDelay(std::move(plan));

  std::printf("# etcd-dst shrink: %d of %d actions left, still violating %s (%d runs%s)\n", plan.actions_size(),
              before, property.c_str(), shrinker.runs(), shrinker.runs() >= options.max_runs ? ", run budget spent" : "");
  std::printf("# replay: save this as FILE, then: etcd-dst run --workload %s --plan FILE\n", options.workload.c_str());
  for (const Action& action : plan.actions()) std::printf("# %s\n", sim::DescribeAction(action).c_str());
  std::printf("%s", sim::FormatPlanText(plan).c_str());
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) return BadInput("cannot write the plan to stdout");
  return kExitPass;
}

}  // namespace cli
