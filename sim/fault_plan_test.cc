#include "sim/fault_plan.h"

#include <set>

#include <gtest/gtest.h>

namespace sim {
namespace {

FaultSurface Surface() {
  FaultSurface surface;
  surface.nodes = {"m0", "m1", "m2"};
  return surface;
}

// A seed always generates the same plan; other seeds generate other plans.
TEST(FaultPlanTest, DeterministicPerSeed) {
  EXPECT_EQ(FormatPlanText(GeneratePlan(7, "w", Surface())), FormatPlanText(GeneratePlan(7, "w", Surface())));
  EXPECT_NE(FormatPlanText(GeneratePlan(7, "w", Surface())), FormatPlanText(GeneratePlan(8, "w", Surface())));
}

// Swarm testing: across seeds each kind of fault is sometimes on and sometimes off, and every
// action kind is generated somewhere; generated plans are valid and in time order.
TEST(FaultPlanTest, SwarmVariesKindsAcrossSeeds) {
  std::set<std::string> on, off;
  std::set<int> action_kinds;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const FaultPlan plan = GeneratePlan(seed, "w", Surface());
    ASSERT_TRUE(ValidatePlan(plan, Surface()).ok()) << seed;
    const auto* descriptor = plan.swarm().GetDescriptor();
    const auto* reflection = plan.swarm().GetReflection();
    for (int f = 0; f < descriptor->field_count(); ++f) {
      const auto* field = descriptor->field(f);
      if (field->type() != google::protobuf::FieldDescriptor::TYPE_BOOL) continue;
      (reflection->GetBool(plan.swarm(), field) ? on : off).insert(field->name());
    }
    int64_t last = 0;
    for (const auto& action : plan.actions()) {
      EXPECT_GE(action.at_ns(), last);
      last = action.at_ns();
      action_kinds.insert(action.kind_case());
    }
  }
  EXPECT_EQ(on.size(), 14u);  // all but kubernetes: machines have no cluster
  EXPECT_FALSE(on.contains("kubernetes"));
  EXPECT_EQ(off.size(), 15u);
  EXPECT_EQ(action_kinds.size(), 7u);  // all but Heal, which plans only get by editing, and Kubernetes'
}

// Where the surface is a cluster (pods on hosts, volumes, containers, an API server), the
// swarm sometimes turns Kubernetes' faults on and plans draw every kind of them, naming the
// surface's pods, hosts and containers; a machine surface's plan never names them.
TEST(FaultPlanTest, ClusterSurfacesDrawKubernetesFaults) {
  FaultSurface surface;
  surface.nodes = {"etcd-main-0", "etcd-main-1", "etcd-main-2"};
  surface.hosts = {"node-0", "node-1", "node-2"};
  surface.volumes = {"data-etcd-main-0", "data-etcd-main-1", "data-etcd-main-2"};
  surface.containers = {"etcd"};
  surface.api_server = true;
  surface.object_store = false;
  std::set<int> kinds;
  int on = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const FaultPlan plan = GeneratePlan(seed, "w", surface);
    ASSERT_TRUE(ValidatePlan(plan, surface).ok()) << seed << ": " << ValidatePlan(plan, surface);
    on += plan.swarm().kubernetes();
    for (const auto& action : plan.actions()) {
      kinds.insert(action.kind_case());
      if (action.has_container_kill()) {
        EXPECT_EQ(action.container_kill().container(), "etcd");
      }
      if (action.has_node_drain()) {
        EXPECT_TRUE(action.node_drain().host().starts_with("node-"));
      }
      if (action.has_power_loss()) {
        EXPECT_TRUE(action.power_loss().node().starts_with("node-"));
      }
    }
  }
  EXPECT_GT(on, 50);
  EXPECT_LT(on, 150);
  using etcd_dst::faults::Action;
  for (int kind : {Action::kContainerKill, Action::kPodDelete, Action::kNodeDrain, Action::kApiServerOutage,
                   Action::kEndpointLag}) {
    EXPECT_TRUE(kinds.contains(kind)) << kind;
  }
  FaultPlan machine_plan = GeneratePlan(3, "w", Surface());
  machine_plan.mutable_swarm()->set_kubernetes(true);
  EXPECT_EQ(ValidatePlan(machine_plan, Surface()).message(),
            "swarm turns on Kubernetes faults, but this workload runs no cluster");
}

