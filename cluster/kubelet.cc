#include "cluster/kubelet.h"

#include "sim/check.h"
#include "sim/future.h"
#include "sim/trace.h"

namespace cluster {

Kubelet::Kubelet(sim::Scheduler* scheduler, std::string pod, std::vector<ContainerSpec> containers)
    : scheduler_(scheduler), pod_(std::move(pod)) {
  for (ContainerSpec& spec : containers) {
    auto container = std::make_unique<Container>();
    container->spec = std::move(spec);
    containers_.push_back(std::move(container));
  }
}

Kubelet::Container& Kubelet::Find(const std::string& name) {
  for (auto& container : containers_) {
    if (container->spec.name == name) return *container;
  }
  SIM_CHECK(false, "pod {} has no container {}", pod_, name);
  __builtin_unreachable();
}

const ContainerStatus& Kubelet::status(const std::string& name) const {
  return const_cast<Kubelet*>(this)->Find(name).status;
}

bool Kubelet::Ready() const {
  for (const auto& container : containers_) {
    if (!container->status.running || !container->status.ready) return false;
  }
  return !containers_.empty();
}

void Kubelet::SetReady(Container& container, bool ready) {
  if (container.status.ready == ready) return;
  container.status.ready = ready;
  sim::TraceEvent("ContainerReadiness").Detail("pod", pod_).Detail("container", container.spec.name).Detail("ready", ready);
  NotifyIfReadyChanged();
}

void Kubelet::NotifyIfReadyChanged() {
  if (Ready() == ready_) return;
  ready_ = Ready();
  sim::TraceEvent("PodReadiness").Detail("pod", pod_).Detail("ready", ready_);
  if (on_ready_change_) on_ready_change_(ready_);
}

void Kubelet::Boot(sim::Group* pod_group, int boot) {
  for (auto& container : containers_) {
    Container* target = container.get();
    scheduler_->Spawn(pod_group, "kubelet-" + target->spec.name, [this, target, pod_group] {
      RunContainer(*target, pod_group);
    });
  }
}

bool Kubelet::KillContainer(const std::string& name) {
  Container& container = Find(name);
  if (!container.status.running || container.group == nullptr) return false;
  container.killed_with = 137;
  sim::TraceEvent("ContainerKilled").Detail("pod", pod_).Detail("container", name);
  scheduler_->KillGroup(container.group);
  return true;
}

void Kubelet::Terminate() {
  for (auto& container : containers_) {
    if (!container->status.running || !container->spec.on_sigterm) continue;
    sim::TraceEvent("ContainerSigterm").Detail("pod", pod_).Detail("container", container->spec.name);
    container->spec.on_sigterm();
  }
}

void Kubelet::RestartWithoutBackOff() {
  for (auto& container : containers_) {
    container->skip_back_off = true;
    sim::NotifyAll(container->back_off_waiters);
  }
}

void Kubelet::ResetForNewPod() {
  for (auto& container : containers_) {
    ++container->generation;  // the killed pod's runners no longer own the status
    container->status = ContainerStatus{};
    container->next_back_off = kInitialBackOff;
  }
  NotifyIfReadyChanged();  // the old pod's runners, no longer owners, will not
}

// Runs one container for the life of the pod's boot: start, wait for the
// exit, back off, start again. Bounded by the simulation's end; the pod's
// death (its group killed) unwinds it.
void Kubelet::RunContainer(Container& container, sim::Group* pod_group) {
  // If the pod dies under a running container, nobody hears its exit.
  const uint64_t generation = ++container.generation;
  struct PodDeath {
    Kubelet* kubelet;
    Container* container;
    uint64_t generation;
    ~PodDeath() {
      if (container->generation != generation || !container->status.running) return;
      container->status.running = false;
      container->status.last_termination = Termination{255, "Unknown", kubelet->scheduler_->Now()};
      kubelet->SetReady(*container, false);
    }
  } pod_death{this, &container, generation};
  for (bool first = true;; first = false) {
    if (!first) {
      const sim::SimDuration back_off = container.next_back_off;
      sim::TraceEvent("ContainerBackOff")
          .Detail("pod", pod_)
          .Detail("container", container.spec.name)
          .Detail("back_off", back_off);
      const sim::SimTime until = scheduler_->Now() + back_off;
      while (!container.skip_back_off && scheduler_->Now() < until) sim::WaitOn(container.back_off_waiters, until);
      container.skip_back_off = false;
      container.next_back_off = std::min(back_off * 2, kMaxBackOff);
      ++container.status.restart_count;
    }
    const sim::SimTime started = scheduler_->Now();
    const int exit_code = RunOnce(container, pod_group);
    if (scheduler_->Now() - started >= kBackOffReset) container.next_back_off = kInitialBackOff;
    sim::TraceEvent("ContainerExited")
        .Detail("pod", pod_)
        .Detail("container", container.spec.name)
        .Detail("exit_code", exit_code)
        .Detail("restarts", container.status.restart_count);
  }
}

int Kubelet::RunOnce(Container& container, sim::Group* pod_group) {
  sim::Group* group = scheduler_->CreateGroup(container.spec.name, pod_group);
  container.group = group;
  container.killed_with.reset();
  container.status.running = true;
  container.status.started_at = scheduler_->Now();
  sim::TraceEvent("ContainerStarted")
      .Detail("pod", pod_)
      .Detail("container", container.spec.name)
      .Detail("restarts", container.status.restart_count);
  // Only the main actor holds the promise: killed, it breaks it.
  sim::Promise<int> exit_promise;
  sim::Future<int> exited = exit_promise.GetFuture();
  scheduler_->Spawn(group, "main", [&container, group, promise = std::move(exit_promise)]() mutable {
    promise.Set(container.spec.main(group));
  });
  if (container.spec.readiness.has_value()) {
    scheduler_->Spawn(group, "readiness", [this, &container] { Probe(container); });
  } else {
    SetReady(container, true);
  }
  absl::StatusOr<int> code = exited.Wait();
  const int exit_code = code.ok() ? *code : container.killed_with.value_or(255);
  scheduler_->KillGroup(group);  // what the main process leaves behind dies with it
  container.group = nullptr;
  container.status.running = false;
  container.status.last_termination =
      Termination{exit_code, exit_code == 0 ? "Completed" : "Error", scheduler_->Now()};
  SetReady(container, false);
  return exit_code;
}

void Kubelet::Probe(Container& container) {
  const ReadinessProbe& probe = *container.spec.readiness;
  sim::this_actor::SleepFor(probe.initial_delay);
  int failures = 0;
  while (true) {
    if (probe.check()) {
      failures = 0;
      SetReady(container, true);
    } else if (++failures >= probe.failure_threshold) {
      SetReady(container, false);
    }
    sim::this_actor::SleepFor(probe.period);
  }
}

}  // namespace cluster
