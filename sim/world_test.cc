#include "sim/world.h"

#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "sim/simulation.h"
#include "sim/trace_file.h"

namespace sim {
namespace {

using etcd_dst::faults::Action;
using etcd_dst::faults::DiskFault;
using etcd_dst::faults::Partition;

// Records trace event names.
class NameSink : public TraceSink {
 public:
  explicit NameSink(std::multiset<std::string>* names) : names_(names) {}
  void Write(const TraceRecord& record) override { names_->insert(record.name); }
  void Flush() override {}

 private:
  std::multiset<std::string>* names_;
};

// Three machines; each boot writes a file without syncing and serves pings.
class WorldTest : public testing::Test {
 protected:
  WorldTest() : simulation_({.seed = 11, .workload = "world-test"}), world_(&simulation_) {
    simulation_.trace().AddSink(std::make_unique<NameSink>(&names_));
    for (const char* name : {"m0", "m1", "m2"}) {
      world_.AddMachine(name, {.persist_unit_bytes = 8192}, [this, name = std::string(name)](Group* group, int boot) {
        boots_.push_back(name + "#" + std::to_string(boot));
        simulation_.scheduler().Spawn(group, "writer", [this, name] {
          Disk& disk = world_.disk(name);
          absl::StatusOr<int> fd = disk.Open("member/snap/db", {.create = true});
          if (!fd.ok()) {
            ASSERT_TRUE(disk.MkdirAll("member/snap").ok());
            ASSERT_TRUE(disk.FsyncDir("").ok());
            fd = disk.Open("member/snap/db", {.create = true});
            ASSERT_TRUE(disk.FsyncDir("member/snap").ok());
          }
          ASSERT_TRUE(disk.Pwrite(*fd, 0, std::string(16384, 'x')).ok());
          if (name != "m0") (void)disk.Fsync(*fd);  // m0's write is still in the cache at its power loss
          this_actor::SleepFor(SimDuration::Max());
        });
      });
    }
  }
  ~WorldTest() override { simulation_.Shutdown(); }

  Action* Add(FaultPlan& plan, SimDuration at) {
    Action* action = plan.add_actions();
    action->set_at_ns(at.nanos());
    return action;
  }

