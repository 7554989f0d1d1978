#include "cluster/cluster.h"

#include <algorithm>

#include "fmt/format.h"
#include "sim/check.h"
#include "sim/trace.h"

namespace cluster {

Cluster::Cluster(sim::Simulation* simulation, sim::World* world, std::vector<std::string> nodes)
    : simulation_(simulation), world_(world), nodes_(std::move(nodes)), names_(&world->network()) {
  SIM_CHECK(!nodes_.empty(), "a cluster needs nodes");
  for (const std::string& node : nodes_) world_->AddHost(node);
  world_->set_resolver(this);
  world_->set_action_handler([this](const etcd_dst::faults::Action& action) { return Perform(action); });
}

Cluster::~Cluster() {
  world_->set_resolver(nullptr);
  world_->set_action_handler(nullptr);
}

bool Cluster::Perform(const etcd_dst::faults::Action& action) {
  if (action.has_container_kill()) {
    const auto& kill = action.container_kill();
    if (Created(kill.pod())) pods_.at(kill.pod()).kubelet->KillContainer(kill.container());
    return true;  // a pod not created yet has nothing to kill
  }
  if (action.has_api_server_outage()) {
    SIM_CHECK(api_ != nullptr, "an API-server outage in a cluster without an API server");
    api_->set_available(false);
    simulation_->scheduler().ScheduleAfter(sim::SimDuration::Nanos(action.api_server_outage().duration_ns()),
                                           [this] { api_->set_available(true); });
    return true;
  }
  if (action.has_node_drain()) {
    Drain(action.node_drain().host(), sim::SimDuration::Nanos(action.node_drain().duration_ns()));
    return true;
  }
  if (action.has_endpoint_lag()) {
    endpoint_lag_ = sim::SimDuration::Nanos(action.endpoint_lag().lag_ns());
    sim::TraceEvent("EndpointLag").Detail("lag", endpoint_lag_);
    simulation_->scheduler().ScheduleAfter(sim::SimDuration::Nanos(action.endpoint_lag().duration_ns()),
                                           [this] { endpoint_lag_ = kEndpointLag; });
    return true;
  }
  if (action.has_pod_delete()) {
    DeletePod(action.pod_delete().pod());
    return true;
  }
  return false;  // the world does the rest
}

void Cluster::DeletePod(const std::string& pod) {
  if (!Created(pod)) return;  // not created yet, or scaled away
  // SIGTERM first; the controller's new pod starts with a fresh status
  // and the same volume, from the current template.
  Pod& entry = pods_.at(pod);
  entry.kubelet->Terminate();
  entry.kubelet->ResetForNewPod();
  entry.revision = statefulsets_.at(entry.statefulset).update_revision;
  world_->DeletePod(pod);
}

void Cluster::SetTemplateRevision(const std::string& statefulset, std::string revision) {
  StatefulSet& set = statefulsets_.at(statefulset);
  if (set.update_revision == revision) return;
  sim::TraceEvent("StatefulSetTemplateChanged").Detail("name", statefulset).Detail("revision", revision);
  set.update_revision = std::move(revision);
  simulation_->scheduler().ScheduleAfter(sim::SimDuration::Zero(), [this, statefulset] { RollingUpdate(statefulset); });
}

void Cluster::RollingUpdate(const std::string& statefulset) {
  StatefulSet& set = statefulsets_.at(statefulset);
  for (int ordinal = set.spec.replicas - 1; ordinal >= 0; --ordinal) {
    const std::string pod = PodName(set.spec.name, ordinal);
    if (!Created(pod)) return;  // the controller creates it first
    if (pods_.at(pod).revision != set.update_revision) {
      sim::TraceEvent("RollingUpdatePod").Detail("pod", pod).Detail("revision", set.update_revision);
      DeletePod(pod);
      return;
    }
    if (!Ready(pod)) return;  // wait for unhealthy pods
  }
}

void Cluster::CreateStatefulSet(StatefulSetSpec spec) {
  SIM_CHECK(!statefulsets_.contains(spec.name), "StatefulSet {} created twice", spec.name);
  StatefulSet& set = statefulsets_[spec.name];
  set.spec = std::move(spec);
  sim::TraceEvent("StatefulSetCreated")
      .Detail("name", set.spec.name)
      .Detail("replicas", set.spec.replicas)
      .Detail("policy", set.spec.policy == PodManagementPolicy::kParallel ? "Parallel" : "OrderedReady");
  const int first_batch = set.spec.policy == PodManagementPolicy::kParallel ? set.spec.replicas : 1;
  for (int ordinal = 0; ordinal < std::min(first_batch, set.spec.replicas); ++ordinal) CreatePod(set, ordinal);
}

std::string Cluster::PodName(const std::string& statefulset, int ordinal) {
  return fmt::format("{}-{}", statefulset, ordinal);
}

std::string Cluster::NodeFor(int ordinal) const {
  for (size_t offset = 0; offset < nodes_.size(); ++offset) {
    const std::string& node = nodes_[(static_cast<size_t>(ordinal) + offset) % nodes_.size()];
    if (!cordoned_.contains(node)) return node;
  }
  return nodes_[static_cast<size_t>(ordinal) % nodes_.size()];  // all cordoned: it stays where it is meant to be
}

void Cluster::Drain(const std::string& node, sim::SimDuration duration) {
  cordoned_.insert(node);
  sim::TraceEvent("NodeDrained").Detail("node", node).Detail("duration", duration);
  for (auto& [name, pod] : pods_) {
    if (pod.scaled_away || world_->host_of(name) != node) continue;
    // Evicted: the pod dies and its controller's new pod is scheduled on
    // another node, where its volume follows it.
    pod.kubelet->ResetForNewPod();
    world_->Crash(name);
    world_->MovePod(name, NodeFor(pod.ordinal));
    world_->Restart(name);
    Publish(name);
  }
  if (duration > sim::SimDuration::Zero()) {
    simulation_->scheduler().ScheduleAfter(duration, [this, node] {
      cordoned_.erase(node);
      sim::TraceEvent("NodeUncordoned").Detail("node", node);
    });
  }
}

void Cluster::Scale(const std::string& statefulset, int replicas) {
  StatefulSet& set = statefulsets_.at(statefulset);
  SIM_CHECK(replicas >= 0, "StatefulSet {} scaled to {}", statefulset, replicas);
  sim::TraceEvent("StatefulSetScaled").Detail("name", statefulset).Detail("from", set.spec.replicas).Detail("to", replicas);
  const int before = set.spec.replicas;
  set.spec.replicas = replicas;
  // Down: the highest ordinals go first (both policies; OrderedReady waits
  // for each to terminate, which a crash does at once).
  for (int ordinal = before - 1; ordinal >= replicas; --ordinal) {
    const std::string pod = PodName(set.spec.name, ordinal);
    auto it = pods_.find(pod);
    if (it == pods_.end() || it->second.scaled_away) continue;
    it->second.scaled_away = true;
    it->second.kubelet->ResetForNewPod();
    world_->Retire(pod);
    set.endpoints.erase(pod);
    sim::TraceEvent("PodDeleted").Detail("pod", pod).Detail("reason", "scale-down");
    Publish(pod);
  }
  // Up: Parallel creates every missing ordinal now; OrderedReady the first
  // missing one, and each next once the one before is Ready.
  for (int ordinal = 0; ordinal < replicas; ++ordinal) {
    const std::string pod = PodName(set.spec.name, ordinal);
    auto it = pods_.find(pod);
    if (it != pods_.end() && !it->second.scaled_away) continue;
    if (set.spec.policy == PodManagementPolicy::kOrderedReady && ordinal > 0 &&
        !Ready(PodName(set.spec.name, ordinal - 1))) {
      break;
    }
    if (it != pods_.end()) {
      it->second.scaled_away = false;  // the same pod name and volume, a new pod
      it->second.revision = set.update_revision;
      world_->Restart(pod);
      sim::TraceEvent("PodCreated").Detail("pod", pod).Detail("node", world_->host_of(pod));
      Publish(pod);
    } else {
      CreatePod(set, ordinal);
    }
    if (set.spec.policy == PodManagementPolicy::kOrderedReady) break;
  }
}

void Cluster::CreatePod(StatefulSet& set, int ordinal) {
  const std::string pod = PodName(set.spec.name, ordinal);
  const std::string volume = "data-" + pod;  // the PVC of the ordinal, kept for the pod's next lives
  Pod& entry = pods_[pod];
  entry.statefulset = set.spec.name;
  entry.ordinal = ordinal;
  entry.revision = set.update_revision;
  entry.kubelet = std::make_unique<Kubelet>(&simulation_->scheduler(), pod, set.spec.containers(ordinal));
  entry.kubelet->set_on_ready_change([this, pod](bool ready) { OnReadyChange(pod, ready); });
  world_->AddVolume(volume, set.spec.volume);
  Kubelet* kubelet = entry.kubelet.get();
  world_->AddPod(pod, NodeFor(ordinal), volume, [kubelet](sim::Group* group, int boot) { kubelet->Boot(group, boot); });
  sim::TraceEvent("PodCreated").Detail("pod", pod).Detail("node", NodeFor(ordinal));
  world_->Start(pod);  // Pending for its planned scheduling delay, if any
  Publish(pod);
}

void Cluster::Publish(const std::string& pod) {
  if (api_ == nullptr || !api_->available()) return;
  const Pod& entry = pods_.at(pod);
  Object object;
  object.set_kind("Pod");
  object.mutable_meta()->set_name(pod);
  etcd_dst::kube::Pod* status = object.mutable_pod();
  status->set_phase(Bound(pod) ? "Running" : "Pending");
  status->set_node_name(Bound(pod) ? world_->host_of(pod) : "");
  status->set_ready(Ready(pod));
  status->set_containers_ready(Ready(pod));
  if (!api_->Update(object).ok()) (void)api_->Create(object);
  // The StatefulSet's status, if its object exists.
  absl::StatusOr<Object> set = api_->Get("StatefulSet", entry.statefulset);
  if (!set.ok()) return;
  // computeReplicaStatus: a pod counts once it exists (any phase), as
  // updated when it was made from the update revision's template.
  const StatefulSet& owner = statefulsets_.at(entry.statefulset);
  int created = 0, ready = 0, updated = 0;
  for (const auto& [name, other] : pods_) {
    if (other.statefulset != entry.statefulset || other.scaled_away) continue;
    ++created;
    ready += Ready(name);
    updated += other.revision == owner.update_revision;
  }
  const std::string revision = fmt::format("{}-{}", entry.statefulset,
                                           owner.update_revision.empty() ? "1" : owner.update_revision);
  etcd_dst::kube::StatefulSet* spec = set->mutable_statefulset();
  spec->set_status_replicas(created);
  spec->set_ready_replicas(ready);
  spec->set_updated_replicas(updated);
  spec->set_current_revision(created == updated ? revision : entry.statefulset + "-previous");
  spec->set_update_revision(revision);
  set->mutable_meta()->set_resource_version(0);  // the controller owns the status
  (void)api_->Update(*std::move(set));
}

void Cluster::OnReadyChange(const std::string& pod, bool ready) {
  Publish(pod);
  Pod& entry = pods_.at(pod);
  StatefulSet& set = statefulsets_.at(entry.statefulset);
  if (ready && std::any_of(pods_.begin(), pods_.end(), [&](const auto& other) {
        return other.second.statefulset == set.spec.name && !other.second.scaled_away &&
               other.second.revision != set.update_revision;
      })) {
    simulation_->scheduler().ScheduleAfter(sim::SimDuration::Zero(),
                                           [this, name = set.spec.name] { RollingUpdate(name); });
  }
  const int next = entry.ordinal + 1;
  if (ready && set.spec.policy == PodManagementPolicy::kOrderedReady && next < set.spec.replicas &&
      !entry.scaled_away) {
    auto it = pods_.find(PodName(set.spec.name, next));
    if (it == pods_.end()) {
      CreatePod(set, next);
    } else if (it->second.scaled_away) {
      Scale(set.spec.name, set.spec.replicas);  // brings back the next kept ordinal
    }
  }
  // The endpoints controller catches up after a lag, with what is true then.
  simulation_->scheduler().ScheduleAfter(endpoint_lag_, [this, pod] {
    StatefulSet& lagging = statefulsets_.at(pods_.at(pod).statefulset);
    const bool now_ready = Ready(pod);
    const bool changed = now_ready ? lagging.endpoints.insert(pod).second : lagging.endpoints.erase(pod) > 0;
    if (changed) {
      sim::TraceEvent("EndpointsUpdated")
          .Detail("service", lagging.spec.client_service)
          .Detail("pod", pod)
          .Detail("ready", now_ready);
    }
  });
}

std::vector<std::string> Cluster::Pods(const std::string& statefulset) const {
  std::vector<std::string> pods;
  for (const auto& [name, pod] : pods_) {
    if (pod.statefulset == statefulset && !pod.scaled_away) pods.push_back(name);
  }
  return pods;
}

bool Cluster::Bound(const std::string& pod) const {
  auto it = pods_.find(pod);
  return it != pods_.end() && !it->second.scaled_away && world_->boots(pod) > 0;
}

bool Cluster::Created(const std::string& pod) const {
  auto it = pods_.find(pod);
  return it != pods_.end() && !it->second.scaled_away;
}

bool Cluster::Ready(const std::string& pod) const {
  auto it = pods_.find(pod);
  return it != pods_.end() && !it->second.scaled_away && world_->running(pod) && it->second.kubelet->Ready();
}

std::vector<std::string> Cluster::Endpoints(const std::string& client_service) const {
  for (const auto& [name, set] : statefulsets_) {
    if (set.spec.client_service == client_service) return {set.endpoints.begin(), set.endpoints.end()};
  }
  return {};
}

absl::StatusOr<sim::NodeId> Cluster::Resolve(std::string_view host, sim::NodeId self) const {
  if (host == "localhost" || host == "127.0.0.1") return self;
  const std::string name(host);
  const std::string pod = name.substr(0, name.find('.'));
  if (auto it = pods_.find(pod); it != pods_.end()) {
    const std::string domain = name.size() > pod.size() ? name.substr(pod.size() + 1) : "";
    const std::string& peer = statefulsets_.at(it->second.statefulset).spec.peer_service;
    if (domain.empty() || domain == peer || domain.rfind(peer + ".", 0) == 0) {
      if (!Bound(pod)) return absl::NotFoundError(fmt::format("lookup {}: no such host", host));
      return world_->node(pod);
    }
  }
  for (const auto& [set_name, set] : statefulsets_) {
    // druid's host alias in every pod: <etcd>-local is 127.0.0.1.
    if (name == set_name + "-local") return self;
    const std::string& service = set.spec.client_service;
    if (name != service && name.rfind(service + ".", 0) != 0) continue;
    if (set.endpoints.empty()) {
      return absl::UnavailableError(fmt::format("connection refused (service {} has no ready endpoints)", service));
    }
    return world_->node(*set.endpoints.begin());
  }
  return names_.Resolve(host, self);
}

}  // namespace cluster
