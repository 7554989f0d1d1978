// The backup-restore workloads: etcd clusters as etcd-druid v0.28 runs them
// (the etcd-wrapper and BR v0.35 or br-fixed beside each member, backups in
// the bucket), doing what operators of such clusters do, with a
// kube-apiserver's traffic (puts, deletes, transactions, reads, keys with
// leases) and the seed's ordinary faults (swarm testing):
//   bootstrap-0-to-3          a new HA cluster, Parallel pods, any of them late;
//   scale-up-1-to-3           a single member with data and backups becomes HA;
//   wake-up-0-to-3            a hibernated cluster (replicas 0, volumes and
//                             backups kept) scaled back to 3, pods late;
//   member-volume-lost        one member's volume is lost (PVC deleted), its
//                             db corrupted or its member dir removed, and the
//                             member must come back;
//   restore-all-volumes-lost  quorum loss: every volume lost, the cluster
//                             rebuilt from the bucket the way druid's docs
//                             say (replicas 0, member leases cleared, 1, 3);
//   rolling-update            pods restarted one at a time, highest ordinal
//                             first, each after the one before is Ready;
//   druid-cluster-chaos       a running 3-member cluster under the faults for
//                             minutes of simulated time.
// After the fault horizon every fault ends and crash-looping containers are
// restarted without back-off now and then (the heal phase).
//
// Checked (the names are fixed: sweeps and dashboards count them):
//   OneClusterId                 the members running at any moment belong to
//                                one cluster (continuously);
//   MembersConverge              at the end every replica is a started voting
//                                member of that cluster;
//   AcknowledgedWritesSurvive    every read, the cluster at the end and the
//                                member restored after a quorum loss show
//                                every acknowledged write (KvOracle);
//   BackupRestores               every backup set in the bucket (each full
//                                and each prefix of its deltas) restores, to
//                                what the history says the keys were then;
//   BackupCoversAcknowledgedWrites  a quorum-loss restore keeps every write
//                                acknowledged before the newest backup in
//                                the bucket was taken;
//   AtMostOneSnapshotter         no two BR processes take snapshots at once;
//   StatusTruthful               druid's AllMembersReady (Ready) never says
//                                True while members are split or not running
//                                for longer than druid's stated lag;
//   raft safety                  one leader per term, committed entries
//                                never change (workloads/raft_safety).
// Sometimes marks count the branches worth reaching: a restore, a learner
// promoted, a member added, an ambiguous snapshot upload, backup leadership
// moving between deltas, and the like.
#include <map>
#include <memory>
#include <set>

#include "cluster/etcd_cluster.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "model/bbolt.h"
#include "model/br/profile.h"
#include "model/br/restorer.h"
#include "model/br/snapstore.h"
#include "model/codec.h"
#include "model/etcd/client.h"
#include "model/etcd/kv_store.h"
#include "model/ids.h"
#include "sim/trace.h"
#include "workloads/kv_oracle.h"
#include "workloads/raft_safety.h"
#include "workloads/workload.h"

namespace workloads {
namespace {

using model::etcd::EtcdServer;
using sim::SimDuration;
using sim::SimTime;

enum class Story { kBootstrap, kScaleUp, kWakeUp, kMemberVolumeLost, kRestore, kRollingUpdate, kChaos };

// The keys the traffic writes and the oracle checks; keys with leases live
// under "leases/" (they expire, so no history is kept for them).
constexpr char kPrefix[] = "registry/";
constexpr char kPrefixEnd[] = "registry0";
constexpr int kKeys = 40;
constexpr char kDataDir[] = "var/etcd/data/new.etcd";
// druid's status lags the truth by design: a lease renewed every 10 s, a
// member Unknown 1 m after its last renewal (NotReady 5 m later), a status
// sync every 15 s. Ready counts Unknown members as ready.
const SimDuration kAllMembersReadyLag = SimDuration::Seconds(90);
const SimDuration kReadyLag = SimDuration::Seconds(390);

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
    surface.max_actions = story_ == Story::kChaos ? 24 : story_ == Story::kBootstrap ? 20 : 10;
    surface.max_start_delay = MaxStartDelay();
    surface.max_outage = SimDuration::Seconds(20);
    return surface;
  }

