// The backup-restore container's process (etcd-backup-restore v0.35.0,
// `server`: pkg/server/backuprestoreserver.go, httpAPI.go,
// pkg/leaderelection, pkg/health/heartbeat), beside etcd in each pod:
//   - HTTP on :8080: /initialization/{start,status} (Initialize on the
//     wrapper's request), /config, /healthz;
//   - once the local etcd answers (Status every 4 s): the peer URL check
//     (a member without the configmap peer URL gets it by MemberUpdate and
//     the wrapper is told to /stop, so etcd restarts with it);
//   - the member lease renewed every 10 s with `<id>:Leader|Member`;
//   - leader election every 5 s on the local member's Status: the BR beside
//     the raft leader runs the snapshotter, a learner's BR promotes it.
// Every Fatalf ends the process with exit code 1 (the kubelet restarts it).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "model/br/config.h"
#include "model/br/http.h"
#include "model/br/initialization.h"
#include "model/br/initializer.h"
#include "model/br/kubernetes.h"
#include "model/br/member_control.h"
#include "model/br/profile.h"
#include "model/br/snapshotter.h"
#include "model/br/snapstore.h"
#include "sim/future.h"
#include "sim/process_context.h"

namespace model::br {

inline constexpr uint16_t kServerPort = 8080;

class BackupRestore {
 public:
  struct Options {
    std::string pod;
    std::function<ConfigMap()> config;
    KubernetesApi* kubernetes = nullptr;
    Profile profile = Profile::kV035;
    Snapshotter::Options snapshotter;  // endpoint, set_health and fatal are set here
    sim::SimDuration heartbeat = sim::SimDuration::Seconds(10);
    // BR v0.39+'s member lease holder `<memberID>:<clusterID>:<role>` (what
    // druid's ClusterIDMismatch condition reads) instead of v0.35's
    // `<memberID>:<role>`.
    bool lease_with_cluster_id = false;
    sim::SimDuration election = sim::SimDuration::Seconds(5);
  };
  BackupRestore(const sim::ProcessContext& process, Options options);
  ~BackupRestore();

  // The container's main: returns the exit code.
  int Run(sim::Group* container);

  // The process this BR runs as (tests drive its parts with it).
  const sim::ProcessContext& process() const { return process_; }
  // The snapshot this process restored its data dir from, if it did.
  std::string restored_from() const { return initializer_ ? initializer_->restored_from() : ""; }
  sim::SimTime restored_at() const { return initializer_ ? initializer_->restored_at() : sim::SimTime::Zero(); }
  std::vector<sim::SimTime> restore_times() const {
    return initializer_ ? initializer_->restore_times() : std::vector<sim::SimTime>{};
  }

 private:
  enum class State { kFollower, kLeader, kUnknown };
  [[noreturn]] void Fatal(const std::string& message);
  http::Response ServeConfig();
  void Startup(sim::Group* container);
  void UpdatePeerUrlIfChanged();
  void RenewMemberLease();
  void Elect(sim::Group* container);
  std::string LocalEndpoint() const;

  sim::ProcessContext process_;
  Options options_;
  int original_cluster_size_ = 1;
  std::unique_ptr<Snapstore> store_;
  std::unique_ptr<MemberControl> members_;
  std::unique_ptr<Initializer> initializer_;
  std::unique_ptr<Initialization> initialization_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<Snapshotter> snapshotter_;
  sim::Group* leading_ = nullptr;
  sim::Promise<int> exit_;
  bool healthy_ = false;
  State state_ = State::kFollower;
};

}  // namespace model::br