// Text round-trips exactly, so an unedited plan file replays the generated plan.
TEST(FaultPlanTest, TextRoundTrip) {
  const FaultPlan plan = GeneratePlan(42, "w", Surface());
  absl::StatusOr<FaultPlan> parsed = ParsePlanText(FormatPlanText(plan));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->SerializeAsString(), plan.SerializeAsString());
}

// Malformed text names the line and column; invalid plans say what is wrong in one line.
TEST(FaultPlanTest, ErrorsAreClear) {
  absl::StatusOr<FaultPlan> bad = ParsePlanText("seed: 3\nactions { at_ns: 1 crash { nod: \"m0\" } }\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("line 2 column"), std::string::npos) << bad.status();

  FaultPlan plan;
  auto* action = plan.add_actions();
  action->set_at_ns(5);
  action->mutable_crash()->set_node("m9");
  absl::Status status = ValidatePlan(plan, Surface());
  EXPECT_EQ(status.message(), "action 0 names unknown node 'm9' (known: m0, m1, m2)");
  action->mutable_crash()->set_node("m1");
  action->set_at_ns(-1);
  EXPECT_EQ(ValidatePlan(plan, Surface()).message(), "action 0: at_ns = -1 is outside [0, 86400000000000]");
  action->set_at_ns(0);
  plan.add_disks()->set_disk("m0");
  plan.mutable_disks(0)->set_persist_unit_bytes(1000);
  EXPECT_NE(ValidatePlan(plan, Surface()).message().find("not a power of two"), std::string::npos);
  plan.mutable_disks(0)->set_persist_unit_bytes(4096);
  plan.mutable_swarm()->set_packet_loss_per_million(2000000);
  EXPECT_NE(ValidatePlan(plan, Surface()).message().find("outside [0, 1000000]"), std::string::npos);
}

// Every numeric field has a range, and shapes that the world would misread are refused:
// values near INT64_MAX, rates above one million, negative lags, a node on both sides.
TEST(FaultPlanTest, EveryNumberHasARange) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"link { latency_base_ns: 9223372036854775000 }", "latency_base_ns"},
      {"link { latency_jitter_ns: -1 }", "latency_jitter_ns"},
      {"swarm { listing_lag_ns: -5 }", "listing_lag_ns"},
      {"swarm { duplicate_per_million: 1000001 }", "duplicate_per_million"},
      {"actions { at_ns: 9223372036854775000 heal {} }", "at_ns"},
      {"actions { crash { node: 'm0' restart_after_ns: 9223372036854775000 } }", "restart_after_ns"},
      {"actions { object_store { failed_upload_per_million: 4000000 } }", "failed_upload_per_million"},
      {"actions { object_store { ambiguous_timeout_per_million: 4000000 } }", "ambiguous_timeout_per_million"},
      {"actions { object_store { listing_lag_ns: -1 } }", "listing_lag_ns"},
      {"actions { disk_fault { disk: 'm0' kind: FSYNC_ERRORS per_million: 1000001 } }", "per_million"},
      {"actions { partition { kind: SPLIT side_a: 'm0' side_b: 'm0' } }", "named twice"},
      {"actions { partition { kind: ISOLATE side_a: 'm0' side_a: 'm1' } }", "needs one node"},
      {"actions { partition { kind: ONE_WAY side_a: 'm0' } }", "one node on each side"},
      {"actions { partition { kind: 7 side_a: 'm0' } }", "unknown partition kind"},
      {"actions { clog { from: 'm1' to: 'm1' } }", "two different nodes"},
      {"disks { disk: 'm0' persist_unit_bytes: 4096 } disks { disk: 'm0' persist_unit_bytes: 512 }", "twice"},
  };
  for (const auto& [text, expected] : cases) {
    absl::StatusOr<FaultPlan> plan = ParsePlanText(text);
    ASSERT_TRUE(plan.ok()) << text << ": " << plan.status();
    const absl::Status status = ValidatePlan(*plan, Surface());
    EXPECT_NE(status.message().find(expected), std::string::npos) << text << ": " << status;
  }
  FaultSurface no_bucket = Surface();
  no_bucket.object_store = false;
  EXPECT_FALSE(ValidatePlan(*ParsePlanText("actions { object_store {} }"), no_bucket).ok());
  EXPECT_FALSE(ValidatePlan(*ParsePlanText("swarm { listing_lag: true }"), no_bucket).ok());
  EXPECT_TRUE(ValidateEmptyPlan(*ParsePlanText("workload: 'w' seed: 3")).ok());
  EXPECT_FALSE(ValidateEmptyPlan(*ParsePlanText("actions { heal {} }")).ok());
  EXPECT_FALSE(ValidateEmptyPlan(*ParsePlanText("link { latency_base_ns: 1 }")).ok());
}

