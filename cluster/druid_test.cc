#include "cluster/druid.h"

#include <gtest/gtest.h>

#include "sim/simulation.h"

namespace cluster {
namespace {

using sim::SimDuration;
using sim::SimTime;

// druid's AllMembersReady over time, for three members whose leases a stand-in for the sidecar
// renews every 10 s: Unknown before any lease was renewed, True once all were, False (member
// Unknown) a minute after member 2 stops renewing, and member 2 NotReady five minutes later;
// Ready (a quorum of listed members) stays True throughout.
TEST(DruidTest, AllMembersReadyWhenALeaseStopsRenewing) {
  sim::Simulation simulation({.seed = 7, .workload = "druid-test"});
  sim::World world(&simulation);
  Cluster cluster(&simulation, &world, {"node-0", "node-1", "node-2"});
  ApiServer api(&simulation.scheduler(), &world.network());
  Druid druid(&simulation.scheduler(), &api, &cluster,
              {.etcd = "etcd-main",
               .replicas = 3,
               .containers = [](int) {
                 return std::vector<ContainerSpec>{{.name = "etcd", .main = [](sim::Group*) {
                                                      sim::this_actor::SleepFor(SimDuration::Max());
                                                      return 0;
                                                    }}};
               }});
  druid.Start();
  EXPECT_EQ(ConditionStatus(druid.ComputeStatus(), "AllMembersReady"), "Unknown");  // no lease renewed yet
  simulation.scheduler().Spawn(simulation.scheduler().CreateGroup("sidecars"), "renewer", [&] {
    while (true) {
      sim::this_actor::SleepFor(SimDuration::Seconds(10));
      for (int i = 0; i < 3; ++i) {
        if (i == 2 && simulation.Now() > SimTime::Zero() + SimDuration::Seconds(60)) continue;
        absl::StatusOr<Object> lease = api.Get("Lease", druid.MemberLease(i));
        ASSERT_TRUE(lease.ok());
        lease->mutable_lease()->set_holder_identity(i == 0 ? "1a2b:Leader" : "3c4d:Member");
        lease->mutable_lease()->set_renew_time_ns(simulation.Now().nanos());
        ASSERT_TRUE(api.Update(*lease).ok());
      }
    }
  });
  std::vector<std::string> timeline;  // "<seconds> AllMembersReady=<status> Ready=<status> m2=<status>"
  std::string last;
  simulation.scheduler().Spawn(simulation.scheduler().CreateGroup("observer"), "observer", [&] {
    while (true) {
      sim::this_actor::SleepFor(SimDuration::Seconds(1));
      const etcd_dst::kube::Etcd status = api.Get("Etcd", "etcd-main")->etcd();
      std::string member2 = "-";
      for (const auto& member : status.members()) {
        if (member.name() == "etcd-main-2") member2 = member.status();
      }
      const std::string now = fmt::format("AllMembersReady={} Ready={} m2={}", ConditionStatus(status, "AllMembersReady"),
                                          ConditionStatus(status, "Ready"), member2);
      if (now != last) timeline.push_back(fmt::format("{} {}", simulation.Now().nanos() / 1'000'000'000, now));
      last = now;
    }
  });
  simulation.scheduler().Run({.until = SimTime::Zero() + SimDuration::Minutes(10)});
  EXPECT_EQ(timeline, (std::vector<std::string>{
                          "1 AllMembersReady= Ready= m2=-",                   // before the first sync
                          "15 AllMembersReady=True Ready=True m2=Ready",      // renewed at 10 s, synced at 15 s
                          "135 AllMembersReady=False Ready=True m2=Unknown",  // last renewal 60 s, + 1 min < 135
                          "435 AllMembersReady=False Ready=True m2=NotReady", // + 5 min more
                      }));
  EXPECT_EQ(druid.ComputeStatus().ready_replicas(), 2);
  // The cluster publishes what its kubelets know: every pod Running and Ready.
  const etcd_dst::kube::StatefulSet statefulset = api.Get("StatefulSet", "etcd-main")->statefulset();
  EXPECT_EQ(statefulset.replicas(), 3);
  EXPECT_EQ(statefulset.ready_replicas(), 3);
  EXPECT_EQ(statefulset.updated_replicas(), 3);
  EXPECT_EQ(api.Get("Pod", "etcd-main-1")->pod().phase(), "Running");
  EXPECT_EQ(api.Get("Pod", "etcd-main-1")->pod().node_name(), "node-1");
  simulation.Shutdown();
}

}  // namespace
}  // namespace cluster
