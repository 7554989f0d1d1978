#include "cluster/kubelet.h"

#include <gtest/gtest.h>

#include "sim/simulation.h"

namespace cluster {
namespace {

using sim::SimDuration;
using sim::SimTime;

double Seconds(SimTime time) { return static_cast<double>(time.nanos()) / 1e9; }

// A container that keeps failing is restarted after 10, 20, 40, 80, 160, 300, 300 s of back-off,
// and never given up on.
TEST(KubeletTest, BackOffDoublesToFiveMinutes) {
  sim::Simulation simulation({.seed = 1, .workload = "kubelet-test"});
  std::vector<double> starts;
  Kubelet kubelet(&simulation.scheduler(), "etcd-0",
                  {{.name = "etcd", .main = [&](sim::Group*) {
                      starts.push_back(Seconds(simulation.Now()));
                      return 1;
                    }}});
  kubelet.Boot(simulation.scheduler().CreateGroup("etcd-0"), 1);
  simulation.scheduler().Run({.until = SimTime::Zero() + SimDuration::Seconds(1000)});
  EXPECT_EQ(starts, (std::vector<double>{0, 10, 30, 70, 150, 310, 610, 910}));
  EXPECT_EQ(kubelet.status("etcd").restart_count, 7);
  ASSERT_TRUE(kubelet.status("etcd").last_termination.has_value());
  EXPECT_EQ(kubelet.status("etcd").last_termination->reason, "Error");
  EXPECT_EQ(kubelet.status("etcd").last_termination->exit_code, 1);
  simulation.Shutdown();
}

// Ten minutes of running resets the back-off: the restart after a long run waits 10 s again.
TEST(KubeletTest, BackOffResetsAfterTenMinutesRunning) {
  sim::Simulation simulation({.seed = 1, .workload = "kubelet-test"});
  std::vector<double> starts;
  Kubelet kubelet(&simulation.scheduler(), "etcd-0",
                  {{.name = "etcd", .main = [&](sim::Group*) {
                      starts.push_back(Seconds(simulation.Now()));
                      // Fails fast three times, then runs 11 minutes, then fails fast again.
                      if (starts.size() == 4) sim::this_actor::SleepFor(SimDuration::Minutes(11));
                      return 2;
                    }}});
  kubelet.Boot(simulation.scheduler().CreateGroup("etcd-0"), 1);
  simulation.scheduler().Run({.until = SimTime::Zero() + SimDuration::Seconds(790)});
  // 0, +10, +20, +40 = 70; runs until 730; back-off reset: +10 = 740; then +20 = 760.
  EXPECT_EQ(starts, (std::vector<double>{0, 10, 30, 70, 740, 760}));
  simulation.Shutdown();
}

// Readiness follows the probe: ready after the initial delay, not ready after the failure
// threshold of consecutive failures, and the pod-level callback hears each change.
TEST(KubeletTest, ReadinessProbe) {
  sim::Simulation simulation({.seed = 1, .workload = "kubelet-test"});
  bool healthy = true;
  std::vector<std::pair<double, bool>> changes;
  Kubelet kubelet(&simulation.scheduler(), "etcd-0",
                  {{.name = "etcd",
                    .main = [](sim::Group*) {
                      sim::this_actor::SleepFor(SimDuration::Max());
                      return 0;
                    },
                    .readiness = ReadinessProbe{.check = [&] { return healthy; }}},
                   {.name = "backup-restore", .main = [](sim::Group*) {
                      sim::this_actor::SleepFor(SimDuration::Max());
                      return 0;
                    }}});
  kubelet.set_on_ready_change([&](bool ready) { changes.emplace_back(Seconds(simulation.Now()), ready); });
  kubelet.Boot(simulation.scheduler().CreateGroup("etcd-0"), 1);
  simulation.scheduler().ScheduleAt(SimTime::Zero() + SimDuration::Seconds(41), [&] { healthy = false; });
  simulation.scheduler().ScheduleAt(SimTime::Zero() + SimDuration::Seconds(81), [&] { healthy = true; });
  simulation.scheduler().Run({.until = SimTime::Zero() + SimDuration::Seconds(100)});
  // Probes at 15, 20, ...; failures at 45..65 (the fifth at 65); healthy again at 85.
  EXPECT_EQ(changes, (std::vector<std::pair<double, bool>>{{15, true}, {65, false}, {85, true}}));
  EXPECT_TRUE(kubelet.Ready());
  simulation.Shutdown();
}

// A killed container exits 137 (Error) and comes back after its back-off; the pod dying under a
// running container leaves "Unknown", and the pod's next boot starts it at once.
TEST(KubeletTest, KilledContainerAndPodDeath) {
  sim::Simulation simulation({.seed = 1, .workload = "kubelet-test"});
  std::vector<double> starts;
  Kubelet kubelet(&simulation.scheduler(), "etcd-0", {{.name = "etcd", .main = [&](sim::Group*) {
                                                          starts.push_back(Seconds(simulation.Now()));
                                                          sim::this_actor::SleepFor(SimDuration::Max());
                                                          return 0;
                                                        }}});
  sim::Group* pod = simulation.scheduler().CreateGroup("etcd-0");
  kubelet.Boot(pod, 1);
  simulation.scheduler().ScheduleAt(SimTime::Zero() + SimDuration::Seconds(5),
                                    [&] { EXPECT_TRUE(kubelet.KillContainer("etcd")); });
  simulation.scheduler().Run({.until = SimTime::Zero() + SimDuration::Seconds(20)});
  EXPECT_EQ(starts, (std::vector<double>{0, 15}));
  EXPECT_EQ(kubelet.status("etcd").last_termination->exit_code, 137);
  EXPECT_EQ(kubelet.status("etcd").restart_count, 1);
  // The host loses power at 20 s and the pod boots again at 30 s.
  simulation.scheduler().ScheduleAt(SimTime::Zero() + SimDuration::Seconds(20),
                                    [&] { simulation.scheduler().KillGroup(pod); });
  simulation.scheduler().Run({.until = SimTime::Zero() + SimDuration::Seconds(25)});
  EXPECT_FALSE(kubelet.status("etcd").running);
  EXPECT_EQ(kubelet.status("etcd").last_termination->reason, "Unknown");
  simulation.scheduler().ScheduleAt(SimTime::Zero() + SimDuration::Seconds(30), [&] {
    kubelet.Boot(simulation.scheduler().CreateGroup("etcd-0"), 2);
  });
  simulation.scheduler().Run({.until = SimTime::Zero() + SimDuration::Seconds(40)});
  EXPECT_EQ(starts, (std::vector<double>{0, 15, 30}));
  EXPECT_TRUE(kubelet.status("etcd").running);
  simulation.Shutdown();
}

}  // namespace
}  // namespace cluster
