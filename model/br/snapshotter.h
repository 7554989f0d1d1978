// BR's snapshotter, as the backup leader runs it (etcd-backup-restore
// v0.35.0, pkg/server/backuprestoreserver.go runEtcdProbeLoopWithSnapshotter,
// pkg/snapshot/snapshotter/snapshotter.go, garbagecollector.go,
// pkg/etcdutil TakeAndSaveFullSnapshot), against the LOCAL member:
//   - at start, a listing (NewSnapshotter; an error is Fatalf);
//   - a probe loop: Status, healthz 200, then a full snapshot if none was
//     taken within the window (24 h) or the last attempt failed, else the
//     events since the previous snapshot as a delta;
//   - a full snapshot: the revision, etcd's snapshot stream (its SHA-256
//     trailer verified and kept), gzip, `Full-00000000-<rev>-<unix>.gz`,
//     then a watch of all keys from rev+1;
//   - deltas every 20 s of the watched events (`Incr-<prev+1>-<last>-...`),
//     none without events; fulls on the hourly schedule; garbage
//     collection every minute, LimitBased with 7 fulls (druid's flags);
//   - any snapshot error ends the run: healthz 503, and the probe loop
//     starts again after a doubling back-off (2 s ... 128 s).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/br/delta.h"
#include "model/br/snapstore.h"
#include "model/etcd/client.h"
#include "sim/process_context.h"

namespace model::br {

struct SnapshotAttempt {
  Snapshot snapshot;
  sim::SimTime began;
  sim::SimTime ended;
  absl::Status status;  // of the upload
};

class Snapshotter {
 public:
  struct Options {
    std::string local_endpoint = "http://etcd-main-local:2379";
    sim::SimDuration delta_period = sim::SimDuration::Seconds(20);
    sim::SimDuration full_period = sim::SimDuration::Minutes(60);  // schedule "0 */1 * * *"
    sim::SimDuration full_window = sim::SimDuration::Minutes(24 * 60);
    sim::SimDuration gc_period = sim::SimDuration::Minutes(1);
    int max_backups = 7;
    bool compress = true;
    // healthz: true while a run is active.
    std::function<void(bool)> set_health;
    std::function<void(const std::string&)> fatal;
    // Observers (tests, workloads): each snapshot this process tried to
    // upload, from the moment it began taking it to the upload's end.
    std::function<void(const SnapshotAttempt&)> on_attempt;
    // br-fixed F11: each snapshot begins only while the local etcd still
    // says it leads (BR's own leadership follows etcd's by a poll).
    bool check_leader_first = false;
  };
  Snapshotter(const sim::ProcessContext& process, Snapstore* store, Options options);

  // The probe loop and the runs; until the actor is killed (leadership lost).
  void Run(sim::Group* group);


 private:
  // The local member's revision (BR: Get with WithLastRev).
  absl::StatusOr<int64_t> LastRevision();
  // F11: an error unless the local etcd leads its cluster now.
  absl::Status CheckStillLeader();
  absl::Status TakeFullSnapshot();
  absl::Status TakeDeltaSnapshot();
  absl::Status CollectEventsSincePrevSnapshot();
  absl::Status StartWatch(int64_t from, sim::Group* group);
  void CollectGarbage();
  absl::Status RunOnce(sim::Group* group);
  std::string Now3339() const;

  sim::ProcessContext process_;
  Snapstore* store_;
  Options options_;
  model::etcd::Client client_;
  std::optional<Snapshot> prev_full_;
  std::optional<Snapshot> prev_snapshot_;  // full or delta: where the next delta starts
  bool last_full_failed_ = false;
  std::vector<DeltaEvent> events_;
  absl::Status watch_error_;
  sim::Group* watch_group_ = nullptr;
  sim::SimTime next_full_;
};

}  // namespace model::br
