#include "sim/trace.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "sim/simulation.h"
#include "sim/trace_file.h"

namespace sim {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::path(testing::TempDir()) / name).string();
}

// The text line format is golden: others parse it.
TEST(TraceTest, LineFormatIsGolden) {
  TraceRecord record;
  record.time = SimTime::FromNanos(12345678901);
  record.group = "etcd-main-0/etcd";
  record.actor = "raft";
  record.name = "LeaderElected";
  record.details = {{"term", "3"}, {"member", "8e9e05c52164694d"}, {"error", "cluster ID mismatch"},
                    {"empty", ""}, {"quote", "a\"b"}};
  EXPECT_EQ(FormatTraceLine(record),
            "12.345678s etcd-main-0/etcd raft LeaderElected term=3 member=8e9e05c52164694d "
            "error=\"cluster ID mismatch\" empty=\"\" quote=\"a\\\"b\"");
}

// Events carry the running actor's group and name, and change the digest.
TEST(TraceTest, EventsCarryContextAndFeedTheDigest) {
  Simulation simulation({.seed = 1, .workload = "test"});
  Group* pod = simulation.scheduler().CreateGroup("pod-0");
  const uint64_t before = simulation.trace().digest();
  simulation.scheduler().Spawn(pod, "worker", [] {
    this_actor::SleepFor(SimDuration::Millis(1500));
    TraceEvent("Tick").Detail("n", 1).Detail("id", Hex{0xabc}).Detail("ok", true);
  });
  simulation.scheduler().Run();
  ASSERT_EQ(simulation.trace().count(), 1u);
  EXPECT_NE(simulation.trace().digest(), before);
  EXPECT_EQ(simulation.trace().TailLines().back(),
            "1.500000s pod-0 worker Tick n=1 id=0000000000000abc ok=true");
}

// The digest depends on every field and on field boundaries.
TEST(TraceTest, DigestSeparatesFields) {
  auto digest_of = [](std::string_view a, std::string_view b) {
    Simulation simulation({.seed = 1, .workload = "test"});
    TraceEvent("E").Detail(a, b);
    return simulation.trace().digest();
  };
  EXPECT_NE(digest_of("ab", "c"), digest_of("a", "bc"));
  EXPECT_EQ(digest_of("ab", "c"), digest_of("ab", "c"));
}

// Without a simulation, before one or after one ends, trace events are dropped: none is kept
// for the next simulation, and none reaches the trace of one that has shut down.
TEST(TraceTest, NoSimulationDropsEvents) {
  ASSERT_EQ(Trace::Current(), nullptr);
  TraceEvent("Orphan").Detail("k", "v");
  {
    Simulation simulation({.seed = 1, .workload = "test"});
    EXPECT_EQ(Trace::Current(), &simulation.trace());
    EXPECT_EQ(simulation.trace().count(), 0u);
    EXPECT_TRUE(simulation.trace().TailLines().empty());
    TraceEvent("Inside");
    ASSERT_EQ(simulation.trace().count(), 1u);
    const uint64_t digest = simulation.trace().digest();
    simulation.Shutdown();
    EXPECT_EQ(Trace::Current(), nullptr);
    TraceEvent("AfterShutdown").Detail("k", "v");
    EXPECT_EQ(simulation.trace().count(), 1u);
    EXPECT_EQ(simulation.trace().digest(), digest);
    EXPECT_EQ(simulation.trace().TailLines(), std::vector<std::string>{"0.000000s world - Inside"});
  }
  EXPECT_EQ(Trace::Current(), nullptr);  // not left pointing at the destroyed trace
  TraceEvent("AfterEnd").Detail("k", "v");
}

// A protobuf trace file round-trips every event, header and footer.
TEST(TraceFileTest, RoundTrip) {
  const std::string path = TempPath("roundtrip.trace");
  etcd_dst::trace::Header header;
  header.set_format_version(1);
  header.set_seed(9);
  header.set_workload("w");
  {
    Simulation simulation({.seed = 9, .workload = "w"});
    auto sink = ProtoTraceSink::Open(path, header);
    ASSERT_TRUE(sink.ok());
    ProtoTraceSink* raw = sink->get();
    simulation.trace().AddSink(std::move(*sink));
    for (int i = 0; i < 1000; ++i) TraceEvent("Step").Detail("i", i);
    etcd_dst::trace::Footer footer;
    footer.set_fingerprint(123);
    raw->WriteFooter(footer);
  }
  absl::StatusOr<TraceFileContents> contents = ReadTraceFile(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->header.seed(), 9u);
  ASSERT_EQ(contents->events.size(), 1000u);
  EXPECT_EQ(FormatTraceLine(FromProto(contents->events[999])), "0.000000s world - Step i=999");
  EXPECT_TRUE(contents->has_footer);
  EXPECT_EQ(contents->footer.fingerprint(), 123u);
}

// Missing, empty, foreign and truncated files are clear errors, not crashes.
TEST(TraceFileTest, CorruptFilesAreErrors) {
  EXPECT_EQ(ReadTraceFile(TempPath("missing.trace")).status().code(), absl::StatusCode::kNotFound);
  const std::string empty = TempPath("empty.trace");
  std::ofstream(empty).close();
  EXPECT_EQ(ReadTraceFile(empty).status().code(), absl::StatusCode::kDataLoss);
  const std::string foreign = TempPath("foreign.trace");
  std::ofstream(foreign) << "this is not a trace at all, just text\n";
  EXPECT_EQ(ReadTraceFile(foreign).status().code(), absl::StatusCode::kDataLoss);

  const std::string good = TempPath("good.trace");
  etcd_dst::trace::Header header;
  header.set_format_version(1);
  {
    Simulation simulation({.seed = 1, .workload = "w"});
    auto sink = ProtoTraceSink::Open(good, header);
    ASSERT_TRUE(sink.ok());
    simulation.trace().AddSink(std::move(*sink));
    for (int i = 0; i < 10; ++i) TraceEvent("Step").Detail("i", i);
  }
  const auto size = std::filesystem::file_size(good);
  std::filesystem::resize_file(good, size - 3);
  absl::StatusOr<TraceFileContents> truncated = ReadTraceFile(good);
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(truncated.status().message().find("record 10"), std::string::npos)
      << truncated.status();
  // A reader that keeps what a killed run left: the nine whole events.
  absl::StatusOr<TraceFileContents> kept = ReadTraceFile(good, /*keep_torn_tail=*/true);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_TRUE(kept->torn_tail);
  EXPECT_EQ(kept->events.size(), 9u);
}

// An unwritable path is reported, not crashed on.
TEST(TraceFileTest, UnwritablePath) {
  etcd_dst::trace::Header header;
  EXPECT_FALSE(ProtoTraceSink::Open("/nonexistent-dir/x.trace", header).ok());
}

}  // namespace
}  // namespace sim
