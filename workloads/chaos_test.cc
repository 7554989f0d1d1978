// etcd-cluster-chaos over 200 consecutive seeds (a separate binary, so that
// the sanitizer run can leave it out: it is slow under ASan).
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "fmt/format.h"
#include "workloads/runner.h"

namespace workloads {
namespace {

// The simulated time (seconds, from the text trace's "12.345678s") of the
// first line `matches` holds for, or -1.
double FirstTime(const std::string& trace_path, const std::function<bool(const std::string&)>& matches) {
  std::ifstream in(trace_path);
  std::string line;
  while (std::getline(in, line)) {
    if (matches(line)) return std::stod(line.substr(0, line.find('s')));
  }
  return -1;
}

// The known class of failure (see docs/findings.md): a power loss exposed a
// hole that a failed fsync left in a file the cache kept serving (fsyncgate),
// before the first violation. Returns "" if the run is of that class, else
// why not. Re-runs the seed with a text trace to see the order of events.
std::string NotFsyncgate(uint64_t seed) {
  const std::string path =
      (std::filesystem::path(testing::TempDir()) / fmt::format("chaos-{}.trace.txt", seed)).string();
  auto traced = RunWorkload({.workload = "etcd-cluster-chaos", .seed = seed, .trace_text_path = path});
  if (!traced.ok()) return std::string(traced.status().message());
  constexpr std::string_view kHole = "bytes_lost_after_failed_sync=";
  const double exposed_nonzero = FirstTime(path, [&](const std::string& line) {
    const size_t at = line.find(kHole);
    return at != std::string::npos && line[at + kHole.size()] != '0';
  });
  const double violated =
      FirstTime(path, [](const std::string& line) { return line.find("PropertyViolated") != std::string::npos; });
  std::filesystem::remove(path);
  if (exposed_nonzero < 0) return "no fsyncgate hole was exposed";
  if (violated >= 0 && violated < exposed_nonzero) {
    return fmt::format("violated at {}s, before the hole was exposed at {}s", violated, exposed_nonzero);
  }
  return "";
}

// etcd-cluster-chaos: 200 consecutive seeds, in four slices so that CTest can run them in
// parallel. A seed passes, or fails in the one known class (fsyncgate, an etcd bug of the real
// code, not of the model) with only the violations that class causes.
class ChaosSlice : public testing::TestWithParam<int> {};

TEST_P(ChaosSlice, PassOrKnownClass) {
  const std::set<std::string> fsyncgate_violations = {"CommittedEntriesNeverChange", "OneLeaderPerTerm",
                                                      "LinearizableReadSeesAcknowledgedWrite",
                                                      "AcknowledgedWritesSurvive", "ClusterServesAfterFaults"};
  const uint64_t first = 1 + 50 * static_cast<uint64_t>(GetParam());
  for (uint64_t seed = first; seed < first + 50; ++seed) {
    auto result = RunWorkload({.workload = "etcd-cluster-chaos", .seed = seed});
    ASSERT_TRUE(result.ok()) << result.status();
    if (result->pass()) continue;
    for (const std::string& name : result->violated()) {
      EXPECT_TRUE(fsyncgate_violations.contains(name)) << name << ": " << ResultLine(*result);
    }
    const std::string why_not = NotFsyncgate(seed);
    EXPECT_EQ(why_not, "") << "an unexplained failure: " << ResultLine(*result);
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds1To200, ChaosSlice, testing::Range(0, 4));

// The failures a 3000-seed sweep found (7 in 1..3000, since issue 11's incremental bbolt commits
// moved every seed's timing) (docs/findings.md) fail, and are of the known class.
TEST(ChaosKnownFailuresTest, AreFsyncgate) {
  for (uint64_t seed : {595, 1031, 1456, 1626, 2030, 2401, 2925}) {
    auto result = RunWorkload({.workload = "etcd-cluster-chaos", .seed = seed});
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_FALSE(result->pass()) << ResultLine(*result);
    EXPECT_EQ(NotFsyncgate(seed), "") << ResultLine(*result);
  }
}

// Every Sometimes mark of etcd-cluster-chaos is hit within the first 2000 seeds, so a workload
// that silently stopped doing something is caught (the slices above share no state, so this
// runs its own seeds and stops once every mark was seen: the rarest, a member whose WAL a power
// loss left unreadable, is 6 seeds in 3000, the first 1598).
TEST(ChaosSometimesTest, EveryMarkHit) {
  constexpr uint64_t kSeeds = 2000;
  std::map<std::string, uint64_t> hits;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    auto result = RunWorkload({.workload = "etcd-cluster-chaos", .seed = seed});
    ASSERT_TRUE(result.ok()) << result.status();
    for (const auto& property : result->properties()) {
      if (property.kind() == "sometimes") hits[property.name()] += property.hits();
    }
    bool all = !hits.empty();
    for (const auto& [name, count] : hits) all &= count > 0;
    if (all) break;
  }
  ASSERT_FALSE(hits.empty());
  for (const auto& [name, count] : hits) EXPECT_GT(count, 0u) << name << " never seen in " << kSeeds << " seeds";
}

}  // namespace
}  // namespace workloads
