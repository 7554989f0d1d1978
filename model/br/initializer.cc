#include "model/br/initializer.h"

#include "fmt/format.h"
#include "model/br/log.h"
#include "model/br/restorer.h"
#include "model/etcd/server.h"
#include "model/raftpb.h"
#include "model/wal.h"

namespace model::br {
namespace {
constexpr char kActor[] = "initializer";
}  // namespace

absl::Status Initializer::Initialize(ValidationMode mode) {
  added_learner_ = false;
  joins_unstarted_entry_ = false;
  const ConfigMap config = options_.config();
  const std::string& data_dir = config.data_dir;
  bool heartbeat = false;
  if (config.ClusterSize() > 1) {  // IsMultiNode
    if (members_->WasMemberInCluster()) {
      Log(kActor, "member found to be already a part of the cluster");
      Log(kActor, "skipping the scale-up check");
      heartbeat = true;
    } else {
      Log(kActor, "member heartbeat is not present");
      Log(kActor, "backup-restore will start the scale-up check");
      if (members_->IsClusterScaledUp()) {
        Log(kActor, "Etcd cluster scale-up is detected");
        if (absl::Status s = members_->AddLearnerWithRetry(6, data_dir); !s.ok()) {
          options_.fatal(fmt::format("unable to add a learner in a cluster: {}", std::string(s.message())));
        }
        added_learner_ = true;
        return absl::OkStatus();
      }
    }
  }

  Validator validator(process_, {.data_dir = data_dir,
                                 .original_cluster_size = options_.original_cluster_size,
                                 .store = options_.store,
                                 .profile = options_.profile});
  std::optional<std::vector<Snapshot>> listed;
  absl::StatusOr<DataDirStatus> validated = validator.Validate(mode, &listed);
  if (!validated.ok()) options_.fatal(std::string(validated.status().message()));
  const DataDirStatus status = *validated;

  switch (status) {
    case DataDirStatus::kWrongVolumeMounted:
      return absl::FailedPreconditionError("won't initialize ETCD because wrong ETCD volume is mounted: the "
                                           "`safe_guard` file does not name this namespace");
    case DataDirStatus::kFailToOpenBoltDB:
      return absl::UnavailableError("failed to initialize since another process still holds the file lock");
    case DataDirStatus::kStatusUnknown:
      return absl::UnknownError("error while initializing: data directory status unknown");
    case DataDirStatus::kFailBelowRevisionConsistencyError:
      return absl::FailedPreconditionError("current etcd revision is below the revision given by failbelowrevision");
    default:
      break;
  }
  if (status == DataDirStatus::kValid) {
    // F3: a valid data dir of another cluster is not this cluster's member.
    if (options_.profile == Profile::kFixed && options_.original_cluster_size > 1) {
      absl::StatusOr<Entry> entry = FindOwnEntry();
      const raftpb::Metadata local = LocalIds();
      // F9: nor is a data dir of another member of this cluster (one removed
      // since) when our peer URL now names a different entry.
      std::string foreign;
      if (entry.ok() && entry->exists && local.cluster_id != 0 && local.cluster_id != entry->cluster_id) {
        foreign = fmt::format("its cluster ID {:x} is not the running cluster's {:x}", local.cluster_id,
                              entry->cluster_id);
      } else if (entry.ok() && entry->exists && local.node_id != 0 && local.node_id != entry->member_id) {
        foreign = fmt::format("it is member {:x}'s, and our peer URL is member {:x}'s", local.node_id,
                              entry->member_id);
      }
      if (!foreign.empty()) {
        if (absl::Status s = MoveAside(foreign); !s.ok()) return s;
        return RestoreInMultiNode();
      }
    }
    return absl::OkStatus();
  }
  const bool multi = options_.original_cluster_size > 1;
  if (status == DataDirStatus::kInvalidInMultiNode || (multi && status == DataDirStatus::kCorrupt) ||
      (multi && heartbeat)) {
    return RestoreInMultiNode();
  }
  if (absl::Status s = RestoreCorruptData(listed); !s.ok()) {
    return absl::Status(s.code(), fmt::format("error while restoring corrupt data: {}", std::string(s.message())));
  }
  return absl::OkStatus();
}

absl::Status Initializer::RestoreCorruptData(const std::optional<std::vector<Snapshot>>& listed) {
  const ConfigMap config = options_.config();
  Log(kActor, "Finding latest set of snapshot to recover from...");
  SnapshotSet set;
  if (options_.store != nullptr) {
    if (options_.profile == Profile::kFixed && listed.has_value()) {
      set = LatestSet(*listed);  // F1: the listing that decided
    } else {
      absl::StatusOr<std::vector<Snapshot>> snapshots = options_.store->List();
      if (!snapshots.ok()) {
        return absl::Status(snapshots.status().code(),
                            fmt::format("failed to get latest set of snapshot: {}", std::string(snapshots.status().message())));
      }
      set = LatestSet(*snapshots);
    }
  }
  if (!set.full.has_value()) {
    Log(kActor, "No snapshot found. Will remove the data directory.");
    Log(kActor, fmt::format("Removing directory({}) since snapstore is empty.", config.data_dir));
    return process_.volume->RemoveAll(config.data_dir);
  }
  auto url = config.peer_urls.find(options_.pod);
  absl::Status restored = Restore(process_, *options_.store, set,
                                  {.data_dir = config.data_dir, .peer_url = url == config.peer_urls.end() ? "" : url->second});
  if (restored.ok()) {
    restored_from_ = set.full->Name();
    restored_at_ = process_.Now();
    restore_times_.push_back(restored_at_);
  }
  return restored;
}

absl::Status Initializer::RestoreInMultiNode() {
  const ConfigMap config = options_.config();
  if (options_.profile == Profile::kFixed) {
    // F3: an unstarted entry of ours is joined as itself, not replaced.
    // Not when the data dir holds this member's own WAL: a member that
    // persisted raft state may have voted or acknowledged entries, and must
    // not come back under its ID without them (it is removed and re-added
    // with a new ID, as v0.35 does).
    absl::StatusOr<Entry> entry = FindOwnEntry();
    const raftpb::Metadata local = LocalIds();
    const bool own_wal = entry.ok() && local.cluster_id == entry->cluster_id && local.node_id == entry->member_id;
    if (entry.ok() && entry->exists && entry->unstarted && !own_wal) {
      Log(kActor, fmt::format("Member {} is an unstarted member of the cluster: it joins as itself", options_.pod));
      joins_unstarted_entry_ = true;
      if (process_.volume->Exists(config.data_dir)) return MoveAside("the member never started in this cluster");
      return absl::OkStatus();
    }
  }
  // retry.DefaultBackoff: 4 tries, sleeps 10, 50, 250 ms.
  auto retry = [&](const std::function<absl::Status()>& attempt) {
    absl::Status last;
    sim::SimDuration sleep = sim::SimDuration::Millis(10);
    for (int i = 0; i < 4; ++i) {
      last = attempt();
      if (last.ok() || i == 3) break;
      sim::this_actor::SleepFor(sleep);
      sleep = sleep * 5;
    }
    return last;
  };
  if (absl::Status s = retry([&] { return members_->RemoveMember(); }); !s.ok()) {
    return absl::Status(s.code(), fmt::format("unable to remove the member {}", std::string(s.message())));
  }
  if (absl::Status s = process_.volume->RemoveAll(config.data_dir); !s.ok()) return s;
  if (absl::Status s = retry([&] { return members_->AddMemberAsLearner(); }); !s.ok()) {
    return absl::Status(s.code(), fmt::format("unable to add the member as learner {}", std::string(s.message())));
  }
  added_learner_ = true;
  return absl::OkStatus();
}

absl::StatusOr<Initializer::Entry> Initializer::FindOwnEntry() {
  model::etcd::Client client = members_->Client(sim::SimDuration::Seconds(5));
  absl::StatusOr<etcd_dst::etcd::MemberListResponse> list =
      WaitForReady(process_, sim::SimDuration::Seconds(5), [&] { return client.MemberList(); });
  if (!list.ok()) list = members_->ListFromPeers(list.status());  // br-fixed F10
  if (!list.ok()) return list.status();
  Entry entry;
  entry.cluster_id = list->header().cluster_id();
  const std::string url = members_->PeerUrl();
  for (const etcd_dst::etcd::Member& member : list->members()) {
    for (const std::string& peer : member.peerurls()) {
      if (peer != url) continue;
      entry.exists = true;
      // Never published: no name (an added member, or a bootstrap entry
      // read back from a snapshot) or no client URLs (a bootstrap entry's
      // name comes from --initial-cluster).
      entry.unstarted = member.name().empty() || member.clienturls().empty();
      entry.member_id = member.id();
    }
  }
  return entry;
}

raftpb::Metadata Initializer::LocalIds() {
  const std::string wal_dir = options_.config().data_dir + "/member/wal";
  absl::StatusOr<std::vector<std::string>> names = process_.volume->ReadDir(wal_dir);
  if (!names.ok()) return {};
  for (const std::string& name : *names) {
    if (!name.ends_with(".wal")) continue;
    absl::StatusOr<std::string> bytes = process_.volume->ReadFile(wal_dir + "/" + name);
    if (!bytes.ok()) return {};
    std::string_view rest = *bytes;
    for (int record = 0; record < 4 && !rest.empty(); ++record) {
      absl::StatusOr<wal::Frame> frame = wal::DecodeFrame(rest);
      if (!frame.ok()) return {};
      raftpb::Metadata metadata;
      if (frame->type == wal::kMetadata && frame->data.has_value() && raftpb::Decode(*frame->data, &metadata)) {
        return metadata;
      }
      rest.remove_prefix(std::min<uint64_t>(frame->frame_bytes, rest.size()));
    }
    return {};
  }
  return {};
}

absl::Status Initializer::MoveAside(const std::string& why) {
  const std::string& data_dir = options_.config().data_dir;
  const std::string aside = fmt::format("{}.aside-{}", data_dir, model::etcd::UnixSeconds(process_.Now()));
  Log(kActor, fmt::format("Moving the data directory {} to {}: {}", data_dir, aside, why));
  (void)process_.volume->RemoveAll(aside);
  return process_.volume->Rename(data_dir, aside);
}

}  // namespace model::br