  Simulation simulation_;
  World world_;
  std::multiset<std::string> names_;
  std::vector<std::string> boots_;
};

// Every kind of fault in a plan happens at its time and shows up in the trace.
TEST_F(WorldTest, EveryFaultKindIsTraced) {
  FaultPlan plan;
  plan.mutable_swarm()->set_packet_loss(true);
  plan.mutable_swarm()->set_packet_loss_per_million(1000);
  plan.mutable_swarm()->set_listing_lag(true);
  plan.mutable_swarm()->set_listing_lag_ns(SimDuration::Seconds(1).nanos());
  auto* delay = Add(plan, SimDuration::Zero())->mutable_delay_start();
  delay->set_node("m2");
  delay->set_delay_ns(SimDuration::Seconds(3).nanos());
  auto* split = Add(plan, SimDuration::Seconds(1))->mutable_partition();
  split->set_kind(Partition::SPLIT);
  split->add_side_a("m0");
  split->add_side_b("m1");
  split->set_heal_after_ns(SimDuration::Seconds(1).nanos());
  auto* clog = Add(plan, SimDuration::Seconds(2))->mutable_clog();
  clog->set_from("m0");
  clog->set_to("m1");
  clog->set_duration_ns(SimDuration::Seconds(1).nanos());
  auto* crash = Add(plan, SimDuration::Seconds(4))->mutable_crash();
  crash->set_node("m1");
  crash->set_restart_after_ns(SimDuration::Seconds(1).nanos());
  auto* power = Add(plan, SimDuration::Seconds(6))->mutable_power_loss();
  power->set_node("m0");
  power->set_restart_after_ns(SimDuration::Seconds(1).nanos());
  auto* full = Add(plan, SimDuration::Seconds(8))->mutable_disk_fault();
  full->set_disk("m2");
  full->set_kind(DiskFault::FULL);
  auto* fsync = Add(plan, SimDuration::Seconds(8))->mutable_disk_fault();
  fsync->set_disk("m1");
  fsync->set_kind(DiskFault::FSYNC_ERRORS);
  fsync->set_per_million(1000000);
  auto* burst = Add(plan, SimDuration::Seconds(9))->mutable_object_store();
  burst->set_duration_ns(SimDuration::Seconds(1).nanos());
  burst->set_transient_error_per_million(1000000);
  Add(plan, SimDuration::Seconds(10))->mutable_crash()->set_node("m1");
  Add(plan, SimDuration::Seconds(10))->mutable_heal();
  world_.ApplyPlan(plan);
  for (const char* name : {"m0", "m1", "m2"}) world_.Start(name);
  simulation_.scheduler().Spawn(nullptr, "bucket-user", [this] {
    this_actor::SleepFor(SimDuration::Millis(9500));
    EXPECT_FALSE(world_.object_store().Put("k", "v").ok());
  });
  simulation_.scheduler().Run({.until = SimTime::Zero() + SimDuration::Seconds(12)});

  for (const char* event : {"FaultPlanApplied", "StartDelayed", "PartitionStarted", "PartitionHealed",
                            "LinkClogged", "NodeDown", "NodeUp", "DiskProcessCrash", "PowerLoss",
                            "PowerLossFile", "DiskFull", "ObjectStoreFaults", "ObjectStoreError",
                            "PodBooted", "HostPowerOff", "HostPowerOn", "FaultInjected", "GroupKilled"}) {
    EXPECT_TRUE(names_.contains(event)) << event;
  }
  EXPECT_EQ(names_.count("FaultInjected"), 9u);  // all but the delayed start, applied before booting
  // m2 booted late; m0 and m1 came back once each; m1's second crash had no restart.
  EXPECT_EQ(boots_, (std::vector<std::string>{"m0#1", "m1#1", "m2#1", "m1#2", "m0#2"}));
  EXPECT_FALSE(world_.running("m1"));
  EXPECT_EQ(world_.last_stop("m0"), World::LastStop::kPowerLoss);
  EXPECT_EQ(world_.last_stop("m1"), World::LastStop::kCrash);
}

// With an export directory, each power loss leaves a crash image and the end a final view.
TEST_F(WorldTest, ExportsCrashImages) {
  const std::filesystem::path dir = std::filesystem::path(testing::TempDir()) / "world-export";
  std::filesystem::remove_all(dir);
  world_.set_export_directory(dir.string());
  FaultPlan plan;
  for (int i = 0; i < 2; ++i) {
    auto* power = Add(plan, SimDuration::Seconds(1 + 2 * i))->mutable_power_loss();
    power->set_node("m0");
    power->set_restart_after_ns(SimDuration::Seconds(1).nanos());
  }
  world_.ApplyPlan(plan);
  for (const char* name : {"m0", "m1", "m2"}) world_.Start(name);
  simulation_.scheduler().Run({.until = SimTime::Zero() + SimDuration::Seconds(5)});
  ASSERT_TRUE(world_.ExportFinal().ok());
  EXPECT_TRUE(std::filesystem::exists(dir / "m0/powerloss-0"));
  EXPECT_TRUE(std::filesystem::exists(dir / "m0/powerloss-1/member/snap/db"));
  EXPECT_EQ(std::filesystem::file_size(dir / "m0/final/member/snap/db"), 16384u);
  EXPECT_EQ(std::filesystem::file_size(dir / "m1/final/member/snap/db"), 16384u);
  EXPECT_FALSE(std::filesystem::exists(dir / "m1/powerloss-0"));
}

// Hosts, volumes and pods apart: two pods on one host both die when it loses power and both
// their volumes are torn; a pod's volume survives the pod's crash, follows the pod to another
// host, and a power loss of the old host no longer touches it.
TEST(WorldPodsTest, HostsVolumesAndPodsApart) {
  Simulation simulation({.seed = 5, .workload = "world-test"});
  World world(&simulation);
  std::vector<std::string> boots;
  world.AddHost("node-a");
  world.AddHost("node-b");
  for (const char* name : {"etcd-0", "etcd-1"}) {
    const std::string pod(name);
    world.AddVolume("data-" + pod, {.persist_unit_bytes = 4096});
    world.AddPod(pod, "node-a", "data-" + pod, [&, pod](Group* group, int boot) {
      boots.push_back(pod + "#" + std::to_string(boot) + "@" + world.host_of(pod));
      simulation.scheduler().Spawn(group, "writer", [&, pod] {
        Disk& disk = world.disk(pod);
        absl::StatusOr<int> fd = disk.Open("log", {.create = true});
        ASSERT_TRUE(fd.ok());
        ASSERT_TRUE(disk.FsyncDir("").ok());
        ASSERT_TRUE(disk.Pwrite(*fd, 0, "synced").ok());
        ASSERT_TRUE(disk.Fdatasync(*fd).ok());
        ASSERT_TRUE(disk.Pwrite(*fd, 6, std::string(8192, 'u')).ok());  // never synced
        this_actor::SleepFor(SimDuration::Max());
      });
    });
  }
  world.Start("etcd-0");
  world.Start("etcd-1");
  simulation.scheduler().Run({.until = SimTime::Zero() + SimDuration::Seconds(1)});
  EXPECT_EQ(world.node("etcd-0") != world.node("etcd-1"), true);

  PowerLossChoice keep_nothing;
  keep_nothing.keep_nothing_unlisted = true;
  world.PowerOff("node-a", &keep_nothing);
  EXPECT_FALSE(world.running("etcd-0"));
  EXPECT_FALSE(world.running("etcd-1"));
  EXPECT_EQ(world.volume("data-etcd-0").power_losses(), 1u);
  EXPECT_EQ(world.volume("data-etcd-1").power_losses(), 1u);
  EXPECT_EQ(*world.volume("data-etcd-1").ReadFile("log"), "synced");  // torn back to what was synced
  world.Restart("etcd-1");  // no power: it waits for the host
  EXPECT_FALSE(world.running("etcd-1"));

  // etcd-0 is rescheduled to node-b with its volume; node-a comes back and runs etcd-1 only.
  world.MovePod("etcd-0", "node-b");
  world.Restart("etcd-0");
  world.PowerOn("node-a");
  simulation.scheduler().Run({.until = SimTime::Zero() + SimDuration::Seconds(2)});
  EXPECT_TRUE(world.running("etcd-0"));
  EXPECT_TRUE(world.running("etcd-1"));
  EXPECT_EQ(boots, (std::vector<std::string>{"etcd-0#1@node-a", "etcd-1#1@node-a", "etcd-0#2@node-b",
                                             "etcd-1#2@node-a"}));
  world.PowerOff("node-a");
  EXPECT_TRUE(world.running("etcd-0"));
  EXPECT_EQ(world.volume("data-etcd-0").power_losses(), 1u);
  EXPECT_EQ(world.volume("data-etcd-1").power_losses(), 2u);

  // A crashed pod's volume keeps its page cache and can be given to a new pod.
  world.Crash("etcd-0");
  world.AddPod("etcd-0-replacement", "node-b", "", [](Group*, int) {});
  world.AttachVolume("etcd-0-replacement", "data-etcd-0");
  EXPECT_EQ(world.disk("etcd-0-replacement").ReadFile("log")->size(), 6u + 8192u);
  simulation.Shutdown();
}

// The bucket is reached over the network from the pod's node: an isolated pod loses it (the call
// costs its timeout), the others keep it, and after the heal the isolated pod sees the objects.
TEST(WorldBucketTest, PartitionedPodLosesTheBucket) {
  Simulation simulation({.seed = 3, .workload = "world-test"});
  World world(&simulation);
  for (const char* name : {"m0", "m1"}) world.AddMachine(name, {}, [](Group*, int) {});
  world.Start("m0");
  world.Start("m1");
  world.network().Isolate(world.node("m0"));
  std::vector<std::string> outcomes;
  simulation.scheduler().Spawn(nullptr, "m1-client", [&] {
    outcomes.push_back("m1 put: " + world.Bucket("m1").Put("backups/v2/Full-1", "snapshot").ToString());
  });
  simulation.scheduler().Spawn(nullptr, "m0-client", [&] {
    absl::StatusOr<std::vector<ObjectInfo>> listed = world.Bucket("m0").List("backups/");
    outcomes.push_back(std::string("m0 list while isolated: ") + absl::StatusCodeToString(listed.status().code()));
    world.network().Heal();
    listed = world.Bucket("m0").List("backups/");
    outcomes.push_back("m0 list after heal: " + std::to_string(listed.ok() ? listed->size() : 99));
  });
  simulation.scheduler().Run({.until = SimTime::Zero() + SimDuration::Minutes(5)});
  EXPECT_EQ(outcomes, (std::vector<std::string>{"m1 put: OK", "m0 list while isolated: DEADLINE_EXCEEDED",
                                                "m0 list after heal: 1"}));
  simulation.Shutdown();
}

}  // namespace
}  // namespace sim
