// single-member-power-loss: etcd #16596's scenario. One member's first start
// (--initial-cluster-state new, default flags), a power loss at a seeded
// moment in its first seconds (half the seeds inside the first 40 ms, where
// bbolt initialises member/snap/db and the WAL is created), disks with
// 4096- or 8192-byte persist units, then a restart. The member runs with
// etcd's default flags (name "default", localhost URLs), like the report. Recovery must succeed and
// every acknowledged write must survive. With --export-disks the crash image
// is written for the real etcd to open (volume data-etcd-main-0). The member
// is a one-pod StatefulSet on one node (cluster/etcd_cluster.h) with no
// readiness probe: the report's etcd runs bare.
#include <map>
#include <memory>

#include "fmt/format.h"
#include "model/etcd/client.h"
#include "sim/simulation.h"
#include "sim/trace.h"
#include "sim/world.h"
#include "cluster/etcd_cluster.h"
#include "workloads/workload.h"

namespace workloads {
namespace {

using sim::SimDuration;
using sim::SimTime;

class SingleMemberPowerLoss : public Workload {
 public:
  SingleMemberPowerLoss(std::string name, model::bbolt::InitMode init, bool atomic_wal_bootstrap)
      : name_(std::move(name)), init_(init), atomic_wal_bootstrap_(atomic_wal_bootstrap) {}

  std::optional<sim::FaultSurface> Faults() const override { return cluster::EtcdCluster::Faults(Options()); }

  std::optional<sim::FaultPlan> MakePlan(uint64_t seed) const override {
    sim::Rng rng = sim::Rng::Stream(seed, "fault-plan");
    sim::FaultPlan plan;
    plan.set_workload(name_);
    plan.set_seed(seed);
    plan.mutable_link()->set_latency_base_ns(SimDuration::Micros(200).nanos());
    plan.mutable_link()->set_latency_jitter_ns(SimDuration::Micros(300).nanos());
    auto* disk = plan.add_disks();
    disk->set_disk(kVolume);
    disk->set_persist_unit_bytes(rng.Chance(1, 2) ? 4096 : 8192);
    auto* action = plan.add_actions();
    const SimDuration at = rng.Chance(1, 2) ? rng.DurationIn(SimDuration::Zero(), SimDuration::Millis(40))
                                            : rng.DurationIn(SimDuration::Millis(40), SimDuration::Seconds(3));
    action->set_at_ns(at.nanos());
    action->mutable_power_loss()->set_node(kNode);
    action->mutable_power_loss()->set_restart_after_ns(SimDuration::Seconds(1).nanos());
    return plan;
  }

  void Setup(sim::Simulation& simulation, const sim::FaultPlan& plan) override {
    simulation_ = &simulation;
    sim::Properties& properties = simulation.properties();
    for (const char* name : {"RestartWithoutWal", "RestartWithWal", "WritesAcknowledged"}) {
      properties.DeclareSometimes(name);
    }
    // The failure modes a search must reach where they exist: a torn init
    // where the init is not atomic, a member without voters where the WAL's
    // bootstrap is not.
    if (init_ != model::bbolt::InitMode::kAtomicRename) properties.DeclareSometimes("RestartFailedTornDb");
    if (!atomic_wal_bootstrap_) properties.DeclareSometimes("RestartedButUnavailable");
    properties.DeclareCheck("RecoveryAlwaysSucceeds");
    cluster::EtcdCluster::Options options = Options();
    options.on_start = [this](int member) {
      const std::string pod = cluster_->PodName(member);
      if (cluster_->world().boots(pod) < 2) return;
      const bool wal = cluster_->world().disk(pod).Exists("var/etcd/data/member/wal");
      simulation_->properties().Sometimes(!wal, "RestartWithoutWal");
      simulation_->properties().Sometimes(wal, "RestartWithWal");
    };
    cluster_ = std::make_unique<cluster::EtcdCluster>(&simulation, std::move(options));
    cluster_->Start(plan);
    simulation.scheduler().Spawn(simulation.scheduler().CreateGroup("client"), "writer", [this] { Writer(); });
    simulation.scheduler().Spawn(simulation.scheduler().CreateGroup("checker"), "checker", [this] { Check(); });
  }

  sim::World* world() override { return &cluster_->world(); }

  sim::RunLimits Limits() const override {
    return {.until = SimTime::Zero() + SimDuration::Seconds(20), .max_events = 5'000'000};
  }

 private:
  static constexpr const char* kVolume = "data-etcd-main-0";
  static constexpr const char* kNode = "node-0";

