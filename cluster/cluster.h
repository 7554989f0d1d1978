// The Kubernetes layer over the simulated world (sim/world.h): nodes (world
// hosts), StatefulSets whose pods are world pods with a kubelet each and a
// PersistentVolumeClaim per ordinal (a world volume, kept across pod
// restarts), the scheduler (a pod waits Pending for its planned delay before
// it is bound: the world's delayed start), and services: the headless peer
// service resolves a pod's DNS name once the pod is bound, Ready or not
// (publishNotReadyAddresses); the client service routes to Ready pods only,
// with endpoint updates that lag. The cluster is the world's resolver.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster/api_server.h"
#include "cluster/kubelet.h"
#include "sim/resolver.h"
#include "sim/simulation.h"
#include "sim/world.h"

namespace cluster {

enum class PodManagementPolicy { kParallel, kOrderedReady };

struct StatefulSetSpec {
  std::string name;  // pods are <name>-<ordinal>, volumes data-<name>-<ordinal>
  int replicas = 3;
  PodManagementPolicy policy = PodManagementPolicy::kParallel;
  std::string peer_service;    // headless: <pod>.<peer_service> resolves
  std::string client_service;  // routes to Ready pods
  sim::DiskOptions volume;
  // The containers of the pod with this ordinal.
  std::function<std::vector<ContainerSpec>(int ordinal)> containers;
};

class Cluster : public sim::Resolver {
 public:
  // How long the client service's endpoints lag a pod's readiness (a plan's
  // endpoint_lag changes it for a while).
  static constexpr sim::SimDuration kEndpointLag = sim::SimDuration::Seconds(1);

  // Adds `nodes` as world hosts and becomes the world's resolver.
  Cluster(sim::Simulation* simulation, sim::World* world, std::vector<std::string> nodes);
  ~Cluster() override;

  // Creates the StatefulSet; its controller creates the pods as the policy
  // says (Parallel: all at once; OrderedReady: each once the one before is
  // Ready). Call before the run or from an actor.
  void CreateStatefulSet(StatefulSetSpec spec);

  // Scales the StatefulSet: up creates the missing ordinals as the policy
  // says (their volumes are the ones kept from before, if any); down deletes
  // the highest ordinals' pods and keeps their volumes, as Kubernetes does.
  void Scale(const std::string& statefulset, int replicas);

  // A new pod template (druid's pod annotation `checksum/etcd-configmap`
  // changes with the configmap): pods created from now on carry `revision`,
  // and the RollingUpdate strategy replaces the others one at a time, the
  // highest ordinal first, each once every pod above it is Ready (the
  // StatefulSet controller's rolling update). Call before Scale.
  void SetTemplateRevision(const std::string& statefulset, std::string revision);

  // A pod deleted (SIGTERM to its containers) and created again by its
  // controller with a fresh status and the same volume; nothing if the pod
  // does not exist.
  void DeletePod(const std::string& pod);
  // The pods that exist (created and not scaled away), in name order.
  std::vector<std::string> Pods(const std::string& statefulset) const;
  Kubelet& kubelet(const std::string& pod) { return *pods_.at(pod).kubelet; }
  // Created by the controller (it may still be Pending) and not scaled away.
  bool Created(const std::string& pod) const;
  // Bound to a node and booted at least once: it has an IP and a DNS name.
  bool Bound(const std::string& pod) const;
  bool Ready(const std::string& pod) const;
  // The pods the client service routes to now.
  std::vector<std::string> Endpoints(const std::string& client_service) const;

  // The API server whose outages the fault plan may ask for, and where the
  // cluster publishes what its controllers and kubelets know: each Pod's
  // phase, node and readiness, and each StatefulSet's status (an object of
  // the StatefulSet's name, if one exists there, e.g. created by druid).
  void set_api_server(ApiServer* api) { api_ = api; }

  // sim::Resolver: localhost, <pod>.<peer-service>, <pod>, <client-service>
  // (one of its endpoints, the first in ordinal order), and world names.
  absl::StatusOr<sim::NodeId> Resolve(std::string_view host, sim::NodeId self) const override;

 private:
  struct Pod {
    std::string statefulset;
    int ordinal = 0;
    bool scaled_away = false;  // deleted by a scale-down; its volume is kept
    std::string revision;      // of the template it was created from
    std::unique_ptr<Kubelet> kubelet;
  };
  struct StatefulSet {
    StatefulSetSpec spec;
    std::set<std::string> endpoints;  // the client service's view, lagging
    std::string update_revision;
  };
  static std::string PodName(const std::string& statefulset, int ordinal);
  void CreatePod(StatefulSet& set, int ordinal);
  // The plan's actions about what the cluster models (World::ActionHandler).
  bool Perform(const etcd_dst::faults::Action& action);
  void OnReadyChange(const std::string& pod, bool ready);
  // One step of the rolling update (a scheduler callback, outside actors).
  void RollingUpdate(const std::string& statefulset);
  // Writes the pod's and its StatefulSet's status to the API server (if any
  // and available; a later change writes again).
  void Publish(const std::string& pod);
  // The node a pod is scheduled on: its ordinal's, or the next one that is
  // not cordoned.
  std::string NodeFor(int ordinal) const;
  void Drain(const std::string& node, sim::SimDuration duration);

  sim::Simulation* simulation_;
  sim::World* world_;
  ApiServer* api_ = nullptr;
  std::vector<std::string> nodes_;
  std::set<std::string> cordoned_;
  sim::SimDuration endpoint_lag_ = kEndpointLag;
  sim::NetworkResolver names_;
  std::map<std::string, StatefulSet> statefulsets_;
  std::map<std::string, Pod> pods_;
};

}  // namespace cluster