  void Setup(sim::Simulation& simulation, const sim::FaultPlan& plan) override {
    simulation_ = &simulation;
    profile_ = plan.profile().empty() ? model::br::Profile::kV035 : *model::br::ParseProfile(plan.profile());
    sim::Properties& properties = simulation.properties();
    for (const char* name : {"WriteAcknowledged", "DeleteAcknowledged", "TxnSucceeded", "TxnCompareFailed",
                             "ReadVerified", "LeaseKeyWritten", "FullSnapshotUploaded", "DeltaSnapshotUploaded",
                             "BackupSetRestored", "FinalStateChecked"}) {
      properties.DeclareSometimes(name);
    }
    if (story_ == Story::kScaleUp || story_ == Story::kMemberVolumeLost) {
      properties.DeclareSometimes("MemberAdded");
      properties.DeclareSometimes("LearnerPromoted");
    }
    if (story_ == Story::kRestore) properties.DeclareSometimes("RestoredFromBucket");
    if (story_ == Story::kMemberVolumeLost) properties.DeclareSometimes("MemberDataLostInHealthyCluster");
    if (story_ == Story::kRestore) properties.DeclareSometimes("BackedUpWritesChecked");
    if (story_ == Story::kChaos || story_ == Story::kRollingUpdate) {
      properties.DeclareSometimes("SnapshotterMovedBetweenDeltas");
      properties.DeclareSometimes("AmbiguousSnapshotUpload");
    }
    properties.DeclareCheck("MembersConverge");
    properties.DeclareCheck("BackupRestores");
    properties.DeclareCheck("AtMostOneSnapshotter");
    properties.DeclareCheck("StatusTruthful");
    if (story_ == Story::kRestore) properties.DeclareCheck("BackupCoversAcknowledgedWrites");
    cluster::EtcdCluster::Options options = Options(profile_);
    options.members = story_ == Story::kScaleUp ? 1 : 3;
    replicas_ = options.members;
    cluster_ = std::make_unique<cluster::EtcdCluster>(&simulation, options);
    // A restore as BR does it always yields cluster cdf818194e3a8c32: the
    // processes started after the n-th restore (of any BR process) belong to
    // its lineage.
    raft_safety_ = std::make_unique<RaftSafety>(cluster_.get(), &properties, [this](size_t k) {
      uint64_t restores = 0;
      for (const auto& [ordinal, br] : cluster_->AllBackupRestores()) {
        for (sim::SimTime at : br->restore_times()) restores += at <= cluster_->StartedAt(k);
      }
      return restores;
    });
    raft_safety_->Declare();
    cluster_->Start(plan);
    sim::Group* clients = simulation.scheduler().CreateGroup("clients");
    simulation.scheduler().Spawn(clients, "traffic", [this] { Traffic(); });
    simulation.scheduler().Spawn(clients, "leases", [this] { LeaseTraffic(); });
    sim::Group* checker = simulation.scheduler().CreateGroup("checker");
    simulation.scheduler().Spawn(checker, "one-cluster-id", [this] { WatchClusterIds(); });
    simulation.scheduler().Spawn(checker, "status-truthful", [this] { WatchStatus(); });
    simulation.scheduler().Spawn(checker, "operator", [this] { Operate(); });
    simulation.scheduler().Spawn(checker, "heal", [this] { Heal(); });
    simulation.scheduler().Spawn(checker, "final-state", [this] { CheckFinalState(); });
    simulation.scheduler().Spawn(checker, "raft-safety", [this] {
      while (true) {
        sim::this_actor::SleepFor(SimDuration::Millis(100));
        raft_safety_->Check();
        WatchMembership();
        SampleTruth();
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
    for (const auto& [ordinal, br] : cluster_->AllBackupRestores()) {
      if (story_ == Story::kRestore) properties.Sometimes(!br->restored_from().empty(), "RestoredFromBucket");
    }
    CheckConverged();
    CheckBackups();
    CheckSnapshotters();
    TraceMemberTables();
    ExplainFirstViolation(simulation);
  }

 private:
  // Faults fall in [0, horizon); they all end a little after it.
  SimDuration Horizon() const {
    switch (story_) {
      case Story::kBootstrap: return SimDuration::Seconds(600);
      case Story::kScaleUp: return SimDuration::Seconds(300);
      case Story::kWakeUp: return SimDuration::Seconds(450);
      case Story::kMemberVolumeLost: return SimDuration::Seconds(240);
      case Story::kRestore: return SimDuration::Seconds(280);
      case Story::kRollingUpdate: return SimDuration::Seconds(300);
      case Story::kChaos: return SimDuration::Seconds(300);
    }
    return SimDuration::Zero();
  }
  SimTime HealAt() const { return SimTime::Zero() + Horizon() + SimDuration::Seconds(30); }
  SimDuration MaxStartDelay() const {
    return story_ == Story::kBootstrap ? SimDuration::Seconds(150) : SimDuration::Seconds(60);
  }
  cluster::EtcdCluster::Options Options(model::br::Profile profile) const {
    cluster::EtcdCluster::Options options;
    options.members = 3;
    options.nodes = 3;
    // druid's is 75000; a real flag, so that raft snapshots happen in
    // minutes (every ~80 s of traffic in a new cluster's story).
    options.snapshot_count = story_ == Story::kBootstrap ? 100 : 1000;
    options.backup_restore = profile;
    return options;
  }
  SimTime RunEnd() const {
    switch (story_) {
      case Story::kBootstrap: return SimTime::Zero() + SimDuration::Seconds(1200);
      case Story::kScaleUp: return SimTime::Zero() + SimDuration::Seconds(1200);
      case Story::kWakeUp: return SimTime::Zero() + SimDuration::Seconds(1200);
      case Story::kMemberVolumeLost: return SimTime::Zero() + SimDuration::Seconds(900);
      case Story::kRestore: return SimTime::Zero() + SimDuration::Seconds(1500);
      case Story::kRollingUpdate: return SimTime::Zero() + SimDuration::Seconds(1000);
      case Story::kChaos: return SimTime::Zero() + SimDuration::Seconds(800);
    }
    return SimTime::Zero();
  }
  SimTime TrafficEnds() const { return RunEnd() - SimDuration::Seconds(60); }
  SimTime Now() const { return simulation_->Now(); }

  // --- traffic ----------------------------------------------------------------

  // A kube-apiserver's steady trickle through the client service: one
  // operation every 0.2-1 s on a small key space, puts, deletes,
  // compare-and-swap transactions writing two keys, and linearizable reads
  // checked against the history.
  void Traffic() {
    sim::Rng& rng = simulation_->Stream("br.traffic");
    model::etcd::Client client = cluster_->Client({cluster_->ClientServiceUrl()}, SimDuration::Seconds(2), &rng);
    sim::Properties& properties = simulation_->properties();
    std::map<std::string, int64_t> known_mod;  // key -> mod revision last seen
    while (Now() < TrafficEnds()) {
      sim::this_actor::SleepFor(rng.DurationIn(SimDuration::Millis(200), SimDuration::Millis(1000)));
      const std::string key = fmt::format("{}k-{:02d}", kPrefix, rng.UniformBelow(kKeys));
      const uint64_t roll = rng.UniformBelow(100);
      const int op = static_cast<int>(oracle_.operations());
      if (roll < 45) {
        oracle_.Begin({{key, KvOracle::ValueFor(op, key)}});
        absl::StatusOr<etcd_dst::etcd::PutResponse> put = client.Put(key, KvOracle::ValueFor(op, key));
        properties.Sometimes(put.ok(), "WriteAcknowledged");
        if (put.ok()) {
          oracle_.Acknowledge(op, put->header().revision(), Now());
          known_mod[key] = put->header().revision();
        }
      } else if (roll < 60) {
        oracle_.Begin({{key, std::nullopt}});
        absl::StatusOr<etcd_dst::etcd::DeleteRangeResponse> deleted = client.Delete(key);
        if (deleted.ok() && deleted->deleted() > 0) {
          oracle_.Acknowledge(op, deleted->header().revision(), Now());
          known_mod[key] = 0;
        } else if (deleted.ok()) {
          oracle_.Failed(op);  // nothing to delete: no change
        }
        properties.Sometimes(deleted.ok() && deleted->deleted() > 0, "DeleteAcknowledged");
      } else if (roll < 75) {
        const std::string other = fmt::format("{}k-{:02d}", kPrefix, rng.UniformBelow(kKeys));
        KvOracle::Writes writes = {{key, KvOracle::ValueFor(op, key)}};
        if (other != key) writes.emplace_back(other, KvOracle::ValueFor(op, other));
        etcd_dst::etcd::TxnRequest txn;
        etcd_dst::etcd::Compare* compare = txn.add_compare();
        compare->set_key(key);
        compare->set_target(etcd_dst::etcd::Compare::MOD);
        compare->set_result(etcd_dst::etcd::Compare::EQUAL);
        compare->set_mod_revision(known_mod[key]);
        for (const auto& [k, value] : writes) {
          etcd_dst::etcd::PutRequest* put = txn.add_success()->mutable_request_put();
          put->set_key(k);
          put->set_value(*value);
        }
        txn.add_failure()->mutable_request_range()->set_key(key);
        oracle_.Begin(writes);
        absl::StatusOr<etcd_dst::etcd::TxnResponse> response = client.Txn(txn);
        if (response.ok() && response->succeeded()) {
          oracle_.Acknowledge(op, response->header().revision(), Now());
          for (const auto& [k, value] : writes) known_mod[k] = response->header().revision();
        } else if (response.ok()) {
          oracle_.Failed(op);
          const auto& range = response->responses(0).response_range();
          known_mod[key] = range.kvs_size() > 0 ? range.kvs(0).mod_revision() : 0;
        }
        properties.Sometimes(response.ok() && response->succeeded(), "TxnSucceeded");
        properties.Sometimes(response.ok() && !response->succeeded(), "TxnCompareFailed");
      } else {
        absl::StatusOr<etcd_dst::etcd::RangeResponse> got = client.Get(key);
        if (!got.ok()) continue;
        std::optional<etcd_dst::etcd::KeyValue> kv;
        if (got->kvs_size() > 0) kv = got->kvs(0);
        known_mod[key] = kv.has_value() ? kv->mod_revision() : 0;
        std::optional<KvOracle::Problem> problem = oracle_.CheckKey(key, kv, got->header().revision());
        properties.Sometimes(!problem.has_value(), "ReadVerified");
        if (problem.has_value()) {
          properties.Always(false, "AcknowledgedWritesSurvive",
                            fmt::format("a read of {} at revision {}: {}", key, got->header().revision(), problem->what));
        }
      }
    }
  }

  // Keys with leases, as the apiserver keeps events: a lease of 10-30 s,
  // keys attached to it, now and then a keep-alive or a revoke.
  void LeaseTraffic() {
    sim::Rng& rng = simulation_->Stream("br.leases");
    model::etcd::Client client = cluster_->Client({cluster_->ClientServiceUrl()}, SimDuration::Seconds(2), &rng);
    int64_t lease = 0;
    for (int i = 0; Now() < TrafficEnds(); ++i) {
      sim::this_actor::SleepFor(rng.DurationIn(SimDuration::Seconds(2), SimDuration::Seconds(6)));
      const uint64_t roll = rng.UniformBelow(10);
      if (lease == 0 || roll == 0) {
        absl::StatusOr<etcd_dst::etcd::LeaseGrantResponse> granted = client.LeaseGrant(rng.UniformIn(10, 30));
        if (granted.ok()) lease = granted->id();
        continue;
      }
      if (roll == 1) {
        (void)client.LeaseRevoke(lease);
        lease = 0;
      } else if (roll < 4) {
        (void)client.LeaseKeepAlive(lease);
      } else {
        absl::StatusOr<etcd_dst::etcd::PutResponse> put =
            client.PutWithLease(fmt::format("leases/event-{:05d}", i), "event", lease);
        simulation_->properties().Sometimes(put.ok(), "LeaseKeyWritten");
        if (!put.ok() && put.status().message() == "etcdserver: requested lease not found") lease = 0;
      }
    }
  }

  // AcknowledgedWritesSurvive at the end: the keys the cluster serves
  // (linearizably, through the client service) hold every acknowledged
  // write. A cluster that does not serve then fails MembersConverge.
  void CheckFinalState() {
    sim::this_actor::SleepUntil(RunEnd() - SimDuration::Seconds(30));
    model::etcd::Client client = cluster_->Client({cluster_->ClientServiceUrl()}, SimDuration::Seconds(5),
                                                  &simulation_->Stream("br.final"));
    for (int attempt = 0; attempt < 5; ++attempt) {
      absl::StatusOr<etcd_dst::etcd::RangeResponse> range = client.Range(kPrefix, kPrefixEnd);
      if (!range.ok()) {
        sim::this_actor::SleepFor(SimDuration::Seconds(4));
        continue;
      }
      CheckState(*range, "the cluster at the end");
      simulation_->properties().Sometimes(true, "FinalStateChecked");
      return;
    }
    simulation_->properties().Sometimes(false, "FinalStateChecked");
  }

  void CheckState(const etcd_dst::etcd::RangeResponse& range, std::string_view what) {
    std::map<std::string, etcd_dst::etcd::KeyValue> state;
    for (const etcd_dst::etcd::KeyValue& kv : range.kvs()) state[kv.key()] = kv;
    std::vector<KvOracle::Problem> problems = oracle_.Check(state, range.header().revision());
    simulation_->properties().Always(
        problems.empty(), "AcknowledgedWritesSurvive",
        problems.empty() ? ""
                         : fmt::format("{} at revision {}: {} keys wrong, first {} {}", what, range.header().revision(),
                                       problems.size(), problems.front().key, problems.front().what));
  }

  // --- the stories ----------------------------------------------------------

  void Operate() {
    sim::Rng& rng = simulation_->Stream("br.operator");
    switch (story_) {
      case Story::kBootstrap:
      case Story::kChaos:
        return;
      case Story::kScaleUp:
        sim::this_actor::SleepUntil(SimTime::Zero() + SimDuration::Seconds(240));
        ScaleTo(3);
        return;
      case Story::kWakeUp: {
        // Hibernation after a few minutes of life, then a wake-up (the
        // control plane moved) with each pod scheduled late or not.
        sim::this_actor::SleepUntil(SimTime::Zero() + rng.DurationIn(SimDuration::Seconds(90), SimDuration::Seconds(180)));
        ScaleTo(0);
        sim::this_actor::SleepFor(rng.DurationIn(SimDuration::Seconds(20), SimDuration::Seconds(150)));
        for (int i = 0; i < 3; ++i) {
          if (rng.Chance(1, 2)) {
            cluster_->world().DelayNextStart(cluster_->PodName(i), rng.DurationIn(SimDuration::Seconds(1), SimDuration::Seconds(150)));
          }
        }
        ScaleTo(3);
        return;
      }
      case Story::kMemberVolumeLost: {
        // One member of a healthy HA cluster loses its data. (Losing a
        // second member's before the first is back is a quorum loss:
        // restore-all-volumes-lost's story, which needs the operator.)
        sim::this_actor::SleepUntil(SimTime::Zero() + rng.DurationIn(SimDuration::Seconds(80), SimDuration::Seconds(200)));
        while (Now() < SimTime::Zero() + Horizon() && !Healthy()) sim::this_actor::SleepFor(SimDuration::Seconds(1));
        const bool healthy = Healthy();
        simulation_->properties().Sometimes(healthy, "MemberDataLostInHealthyCluster");
        if (healthy) LoseMemberData(static_cast<int>(rng.UniformBelow(3)), rng.UniformBelow(3), rng);
        return;
      }
      case Story::kRestore:
        RebuildFromBucket();
        return;
      case Story::kRollingUpdate: {
        sim::this_actor::SleepUntil(SimTime::Zero() + rng.DurationIn(SimDuration::Seconds(90), SimDuration::Seconds(200)));
        // The StatefulSet's RollingUpdate: highest ordinal first, the next
        // once the one before is Ready again.
        for (int i = 2; i >= 0; --i) {
          sim::TraceEvent("RollingUpdatePod").Detail("pod", cluster_->PodName(i));
          cluster_->cluster().DeletePod(cluster_->PodName(i));
          sim::this_actor::SleepFor(SimDuration::Seconds(1));
          const SimTime deadline = Now() + SimDuration::Minutes(10);
          while (Now() < deadline && !cluster_->cluster().Ready(cluster_->PodName(i))) {
            sim::this_actor::SleepFor(SimDuration::Seconds(2));
          }
        }
        return;
      }
    }
  }

  // Every replica runs etcd in one cluster as a started voting member, and
  // that cluster has a leader.
  bool Healthy() {
    const std::map<uint64_t, std::vector<int>> running = RunningByCluster();
    if (running.size() != 1 || running.begin()->second.size() != static_cast<size_t>(replicas_)) return false;
    EtcdServer* any = cluster_->Current(running.begin()->second.front());
    if (any->cluster().members().size() != static_cast<size_t>(replicas_)) return false;
    for (const auto& [id, member] : any->cluster().members()) {
      if (member.is_learner || !member.started()) return false;
    }
    for (int i : running.begin()->second) {
      const model::raft::Raft* raft = cluster_->Current(i)->raft();
      if (raft != nullptr && raft->role() == model::raft::Role::kLeader) return true;
    }
    return false;
  }

  // An operator's `kubectl scale` (and druid's reconcile of it): retried
  // until the API server answers.
  void ScaleTo(int replicas) {
    while (!cluster_->api().available()) sim::this_actor::SleepFor(SimDuration::Seconds(1));
    replicas_ = replicas;
    scaled_at_ = Now();
    cluster_->ScaleTo(replicas);
  }

  // One member's data goes: its PVC deleted (a new, empty volume), a page
  // of its db overwritten with garbage, or its member directory removed
  // under the running etcd; the container is then killed (the data is read
  // again at its restart).
  void LoseMemberData(int ordinal, uint64_t kind, sim::Rng& rng) {
    const std::string pod = cluster_->PodName(ordinal);
    static constexpr const char* kKinds[] = {"volume-lost", "db-page-corrupted", "member-dir-removed"};
    sim::TraceEvent("MemberDataLost").Detail("pod", pod).Detail("kind", kKinds[kind]);
    if (kind == 0) {
      cluster_->world().LoseVolume(cluster_->VolumeName(ordinal));
      return;
    }
    sim::Disk& disk = cluster_->world().volume(cluster_->VolumeName(ordinal));
    const std::string member = std::string(kDataDir) + "/member";
    if (kind == 1) {
      absl::StatusOr<int> fd = disk.Open(member + "/snap/db");
      if (fd.ok()) {
        absl::StatusOr<sim::FileStat> stat = disk.Fstat(*fd);
        const uint64_t pages = stat.ok() ? stat->size / 4096 : 0;
        if (pages > 2) {
          const uint64_t page = 2 + rng.UniformBelow(pages - 2);
          (void)disk.Pwrite(*fd, page * 4096, std::string(4096, '\x5a'));
          (void)disk.Fsync(*fd);
        }
        (void)disk.Close(*fd);
      }
    } else {
      (void)disk.RemoveAll(member);
    }
    cluster_->cluster().kubelet(pod).KillContainer("etcd");
  }

  // Quorum loss and druid's recovery: replicas 0, every volume lost, member
  // leases reset, one replica (restored from the bucket), then three.
  void RebuildFromBucket() {
    sim::this_actor::SleepUntil(SimTime::Zero() + SimDuration::Seconds(300));
    // What the bucket holds when the volumes are lost: the restore brings
    // back the newest revision, and every write acknowledged before the
    // newest backup was taken must be in it.
    int64_t backed_up = 0;
    int64_t taken_unix = 0;
    for (const sim::ObjectInfo& object : cluster_->world().object_store().Contents()) {
      absl::StatusOr<model::br::Snapshot> snapshot = model::br::ParseSnapshot(object.key);
      if (!snapshot.ok() || snapshot->last_revision < backed_up) continue;
      backed_up = snapshot->last_revision;
      taken_unix = snapshot->created_unix;
    }
    const SimTime taken = SimTime::Zero() + SimDuration::Seconds(taken_unix - model::etcd::kSimEpochUnixSeconds);
    sim::TraceEvent("AllVolumesLost").Detail("backed_up_revision", backed_up).Detail("backup_taken", taken);
    {
      // (Nothing in the bucket: nothing was promised.)
      std::vector<std::pair<std::string, int64_t>> uncovered =
          backed_up > 0 ? oracle_.AcknowledgedBeforeAbove(taken, backed_up) : std::vector<std::pair<std::string, int64_t>>{};
      simulation_->properties().Always(
          uncovered.empty(), "BackupCoversAcknowledgedWrites",
          uncovered.empty() ? ""
                            : fmt::format("{} writes acknowledged before the newest backup (revision {}, taken at {}) "
                                          "are above it, first {} at revision {}",
                                          uncovered.size(), backed_up, taken.ToString(), uncovered.front().first,
                                          uncovered.front().second));
    }
    oracle_.RollBackTo(backed_up);
    ScaleTo(0);
    sim::this_actor::SleepFor(SimDuration::Seconds(5));
    for (int i = 0; i < 3; ++i) cluster_->world().LoseVolume(cluster_->VolumeName(i));
    while (!cluster_->api().available()) sim::this_actor::SleepFor(SimDuration::Seconds(1));
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<cluster::Object> lease = cluster_->api().Get("Lease", cluster_->druid().MemberLease(i));
      if (!lease.ok()) continue;
      lease->mutable_lease()->Clear();
      lease->mutable_meta()->set_resource_version(0);
      (void)cluster_->api().Update(*lease);
    }
    ScaleTo(1);
    const SimTime deadline = Now() + SimDuration::Seconds(300);
    while (Now() < deadline && !cluster_->cluster().Ready(cluster_->PodName(0))) {
      sim::this_actor::SleepFor(SimDuration::Seconds(5));
    }
    if (cluster_->cluster().Ready(cluster_->PodName(0))) {
      model::etcd::Client client = cluster_->Client({cluster_->ClientUrl(0)}, SimDuration::Seconds(5),
                                                    &simulation_->Stream("br.verifier"));
      absl::StatusOr<etcd_dst::etcd::RangeResponse> range = client.Range(kPrefix, kPrefixEnd);
      if (range.ok()) {
        CheckState(*range, "the member restored from the bucket");
        simulation_->properties().Sometimes(oracle_.acknowledged() > 0, "BackedUpWritesChecked");
      }
    }
    ScaleTo(3);
  }

  // After the horizon every fault ends, and crash-looping containers are
  // restarted now and then without their back-off (an operator deleting
  // the pods), so that what remains at the end is what the software does.
  void Heal() {
    sim::this_actor::SleepUntil(HealAt());
    cluster_->world().EndAllFaults();
    while (Now() + SimDuration::Seconds(120) < RunEnd()) {
      cluster_->RestartWithoutBackOff();
      sim::this_actor::SleepFor(SimDuration::Seconds(120));
    }
  }

  // --- invariants while it runs --------------------------------------------------

  // The members running now, by cluster ID.
  std::map<uint64_t, std::vector<int>> RunningByCluster() {
    std::map<uint64_t, std::vector<int>> running;
    for (int i = 0; i < cluster_->members(); ++i) {
      EtcdServer* server = cluster_->Current(i);
      if (server != nullptr && server->state() == EtcdServer::State::kRunning) {
        running[server->cluster_id()].push_back(i);
      }
    }
    return running;
  }

  // OneClusterId: the members running at any moment all belong to one
  // cluster. A cluster replaced whole (a single member restored from the
  // bucket, a rebuild after quorum loss) is one cluster at a time; two at
  // once is a split.
  void WatchClusterIds() {
    while (true) {
      sim::this_actor::SleepFor(SimDuration::Seconds(1));
      const std::map<uint64_t, std::vector<int>> running = RunningByCluster();
      std::string clusters;
      if (running.size() > 1) {
        for (const auto& [id, ordinals] : running) {
          clusters += fmt::format(" {} runs cluster {};", cluster_->PodName(ordinals.front()), model::FormatId(id));
        }
      }
      simulation_->properties().Always(running.size() <= 1, "OneClusterId", clusters);
    }
  }

  // StatusTruthful: what druid writes to the Etcd status against what runs.
  // AllMembersReady True claims every replica runs etcd in one cluster;
  // Ready True claims a quorum of the replicas does. druid judges each
  // member by its lease, so a member that stopped may count as ready for
  // druid's stated lag (kAllMembersReadyLag, kReadyLag) after its last
  // renewal: a claim is false when, for every cluster, fewer replicas than
  // it needs ran etcd in that cluster within the lag. A scale changes what
  // the claims are about: none is judged until the lag has passed since it.
  void WatchStatus() {
    while (true) {
      sim::this_actor::SleepFor(SimDuration::Seconds(5));
      absl::StatusOr<cluster::Object> etcd = cluster_->api().Get("Etcd", cluster_->options().name);
      if (!etcd.ok() || replicas_ == 0) continue;
      std::string lie;
      auto check = [&](const char* condition, SimDuration lag, size_t needed) {
        if (Now() - scaled_at_ <= lag || cluster::ConditionStatus(etcd->etcd(), condition) != "True") return;
        const size_t ran = RanWithin(lag);
        if (ran >= needed) return;
        lie = fmt::format("{} is True, but in the last {} at most {} of {} replicas ran etcd in one cluster "
                          "({} clusters seen)",
                          condition, lag.ToString(), ran, replicas_, last_running_.size());
      };
      check("AllMembersReady", kAllMembersReadyLag, static_cast<size_t>(replicas_));
      check("Ready", kReadyLag, static_cast<size_t>(replicas_ / 2 + 1));
      simulation_->properties().Always(lie.empty(), "StatusTruthful", lie);
    }
  }
  // The most replicas that ran etcd in one cluster within `lag`.
  size_t RanWithin(SimDuration lag) const {
    size_t most = 0;
    for (const auto& [id, last] : last_running_) {
      size_t ran = 0;
      for (const auto& [ordinal, at] : last) ran += ordinal < replicas_ && Now() - at <= lag;
      most = std::max(most, ran);
    }
    return most;
  }
  // What runs, sampled with the raft checks (every 100 ms): when each
  // replica last ran etcd, per cluster.
  void SampleTruth() {
    for (const auto& [id, ordinals] : RunningByCluster()) {
      for (int ordinal : ordinals) last_running_[id][ordinal] = Now();
    }
  }

  // Membership as the members see it: a learner seen, then seen voting, is
  // a promotion; an ID that was not among the first members was added.
  void WatchMembership() {
    for (int i = 0; i < cluster_->members(); ++i) {
      EtcdServer* server = cluster_->Current(i);
      if (server == nullptr || server->state() != EtcdServer::State::kRunning) continue;
      if (first_members_.empty()) {
        first_cluster_ = server->cluster_id();
        for (const auto& [id, member] : server->cluster().members()) first_members_.insert(id);
        continue;
      }
      if (server->cluster_id() != first_cluster_) continue;
      for (const auto& [id, member] : server->cluster().members()) {
        if (!first_members_.contains(id) && added_.insert(id).second) {
          simulation_->properties().Sometimes(true, "MemberAdded");
        }
        if (member.is_learner) {
          learners_.insert(id);
        } else if (learners_.erase(id) > 0) {
          simulation_->properties().Sometimes(true, "LearnerPromoted");
        }
      }
    }
  }

  // --- invariants at the end ----------------------------------------------------

  // MembersConverge: every replica runs etcd, all in one cluster, each a
  // started voting member of it.
  void CheckConverged() {
    sim::Properties& properties = simulation_->properties();
    std::set<uint64_t> clusters;
    std::string problems;
    for (int i = 0; i < replicas_; ++i) {
      EtcdServer* server = cluster_->Current(i);
      if (server == nullptr || server->state() != EtcdServer::State::kRunning) {
        problems += fmt::format(" {} runs no etcd;", cluster_->PodName(i));
        continue;
      }
      clusters.insert(server->cluster_id());
    }
    if (clusters.size() > 1) problems += fmt::format(" {} cluster IDs;", clusters.size());
    for (int i = 0; i < replicas_ && problems.empty(); ++i) {
      const model::etcd::Cluster& membership = cluster_->Current(i)->cluster();
      if (membership.members().size() != static_cast<size_t>(replicas_)) {
        problems += fmt::format(" {} members listed;", membership.members().size());
      }
      for (const auto& [id, member] : membership.members()) {
        if (member.is_learner) problems += fmt::format(" {} is a learner;", model::FormatId(id));
        if (!member.started()) problems += fmt::format(" {} never started;", model::FormatId(id));
      }
    }
    properties.Always(problems.empty(), "MembersConverge", problems);
  }

  // BackupRestores: every set a restore could use, at every point of the
  // run (each full, and each full with the first n of the deltas after
  // it), restores through the restorer's own delta replay, to the keys the
  // history says were there at its revision.
  void CheckBackups() {
    const sim::ObjectStore& store = cluster_->world().object_store();
    std::vector<std::pair<model::br::Snapshot, std::string>> snapshots;  // sorted as BR lists them
    for (const sim::ObjectInfo& object : store.Contents()) {
      absl::StatusOr<model::br::Snapshot> snapshot = model::br::ParseSnapshot(object.key);
      if (snapshot.ok()) snapshots.emplace_back(*snapshot, object.key);
    }
    std::stable_sort(snapshots.begin(), snapshots.end(),
                     [](const auto& a, const auto& b) { return model::br::ListedBefore(a.first, b.first); });
    auto payload = [&](const std::pair<model::br::Snapshot, std::string>& entry) -> absl::StatusOr<std::string> {
      std::optional<std::string> data = store.Peek(entry.second);
      if (!data.has_value()) return absl::NotFoundError("gone");
      return entry.first.compressed ? model::Gunzip(*data) : absl::StatusOr<std::string>(*data);
    };
    int checked = 0;
    for (size_t f = 0; f < snapshots.size(); ++f) {
      if (snapshots[f].first.kind != model::br::Snapshot::Kind::kFull) continue;
      absl::StatusOr<std::string> full = payload(snapshots[f]);
      if (!full.ok()) {
        Report(snapshots[f].first, fmt::format("cannot be read: {}", std::string(full.status().message())));
        return;
      }
      // Each prefix of the set (the full, then each delta after it) is a
      // point a restore could start from; the deltas are applied once, in
      // order, and each prefix's db is built and opened as a restore would.
      absl::StatusOr<model::br::DeltaApplier> applier = model::br::DeltaApplier::Open(*full);
      size_t applied = 0;
      for (size_t d = f; d < snapshots.size(); ++d) {
        absl::Status status = applier.status();
        if (d > f) {
          if (snapshots[d].first.kind == model::br::Snapshot::Kind::kFull) break;
          absl::StatusOr<std::string> data = payload(snapshots[d]);
          if (!data.ok()) {
            Report(snapshots[d].first, fmt::format("cannot be read: {}", std::string(data.status().message())));
            return;
          }
          ++applied;
          if (status.ok()) status = applier->Apply(snapshots[d].first, *data);
        }
        if (!status.ok()) {
          Report(applied == 0 ? snapshots[f].first : snapshots[d].first,
                 fmt::format("the set {} + {} deltas does not restore: {}", snapshots[f].first.Name(), applied,
                             std::string(status.message())));
          return;
        }
        // The set's last prefix is also written as a db and opened, as a
        // restore would; the others are read from the applied state.
        const bool last = d + 1 == snapshots.size() || snapshots[d + 1].first.kind == model::br::Snapshot::Kind::kFull;
        const model::etcd::KvStore* kv = &applier->kv();
        absl::StatusOr<model::etcd::KvStore> reopened;
        if (last) {
          const std::string image = applier->Image();
          const model::bbolt::ParsedImage parsed =
              model::bbolt::ParseImage(image.substr(0, image.size() - model::kSha256Size), "restored");
          reopened = model::etcd::KvStore::FromBuckets(parsed.buckets);
          if (parsed.failure.has_value() || !reopened.ok()) {
            Report(snapshots[f].first, "the restored db does not open");
            return;
          }
          kv = &*reopened;
        }
        int64_t count = 0;
        absl::StatusOr<std::vector<etcd_dst::etcd::KeyValue>> kvs = kv->Range(kPrefix, kPrefixEnd, 0, 0, &count);
        std::map<std::string, etcd_dst::etcd::KeyValue> state;
        if (kvs.ok()) {
          for (etcd_dst::etcd::KeyValue& entry : *kvs) state[entry.key()] = std::move(entry);
        }
        std::vector<KvOracle::Problem> problems = oracle_.Check(state, kv->revision());
        ++checked;
        if (!problems.empty()) {
          Report(applied == 0 ? snapshots[f].first : snapshots[d].first,
                 fmt::format("restored to revision {} with {} keys wrong, first {} {}", kv->revision(), problems.size(),
                             problems.front().key, problems.front().what));
          return;
        }
      }
    }
    simulation_->properties().Sometimes(checked > 0, "BackupSetRestored");
    simulation_->properties().Always(true, "BackupRestores");
  }
  void Report(const model::br::Snapshot& snapshot, const std::string& what) {
    simulation_->properties().Always(false, "BackupRestores", fmt::format("{}: {}", snapshot.Name(), what));
  }

  // AtMostOneSnapshotter: no two BR processes' snapshot uploads (from the
  // moment one begins taking it to its upload's end) overlap.
  void CheckSnapshotters() {
    const auto& attempts = cluster_->snapshot_attempts();
    sim::Properties& properties = simulation_->properties();
    std::string overlap;
    for (size_t a = 0; a < attempts.size() && overlap.empty(); ++a) {
      for (size_t b = a + 1; b < attempts.size(); ++b) {
        const auto& x = attempts[a];
        const auto& y = attempts[b];
        if (x.process == y.process || x.attempt.ended < y.attempt.began || y.attempt.ended < x.attempt.began) continue;
        overlap = fmt::format("{} (BR of {}) took {} in [{}, {}] while {} (BR of {}) took {} in [{}, {}]",
                              x.process, cluster_->PodName(x.ordinal), x.attempt.snapshot.Name(),
                              x.attempt.began.ToString(), x.attempt.ended.ToString(), y.process,
                              cluster_->PodName(y.ordinal), y.attempt.snapshot.Name(), y.attempt.began.ToString(),
                              y.attempt.ended.ToString());
        break;
      }
    }
    properties.Always(overlap.empty(), "AtMostOneSnapshotter", overlap);
    if (story_ != Story::kChaos && story_ != Story::kRollingUpdate) return;
    std::optional<size_t> last_delta_process;
    for (const auto& record : attempts) {
      if (!record.attempt.status.ok() && absl::IsDeadlineExceeded(record.attempt.status)) {
        properties.Sometimes(true, "AmbiguousSnapshotUpload");
      }
      if (record.attempt.snapshot.kind != model::br::Snapshot::Kind::kDelta) continue;
      if (last_delta_process && *last_delta_process != record.process) {
        properties.Sometimes(true, "SnapshotterMovedBetweenDeltas");
      }
      last_delta_process = record.process;
    }
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
    // `details` says what held at the violation; this says how the run ended.
    std::string why = "At the end: ";
    for (const auto& [id, ordinals] : RunningByCluster()) {
      std::vector<std::string> pods;
      for (int i : ordinals) pods.push_back(cluster_->PodName(i));
      why += fmt::format("cluster {} runs on {}. ", model::FormatId(id), fmt::join(pods, ", "));
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
  int replicas_ = 3;  // spec.replicas now
  SimTime scaled_at_ = SimTime::Zero();
  std::map<uint64_t, std::map<int, SimTime>> last_running_;  // cluster ID -> ordinal -> last seen running
  KvOracle oracle_;
  uint64_t first_cluster_ = 0;
  std::set<uint64_t> first_members_, learners_, added_;
};

}  // namespace

std::unique_ptr<Workload> MakeBootstrapZeroToThree() { return std::make_unique<BackupRestoreWorkload>(Story::kBootstrap); }
std::unique_ptr<Workload> MakeScaleUpOneToThree() { return std::make_unique<BackupRestoreWorkload>(Story::kScaleUp); }
std::unique_ptr<Workload> MakeWakeUpZeroToThree() { return std::make_unique<BackupRestoreWorkload>(Story::kWakeUp); }
std::unique_ptr<Workload> MakeMemberVolumeLost() {
  return std::make_unique<BackupRestoreWorkload>(Story::kMemberVolumeLost);
}
std::unique_ptr<Workload> MakeRestoreAllVolumesLost() {
  return std::make_unique<BackupRestoreWorkload>(Story::kRestore);
}
std::unique_ptr<Workload> MakeRollingUpdate() { return std::make_unique<BackupRestoreWorkload>(Story::kRollingUpdate); }
std::unique_ptr<Workload> MakeDruidClusterChaos() { return std::make_unique<BackupRestoreWorkload>(Story::kChaos); }

}  // namespace workloads