  cluster::EtcdCluster::Options Options() const {
    return {.members = 1,
            .nodes = 1,
            .snapshot_count = 100000,  // etcd's default
            .data_dir = "var/etcd/data",
            .bbolt_init = init_,
            .atomic_wal_bootstrap = atomic_wal_bootstrap_,
            .etcd_defaults = true,
            .readiness = false};
  }

  model::etcd::Client Client(const std::string& stream) {
    return cluster_->Client({"http://" + cluster_->PodName(0) + ":2379"}, SimDuration::Seconds(2),
                            &simulation_->Stream(stream));
  }

  void Writer() {
    model::etcd::Client client = Client("single-member.client");
    for (int i = 0; simulation_->Now() < SimTime::Zero() + SimDuration::Seconds(8); ++i) {
      sim::this_actor::SleepFor(SimDuration::Millis(50));
      const std::string key = fmt::format("key-{:04d}", i);
      const std::string value = fmt::format("value-{}-{}", i, simulation_->Now().nanos());
      if (client.Put(key, value).ok()) {
        acknowledged_[key] = value;
        simulation_->properties().Sometimes(true, "WritesAcknowledged");
      }
    }
  }

  // Recovery means serving again: the process starts AND a linearizable read
  // succeeds (a member that starts with no voters never elects a leader).
  void Check() {
    sim::this_actor::SleepFor(SimDuration::Seconds(12));
    sim::Properties& properties = simulation_->properties();
    model::etcd::EtcdServer* server = cluster_->Current(0);
    const bool running = server != nullptr && server->state() == model::etcd::EtcdServer::State::kRunning;
    std::string failure;
    for (const auto& boot : cluster_->all()) {
      if (boot->state() == model::etcd::EtcdServer::State::kFailed) failure = boot->failure();
    }
    model::etcd::Client client = Client("single-member.checker");
    bool serving = false;
    for (int attempt = 0; running && !serving && attempt < 3; ++attempt) serving = client.Get("probe").ok();
    const char* outcome = serving ? "serving" : running ? "unavailable" : "failed";
    sim::TraceEvent("RecoveryOutcome").Detail("outcome", outcome).Detail("error", failure);
    if (init_ != model::bbolt::InitMode::kAtomicRename) {
      properties.Sometimes(!running && !failure.empty(), "RestartFailedTornDb");
    }
    if (!atomic_wal_bootstrap_) properties.Sometimes(running && !serving, "RestartedButUnavailable");
    properties.Always(serving, "RecoveryAlwaysSucceeds",
                      running ? std::string("etcd started but never became available (no leader)")
                              : fmt::format("etcd cannot start after the power loss: {}", failure));
    if (!serving) return;
    size_t lost = 0;
    std::string example;
    for (const auto& [key, value] : acknowledged_) {
      absl::StatusOr<etcd_dst::etcd::RangeResponse> got = client.Get(key, true);
      if (got.ok() && got->kvs_size() == 1 && got->kvs(0).value() == value) continue;
      ++lost;
      if (example.empty()) example = key;
    }
    properties.Always(lost == 0, "AcknowledgedWritesSurvive",
                      fmt::format("{} of {} acknowledged writes lost, e.g. {}", lost, acknowledged_.size(), example));
  }

  std::string name_;
  model::bbolt::InitMode init_;
  bool atomic_wal_bootstrap_;
  sim::Simulation* simulation_ = nullptr;
  std::unique_ptr<cluster::EtcdCluster> cluster_;
  std::map<std::string, std::string> acknowledged_;
};

}  // namespace

std::unique_ptr<Workload> MakeSingleMemberPowerLoss() {
  return std::make_unique<SingleMemberPowerLoss>("single-member-power-loss", model::bbolt::InitMode::kSingleWrite, false);
}
std::unique_ptr<Workload> MakeSingleMemberPowerLossSeparateSyncs() {
  return std::make_unique<SingleMemberPowerLoss>("single-member-power-loss-pr570",
                                                 model::bbolt::InitMode::kSeparateSyncs, false);
}
std::unique_ptr<Workload> MakeSingleMemberPowerLossAtomicInit() {
  return std::make_unique<SingleMemberPowerLoss>("single-member-power-loss-atomic-init",
                                                 model::bbolt::InitMode::kAtomicRename, false);
}
std::unique_ptr<Workload> MakeSingleMemberPowerLossAtomicBootstrap() {
  return std::make_unique<SingleMemberPowerLoss>("single-member-power-loss-atomic-bootstrap",
                                                 model::bbolt::InitMode::kAtomicRename, true);
}

}  // namespace workloads
