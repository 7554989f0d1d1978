#include "cluster/cluster.h"

#include <gtest/gtest.h>


namespace cluster {
namespace {

using sim::SimDuration;
using sim::SimTime;

double Seconds(SimTime time) { return static_cast<double>(time.nanos()) / 1e9; }

// A three-node cluster with one StatefulSet whose pods run one container; a pod is Ready while
// its entry in `healthy` is true (probed every second after 2 s).
class ClusterTest : public testing::Test {
 protected:
  ClusterTest() : simulation_({.seed = 4, .workload = "cluster-test"}), world_(&simulation_) {
    cluster_ = std::make_unique<Cluster>(&simulation_, &world_, std::vector<std::string>{"node-0", "node-1", "node-2"});
  }
  ~ClusterTest() override {
    simulation_.Shutdown();
    cluster_.reset();
  }

  void Create(PodManagementPolicy policy, const sim::FaultPlan& plan = sim::FaultPlan()) {
    world_.ApplyPlan(plan);
    cluster_->CreateStatefulSet({.name = "etcd-main",
                                 .replicas = 3,
                                 .policy = policy,
                                 .peer_service = "etcd-main-peer",
                                 .client_service = "etcd-main-client",
                                 .containers = [this](int ordinal) {
                                   return std::vector<ContainerSpec>{
                                       {.name = "etcd",
                                        .main = [this, ordinal](sim::Group*) {
                                          started_[ordinal] = Seconds(simulation_.Now());
                                          sim::this_actor::SleepFor(SimDuration::Max());
                                          return 0;
                                        },
                                        .readiness = ReadinessProbe{.check = [this, ordinal] { return healthy_[ordinal]; },
                                                                    .initial_delay = SimDuration::Seconds(2),
                                                                    .period = SimDuration::Seconds(1),
                                                                    .failure_threshold = 2}}};
                                 }});
  }
  void RunUntil(double seconds) {
    simulation_.scheduler().Run({.until = SimTime::Zero() + SimDuration::Millis(static_cast<int64_t>(seconds * 1000))});
  }
  std::string Resolved(const std::string& name) {
    absl::StatusOr<sim::NodeId> node = cluster_->Resolve(name, 0);
    return node.ok() ? world_.network().NodeName(*node) : std::string(absl::StatusCodeToString(node.status().code()));
  }

