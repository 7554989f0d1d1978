// The backup-restore workloads: etcd clusters as etcd-druid v0.28 runs them
// (the etcd-wrapper and BR v0.35 or br-fixed beside each member, backups in
// the bucket), doing what operators of such clusters do, with client
// traffic and pod start delays drawn from the seed:
//   bootstrap-0-to-3          a new HA cluster, Parallel pods, any of them late;
//   scale-up-1-to-3           a single member with data and backups becomes HA;
//   restore-all-volumes-lost  every volume is lost (quorum loss) and the
//                             cluster is rebuilt from the bucket the way
//                             druid's docs say: replicas 0, member leases
//                             cleared, replicas 1 (restore), then 3.
// Checked: OneClusterId (continuously: the members running at any moment
// belong to one cluster), MembersConverge (at the end every replica is a started
// voting member of that cluster) and, for the restore,
// AcknowledgedWritesSurvive (every write acknowledged at or below the last
// revision the bucket held when the volumes were lost is served after).
// Issue 10 adds the other faults, the other workloads and invariants.
#include <map>
#include <memory>
#include <set>

#include "cluster/etcd_cluster.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "model/br/profile.h"
#include "model/br/snapstore.h"
#include "model/etcd/client.h"
#include "model/ids.h"
#include "sim/trace.h"
#include "workloads/raft_safety.h"
#include "workloads/workload.h"

namespace workloads {
namespace {

using model::etcd::EtcdServer;
using sim::SimDuration;
using sim::SimTime;

enum class Story { kBootstrap, kScaleUp, kRestore };

class BackupRestoreWorkload : public Workload {
 public:
  explicit BackupRestoreWorkload(Story story) : story_(story) {}

  std::vector<std::string> Profiles() const override { return {"br-v0.35", "br-fixed"}; }

  // The ordinary faults, mixed per seed by the swarm generator: pod start
  // delays, partitions, clogs, lost packets, process crashes, power losses
  // with torn writes, disk faults, bucket errors, ambiguous and failed
  // uploads, lagging listings, container kills, pod deletes, node drains,
  // API-server outages and endpoint lag; all within the story's horizon.
  std::optional<sim::FaultSurface> Faults() const override {
    sim::FaultSurface surface = cluster::EtcdCluster::Faults(Options(model::br::Profile::kV035));
    surface.horizon = Horizon();
    surface.max_actions = 10;
    surface.max_start_delay = MaxStartDelay();
    surface.max_outage = SimDuration::Seconds(20);
    return surface;
  }

  void Setup(sim::Simulation& simulation, const sim::FaultPlan& plan) override {
    simulation_ = &simulation;
    profile_ = plan.profile().empty() ? model::br::Profile::kV035 : *model::br::ParseProfile(plan.profile());
    sim::Properties& properties = simulation.properties();
    for (const char* name : {"WriteAcknowledged", "FullSnapshotUploaded", "DeltaSnapshotUploaded"}) {
      properties.DeclareSometimes(name);
    }
    if (story_ != Story::kBootstrap) properties.DeclareSometimes("LearnerPromoted");
    if (story_ == Story::kRestore) properties.DeclareSometimes("RestoredFromBucket");
    if (story_ == Story::kRestore) properties.DeclareSometimes("BackedUpWritesChecked");
    properties.DeclareCheck("MembersConverge");
    if (story_ == Story::kRestore) properties.DeclareCheck("AcknowledgedWritesSurvive");
    cluster::EtcdCluster::Options options = Options(profile_);
    options.members = story_ == Story::kScaleUp ? 1 : 3;
    cluster_ = std::make_unique<cluster::EtcdCluster>(&simulation, options);
    // A restore as BR does it always yields cluster cdf818194e3a8c32: the
    // processes started after the n-th restore belong to its lineage.
    raft_safety_ = std::make_unique<RaftSafety>(cluster_.get(), &properties, [this](size_t k) {
      uint64_t restores = 0;
      for (const auto& [ordinal, br] : cluster_->AllBackupRestores()) {
        restores += !br->restored_from().empty() && br->restored_at() <= cluster_->StartedAt(k);
      }
      return restores;
    });
    raft_safety_->Declare();
    cluster_->Start(plan);
    sim::Group* clients = simulation.scheduler().CreateGroup("clients");
    simulation.scheduler().Spawn(clients, "writer", [this] { Writer(); });
    sim::Group* checker = simulation.scheduler().CreateGroup("checker");
    simulation.scheduler().Spawn(checker, "one-cluster-id", [this] { WatchClusterIds(); });
    simulation.scheduler().Spawn(checker, "operator", [this] { Operate(); });
    simulation.scheduler().Spawn(checker, "heal", [this] { Heal(); });
    simulation.scheduler().Spawn(checker, "raft-safety", [this] {
      while (true) {
        sim::this_actor::SleepFor(SimDuration::Millis(100));
        raft_safety_->Check();
      }
    });
  }

