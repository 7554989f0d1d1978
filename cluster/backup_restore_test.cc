// etcd pods as druid v0.28 builds them, with the etcd-wrapper and BR v0.35
// (model/br, model/wrapper): bootstrap, backups, restores and the two
// variants of BR #864, each under br-v0.35 and br-fixed.
#include <cstdlib>
#include <memory>
#include <set>

#include <gtest/gtest.h>

#include "cluster/etcd_cluster.h"
#include "fmt/format.h"
#include "model/br/server.h"
#include "model/br/snapshotter.h"
#include "model/br/snapstore.h"
#include "model/raft.h"
#include "model/codec.h"
#include "model/etcd/restore.h"
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

// BR's member lease (pkg/health/heartbeat RenewMemberLease): v0.35 writes
// `<member id>:Leader|Member`, the newer form adds the cluster ID.
TEST(BackupRestoreTest, RenewMemberLease) {
  for (bool with_cluster_id : {false, true}) {
    EtcdCluster::Options options;
    options.lease_with_cluster_id = with_cluster_id;
    BrPods pods(1, 4, Profile::kV035, options);
    pods.cluster().Start();
    pods.RunFor(SimDuration::Seconds(60));
    EtcdServer* server = pods.cluster().Current(0);
    ASSERT_NE(server, nullptr);
    absl::StatusOr<Object> lease = pods.cluster().api().Get("Lease", "etcd-main-0");
    ASSERT_TRUE(lease.ok());
    const std::string id = fmt::format("{:x}", server->id());
    EXPECT_EQ(lease->lease().holder_identity(),
              with_cluster_id ? fmt::format("{}:{:x}:Leader", id, server->cluster_id()) : id + ":Leader");
  }
}

// BR #864 variant A, timing placed by hand: etcd-main-2 is Pending for
// 71.5 s. Its BR's first IsMemberInCluster fails (no pod is Ready behind the
// client service yet), its lease was never renewed, so there is no heartbeat;
// the second IsMemberInCluster (the scale-up check) finds its bootstrap name:
// no scale-up. The data dir does not exist; checkStatus lists the bucket just
// before the leader's BR uploads its first full snapshot ("No snapshot
// found. BackupBucket is empty"), and restoreCorruptData lists it again just
// after, restores it as the one-member cluster `default` and etcd-main-2
// starts a second cluster.
constexpr SimDuration kVariantAPending = SimDuration::Millis(71500);

std::set<uint64_t> RunVariantA(Profile profile, std::string* trace_text) {
  BrPods pods(3, 1, profile);
  if (const char* path = std::getenv("BR_TEST_TRACE_A"); path != nullptr) {
    pods.simulation().trace().AddSink(std::make_unique<sim::TextTraceSink>(std::fopen(path, "w"), true, path));
  }
  pods.cluster().Pod(2).PendingFor(kVariantAPending);
  struct Collect : sim::TraceSink {
    std::string* text;
    explicit Collect(std::string* out) : text(out) {}
    void Write(const sim::TraceRecord& record) override {
      *text += record.name;
      for (const auto& detail : record.details) *text += " " + detail.key + "=" + detail.value;
      *text += "\n";
    }
    void Flush() override {}
  };
  pods.simulation().trace().AddSink(std::make_unique<Collect>(trace_text));
  pods.cluster().Start();
  pods.RunFor(SimDuration::Seconds(300));
  EXPECT_EQ(pods.Running(), 3);
  return pods.ClusterIds();
}

TEST(BackupRestoreTest, Issue864VariantASplitsTheClusterUnderV035) {
  std::string trace;
  EXPECT_EQ(RunVariantA(Profile::kV035, &trace).size(), 2u);
  const size_t empty = trace.find("No snapshot found. BackupBucket is empty");
  const size_t restoring = trace.find("Restoring from base snapshot: Full-00000000-00000001-");
  ASSERT_NE(empty, std::string::npos);
  ASSERT_NE(restoring, std::string::npos);
  EXPECT_LT(empty, restoring);
  EXPECT_NE(trace.find("Member etcd-main-2 part of running cluster"), std::string::npos);
  EXPECT_NE(trace.find("cluster ID mismatch"), std::string::npos);
}

