#include "cluster/api_server.h"

#include <gtest/gtest.h>

#include "fmt/format.h"

#include "sim/run_actor_test_util.h"
#include "sim/simulation.h"

namespace cluster {
namespace {

Object MemberLease(const std::string& name) {
  Object lease;
  lease.set_kind("Lease");
  lease.mutable_meta()->set_name(name);
  lease.mutable_lease();
  return lease;
}

// Writes get increasing resourceVersions; an update from a stale read is a conflict, as two
// writers racing on one lease see; unconditional updates and deletes work; watches replay from a
// resourceVersion and then follow.
TEST(ApiServerTest, ResourceVersionsConflictsAndWatches) {
  sim::Simulation simulation({.seed = 1, .workload = "api-test"});
  sim::Network network(&simulation);
  ApiServer server(&simulation.scheduler(), &network);
  absl::StatusOr<Object> created = server.Create(MemberLease("etcd-main-0"));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->meta().resource_version(), 1);
  EXPECT_EQ(server.Create(MemberLease("etcd-main-0")).status().code(), absl::StatusCode::kAlreadyExists);
  Object first = *created, second = *created;
  first.mutable_lease()->set_holder_identity("a:Leader");
  second.mutable_lease()->set_holder_identity("b:Member");
  ASSERT_TRUE(server.Update(first).ok());
  EXPECT_EQ(server.Update(second).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(server.Get("Lease", "etcd-main-0")->lease().holder_identity(), "a:Leader");
  second.mutable_meta()->set_resource_version(0);
  EXPECT_EQ(server.Update(second)->meta().resource_version(), 3);
  absl::StatusOr<std::shared_ptr<sim::Channel<WatchEvent>>> watch = server.Watch("Lease", 1);
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(server.Delete("Lease", "etcd-main-0").ok());
  std::vector<std::string> seen;
  while (true) {
    std::optional<WatchEvent> event = (*watch)->TryReceive();
    if (!event.has_value()) break;
    seen.push_back(event->type() + " " + std::to_string(event->object().meta().resource_version()));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"MODIFIED 2", "MODIFIED 3", "DELETED 4"}));
  EXPECT_EQ(server.Get("Lease", "etcd-main-0").status().code(), absl::StatusCode::kNotFound);
  simulation.Shutdown();
}

// A pod reaches the API server over the network: it answers while reachable, a partition costs
// the call its timeout, and an unavailable server says so.
TEST(ApiServerTest, ClientOverTheNetwork) {
  sim::Simulation simulation({.seed = 2, .workload = "api-test"});
  sim::Network network(&simulation);
  ApiServer server(&simulation.scheduler(), &network);
  const sim::NodeId pod = network.AddNode("etcd-main-0");
  server.Start();
  ASSERT_TRUE(server.Create(MemberLease("etcd-main-0")).ok());
  std::vector<std::string> outcomes;
  ASSERT_TRUE(sim::RunActorToEnd(simulation, [&] {
    ApiClient client(&network, pod, server.address(), &simulation.Stream("client"));
    absl::StatusOr<Object> got = client.Get("Lease", "etcd-main-0");
    outcomes.push_back(got.ok() ? "got rv " + std::to_string(got->meta().resource_version()) : got.status().ToString());
    Object renewed = *got;
    renewed.mutable_lease()->set_renew_time_ns(simulation.Now().nanos());
    outcomes.push_back(absl::StatusCodeToString(client.Update(renewed).status().code()));
    outcomes.push_back(absl::StatusCodeToString(client.Update(renewed).status().code()));  // stale now
    network.Isolate(pod);
    outcomes.push_back(absl::StatusCodeToString(client.Get("Lease", "etcd-main-0").status().code()));
    network.Heal();
    server.set_available(false);
    outcomes.push_back(absl::StatusCodeToString(client.Get("Lease", "etcd-main-0").status().code()));
    outcomes.push_back(absl::StatusCodeToString(client.List("Lease").status().code()));
    server.set_available(true);
    ASSERT_TRUE(client.Create(MemberLease("etcd-main-1")).ok());
    absl::StatusOr<etcd_dst::kube::ObjectList> listed = client.List("Lease");
    ASSERT_TRUE(listed.ok()) << listed.status();
    outcomes.push_back(fmt::format("listed {} at rv {}", listed->items_size(), listed->resource_version()));
    outcomes.push_back(absl::StatusCodeToString(client.Delete("Lease", "etcd-main-0").code()));
    outcomes.push_back(absl::StatusCodeToString(client.Delete("Lease", "etcd-main-0").code()));
    outcomes.push_back(fmt::format("listed {}", client.List("Lease")->items_size()));
  }));
  EXPECT_EQ(outcomes, (std::vector<std::string>{"got rv 1", "OK", "ABORTED", "DEADLINE_EXCEEDED", "UNAVAILABLE",
                                                "UNAVAILABLE", "listed 2 at rv 3", "OK", "NOT_FOUND", "listed 1"}));
}

// A watch over the network replays from its resourceVersion and follows live writes; an
// API-server outage ends it (the watcher must list and watch again), and a partition breaks it.
TEST(ApiServerTest, WatchOverTheNetwork) {
  sim::Simulation simulation({.seed = 3, .workload = "api-test"});
  sim::Network network(&simulation);
  ApiServer server(&simulation.scheduler(), &network);
  const sim::NodeId pod = network.AddNode("etcd-main-0");
  server.Start();
  ASSERT_TRUE(server.Create(MemberLease("etcd-main-0")).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(sim::RunActorToEnd(simulation, [&] {
    ApiClient client(&network, pod, server.address(), &simulation.Stream("client"));
    absl::StatusOr<std::unique_ptr<ApiWatch>> watch = client.Watch("Lease", 0);
    ASSERT_TRUE(watch.ok()) << watch.status();
    ASSERT_TRUE(server.Create(MemberLease("etcd-main-1")).ok());
    for (int i = 0; i < 2; ++i) {
      absl::StatusOr<WatchEvent> event = (*watch)->Next(sim::SimDuration::Seconds(5));
      ASSERT_TRUE(event.ok()) << event.status();
      seen.push_back(event->type() + " " + event->object().meta().name());
    }
    server.set_available(false);
    absl::StatusOr<WatchEvent> ended = (*watch)->Next(sim::SimDuration::Seconds(5));
    seen.push_back(absl::StatusCodeToString(ended.status().code()));
    server.set_available(true);
    watch = client.Watch("Lease", 2);
    ASSERT_TRUE(watch.ok());
    network.Isolate(pod);
    ASSERT_TRUE(server.Create(MemberLease("etcd-main-2")).ok());
    absl::StatusOr<WatchEvent> partitioned = (*watch)->Next(sim::SimDuration::Seconds(30));
    seen.push_back(absl::StatusCodeToString(partitioned.status().code()));
  }));
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED etcd-main-0", "ADDED etcd-main-1", "OUT_OF_RANGE", "UNAVAILABLE"}));
}

}  // namespace
}  // namespace cluster