  sim::World* world() override { return &cluster_->world(); }

  sim::RunLimits Limits() const override { return {.until = RunEnd(), .max_events = 50'000'000}; }

  void Finish(sim::Simulation& simulation) override {
    sim::Properties& properties = simulation.properties();
    for (const sim::ObjectInfo& object : cluster_->world().object_store().Contents()) {
      absl::StatusOr<model::br::Snapshot> snapshot = model::br::ParseSnapshot(object.key);
      if (!snapshot.ok()) continue;
      properties.Sometimes(snapshot->kind == model::br::Snapshot::Kind::kFull, "FullSnapshotUploaded");
      properties.Sometimes(snapshot->kind == model::br::Snapshot::Kind::kDelta, "DeltaSnapshotUploaded");
    }
    CheckConverged();
    TraceMemberTables();
    ExplainFirstViolation(simulation);
  }

 private:
  std::string Name() const {
    switch (story_) {
      case Story::kBootstrap: return "bootstrap-0-to-3";
      case Story::kScaleUp: return "scale-up-1-to-3";
      case Story::kRestore: return "restore-all-volumes-lost";
    }
    return "";
  }
  // Faults fall in [0, horizon); they all end a little after it.
  SimDuration Horizon() const {
    switch (story_) {
      case Story::kBootstrap: return SimDuration::Seconds(150);
      case Story::kScaleUp: return SimDuration::Seconds(300);
      case Story::kRestore: return SimDuration::Seconds(280);
    }
    return SimDuration::Zero();
  }
  SimTime HealAt() const { return SimTime::Zero() + Horizon() + SimDuration::Seconds(30); }
  SimDuration MaxStartDelay() const {
    return story_ == Story::kBootstrap ? SimDuration::Seconds(150) : SimDuration::Seconds(60);
  }
  static cluster::EtcdCluster::Options Options(model::br::Profile profile) {
    cluster::EtcdCluster::Options options;
    options.members = 3;
    options.nodes = 3;
    options.snapshot_count = 1000;
    options.backup_restore = profile;
    return options;
  }
  // When the story's last change happens, and how long convergence may take.
  SimTime ScaleUpAt() const { return SimTime::Zero() + SimDuration::Seconds(240); }
  SimTime LossAt() const { return SimTime::Zero() + SimDuration::Seconds(300); }
  SimTime RunEnd() const {
    switch (story_) {
      case Story::kBootstrap: return SimTime::Zero() + SimDuration::Seconds(900);
      case Story::kScaleUp: return SimTime::Zero() + SimDuration::Seconds(1200);
      case Story::kRestore: return SimTime::Zero() + SimDuration::Seconds(1500);
    }
    return SimTime::Zero();
  }

  // A kube-apiserver's steady trickle: one new key every 0.2-1 s through the
  // client service, until a minute before the end.
  void Writer() {
    sim::Rng& rng = simulation_->Stream("br.writer");
    model::etcd::Client client = cluster_->Client({cluster_->ClientServiceUrl()}, SimDuration::Seconds(2), &rng);
    for (int i = 0; simulation_->Now() + SimDuration::Seconds(60) < RunEnd(); ++i) {
      sim::this_actor::SleepFor(rng.DurationIn(SimDuration::Millis(200), SimDuration::Millis(1000)));
      const std::string key = fmt::format("registry/w-{:06d}", i);
      absl::StatusOr<etcd_dst::etcd::PutResponse> put = client.Put(key, key);
      simulation_->properties().Sometimes(put.ok(), "WriteAcknowledged");
      if (put.ok()) acknowledged_[key] = put->header().revision();
    }
  }

  // OneClusterId: the members running at any moment all belong to one
  // cluster. A cluster replaced whole (a single member restored from the
  // bucket, a rebuild after quorum loss) is one cluster at a time; two at
  // once is a split.
  void WatchClusterIds() {
    while (true) {
      sim::this_actor::SleepFor(SimDuration::Seconds(1));
      std::map<uint64_t, std::string> running;  // cluster ID -> its first pod
      for (int i = 0; i < cluster_->members(); ++i) {
        EtcdServer* server = cluster_->Current(i);
        if (server == nullptr || server->state() != EtcdServer::State::kRunning) continue;
        running.emplace(server->cluster_id(), cluster_->PodName(i));
      }
      std::string clusters;
      if (running.size() > 1) {
        for (const auto& [id, pod] : running) clusters += fmt::format(" {} runs cluster {};", pod, model::FormatId(id));
      }
      simulation_->properties().Always(running.size() <= 1, "OneClusterId", clusters);
    }
  }

