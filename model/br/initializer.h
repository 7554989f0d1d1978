// BR's Initialize (etcd-backup-restore v0.35.0, pkg/initializer/
// initializer.go: Initialize, restoreCorruptData, restoreInMultiNode).
//
// Multi-node: WasMemberInCluster; without a heartbeat the scale-up check,
// and a detected scale-up is AddLearnerWithRetry(6) and nothing else (an
// error is Fatalf "unable to add a learner in a cluster: ..."). Then
// Validate; WrongVolumeMounted, FailToOpenBoltDB, StatusUnknown and
// FailBelowRevision fail; Valid is done; DataDirStatusInvalidInMultiNode, or
// a multi-node DataDirectoryCorrupt, or a multi-node member with a heartbeat
// goes to restoreInMultiNode (remove by name, remove the data dir, add as a
// learner); everything else to restoreCorruptData, which LISTS THE BUCKET
// AGAIN and restores what it finds (a List error fails Initialize).
//
// br-fixed (docs/br-864-fix.md) changes three decisions:
//   F1 the listing that decided the status also decides the restore;
//   F2 a member whose bootstrap entry (its peer URL) is in the cluster,
//      named or not, was a member (in MemberControl);
//   F3 a multi-node member whose entry exists unstarted joins as itself
//      (its data dir, if any, moved aside, never deleted), and a data dir
//      whose cluster ID is not the running cluster's is moved aside and the
//      member joins.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "model/br/config.h"
#include "model/br/initialization.h"
#include "model/br/member_control.h"
#include "model/br/snapstore.h"
#include "model/br/validator.h"
#include "model/raftpb.h"
#include "sim/process_context.h"

namespace model::br {

class Initializer {
 public:
  struct Options {
    std::string pod;
    std::function<ConfigMap()> config;
    Snapstore* store = nullptr;
    Profile profile = Profile::kV035;
    int original_cluster_size = 1;  // read once at BR's start
    // Fatalf: logs, and the BR process exits (does not return).
    std::function<void(const std::string& message)> fatal;
  };
  Initializer(const sim::ProcessContext& process, MemberControl* members, Options options)
      : process_(process), members_(members), options_(std::move(options)) {}

  absl::Status Initialize(ValidationMode mode);
  // The snapshot the last restore started from ("" if none), and when.
  const std::string& restored_from() const { return restored_from_; }
  // The last Initialize added this member to the cluster as a learner, or
  // (br-fixed F3) found its unstarted entry there: it must start `existing`.
  bool joins_existing() const { return added_learner_ || joins_unstarted_entry_; }
  sim::SimTime restored_at() const { return restored_at_; }
  // When each restore of this process finished (a process may restore more
  // than once: each Initialize that finds the data dir corrupt restores).
  const std::vector<sim::SimTime>& restore_times() const { return restore_times_; }

 private:
  absl::Status RestoreCorruptData(const std::optional<std::vector<Snapshot>>& listed);
  absl::Status RestoreInMultiNode();
  // br-fixed: the cluster's entry for this pod by peer URL, if it has one
  // and it never started; the running cluster's ID.
  struct Entry {
    bool exists = false;
    bool unstarted = false;
    uint64_t cluster_id = 0;
    uint64_t member_id = 0;  // of the entry with our peer URL
  };
  absl::StatusOr<Entry> FindOwnEntry();
  // The member and cluster IDs in the data dir's WAL metadata (zeros if
  // there is none).
  raftpb::Metadata LocalIds();
  absl::Status MoveAside(const std::string& why);

  sim::ProcessContext process_;
  MemberControl* members_;
  Options options_;
  std::string restored_from_;
  bool added_learner_ = false;
  bool joins_unstarted_entry_ = false;
  sim::SimTime restored_at_;
  std::vector<sim::SimTime> restore_times_;
};

}  // namespace model::br
