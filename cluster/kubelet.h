// The kubelet of one pod: starts the pod's containers each time the pod
// boots, restarts a container that exits with Kubernetes' back-off (10 s,
// doubling to 5 min; reset once a container ran 10 min), never gives up,
// records each container's last termination (the etcd-wrapper reads it),
// and runs readiness probes (initial delay, period, failure threshold). Its
// state is the pod's status, so it outlives the pod's boots (as the API
// server keeps a pod's status across kubelet restarts).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/scheduler.h"
#include "sim/time.h"

namespace cluster {

struct ReadinessProbe {
  // Blocking (runs in an actor of the container); true if ready.
  std::function<bool()> check;
  sim::SimDuration initial_delay = sim::SimDuration::Seconds(15);
  sim::SimDuration period = sim::SimDuration::Seconds(5);
  int failure_threshold = 5;
};

struct ContainerSpec {
  std::string name;
  // The container's process: runs as an actor in the container's group (the
  // argument), may spawn more actors there, and returns the exit code. When
  // it returns, the rest of the group dies with it.
  std::function<int(sim::Group* container)> main;
  // Without a probe a running container is ready.
  std::optional<ReadinessProbe> readiness;
  // The process's SIGTERM handler, run when the pod is deleted (Kubernetes
  // signals each container before the grace period ends in a kill). Must
  // not block.
  std::function<void()> on_sigterm;
};

struct Termination {
  int exit_code = 0;
  std::string reason;  // Completed (0) | Error | Unknown (the pod died under it)
  sim::SimTime finished_at;
};

struct ContainerStatus {
  bool running = false;
  bool ready = false;
  int restart_count = 0;
  sim::SimTime started_at;
  std::optional<Termination> last_termination;
};

class Kubelet {
 public:
  static constexpr sim::SimDuration kInitialBackOff = sim::SimDuration::Seconds(10);
  static constexpr sim::SimDuration kMaxBackOff = sim::SimDuration::Minutes(5);
  static constexpr sim::SimDuration kBackOffReset = sim::SimDuration::Minutes(10);

  Kubelet(sim::Scheduler* scheduler, std::string pod, std::vector<ContainerSpec> containers);

  // The pod's boot function (sim::World::BootFunction): starts every
  // container in `pod_group` at once.
  void Boot(sim::Group* pod_group, int boot);

  // Kills a running container as a signal would (exit 137, Error); the
  // kubelet restarts it with back-off. False if it was not running.
  bool KillContainer(const std::string& name);
  // The pod is being deleted: each running container's SIGTERM handler runs.
  void Terminate();
  // The liveness phase: a container waiting out its back-off starts now.
  void RestartWithoutBackOff();
  // The pod was deleted and created again: a new pod, with no restarts, no
  // back-off and no last termination (call after its processes were killed).
  void ResetForNewPod();

  const ContainerStatus& status(const std::string& container) const;
  // Every container running and ready.
  bool Ready() const;
  // Called whenever Ready() may have changed.
  void set_on_ready_change(std::function<void(bool ready)> callback) { on_ready_change_ = std::move(callback); }

 private:
  struct Container {
    ContainerSpec spec;
    ContainerStatus status;
    sim::SimDuration next_back_off = kInitialBackOff;
    sim::Group* group = nullptr;      // the running instance's
    std::optional<int> killed_with;  // KillContainer's exit code
    sim::WaiterList back_off_waiters;
    bool skip_back_off = false;
    // Which boot's runner owns the status: a killed pod's runner unwinds
    // after the pod may have booted again, and must not touch the new one's.
    uint64_t generation = 0;
  };
  void RunContainer(Container& container, sim::Group* pod_group);
  int RunOnce(Container& container, sim::Group* pod_group);
  void Probe(Container& container);
  void SetReady(Container& container, bool ready);
  // Tells on_ready_change when Ready() differs from what it last heard.
  void NotifyIfReadyChanged();
  Container& Find(const std::string& name);

  sim::Scheduler* scheduler_;
  std::string pod_;
  std::vector<std::unique_ptr<Container>> containers_;  // WaiterList does not move
  bool ready_ = false;
  std::function<void(bool)> on_ready_change_;
};

}  // namespace cluster