  // After the horizon every fault ends, and crash-looping containers are
  // restarted now and then without their back-off (an operator deleting
  // the pods), so that what remains at the end is what the software does.
  void Heal() {
    sim::this_actor::SleepUntil(HealAt());
    cluster_->world().EndAllFaults();
    while (simulation_->Now() + SimDuration::Seconds(120) < RunEnd()) {
      cluster_->RestartWithoutBackOff();
      sim::this_actor::SleepFor(SimDuration::Seconds(120));
    }
  }

  void Operate() {
    if (story_ == Story::kScaleUp) {
      sim::this_actor::SleepUntil(ScaleUpAt());
      cluster_->ScaleTo(3);
      return;
    }
    if (story_ != Story::kRestore) return;
    sim::this_actor::SleepUntil(LossAt());
    // What the bucket holds when the volumes are lost: every acknowledged
    // write at or below its newest revision must come back.
    int64_t backed_up = 0;
    for (const sim::ObjectInfo& object : cluster_->world().object_store().Contents()) {
      absl::StatusOr<model::br::Snapshot> snapshot = model::br::ParseSnapshot(object.key);
      if (snapshot.ok()) backed_up = std::max(backed_up, snapshot->last_revision);
    }
    sim::TraceEvent("AllVolumesLost").Detail("backed_up_revision", backed_up);
    cluster_->ScaleTo(0);
    sim::this_actor::SleepFor(SimDuration::Seconds(5));
    for (int i = 0; i < 3; ++i) cluster_->world().LoseVolume(cluster_->VolumeName(i));
    // druid's recovery from quorum loss: member leases reset, one replica
    // (restored from the bucket), then three.
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<cluster::Object> lease = cluster_->api().Get("Lease", cluster_->druid().MemberLease(i));
      if (!lease.ok()) continue;
      lease->mutable_lease()->Clear();
      lease->mutable_meta()->set_resource_version(0);
      (void)cluster_->api().Update(*lease);
    }
    cluster_->ScaleTo(1);
    const SimTime deadline = simulation_->Now() + SimDuration::Seconds(300);
    while (simulation_->Now() < deadline && !cluster_->cluster().Ready(cluster_->PodName(0))) {
      sim::this_actor::SleepFor(SimDuration::Seconds(5));
    }
    simulation_->properties().Sometimes(cluster_->cluster().Ready(cluster_->PodName(0)), "RestoredFromBucket");
    CheckWritesSurvive(backed_up);
    cluster_->ScaleTo(3);
  }

  void CheckWritesSurvive(int64_t backed_up) {
    model::etcd::Client client = cluster_->Client({cluster_->ClientUrl(0)}, SimDuration::Seconds(5),
                                                  &simulation_->Stream("br.verifier"));
    int missing = 0, checked = 0;
    std::string first_missing;
    for (const auto& [key, revision] : acknowledged_) {
      if (revision > backed_up) continue;
      ++checked;
      absl::StatusOr<etcd_dst::etcd::RangeResponse> got = client.Get(key);
      if (!got.ok()) {
        simulation_->properties().Fail("AcknowledgedWritesSurvive",
                                       fmt::format("the restored member does not serve: {}", std::string(got.status().message())));
        return;
      }
      if (got->kvs_size() != 1 && missing++ == 0) first_missing = key;
    }
    // A restore with nothing backed up to compare would pass vacuously.
    simulation_->properties().Sometimes(checked > 0, "BackedUpWritesChecked");
    simulation_->properties().Always(missing == 0, "AcknowledgedWritesSurvive",
                                     fmt::format("{} writes at or below revision {} missing after the restore, first {}",
                                                 missing, backed_up, first_missing));
  }

