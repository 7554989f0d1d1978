// etcd-cluster-chaos: three etcd members bootstrap a cluster and serve client
// writes and reads under the seed's fault plan: partitions, clogged links,
// packet loss, process crashes, power losses with torn writes, disk faults,
// delayed starts, and Kubernetes' own: container kills, pod deletes, node
// drains, API-server outages and endpoint lag. The members run as druid
// runs them (cluster/etcd_cluster.h): a StatefulSet etcd-main of three
// pods on three nodes, a volume each. Checked while it runs: raft safety (at most one leader per
// term; an entry once committed is never changed) and linearizable reads of
// acknowledged writes. Then a liveness phase, as TigerBeetle's VOPR has one:
// at the end of the fault horizon every fault ends and every stopped process
// starts again, and a quorum of the members that are not provably
// unbootable (a start refused after a power loss tore their files) must
// serve linearizable reads and hold every acknowledged write.
#include <map>
#include <memory>

#include "fmt/format.h"
#include "fmt/ranges.h"
#include "sim/trace.h"
#include "model/etcd/client.h"
#include "sim/simulation.h"
#include "sim/world.h"
#include "cluster/etcd_cluster.h"
#include "workloads/raft_safety.h"
#include "workloads/workload.h"

namespace workloads {
namespace {

using model::etcd::EtcdServer;
using sim::SimDuration;
using sim::SimTime;

constexpr int kWriters = 2;
constexpr size_t kQuorum = 2;  // of three members
// Planned faults start before 40 s and last at most 10 s.
const SimTime kFaultsEnd = SimTime::Zero() + SimDuration::Seconds(50);
const SimTime kTrafficEnds = SimTime::Zero() + SimDuration::Seconds(60);
// How long recovery may take after the faults end.
const SimTime kServeDeadline = SimTime::Zero() + SimDuration::Seconds(80);
const SimTime kRunEnd = SimTime::Zero() + SimDuration::Seconds(85);

class EtcdClusterChaos : public Workload {
 public:
  std::optional<sim::FaultSurface> Faults() const override {
    sim::FaultSurface surface = Surface();
    surface.horizon = SimDuration::Seconds(40);
    surface.max_actions = 12;
    surface.object_store = false;
    surface.max_start_delay = SimDuration::Seconds(5);
    surface.max_outage = SimDuration::Seconds(10);
    return surface;
  }

  void Setup(sim::Simulation& simulation, const sim::FaultPlan& plan) override {
    simulation_ = &simulation;
    sim::Properties& properties = simulation.properties();
    for (const char* name : {"WriteAcknowledged", "WriteFailed", "LeaderChanged", "ReadVerified", "SnapshotTaken",
                             "DataLostAfterFailedFsync", "MemberUnbootableAfterPowerLoss"}) {
      properties.DeclareSometimes(name);
    }
    properties.DeclareCheck("ClusterServesAfterFaults");
    cluster_ = std::make_unique<cluster::EtcdCluster>(&simulation, Options());
    raft_safety_ = std::make_unique<RaftSafety>(cluster_.get(), &properties);
    cluster_->Start(plan);
    sim::Group* clients = simulation.scheduler().CreateGroup("clients");
    for (int w = 0; w < kWriters; ++w) {
      simulation.scheduler().Spawn(clients, fmt::format("writer-{}", w), [this, w] { Writer(w); });
    }
    simulation.scheduler().Spawn(clients, "reader", [this] { Reader(); });
    sim::Group* checker = simulation.scheduler().CreateGroup("checker");
    simulation.scheduler().Spawn(checker, "raft-checker", [this] { Checker(); });
    simulation.scheduler().Spawn(checker, "liveness", [this] { Liveness(); });
  }

  sim::World* world() override { return &cluster_->world(); }

  sim::RunLimits Limits() const override {
    return {.until = kRunEnd, .max_events = 20'000'000};
  }

