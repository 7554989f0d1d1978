#include "sim/check.h"

#include <gtest/gtest.h>

#include "sim/buggify.h"
#include "sim/simulation.h"

namespace sim {
namespace {

// A failed SIM_CHECK inside a simulation exits 3 and reports seed, time, actor, trace tail and replay line.
TEST(CheckDeathTest, ReportsContextAndExits3) {
  EXPECT_EXIT(
      {
        Simulation simulation({.seed = 77, .workload = "demo"});
        Group* pod = simulation.scheduler().CreateGroup("pod-2");
        simulation.scheduler().Spawn(pod, "broken", [] {
          TraceEvent("BeforeTheFall").Detail("x", 1);
          this_actor::SleepFor(SimDuration::Millis(1500));
          const int two = 2;
          SIM_CHECK(two == 3, "two is {}", two);
        });
        simulation.scheduler().Run();
      },
      testing::ExitedWithCode(3),
      "SIM_CHECK failed at sim/check_test.cc:[0-9]+: two == 3: two is 2\n"
      "internal failure: seed=77 workload=demo sim_time=1.500s actor=pod-2/broken\n"
      "last 1 trace events:\n"
      "  0.000000s pod-2 broken BeforeTheFall x=1\n"
      "replay: etcd-dst run --workload demo --seed 77");
}

// Outside a simulation a failed check still exits 3 with its message.
TEST(CheckDeathTest, WorksWithoutSimulation) {
  EXPECT_EXIT(SIM_CHECK(false, "plain"), testing::ExitedWithCode(3), "false: plain");
}

// Buggify decisions are a function of (seed, site): the same per seed, different across seeds.
TEST(BuggifyTest, DeterministicPerSeedAndSite) {
  auto pattern = [](uint64_t seed) {
    Buggify buggify(seed, BuggifyOptions{});
    std::string bits;
    for (int call = 0; call < 20; ++call) {
      for (int site = 0; site < 10; ++site) {
        bits.push_back(buggify.Fires("file.cc:" + std::to_string(site)) ? '1' : '0');
      }
    }
    return bits;
  };
  EXPECT_EQ(pattern(5), pattern(5));
  EXPECT_NE(pattern(5), pattern(6));
}

// About a quarter of sites are active, an active site fires about a quarter of calls,
// an inactive one never fires, and disabled buggify never fires at all.
TEST(BuggifyTest, RatesAndDisabled) {
  Buggify buggify(1234, BuggifyOptions{});
  int active = 0;
  for (int site = 0; site < 4000; ++site) {
    const std::string name = "site:" + std::to_string(site);
    int fired = 0;
    for (int call = 0; call < 40; ++call) fired += buggify.Fires(name);
    if (buggify.sites().at(name).active) {
      ++active;
    } else {
      EXPECT_EQ(fired, 0);
    }
  }
  EXPECT_GT(active, 850);
  EXPECT_LT(active, 1150);
  uint64_t calls = 0, fired = 0;
  for (const auto& [name, site] : buggify.sites()) {
    if (site.active) {
      calls += site.calls;
      fired += site.fired;
    }
  }
  EXPECT_GT(fired * 100 / calls, 21u);
  EXPECT_LT(fired * 100 / calls, 29u);

  Buggify off(1234, BuggifyOptions{.enabled = false});
  for (int site = 0; site < 100; ++site) EXPECT_FALSE(off.Fires("s" + std::to_string(site)));
}

// SIM_BUGGIFY names its site by repository-relative file and line.
TEST(BuggifyTest, MacroUsesCurrentSimulation) {
  EXPECT_FALSE(SIM_BUGGIFY);  // no simulation: never fires
  Simulation simulation({.seed = 3, .workload = "test"});
  for (int i = 0; i < 10; ++i) (void)SIM_BUGGIFY;
  ASSERT_EQ(simulation.buggify().sites().size(), 1u);
  EXPECT_TRUE(simulation.buggify().sites().begin()->first.starts_with("sim/check_test.cc:"));
}

}  // namespace
}  // namespace sim