  sim::Simulation simulation_;
  sim::World world_;
  std::unique_ptr<Cluster> cluster_;
  std::map<int, bool> healthy_ = {{0, true}, {1, true}, {2, true}};
  std::map<int, double> started_;
};

// Parallel creates every pod at once, spread over the nodes, each with its own volume.
TEST_F(ClusterTest, ParallelCreatesAllPodsAtOnce) {
  Create(PodManagementPolicy::kParallel);
  RunUntil(1);
  EXPECT_EQ(cluster_->Pods("etcd-main"), (std::vector<std::string>{"etcd-main-0", "etcd-main-1", "etcd-main-2"}));
  EXPECT_EQ(started_, (std::map<int, double>{{0, 0}, {1, 0}, {2, 0}}));
  EXPECT_EQ(world_.host_of("etcd-main-1"), "node-1");
  EXPECT_EQ(&world_.disk("etcd-main-2"), &world_.volume("data-etcd-main-2"));
}

// OrderedReady creates each pod once the one before it is Ready (2 s probe delay each).
TEST_F(ClusterTest, OrderedReadyCreatesOneByOne) {
  Create(PodManagementPolicy::kOrderedReady);
  RunUntil(1);
  EXPECT_EQ(cluster_->Pods("etcd-main"), std::vector<std::string>{"etcd-main-0"});
  RunUntil(10);
  EXPECT_EQ(started_, (std::map<int, double>{{0, 0}, {1, 2}, {2, 4}}));
}

// Scaling down deletes the highest ordinals' pods (they leave DNS and the client service) and
// keeps their volumes; scaling up again brings the same names back on the kept volumes, one by
// one under OrderedReady.
TEST_F(ClusterTest, ScaleDownKeepsVolumesScaleUpReusesThem) {
  Create(PodManagementPolicy::kOrderedReady);
  RunUntil(10);
  ASSERT_EQ(cluster_->Pods("etcd-main").size(), 3u);
  sim::Disk& volume = world_.volume("data-etcd-main-2");
  cluster_->Scale("etcd-main", 1);
  RunUntil(12);
  EXPECT_EQ(cluster_->Pods("etcd-main"), std::vector<std::string>{"etcd-main-0"});
  EXPECT_FALSE(world_.running("etcd-main-2"));
  EXPECT_EQ(Resolved("etcd-main-2.etcd-main-peer"), "NOT_FOUND");
  EXPECT_EQ(cluster_->Endpoints("etcd-main-client"), std::vector<std::string>{"etcd-main-0"});
  cluster_->Scale("etcd-main", 3);
  RunUntil(13);
  EXPECT_EQ(cluster_->Pods("etcd-main"), (std::vector<std::string>{"etcd-main-0", "etcd-main-1"}));
  RunUntil(20);
  EXPECT_EQ(cluster_->Pods("etcd-main").size(), 3u);
  EXPECT_EQ(started_, (std::map<int, double>{{0, 0}, {1, 12}, {2, 14}}));
  EXPECT_EQ(&world_.disk("etcd-main-2"), &volume);
  EXPECT_EQ(Resolved("etcd-main-2.etcd-main-peer"), "etcd-main-2");
}

// A pod Pending for its scheduling delay has no DNS name on the peer service until it is bound,
// and the client service never routes to it before it is Ready.
TEST_F(ClusterTest, PendingPodDoesNotResolve) {
  sim::FaultPlan plan;
  auto* delay = plan.add_actions()->mutable_delay_start();
  delay->set_node("etcd-main-2");
  delay->set_delay_ns(SimDuration::Seconds(30).nanos());
  Create(PodManagementPolicy::kParallel, plan);
  RunUntil(10);
  EXPECT_EQ(Resolved("etcd-main-0.etcd-main-peer"), "etcd-main-0");
  EXPECT_EQ(Resolved("etcd-main-2.etcd-main-peer.default.svc"), "NOT_FOUND");
  EXPECT_EQ(cluster_->Endpoints("etcd-main-client"), (std::vector<std::string>{"etcd-main-0", "etcd-main-1"}));
  RunUntil(31);
  EXPECT_EQ(Resolved("etcd-main-2.etcd-main-peer"), "etcd-main-2");
  EXPECT_FALSE(cluster_->Ready("etcd-main-2"));
  RunUntil(40);
  EXPECT_EQ(started_.at(2), 30);
  EXPECT_EQ(cluster_->Endpoints("etcd-main-client").size(), 3u);
}

// The client service drops a pod that turns NotReady, one endpoint lag after the probe says so,
// and resolves to a Ready pod; with none Ready it refuses.
TEST_F(ClusterTest, ClientServiceRoutesToReadyPodsOnly) {
  Create(PodManagementPolicy::kParallel);
  RunUntil(5);
  EXPECT_EQ(Resolved("etcd-main-client"), "etcd-main-0");
  simulation_.scheduler().ScheduleAt(SimTime::Zero() + SimDuration::Millis(5500), [this] { healthy_[0] = false; });
  RunUntil(7.9);  // failures at 6 and 7: NotReady at 7, endpoints follow at 8
  EXPECT_EQ(cluster_->Endpoints("etcd-main-client").size(), 3u);
  RunUntil(8.1);
  EXPECT_EQ(cluster_->Endpoints("etcd-main-client"), (std::vector<std::string>{"etcd-main-1", "etcd-main-2"}));
  EXPECT_EQ(Resolved("etcd-main-client"), "etcd-main-1");
  EXPECT_EQ(Resolved("etcd-main-0.etcd-main-peer"), "etcd-main-0");  // peers still resolve it
  healthy_[1] = healthy_[2] = false;
  RunUntil(12);
  EXPECT_EQ(Resolved("etcd-main-client"), "UNAVAILABLE");
}

// The plan's Kubernetes faults happen as Kubernetes would do them: a killed container comes
// back after its back-off, a deleted pod comes back at once with its volume's data, a lost
// volume comes back empty, and the API server is unavailable for the outage.
TEST_F(ClusterTest, PlanFaults) {
  ApiServer api(&simulation_.scheduler(), &world_.network());
  cluster_->set_api_server(&api);
  sim::FaultPlan plan;
  auto add = [&plan](int64_t seconds) {
    auto* action = plan.add_actions();
    action->set_at_ns(SimDuration::Seconds(seconds).nanos());
    return action;
  };
  add(5)->mutable_container_kill()->set_pod("etcd-main-0");
  plan.mutable_actions(0)->mutable_container_kill()->set_container("etcd");
  add(6)->mutable_pod_delete()->set_pod("etcd-main-1");
  add(7)->mutable_volume_loss()->set_volume("data-etcd-main-2");
  add(8)->mutable_api_server_outage()->set_duration_ns(SimDuration::Seconds(4).nanos());
  sim::FaultSurface surface;
  surface.nodes = {"etcd-main-0", "etcd-main-1", "etcd-main-2"};
  surface.hosts = {"node-0", "node-1", "node-2"};
  surface.volumes = {"data-etcd-main-0", "data-etcd-main-1", "data-etcd-main-2"};
  surface.containers = {"etcd"};
  surface.api_server = true;
  ASSERT_TRUE(sim::ValidatePlan(plan, surface).ok()) << sim::ValidatePlan(plan, surface);
  Create(PodManagementPolicy::kParallel, plan);
  RunUntil(1);
  for (const char* volume : {"data-etcd-main-1", "data-etcd-main-2"}) {
    sim::Disk& disk = world_.volume(volume);
    absl::StatusOr<int> fd = disk.Open("marker", {.create = true});
    ASSERT_TRUE(fd.ok());
    ASSERT_TRUE(disk.Pwrite(*fd, 0, "kept").ok());
  }
  RunUntil(7.5);
  // The killed container (5 s) and the deleted pod (6 s) left the client service a lag later; the
  // pod whose volume was lost at 7 s is still routed to until 8 s.
  EXPECT_EQ(cluster_->Endpoints("etcd-main-client"), std::vector<std::string>{"etcd-main-2"});
  RunUntil(10);
  EXPECT_EQ(cluster_->kubelet("etcd-main-0").status("etcd").restart_count, 0);  // in its 10 s back-off
  EXPECT_EQ(cluster_->kubelet("etcd-main-0").status("etcd").last_termination->exit_code, 137);
  EXPECT_EQ(started_.at(1), 6);
  EXPECT_TRUE(world_.volume("data-etcd-main-1").Exists("marker"));
  EXPECT_FALSE(cluster_->kubelet("etcd-main-1").status("etcd").last_termination.has_value());  // a new pod
  EXPECT_EQ(started_.at(2), 7);
  EXPECT_FALSE(world_.volume("data-etcd-main-2").Exists("marker"));
  EXPECT_FALSE(api.available());
  RunUntil(16);
  EXPECT_TRUE(api.available());
  EXPECT_EQ(started_.at(0), 15);
  simulation_.Shutdown();  // the pods' last status goes to `api` while it lives
}

// A drained node's pods are evicted and scheduled on the next node with their volumes; and with
// a plan's endpoint lag the client service keeps routing to a NotReady pod that much longer.
TEST_F(ClusterTest, NodeDrainAndEndpointLag) {
  sim::FaultPlan plan;
  auto* drain = plan.add_actions();
  drain->set_at_ns(SimDuration::Seconds(5).nanos());
  drain->mutable_node_drain()->set_host("node-1");
  drain->mutable_node_drain()->set_duration_ns(SimDuration::Seconds(20).nanos());
  auto* lag = plan.add_actions();
  lag->set_at_ns(SimDuration::Seconds(6).nanos());
  lag->mutable_endpoint_lag()->set_lag_ns(SimDuration::Seconds(10).nanos());
  lag->mutable_endpoint_lag()->set_duration_ns(SimDuration::Seconds(30).nanos());
  Create(PodManagementPolicy::kParallel, plan);
  RunUntil(1);
  {
    sim::Disk& disk = world_.volume("data-etcd-main-1");
    absl::StatusOr<int> fd = disk.Open("marker", {.create = true});
    ASSERT_TRUE(fd.ok());
    ASSERT_TRUE(disk.Pwrite(*fd, 0, "kept").ok());
  }
  simulation_.scheduler().ScheduleAt(SimTime::Zero() + SimDuration::Millis(6500), [this] { healthy_[0] = false; });
  RunUntil(10);
  EXPECT_EQ(world_.host_of("etcd-main-1"), "node-2");
  EXPECT_EQ(started_.at(1), 5);
  EXPECT_TRUE(world_.disk("etcd-main-1").Exists("marker"));
  // Pod 0 is NotReady at 8 s (failures at 7 and 8); the endpoints follow 10 s later.
  EXPECT_FALSE(cluster_->Ready("etcd-main-0"));
  RunUntil(17.9);
  EXPECT_EQ(cluster_->Endpoints("etcd-main-client").front(), "etcd-main-0");
  RunUntil(18.1);
  EXPECT_EQ(cluster_->Endpoints("etcd-main-client").front(), "etcd-main-1");
}

}  // namespace
}  // namespace cluster