 private:
  static cluster::EtcdCluster::Options Options() { return {.members = 3, .nodes = 3, .snapshot_count = 300}; }
  // What plans may touch: the cluster's pods, nodes, volumes, its etcd
  // container and its control plane.
  static sim::FaultSurface Surface() { return cluster::EtcdCluster::Faults(Options()); }

  model::etcd::Client MakeClient(const std::string& stream) {
    std::vector<std::string> endpoints = cluster_->ClientUrls();
    simulation_->Stream(stream).Shuffle(endpoints);
    return cluster_->Client(endpoints, SimDuration::Seconds(2), &simulation_->Stream(stream));
  }

  void Writer(int writer) {
    model::etcd::Client client = MakeClient(fmt::format("chaos.writer-{}", writer));
    sim::Rng& rng = simulation_->Stream(fmt::format("chaos.writer-{}.pace", writer));
    for (int i = 0; simulation_->Now() < kTrafficEnds; ++i) {
      sim::this_actor::SleepFor(rng.DurationIn(SimDuration::Millis(20), SimDuration::Millis(200)));
      const std::string key = fmt::format("w{}-{:05d}", writer, i);
      const std::string value = fmt::format("{}@{}", key, simulation_->Now().nanos());
      absl::StatusOr<etcd_dst::etcd::PutResponse> put = client.Put(key, value);
      simulation_->properties().Sometimes(put.ok(), "WriteAcknowledged");
      simulation_->properties().Sometimes(!put.ok(), "WriteFailed");
      if (put.ok()) acknowledged_[key] = value;
    }
  }

  void Reader() {
    model::etcd::Client client = MakeClient("chaos.reader");
    sim::Rng& rng = simulation_->Stream("chaos.reader.pace");
    while (simulation_->Now() < kTrafficEnds) {
      sim::this_actor::SleepFor(rng.DurationIn(SimDuration::Millis(100), SimDuration::Millis(400)));
      if (acknowledged_.empty()) continue;
      auto it = acknowledged_.begin();
      std::advance(it, static_cast<std::ptrdiff_t>(rng.UniformBelow(acknowledged_.size())));
      const std::string key = it->first, value = it->second;
      absl::StatusOr<etcd_dst::etcd::RangeResponse> got = client.Get(key);
      if (!got.ok()) continue;
      const bool found = got->kvs_size() == 1 && got->kvs(0).value() == value;
      simulation_->properties().Sometimes(found, "ReadVerified");
      simulation_->properties().Always(found, "LinearizableReadSeesAcknowledgedWrite",
                                       fmt::format("{} read {} values", key, got->kvs_size()));
    }
  }

  void Checker() {
    while (simulation_->Now() + SimDuration::Millis(100) < kRunEnd) {
      sim::this_actor::SleepFor(SimDuration::Millis(100));
      raft_safety_->Check();
    }
  }

  // A member is excused from serving only if etcd refuses to start on what a
  // power loss left on its disk, with every fault over.
  std::map<int, std::string> Unbootable() {
    std::map<int, std::string> excused;
    for (int member = 0; member < cluster_->members(); ++member) {
      const std::string failure = cluster_->LastStartFailure(member);
      if (!failure.empty() && Volume(member).power_losses() > 0) excused[member] = failure;
    }
    return excused;
  }

  sim::Disk& Volume(int member) { return cluster_->world().volume(cluster_->VolumeName(member)); }

  // The members (not excused) that answer a linearizable read themselves.
  std::vector<int> Serving(const std::map<int, std::string>& excused) {
    std::vector<int> serving;
    for (int member = 0; member < cluster_->members(); ++member) {
      if (excused.contains(member)) continue;
      model::etcd::Client client =
          cluster_->Client({cluster_->ClientUrl(member)}, SimDuration::Seconds(2), &simulation_->Stream("chaos.liveness"));
      absl::StatusOr<etcd_dst::etcd::RangeResponse> probe = client.Get("liveness-probe");
      sim::TraceEvent event("LivenessProbe");
      event.Detail("member", cluster_->PodName(member)).Detail("status", probe.status().ToString());
      const EtcdServer* server = cluster_->Current(member);
      if (server != nullptr && server->raft() != nullptr) {
        const model::raft::Raft& raft = *server->raft();
        event.Detail("role", static_cast<int>(raft.role()))
            .Detail("term", raft.term())
            .Detail("lead", model::FormatId(raft.lead()))
            .Detail("commit", raft.commit())
            .Detail("applied", raft.applied())
            .Detail("last_index", raft.last_index());
      }
      if (probe.ok()) serving.push_back(member);
    }
    return serving;
  }

