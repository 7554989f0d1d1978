// etcd pods as druid v0.28 builds them, with the etcd-wrapper and BR v0.35
// (model/br, model/wrapper): bootstrap, backups, restores and the two
// variants of BR #864, each under br-v0.35 and br-fixed.
#include <cstdlib>
#include <memory>
#include <set>

#include <gtest/gtest.h>

#include "cluster/etcd_cluster.h"
#include "fmt/format.h"
#include "model/br/snapstore.h"
#include "sim/run_actor_test_util.h"
#include "sim/trace.h"

namespace cluster {
namespace {

using model::br::Profile;
using model::etcd::EtcdServer;
using sim::SimDuration;

class BrPods {
 public:
  BrPods(int members, uint64_t seed, Profile profile, EtcdCluster::Options options = {})
      : simulation_({.seed = seed, .workload = "br-test"}) {
    options.members = members;
    options.nodes = members;
    options.backup_restore = profile;
    // BR_TEST_TRACE=FILE writes the run's trace as text, for debugging.
    if (const char* path = std::getenv("BR_TEST_TRACE"); path != nullptr) {
      simulation_.trace().AddSink(std::make_unique<sim::TextTraceSink>(std::fopen(path, "w"), true, path));
    }
    cluster_ = std::make_unique<EtcdCluster>(&simulation_, std::move(options));
  }
  EtcdCluster& cluster() { return *cluster_; }
  sim::Simulation& simulation() { return simulation_; }
  void RunFor(SimDuration duration) { cluster_->RunUntil(simulation_.Now() - sim::SimTime::Zero() + duration); }

  // Cluster IDs of the members running now.
  std::set<uint64_t> ClusterIds() {
    std::set<uint64_t> ids;
    for (int i = 0; i < cluster_->members(); ++i) {
      EtcdServer* server = cluster_->Current(i);
      if (server != nullptr && server->state() == EtcdServer::State::kRunning) ids.insert(server->cluster_id());
    }
    return ids;
  }
  int Running() {
    int running = 0;
    for (int i = 0; i < cluster_->members(); ++i) {
      EtcdServer* server = cluster_->Current(i);
      running += server != nullptr && server->state() == EtcdServer::State::kRunning;
    }
    return running;
  }
  std::vector<std::string> Objects() {
    std::vector<std::string> keys;
    for (const sim::ObjectInfo& object : cluster_->world().object_store().Contents()) keys.push_back(object.key);
    return keys;
  }

 private:
  sim::Simulation simulation_;
  std::unique_ptr<EtcdCluster> cluster_;
};

// Three pods started together: every BR's member checks fail (no pod is
// Ready yet), the bucket is empty, so all three bootstrap one cluster; the
// raft leader's BR takes the first full snapshot.
TEST(BackupRestoreTest, BootstrapZeroToThree) {
  BrPods pods(3, 1, Profile::kV035);
  pods.cluster().Start();
  pods.RunFor(SimDuration::Seconds(180));
  EXPECT_EQ(pods.Running(), 3);
  EXPECT_EQ(pods.ClusterIds().size(), 1u);
  const std::vector<std::string> objects = pods.Objects();
  ASSERT_FALSE(objects.empty());
  EXPECT_TRUE(objects.front().starts_with("etcd-main/v2/Full-00000000-")) << objects.front();
}

}  // namespace
}  // namespace cluster
