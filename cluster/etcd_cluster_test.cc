#include "cluster/etcd_cluster.h"

#include <algorithm>
#include <memory>

#include <gtest/gtest.h>

#include "sim/run_actor_test_util.h"

namespace cluster {
namespace {

using sim::SimDuration;

// The member list through the client service, as "name" or "name (unstarted)" (no client URLs
// yet, as etcdctl shows it), sorted by name.
std::vector<std::string> MemberTable(EtcdCluster& cluster) {
  // Shared: a list that times out may still finish later, after this returns.
  auto table_ptr = std::make_shared<std::vector<std::string>>();
  const bool done = sim::RunActorUntilDone(
      *sim::Simulation::Current(),
      [&cluster, table_ptr] {
        std::vector<std::string>& table = *table_ptr;
        model::etcd::Client client = cluster.Client({cluster.ClientServiceUrl()});
        absl::StatusOr<etcd_dst::etcd::MemberListResponse> members = client.MemberList();
        if (members.ok()) {
          for (const auto& member : members->members()) {
            table.push_back(member.name() + (member.clienturls().empty() ? " (unstarted)" : ""));
          }
        } else {
          table.push_back(members.status().ToString());
        }
        std::sort(table.begin(), table.end());
      },
      SimDuration::Seconds(10));
  EXPECT_TRUE(done) << "the member list did not finish";
  return *table_ptr;
}

// A three-member etcd StatefulSet whose pod 2 is Pending for 30 s: pods 0 and 1 form the
// cluster (a quorum of the initial three) and serve through the client service; pod 2's DNS
// name appears when it is bound and it joins; deleting pod 1 at 60 s brings it back as a new
// pod with its data, and the cluster serves on.
TEST(EtcdClusterTest, LatePodThenDeletedPod) {
  sim::Simulation simulation({.seed = 11, .workload = "etcd-cluster-test"});
  EtcdCluster cluster(&simulation, {.members = 3});
  cluster.Pod(2).PendingFor(SimDuration::Seconds(30));
  cluster.At(SimDuration::Seconds(60)).DeletePod(1);
  cluster.Start();

  cluster.RunUntil(SimDuration::Seconds(25));
  EXPECT_FALSE(cluster.cluster().Bound("etcd-main-2"));
  EXPECT_EQ(cluster.cluster().Endpoints("etcd-main-client"), (std::vector<std::string>{"etcd-main-0", "etcd-main-1"}));
  EXPECT_EQ(MemberTable(cluster),
            (std::vector<std::string>{"etcd-main-0", "etcd-main-1", "etcd-main-2 (unstarted)"}));

  cluster.RunUntil(SimDuration::Seconds(55));
  EXPECT_TRUE(cluster.cluster().Ready("etcd-main-2"));
  EXPECT_EQ(cluster.cluster().Endpoints("etcd-main-client").size(), 3u);
  EXPECT_EQ(MemberTable(cluster), (std::vector<std::string>{"etcd-main-0", "etcd-main-1", "etcd-main-2"}));

  cluster.RunUntil(SimDuration::Seconds(100));
  EXPECT_EQ(cluster.cluster().kubelet("etcd-main-1").status("etcd").restart_count, 0);  // a new pod
  EXPECT_TRUE(cluster.cluster().Ready("etcd-main-1"));
  ASSERT_NE(cluster.Current(1), nullptr);
  EXPECT_EQ(cluster.Current(1)->state(), model::etcd::EtcdServer::State::kRunning);
  EXPECT_EQ(MemberTable(cluster).size(), 3u);
  // Every start of pod 1 is one member: the same ID, its data kept.
  std::set<uint64_t> pod1_ids;
  for (const auto& server : cluster.all()) {
    if (server->config().name == "etcd-main-1") pod1_ids.insert(server->id());
  }
  EXPECT_EQ(pod1_ids.size(), 1u);
}

}  // namespace
}  // namespace cluster