// The same timing under br-fixed: the listing that found the bucket empty
// also decides the restore, so etcd-main-2 starts as the bootstrap member it
// is and joins: one cluster, three started members.
TEST(BackupRestoreTest, Issue864VariantAOneClusterUnderFixed) {
  std::string trace;
  EXPECT_EQ(RunVariantA(Profile::kFixed, &trace).size(), 1u);
  EXPECT_EQ(trace.find("Restoring from base snapshot"), std::string::npos);
}

// BR #864 variant B, placed by hand. etcd-main-2 stays Pending while its
// peers bootstrap, take raft snapshots (snapshot-count 10) and restart from
// them: its bootstrap entry (cd4ba37ba8467c6f's counterpart here) is now
// listed unstarted and without a name. Its volume holds what variant A left
// there: the leader's first full snapshot restored as `default`, with the
// pod's peer URL. Then the pod starts.
struct VariantB {
  int learner_refusals = 0;
  int fatals = 0;
  int br_restarts = 0;
  std::set<uint64_t> cluster_ids;
  int running = 0;
  bool split_data_kept = false;  // the split dir still exists somewhere on the volume
};

VariantB RunVariantB(Profile profile) {
  EtcdCluster::Options options;
  options.snapshot_count = 10;
  BrPods pods(3, 2, profile, options);
  if (const char* path = std::getenv("BR_TEST_TRACE_B"); path != nullptr) {
    pods.simulation().trace().AddSink(std::make_unique<sim::TextTraceSink>(std::fopen(path, "w"), true, path));
  }
  VariantB result;
  struct Count : sim::TraceSink {
    VariantB* result;
    explicit Count(VariantB* out) : result(out) {}
    void Write(const sim::TraceRecord& record) override {
      for (const auto& detail : record.details) {
        if (detail.key == "msg" && detail.value.find("etcdserver: unhealthy cluster") != std::string::npos &&
            record.name == "BrFatal") {
          ++result->fatals;
        }
      }
      if (record.name == "ContainerExited") {
        for (const auto& detail : record.details) result->br_restarts += detail.value == "backup-restore";
      }
    }
    void Flush() override {}
  };
  pods.simulation().trace().AddSink(std::make_unique<Count>(&result));
  EtcdCluster& cluster = pods.cluster();
  cluster.Pod(2).PendingFor(SimDuration::Seconds(400));
  cluster.At(SimDuration::Seconds(200)).KillContainer(0, "etcd");
  cluster.At(SimDuration::Seconds(260)).KillContainer(1, "etcd");
  cluster.Start();
  pods.RunFor(SimDuration::Seconds(150));
  // Writes enough for raft snapshots on both running members.
  EXPECT_TRUE(sim::RunActorUntilDone(pods.simulation(), [&] {
    model::etcd::Client client = cluster.Client({cluster.ClientUrl(0), cluster.ClientUrl(1)});
    for (int i = 0; i < 40; ++i) (void)client.Put(fmt::format("key-{}", i), "value");
  }));
  pods.RunFor(SimDuration::Seconds(200));  // both restarted from their snapshots
  // The split member's data dir, as variant A leaves it.
  std::string full;
  for (const sim::ObjectInfo& object : cluster.world().object_store().Contents()) {
    if (object.key.find("/Full-") != std::string::npos) full = *cluster.world().object_store().Peek(object.key);
  }
  EXPECT_FALSE(full.empty());
  sim::Disk& volume = cluster.world().volume(cluster.VolumeName(2));
  EXPECT_TRUE(sim::RunActorUntilDone(pods.simulation(), [&] {
    absl::StatusOr<std::string> image = model::Gunzip(full);
    ASSERT_TRUE(image.ok());
    model::etcd::RestoreConfig restore;
    restore.data_dir = cluster.options().data_dir;
    restore.updated_peer_urls = {cluster.PeerUrl(2)};
    ASSERT_TRUE(model::etcd::RestoreSnapshot(&volume, *image, restore).ok());
  }));
  pods.RunFor(SimDuration::Seconds(400));
  result.cluster_ids = pods.ClusterIds();
  result.running = pods.Running();
  absl::StatusOr<std::vector<std::string>> names = volume.ReadDir("var/etcd/data");
  if (names.ok()) {
    for (const std::string& name : *names) result.split_data_kept |= name.find(".aside-") != std::string::npos;
  }
  return result;
}

