#include "viz/sweep_report.h"

#include <algorithm>

#include "fmt/format.h"
#include "viz/text.h"

namespace viz {

using etcd_dst::result::SweepRun;

std::string ReplayOf(const SweepRun& run) {
  if (!run.result().replay().empty()) return run.result().replay();
  return fmt::format("etcd-dst run --workload {} --seed {}{}", run.workload(), run.seed(),
                     run.profile().empty() ? "" : " --profile " + run.profile());
}

std::string RunJsonLine(const SweepRun& run) {
  const auto& result = run.result();
  std::string out = "{";
  auto field = [&](std::string_view key, const std::string& json) {
    if (out.size() > 1) out += ',';
    out += JsonString(key) + ":" + json;
  };
  field("workload", JsonString(run.workload()));
  field("profile", JsonString(run.profile()));
  field("seed", std::to_string(run.seed()));
  field("pass", run.exit_code() == 0 && run.failure().empty() ? "true" : "false");
  field("exit_code", std::to_string(run.exit_code()));
  field("failure", JsonString(run.failure()));
  field("stop_reason", JsonString(result.stop_reason()));
  field("sim_time_s", fmt::format("{:.6f}", result.sim_time_ns() / 1e9));
  field("wall_ms", fmt::format("{:.3f}", run.wall_ms()));
  field("cpu_ms", fmt::format("{:.3f}", run.cpu_ms()));
  field("peak_rss_kib", std::to_string(run.peak_rss_kib() != 0 ? run.peak_rss_kib() : result.peak_rss_kib()));
  field("fingerprint", run.has_result() ? JsonString(fmt::format("{:016x}", result.fingerprint())) : "null");
  field("events", std::to_string(result.events()));
  std::string violated = "[";
  for (const std::string& name : result.violated()) violated += (violated.size() > 1 ? "," : "") + JsonString(name);
  field("violated", violated + "]");
  if (result.violations_size() > 0) {
    const auto& first = *std::min_element(result.violations().begin(), result.violations().end(),
                                          [](const auto& a, const auto& b) { return a.time_ns() < b.time_ns(); });
    field("first_violation", fmt::format("{{\"property\":{},\"time_s\":{:.6f},\"group\":{},\"actor\":{},\"details\":{}}}",
                                         JsonString(first.property()), first.time_ns() / 1e9, JsonString(first.group()),
                                         JsonString(first.actor()), JsonString(first.details())));
  } else {
    field("first_violation", "null");
  }
  std::string properties = "{";
  for (const auto& property : result.properties()) {
    properties += fmt::format("{}{}:{{\"kind\":{},\"evaluations\":{},\"hits\":{},\"violations\":{}}}",
                              properties.size() > 1 ? "," : "", JsonString(property.name()), JsonString(property.kind()),
                              property.evaluations(), property.hits(), property.violations());
  }
  field("properties", properties + "}");
  std::map<std::string, uint64_t> faults(result.faults().begin(), result.faults().end());
  std::string fault_text = "{";
  for (const auto& [kind, count] : faults) {
    fault_text += fmt::format("{}{}:{}", fault_text.size() > 1 ? "," : "", JsonString(kind), count);
  }
  field("faults", fault_text + "}");
  field("replay", JsonString(ReplayOf(run)));
  field("log", JsonString(run.log()));
  return out + "}";
}

namespace {

void Keep(std::vector<Example>& examples, Example example) {
  examples.push_back(std::move(example));
  // Fastest failure first (a run without a violation time last), then by seed.
  std::stable_sort(examples.begin(), examples.end(), [](const Example& a, const Example& b) {
    const uint64_t ta = static_cast<uint64_t>(a.time_ns), tb = static_cast<uint64_t>(b.time_ns);  // -1 sorts last
    return ta != tb ? ta < tb : a.seed < b.seed;
  });
  if (examples.size() > SweepSummary::kExamples) examples.pop_back();
}

}  // namespace

void SweepSummary::Add(const SweepRun& run) {
  auto group = std::find_if(groups_.begin(), groups_.end(), [&](const GroupSummary& g) {
    return g.workload == run.workload() && g.profile == run.profile();
  });
  if (group == groups_.end()) {
    groups_.push_back({});
    group = groups_.end() - 1;
    group->workload = run.workload();
    group->profile = run.profile();
  }
  const auto& result = run.result();
  ++group->runs;
  group->sim_seconds += result.sim_time_ns() / 1e9;
  group->wall_ms += run.wall_ms();
  const bool harness = !run.failure().empty() || (run.exit_code() != 0 && run.exit_code() != 1);
  if (harness) {
    ++group->harness;
    Keep(group->harness_examples,
         {run.seed(), ReplayOf(run), -1, run.failure().empty() ? fmt::format("exit code {}", run.exit_code()) : run.failure(),
          run.log()});
  } else if (run.exit_code() == 1) {
    ++group->failed;
  } else {
    ++group->passed;
  }
  for (const auto& property : result.properties()) {
    PropertySummary& summary = group->properties[property.name()];
    summary.kind = property.kind();
    summary.evaluations += property.evaluations();
    if (property.evaluations() > 0) ++summary.runs_checked;
    if (property.hits() > 0) ++summary.runs_hit;
    if (property.violations() > 0) {
      ++summary.runs_violated;
      Example example{run.seed(), ReplayOf(run), -1, "", run.log()};
      for (const auto& violation : result.violations()) {
        if (violation.property() != property.name()) continue;
        if (example.time_ns < 0 || violation.time_ns() < example.time_ns) {
          example.time_ns = violation.time_ns();
          example.details = violation.details();
        }
      }
      Keep(summary.examples, std::move(example));
    }
  }
  // A violation of a property the run did not list (EventBudgetExhausted, CheckNotReached).
  for (const std::string& name : result.violated()) {
    const bool listed = std::any_of(result.properties().begin(), result.properties().end(),
                                    [&](const auto& property) { return property.name() == name; });
    if (listed) continue;
    PropertySummary& summary = group->properties[name];
    if (summary.kind.empty()) summary.kind = "always";
    ++summary.runs_violated;
    Keep(summary.examples, {run.seed(), ReplayOf(run), result.sim_time_ns(), "", run.log()});
  }
}

uint64_t SweepSummary::runs() const {
  uint64_t runs = 0;
  for (const GroupSummary& group : groups_) runs += group.runs;
  return runs;
}

std::string JUnitXml(const SweepSummary& summary, const SweepInfo& info) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  uint64_t tests = 0, failures = 0, skipped = 0;
  std::string suites;
  for (const GroupSummary& group : summary.groups()) {
    const std::string classname = "etcd-dst." + group.Name();
    std::string cases;
    uint64_t group_failures = 0, group_skipped = 0;
    const double seconds_per_case = group.wall_ms / 1e3 / std::max<size_t>(group.properties.size() + 1, 1);
    for (const auto& [name, property] : group.properties) {
      cases += fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3f}\">\n", Html(classname), Html(name),
                           seconds_per_case);
      if (property.runs_violated > 0) {
        ++group_failures;
        std::string body = fmt::format("{} of {} runs violated {} ({} checked it).\nFirst failing seeds:\n",
                                       property.runs_violated, group.runs, name, property.runs_checked);
        for (const Example& example : property.examples) {
          body += fmt::format("  {}\n    {}\n", example.replay, example.details);
        }
        cases += fmt::format("      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
                             Html(fmt::format("{} of {} runs violated {}; replay: {}", property.runs_violated,
                                              group.runs, name, property.examples.empty() ? "" : property.examples[0].replay)),
                             Html(property.kind), Html(body));
      } else if (property.kind == "sometimes" && property.runs_hit == 0) {
        ++group_skipped;
        cases += fmt::format("      <skipped message=\"{}\"/>\n",
                             Html(fmt::format("never seen in {} runs (a Sometimes property no run hit)", group.runs)));
      }
      cases += "    </testcase>\n";
    }
    cases += fmt::format("    <testcase classname=\"{}\" name=\"run-health\" time=\"{:.3f}\">\n", Html(classname),
                         seconds_per_case);
    if (group.harness > 0) {
      ++group_failures;
      std::string body = fmt::format("{} of {} runs crashed, hung or ran out of memory:\n", group.harness, group.runs);
      for (const Example& example : group.harness_examples) body += fmt::format("  {}  ({})\n", example.replay, example.details);
      cases += fmt::format("      <failure message=\"{}\" type=\"harness\">{}</failure>\n",
                           Html(fmt::format("{} of {} runs gave no verdict", group.harness, group.runs)), Html(body));
    }
    cases += "    </testcase>\n";
    const uint64_t group_tests = group.properties.size() + 1;
    suites += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3f}\">\n",
                          Html(classname), group_tests, group_failures, group_skipped, group.wall_ms / 1e3);
    suites += fmt::format("    <properties><property name=\"runs\" value=\"{}\"/><property name=\"build\" value=\"{}\"/>"
                          "<property name=\"first_seed\" value=\"{}\"/><property name=\"shard\" value=\"{}/{}\"/></properties>\n",
                          group.runs, Html(info.build), info.first_seed, info.shard_index, info.shard_count);
    suites += cases + "  </testsuite>\n";
    tests += group_tests;
    failures += group_failures;
    skipped += group_skipped;
  }
  out += fmt::format("<testsuites name=\"etcd-dst\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3f}\">\n",
                     tests, failures, skipped, info.wall_seconds);
  return out + suites + "</testsuites>\n";
}

}  // namespace viz