  // MembersConverge: every replica runs etcd, all in one cluster, each a
  // started voting member of it.
  void CheckConverged() {
    sim::Properties& properties = simulation_->properties();
    std::set<uint64_t> clusters;
    std::string problems;
    for (int i = 0; i < 3; ++i) {
      EtcdServer* server = cluster_->Current(i);
      if (server == nullptr || server->state() != EtcdServer::State::kRunning) {
        problems += fmt::format(" {} runs no etcd;", cluster_->PodName(i));
        continue;
      }
      clusters.insert(server->cluster_id());
    }
    if (clusters.size() > 1) problems += fmt::format(" {} cluster IDs;", clusters.size());
    for (int i = 0; i < 3 && problems.empty(); ++i) {
      const model::etcd::Cluster& membership = cluster_->Current(i)->cluster();
      if (membership.members().size() != 3) problems += fmt::format(" {} members listed;", membership.members().size());
      for (const auto& [id, member] : membership.members()) {
        if (member.is_learner) problems += fmt::format(" {} is a learner;", model::FormatId(id));
        if (!member.started()) problems += fmt::format(" {} never started;", model::FormatId(id));
      }
    }
    properties.Always(problems.empty(), "MembersConverge", problems);
    // A story that adds members promotes learners: all three voting at the end.
    if (story_ != Story::kBootstrap) properties.Sometimes(problems.empty(), "LearnerPromoted");
  }

  // `etcdctl member list -w table` as each cluster sees itself at the end.
  void TraceMemberTables() {
    std::set<uint64_t> printed;
    for (int i = 0; i < cluster_->members(); ++i) {
      EtcdServer* server = cluster_->Current(i);
      if (server == nullptr || server->state() != EtcdServer::State::kRunning) continue;
      if (!printed.insert(server->cluster_id()).second) continue;
      std::string table = "|        ID        |  STATUS   |    NAME     | PEER ADDRS | IS LEARNER |";
      for (const auto& [id, member] : server->cluster().members()) {
        table += fmt::format("\n| {} | {:>9} | {:>11} | {} | {:>10} |", model::FormatId(id),
                             member.started() ? "started" : "unstarted", member.name,
                             member.peer_urls.empty() ? "" : member.peer_urls.front(), member.is_learner);
      }
      sim::TraceEvent("MemberTable")
          .Detail("cluster", model::FormatId(server->cluster_id()))
          .Detail("seen_from", cluster_->PodName(i))
          .Detail("table", table);
    }
  }

  // The first violation in words: which members, which clusters, and the
  // backup a member restored from.
  void ExplainFirstViolation(sim::Simulation& simulation) {
    const auto& violations = simulation.properties().violations();
    if (violations.empty()) return;
    const sim::Violation& first = violations.front();
    std::string why;
    std::map<uint64_t, std::vector<std::string>> pods_by_cluster;
    for (int i = 0; i < cluster_->members(); ++i) {
      EtcdServer* server = cluster_->Current(i);
      if (server != nullptr && server->state() == EtcdServer::State::kRunning) {
        pods_by_cluster[server->cluster_id()].push_back(cluster_->PodName(i));
      }
    }
    for (const auto& [id, pods] : pods_by_cluster) {
      why += fmt::format("cluster {}: {}. ", model::FormatId(id), fmt::join(pods, ", "));
    }
    for (const auto& [ordinal, br] : cluster_->AllBackupRestores()) {
      if (br->restored_from().empty()) continue;
      why += fmt::format("{}'s backup-restore restored its data dir from {} at {}. ", cluster_->PodName(ordinal),
                         br->restored_from(), br->restored_at().ToString());
    }
    for (int i = 0; i < cluster_->members(); ++i) {
      if (cluster_->Current(i) == nullptr) {
        why += fmt::format("{} runs no etcd (its last start: {}). ", cluster_->PodName(i),
                           cluster_->LastStartFailure(i).empty() ? "none or not failed" : cluster_->LastStartFailure(i));
      }
    }
    sim::TraceEvent("FirstViolationExplained")
        .Detail("property", first.property)
        .Detail("at", first.time.ToString())
        .Detail("details", first.details)
        .Detail("explanation", why);
  }

  Story story_;
  sim::Simulation* simulation_ = nullptr;
  model::br::Profile profile_ = model::br::Profile::kV035;
  std::unique_ptr<cluster::EtcdCluster> cluster_;
  std::unique_ptr<RaftSafety> raft_safety_;
  std::map<std::string, int64_t> acknowledged_;  // key -> revision of its acknowledged put
};

}  // namespace

std::unique_ptr<Workload> MakeBootstrapZeroToThree() { return std::make_unique<BackupRestoreWorkload>(Story::kBootstrap); }
std::unique_ptr<Workload> MakeScaleUpOneToThree() { return std::make_unique<BackupRestoreWorkload>(Story::kScaleUp); }
std::unique_ptr<Workload> MakeRestoreAllVolumesLost() {
  return std::make_unique<BackupRestoreWorkload>(Story::kRestore);
}

}  // namespace workloads