  void Liveness() {
    sim::this_actor::SleepFor(kFaultsEnd - simulation_->Now());
    cluster_->world().EndAllFaults();
    cluster_->RestartWithoutBackOff();
    sim::this_actor::SleepFor(kTrafficEnds - simulation_->Now());
    sim::Properties& properties = simulation_->properties();
    const size_t members = static_cast<size_t>(cluster_->members());
    std::map<int, std::string> excused;
    std::vector<int> serving;
    while (true) {
      cluster_->RestartWithoutBackOff();
      excused = Unbootable();
      if (members - excused.size() < kQuorum) break;
      serving = Serving(excused);
      if (serving.size() >= kQuorum || simulation_->Now() >= kServeDeadline) break;
      sim::this_actor::SleepFor(SimDuration::Seconds(1));
    }
    for (const auto& [member, failure] : excused) {
      sim::TraceEvent("MemberUnbootable").Detail("member", cluster_->PodName(member)).Detail("error", failure);
    }
    properties.Sometimes(!excused.empty(), "MemberUnbootableAfterPowerLoss");
    uint64_t lost_after_failed_sync = 0;
    for (int member = 0; member < cluster_->members(); ++member) {
      lost_after_failed_sync += Volume(member).bytes_lost_after_failed_sync();
    }
    properties.Sometimes(lost_after_failed_sync > 0, "DataLostAfterFailedFsync");
    const bool quorum_unbootable = members - excused.size() < kQuorum;
    std::vector<std::string> serving_names;
    for (int member : serving) serving_names.push_back(cluster_->PodName(member));
    const bool serves = quorum_unbootable || serving.size() >= kQuorum;
    properties.Always(serves, "ClusterServesAfterFaults",
                      fmt::format("{} of the members serve {}s after the faults ended (serving: {}; unbootable: {})",
                                  serving.size(), (simulation_->Now() - kFaultsEnd).nanos() / 1'000'000'000,
                                  fmt::join(serving_names, ","), excused.size()));
    if (serving.empty()) return;
    CheckAcknowledgedWrites(serving.front());
  }

  void CheckAcknowledgedWrites(int member) {
    model::etcd::Client client =
        cluster_->Client({cluster_->ClientUrl(member)}, SimDuration::Seconds(2), &simulation_->Stream("chaos.final"));
    size_t lost = 0, unread = 0;
    std::string example;
    for (const auto& [key, value] : acknowledged_) {
      absl::StatusOr<etcd_dst::etcd::RangeResponse> got;
      for (int attempt = 0; attempt < 3 && !got.ok(); ++attempt) got = client.Get(key);
      if (!got.ok()) {
        ++unread;
        continue;
      }
      if (got->kvs_size() == 1 && got->kvs(0).value() == value) continue;
      ++lost;
      if (example.empty()) example = key;
    }
    simulation_->properties().Always(lost == 0 && unread == 0, "AcknowledgedWritesSurvive",
                                     fmt::format("{} of {} acknowledged writes lost (e.g. {}), {} unreadable via {}",
                                                 lost, acknowledged_.size(), example, unread,
                                                 cluster_->PodName(member)));
  }

  sim::Simulation* simulation_ = nullptr;
  std::unique_ptr<cluster::EtcdCluster> cluster_;
  std::map<std::string, std::string> acknowledged_;
  std::unique_ptr<RaftSafety> raft_safety_;
};

}  // namespace

std::unique_ptr<Workload> MakeEtcdClusterChaos() { return std::make_unique<EtcdClusterChaos>(); }

}  // namespace workloads
