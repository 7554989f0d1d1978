#include "sim/properties.h"

#include <gtest/gtest.h>

#include "sim/simulation.h"

namespace sim {
namespace {

// A violated Always is recorded with time and place, traced, and the run goes on.
TEST(PropertiesTest, AlwaysViolationDoesNotAbort) {
  Simulation simulation({.seed = 1, .workload = "test"});
  Properties& properties = simulation.properties();
  Group* pod = simulation.scheduler().CreateGroup("pod-1");
  bool continued = false;
  simulation.scheduler().Spawn(pod, "checker", [&] {
    this_actor::SleepFor(SimDuration::Seconds(2));
    properties.Always(1 + 1 == 2, "Arithmetic");
    properties.Always(false, "OneClusterId", "two IDs seen");
    continued = true;
  });
  simulation.scheduler().Run();
  EXPECT_TRUE(continued);
  ASSERT_EQ(properties.violations().size(), 1u);
  const Violation& violation = properties.violations()[0];
  EXPECT_EQ(violation.property, "OneClusterId");
  EXPECT_EQ(violation.time, SimTime::Zero() + SimDuration::Seconds(2));
  EXPECT_EQ(violation.group, "pod-1");
  EXPECT_EQ(violation.actor, "checker");
  EXPECT_EQ(violation.details, "two IDs seen");
  EXPECT_EQ(properties.ViolatedNames(), std::vector<std::string>{"OneClusterId"});
  EXPECT_EQ(properties.stats().at("Arithmetic").evaluations, 1u);
  EXPECT_NE(simulation.trace().TailLines().back().find("PropertyViolated property=OneClusterId"),
            std::string::npos);
}

// Sometimes counts hits; declared-but-never-true names are reported.
TEST(PropertiesTest, SometimesCountsAndReportsNeverSeen) {
  Simulation simulation({.seed = 1, .workload = "test"});
  Properties& properties = simulation.properties();
  properties.DeclareSometimes("Declared");
  properties.Sometimes(false, "Evaluated");
  properties.Sometimes(true, "Hit");
  properties.Sometimes(true, "Hit");
  EXPECT_EQ(properties.stats().at("Hit").hits, 2u);
  EXPECT_EQ(properties.SometimesNeverSeen(), (std::vector<std::string>{"Declared", "Evaluated"}));
  EXPECT_TRUE(properties.violations().empty());
}

// Eventually holds when its predicate turns true in time, and is violated at the deadline otherwise.
TEST(PropertiesTest, Eventually) {
  Simulation simulation({.seed = 1, .workload = "test"});
  Properties& properties = simulation.properties();
  bool flag = false;
  simulation.scheduler().ScheduleAfter(SimDuration::Seconds(3), [&] { flag = true; });
  properties.Eventually("FlagWithin5s", SimDuration::Seconds(5), [&] { return flag; });
  properties.Eventually("FlagWithin1s", SimDuration::Seconds(1), [&] { return flag; });
  simulation.scheduler().Run();
  EXPECT_EQ(properties.stats().at("FlagWithin5s").hits, 1u);
  EXPECT_EQ(properties.ViolatedNames(), std::vector<std::string>{"FlagWithin1s"});
  EXPECT_EQ(properties.violations()[0].time, SimTime::Zero() + SimDuration::Seconds(1));
}

// Violations are all counted but only a bounded number are kept.
TEST(PropertiesTest, ViolationsAreBounded) {
  Simulation simulation({.seed = 1, .workload = "test"});
  for (int i = 0; i < 100; ++i) simulation.properties().Always(false, "Flaky");
  EXPECT_EQ(simulation.properties().violations().size(), Properties::kViolationsKeptPerProperty);
  EXPECT_EQ(simulation.properties().stats().at("Flaky").violations, 100u);
}

}  // namespace
}  // namespace sim
