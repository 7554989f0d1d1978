#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "viz/space_time.h"
#include "viz/sweep_report.h"
#include "viz/text.h"

namespace viz {
namespace {

using etcd_dst::result::SweepRun;

TEST(TextTest, EscapesHostileStrings) {
  const std::string hostile = "<script>alert('x')</script> & \"q\"\n\x01\xff";
  EXPECT_EQ(Html(hostile), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;\n\xef\xbf\xbd");
  EXPECT_EQ(JsonString(hostile), "\"\\u003cscript>alert('x')\\u003c/script> & \\\"q\\\"\\n\\u0001\xef\xbf\xbd\"");
  EXPECT_EQ(DotString("a\"b\\c\nd\x02"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(Html("caf\xc3\xa9"), "caf\xc3\xa9");           // valid UTF-8 kept
  EXPECT_EQ(Html("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // an overlong '/' is two invalid bytes
}

SweepRun MakeRun(uint64_t seed, bool fail, int64_t violation_ns = 0) {
  SweepRun run;
  run.set_workload("bootstrap-0-to-3");
  run.set_profile("br-v0.35");
  run.set_seed(seed);
  run.set_exit_code(fail ? 1 : 0);
  auto* result = run.mutable_result();
  result->set_seed(seed);
  result->set_replay("etcd-dst run --workload bootstrap-0-to-3 --seed " + std::to_string(seed) + " --profile br-v0.35");
  auto* one = result->add_properties();
  one->set_name("OneClusterId");
  one->set_kind("always");
  one->set_evaluations(10);
  one->set_violations(fail ? 1 : 0);
  auto* sometimes = result->add_properties();
  sometimes->set_name("LearnerPromoted");
  sometimes->set_kind("sometimes");
  if (fail) {
    result->add_violated("OneClusterId");
    auto* violation = result->add_violations();
    violation->set_property("OneClusterId");
    violation->set_time_ns(violation_ns);
    violation->set_details("two <cluster> IDs");
  }
  (*result->mutable_faults())["power_loss"] = 2;
  return run;
}

TEST(SweepReportTest, JsonLineCarriesTheRun) {
  const std::string line = RunJsonLine(MakeRun(46, true, 42'000'000'000));
  EXPECT_NE(line.find("\"seed\":46,\"pass\":false,\"exit_code\":1"), std::string::npos) << line;
  EXPECT_NE(line.find("\"violated\":[\"OneClusterId\"]"), std::string::npos) << line;
  EXPECT_NE(line.find("\"first_violation\":{\"property\":\"OneClusterId\",\"time_s\":42.000000"), std::string::npos) << line;
  EXPECT_NE(line.find("\"details\":\"two \\u003ccluster> IDs\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"faults\":{\"power_loss\":2}"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(SweepReportTest, SummaryKeepsTheFastestFailuresFirst) {
  SweepSummary summary;
  for (uint64_t seed = 1; seed <= 20; ++seed) summary.Add(MakeRun(seed, seed % 3 == 0, static_cast<int64_t>(100 - seed) * 1'000'000'000));
  ASSERT_EQ(summary.groups().size(), 1u);
  const GroupSummary& group = summary.groups()[0];
  EXPECT_EQ(group.runs, 20u);
  EXPECT_EQ(group.failed, 6u);
  const PropertySummary& one = group.properties.at("OneClusterId");
  EXPECT_EQ(one.runs_violated, 6u);
  ASSERT_EQ(one.examples.size(), SweepSummary::kExamples);
  EXPECT_EQ(one.examples[0].seed, 18u);  // the latest seed violates earliest
  EXPECT_EQ(one.examples[1].seed, 15u);
  EXPECT_EQ(group.properties.at("LearnerPromoted").runs_hit, 0u);
  // A violation no run declared (EventBudgetExhausted) counts once per run.
  for (uint64_t seed = 21; seed <= 23; ++seed) {
    SweepRun run = MakeRun(seed, false);
    run.set_exit_code(1);
    run.mutable_result()->add_violated("EventBudgetExhausted");
    summary.Add(run);
  }
  EXPECT_EQ(summary.groups()[0].properties.at("EventBudgetExhausted").runs_violated, 3u);
}

TEST(SweepReportTest, JUnitHasACasePerPropertyAndRunHealth) {
  SweepSummary summary;
  summary.Add(MakeRun(1, false));
  summary.Add(MakeRun(2, true, 5));
  SweepRun crashed;
  crashed.set_workload("bootstrap-0-to-3");
  crashed.set_profile("br-v0.35");
  crashed.set_seed(3);
  crashed.set_exit_code(-1);
  crashed.set_failure("killed by signal 11 (Segmentation fault)");
  summary.Add(crashed);
  const std::string xml = JUnitXml(summary, {.build = "abc1234", .first_seed = 1, .seeds = 3});
  EXPECT_NE(xml.find("<testsuite name=\"etcd-dst.bootstrap-0-to-3.br-v0.35\" tests=\"3\" failures=\"2\" errors=\"0\" skipped=\"1\""),
            std::string::npos) << xml;
  EXPECT_NE(xml.find("<testcase classname=\"etcd-dst.bootstrap-0-to-3.br-v0.35\" name=\"OneClusterId\""), std::string::npos);
  EXPECT_NE(xml.find("1 of 3 runs violated OneClusterId; replay: etcd-dst run --workload bootstrap-0-to-3 --seed 2 --profile br-v0.35"),
            std::string::npos) << xml;
  EXPECT_NE(xml.find("two &lt;cluster&gt; IDs"), std::string::npos);
  EXPECT_NE(xml.find("name=\"run-health\""), std::string::npos);
  EXPECT_NE(xml.find("killed by signal 11"), std::string::npos);
  EXPECT_NE(xml.find("<skipped message=\"never seen in 3 runs"), std::string::npos);
}

sim::TraceRecord Event(int64_t ms, std::string group, std::string name,
                       std::vector<sim::TraceDetail> details = {}) {
  return {sim::SimTime::FromNanos(ms * 1'000'000), std::move(group), "a", std::move(name), std::move(details)};
}

// A small run: two members exchange heartbeats (collapsed), a partition
// isolates one, a message is lost, a violation ends it. The DOT text is the
// golden file's (Graphviz's own output is not compared: it varies by version).
std::vector<sim::TraceRecord> SmallTrace() {
  std::vector<sim::TraceRecord> events;
  for (int i = 0; i < 3; ++i) {
    const std::string id = "s" + std::to_string(i);
    events.push_back(Event(100 * i, "m0/etcd/process", "MessageSent", {{"id", id}, {"to", "m1:2380"}, {"bytes", "45"}}));
    events.push_back(Event(100 * i + 1, "m1/etcd/process", "MessageReceived", {{"id", id}, {"from", "m0:41000"}}));
  }
  events.push_back(Event(350, "world", "PartitionStarted", {{"kind", "isolate"}, {"node", "m1"}}));
  events.push_back(Event(400, "m0/etcd/process", "MessageSent", {{"id", "c7"}, {"to", "m1:2380"}, {"method", "/raft"}}));
  events.push_back(Event(401, "world", "MessageDropped", {{"id", "c7"}, {"reason", "partition"}}));
  events.push_back(Event(500, "world", "NodeDown", {{"node", "m0"}, {"kind", "power_off"}}));
  events.push_back(Event(600, "world", "NodeUp", {{"node", "m0"}}));
  events.push_back(Event(700, "world", "PartitionHealed", {{"blocked_pairs", "2"}}));
  events.push_back(Event(800, "checker", "PropertyViolated", {{"property", "OneClusterId"}, {"details", "two \"IDs\""}}));
  return events;
}

TEST(SpaceTimeTest, MatchesTheGoldenDot) {
  const SpaceTime picture = BuildSpaceTime(SmallTrace(), {});
  ASSERT_TRUE(picture.first_violation.has_value());
  EXPECT_EQ(*picture.first_violation, 12u);
  EXPECT_FALSE(picture.truncated);
  const std::string golden_path = std::string(ETCD_DST_SOURCE_DIR) + "/viz/testdata/space_time_golden.dot";
  if (std::getenv("UPDATE_GOLDEN") != nullptr) std::ofstream(golden_path) << picture.dot;
  std::ifstream in(golden_path);
  std::stringstream golden;
  golden << in.rdbuf();
  EXPECT_EQ(picture.dot, golden.str()) << "regenerate with UPDATE_GOLDEN=1 after checking the picture";
}

TEST(SpaceTimeTest, LanesCollapsingAndTheCap) {
  EXPECT_EQ(LaneOf("etcd-main-0/etcd/process"), "etcd-main-0/etcd/process");
  EXPECT_EQ(LaneOf("etcd-main-0/etcd"), "etcd-main-0/etcd");
  EXPECT_EQ(LaneOf("etcd-main-0/backup-restore/leading/snapshotter-run"), "etcd-main-0/backup-restore");
  EXPECT_EQ(LaneOf("world"), "world");
  const SpaceTime picture = BuildSpaceTime(SmallTrace(), {});
  EXPECT_NE(picture.dot.find("x3"), std::string::npos);  // three sends in a row: one box
  EXPECT_NE(picture.dot.find("label=\"partition\""), std::string::npos);
  EXPECT_NE(picture.dot.find("label=\"m0 down\""), std::string::npos);
  EXPECT_NE(picture.dot.find("two \\\"IDs\\\""), std::string::npos);  // escaped for DOT
  // Faults with durations: a bucket burst, the API server down, a delayed pod start.
  std::vector<sim::TraceRecord> faults = {
      Event(0, "world", "PodCreated", {{"pod", "etcd-main-1"}, {"node", "node-1"}}),
      Event(10, "world", "FaultInjected", {{"action", "0.010s object_store_burst duration=0.5s transient_ppm=9"}}),
      Event(20, "bucket", "ObjectPut", {{"key", "Full-1"}}),
      Event(30, "world", "ApiServerAvailability", {{"available", "false"}}),
      Event(40, "kube-apiserver", "Request", {}),
      Event(50, "world", "FaultInjected", {{"action", "0.050s delay_start node=node-1 delay=1s"}}),
      Event(60, "etcd-main-1/etcd", "WrapperLog", {}),
      Event(600, "world", "ApiServerAvailability", {{"available", "true"}}),
      Event(1200, "etcd-main-1/etcd", "Started", {}),
  };
  const SpaceTime spans = BuildSpaceTime(faults, {});
  EXPECT_NE(spans.dot.find("label=\"bucket errors\""), std::string::npos) << spans.dot;
  EXPECT_NE(spans.dot.find("label=\"API server down\""), std::string::npos) << spans.dot;
  EXPECT_NE(spans.dot.find("label=\"etcd-main-1 Pending\""), std::string::npos) << spans.dot;
  std::vector<sim::TraceRecord> many;
  for (int i = 0; i < 5000; ++i) many.push_back(Event(i, i % 2 ? "a" : "b", i % 3 ? "X" : "Y"));
  const SpaceTime capped = BuildSpaceTime(many, {.before = 5000, .after = 0, .max_boxes = 100});
  EXPECT_TRUE(capped.truncated);
  EXPECT_EQ(capped.boxes, 100u);
  EXPECT_NE(capped.dot.find("truncated:"), std::string::npos);
}

}  // namespace
}  // namespace viz
