// single-member-power-loss: etcd #16596's scenario. One member's first start
// (--initial-cluster-state new, default flags), a power loss at a seeded
// moment in its first seconds (half the seeds inside the first 40 ms, where
// bbolt initialises member/snap/db and the WAL is created), disks with
// 4096- or 8192-byte persist units, then a restart. The member runs with
// etcd's default flags (name "default", localhost URLs), like the report. Recovery must succeed and
// every acknowledged write must survive. With --export-disks the crash image
// is written for the real etcd to open.
#include <map>
#include <memory>

#include "fmt/format.h"
#include "model/etcd/client.h"
#include "sim/simulation.h"
#include "sim/trace.h"
#include "sim/world.h"
#include "workloads/etcd_machines.h"
#include "workloads/workload.h"

namespace workloads {
namespace {

using sim::SimDuration;
using sim::SimTime;

class SingleMemberPowerLoss : public Workload {
 public:
  SingleMemberPowerLoss(std::string name, model::bbolt::InitMode init, bool atomic_wal_bootstrap)
      : name_(std::move(name)), init_(init), atomic_wal_bootstrap_(atomic_wal_bootstrap) {}

  std::optional<sim::FaultSurface> Faults() const override {
    sim::FaultSurface surface;
    surface.nodes = {"m0"};
    surface.object_store = false;
    return surface;
  }

  std::optional<sim::FaultPlan> MakePlan(uint64_t seed) const override {
    sim::Rng rng = sim::Rng::Stream(seed, "fault-plan");
    sim::FaultPlan plan;
    plan.set_workload(name_);
    plan.set_seed(seed);
    plan.mutable_link()->set_latency_base_ns(SimDuration::Micros(200).nanos());
    plan.mutable_link()->set_latency_jitter_ns(SimDuration::Micros(300).nanos());
    auto* disk = plan.add_disks();
    disk->set_disk("m0");
    disk->set_persist_unit_bytes(rng.Chance(1, 2) ? 4096 : 8192);
    auto* action = plan.add_actions();
    const SimDuration at = rng.Chance(1, 2) ? rng.DurationIn(SimDuration::Zero(), SimDuration::Millis(40))
                                            : rng.DurationIn(SimDuration::Millis(40), SimDuration::Seconds(3));
    action->set_at_ns(at.nanos());
    action->mutable_power_loss()->set_node("m0");
    action->mutable_power_loss()->set_restart_after_ns(SimDuration::Seconds(1).nanos());
    return plan;
  }

  void Setup(sim::Simulation& simulation, const sim::FaultPlan& plan) override {
    simulation_ = &simulation;
    world_ = std::make_unique<sim::World>(&simulation);
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
    EtcdMachines::Options options;
    options.members = 1;
    options.bbolt_init = init_;
    options.etcd_defaults = true;
    options.atomic_wal_bootstrap = atomic_wal_bootstrap_;
    options.on_start = [this](const std::string& machine) {
      if (world_->boots(machine) < 2) return;
      const bool wal = world_->disk(machine).Exists("var/etcd/data/member/wal");
      simulation_->properties().Sometimes(!wal, "RestartWithoutWal");
      simulation_->properties().Sometimes(wal, "RestartWithWal");
    };
    machines_ = std::make_unique<EtcdMachines>(&simulation, world_.get(), options);
    client_node_ = world_->network().AddNode("client");
    world_->ApplyPlan(plan);
    world_->Start("m0");
    simulation.scheduler().Spawn(simulation.scheduler().CreateGroup("client"), "writer", [this] { Writer(); });
    simulation.scheduler().Spawn(simulation.scheduler().CreateGroup("checker"), "checker", [this] { Check(); });
  }

  sim::World* world() override { return world_.get(); }

  sim::RunLimits Limits() const override {
    return {.until = SimTime::Zero() + SimDuration::Seconds(20), .max_events = 5'000'000};
  }

 private:
  void Writer() {
    model::etcd::Client client(&world_->network(), client_node_, machines_->ClientUrls(),
                               &simulation_->Stream("single-member.client"), SimDuration::Seconds(2));
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
    model::etcd::EtcdServer* server = machines_->Current("m0");
    const bool running = server != nullptr && server->state() == model::etcd::EtcdServer::State::kRunning;
    std::string failure;
    for (const auto& boot : machines_->all()) {
      if (boot->state() == model::etcd::EtcdServer::State::kFailed) failure = boot->failure();
    }
    model::etcd::Client client(&world_->network(), client_node_, machines_->ClientUrls(),
                               &simulation_->Stream("single-member.checker"), SimDuration::Seconds(2));
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
  std::unique_ptr<sim::World> world_;
  std::unique_ptr<EtcdMachines> machines_;
  sim::NodeId client_node_ = 0;
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