// A surface with hosts and volumes apart from pods: power losses name hosts, disk faults and
// settings name volumes, the rest pods; a plan that mixes them up is refused.
TEST(FaultPlanTest, HostsVolumesAndPodsApart) {
  FaultSurface surface;
  surface.nodes = {"etcd-0", "etcd-1", "etcd-2"};
  surface.hosts = {"node-a", "node-b"};
  surface.volumes = {"data-0", "data-1", "data-2"};
  bool power_loss = false, disk_fault = false;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    const FaultPlan plan = GeneratePlan(seed, "w", surface);
    ASSERT_TRUE(ValidatePlan(plan, surface).ok()) << seed << ": " << ValidatePlan(plan, surface);
    ASSERT_EQ(plan.disks_size(), 3);
    EXPECT_EQ(plan.disks(0).disk(), "data-0");
    for (const auto& action : plan.actions()) {
      if (action.has_power_loss()) {
        power_loss = true;
        EXPECT_EQ(action.power_loss().node().rfind("node-", 0), 0u) << action.DebugString();
      }
      if (action.has_disk_fault()) {
        disk_fault = true;
        EXPECT_EQ(action.disk_fault().disk().rfind("data-", 0), 0u) << action.DebugString();
      }
    }
  }
  EXPECT_TRUE(power_loss && disk_fault);
  for (const auto& [text, expected] : std::vector<std::pair<std::string, std::string>>{
           {"actions { power_loss { node: 'etcd-0' } }", "unknown host 'etcd-0'"},
           {"actions { crash { node: 'node-a' } }", "unknown node 'node-a'"},
           {"actions { disk_fault { disk: 'etcd-1' } }", "unknown volume 'etcd-1'"},
           {"disks { disk: 'etcd-1' persist_unit_bytes: 4096 }", "unknown disk 'etcd-1'"},
           {"actions { container_kill { pod: 'etcd-0' container: 'etcd' } }", "unknown container 'etcd'"},
           {"actions { pod_delete { pod: 'data-0' } }", "unknown node 'data-0'"},
           {"actions { volume_loss { volume: 'etcd-0' } }", "unknown volume 'etcd-0'"},
           {"actions { api_server_outage { duration_ns: 5 } }", "no API server"},
           {"actions { node_drain { host: 'node-a' } }", "no Kubernetes scheduler"},
           {"actions { endpoint_lag { lag_ns: 5 } }", "no Kubernetes services"}}) {
    const absl::Status status = ValidatePlan(*ParsePlanText(text), surface);
    EXPECT_NE(status.message().find(expected), std::string::npos) << text << ": " << status;
  }
  surface.containers = {"etcd", "backup-restore"};
  surface.api_server = true;
  const std::string kubernetes_faults =
      "actions { container_kill { pod: 'etcd-0' container: 'backup-restore' } }"
      "actions { pod_delete { pod: 'etcd-1' } } actions { volume_loss { volume: 'data-2' } }"
      "actions { api_server_outage { duration_ns: 5000000000 } }"
      "actions { node_drain { host: 'node-a' duration_ns: 1 } } actions { endpoint_lag { lag_ns: 5 } }";
  EXPECT_TRUE(ValidatePlan(*ParsePlanText(kubernetes_faults), surface).ok());
  EXPECT_FALSE(ValidatePlan(*ParsePlanText("actions { api_server_outage { duration_ns: -1 } }"), surface).ok());
  EXPECT_FALSE(ValidatePlan(*ParsePlanText("actions { node_drain { host: 'etcd-0' } }"), surface).ok());
}

}  // namespace
}  // namespace sim