// Under br-v0.35 the split member's BR does not find its name, detects a
// scale-up, deletes the data dir before each of six learner adds, each
// refused "etcdserver: unhealthy cluster" (the unstarted voting member is not
// connected), and exits with "unable to add a learner in a cluster: ...";
// restarted under back-off, it does the same again and again.
TEST(BackupRestoreTest, Issue864VariantBCrashLoopsUnderV035) {
  const VariantB result = RunVariantB(Profile::kV035);
  EXPECT_GE(result.fatals, 2);
  EXPECT_GE(result.br_restarts, 2);
  EXPECT_EQ(result.running, 2);
  EXPECT_FALSE(result.split_data_kept);
}

// Under br-fixed the BR finds its unstarted entry by peer URL, sees that the
// valid data dir belongs to another cluster, moves it aside (kept), and
// starts the member as the bootstrap member it is: one cluster, three
// started members.
TEST(BackupRestoreTest, Issue864VariantBOneClusterUnderFixed) {
  const VariantB result = RunVariantB(Profile::kFixed);
  EXPECT_EQ(result.fatals, 0);
  EXPECT_EQ(result.running, 3);
  EXPECT_EQ(result.cluster_ids.size(), 1u);
  EXPECT_TRUE(result.split_data_kept);
}

// br-fixed F11: BR's leader elector polls etcd every 5 s, so the old
// leader's snapshotter can run on after etcd's leadership moved
// (bootstrap-0-to-3 --seed 853). A snapshotter checking first takes no
// snapshot on a follower's etcd; one that does not (v0.35) takes its first
// full snapshot at once.
TEST(BackupRestoreTest, SnapshotterOnAFollowerTakesNoSnapshotWhenItChecks) {
  for (const bool check : {false, true}) {
    BrPods pods(3, 1, Profile::kFixed);
    pods.cluster().Start();
    pods.RunFor(SimDuration::Seconds(180));
    int follower = -1;
    for (int i = 0; i < 3 && follower < 0; ++i) {
      EtcdServer* server = pods.cluster().Current(i);
      if (server != nullptr && server->state() == EtcdServer::State::kRunning && server->raft() != nullptr &&
          server->raft()->role() == model::raft::Role::kFollower && server->raft()->lead() != 0) {
        follower = i;
      }
    }
    ASSERT_GE(follower, 0);
    model::br::BackupRestore* br = pods.cluster().CurrentBackupRestore(follower);
    ASSERT_NE(br, nullptr);
    const sim::ProcessContext process = br->process();
    // Its own prefix in the bucket: no full snapshot there yet, so the
    // snapshotter's first act is a full one.
    model::br::Snapstore store(process.bucket, "f11-test");
    std::vector<model::br::SnapshotAttempt> attempts;
    model::br::Snapshotter::Options options;
    options.local_endpoint = "http://etcd-main-local:2379";
    options.set_health = [](bool) {};
    options.fatal = [](const std::string&) {};
    options.on_attempt = [&](const model::br::SnapshotAttempt& attempt) { attempts.push_back(attempt); };
    options.check_leader_first = check;
    model::br::Snapshotter snapshotter(process, &store, options);
    sim::Group* group = process.scheduler->CreateGroup("test-snapshotter");
    process.scheduler->Spawn(group, "snapshotter", [&snapshotter, group] { snapshotter.Run(group); });
    pods.RunFor(SimDuration::Seconds(30));
    process.scheduler->KillGroup(group);
    if (check) {
      EXPECT_TRUE(attempts.empty()) << attempts.front().snapshot.Name();
    } else {
      ASSERT_FALSE(attempts.empty());
      EXPECT_EQ(attempts.front().snapshot.kind, model::br::Snapshot::Kind::kFull);
    }
  }
}

}  // namespace
}  // namespace cluster
