#include "model/br/snapshotter.h"

#include <algorithm>

#include "fmt/format.h"
#include "model/br/log.h"
#include "model/br/member_control.h"
#include "model/codec.h"
#include "model/etcd/server.h"
#include "sim/scheduler.h"

namespace model::br {
namespace {

constexpr char kActor[] = "snapshotter";
const std::string kAllKeys(1, '\0');

}  // namespace

Snapshotter::Snapshotter(const sim::ProcessContext& process, Snapstore* store, Options options)
    : process_(process),
      store_(store),
      options_(std::move(options)),
      client_(process.network, process.node, {options_.local_endpoint}, process.rng, sim::SimDuration::Seconds(5),
              process.resolver) {}

std::string Snapshotter::Now3339() const {
  return fmt::format("{}s", model::etcd::UnixSeconds(process_.Now()));
}

absl::Status Snapshotter::StartWatch(int64_t from, sim::Group* group) {
  if (watch_group_ != nullptr) process_.scheduler->KillGroup(watch_group_);
  watch_group_ = process_.scheduler->CreateGroup("watch", group);
  absl::StatusOr<std::unique_ptr<model::etcd::WatchStream>> stream = client_.Watch(kAllKeys, kAllKeys, from);
  if (!stream.ok()) return stream.status();
  Log(kActor, fmt::format("Applied watch on etcd from revision: {}", from));
  watch_error_ = absl::OkStatus();
  process_.scheduler->Spawn(watch_group_, "delta-watch", [this, stream = *std::move(stream)]() mutable {
    while (true) {
      absl::StatusOr<etcd_dst::etcd::WatchResponse> response = stream->Next(sim::SimDuration::Max());
      if (!response.ok()) {
        watch_error_ = response.status();
        return;
      }
      for (const etcd_dst::etcd::Event& event : response->events()) events_.push_back({event, Now3339()});
    }
  });
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Snapshotter::LastRevision() {
  absl::StatusOr<etcd_dst::etcd::RangeResponse> head =
      WaitForReady(process_, sim::SimDuration::Seconds(5), [&] { return client_.Get("foo", true); });
  if (!head.ok()) return head.status();
  return head->header().revision();
}

absl::Status Snapshotter::CheckStillLeader() {
  if (!options_.check_leader_first) return absl::OkStatus();
  absl::StatusOr<etcd_dst::etcd::StatusResponse> status = client_.Status();
  if (!status.ok()) return status.status();
  if (status->leader() != status->header().member_id()) {
    Log(kActor, "etcd member is no longer the leader: not taking the snapshot");
    return absl::FailedPreconditionError("etcd member is not the leader");
  }
  return absl::OkStatus();
}

absl::Status Snapshotter::TakeFullSnapshot() {
  if (absl::Status s = CheckStillLeader(); !s.ok()) return s;
  const sim::SimTime began = process_.Now();
  absl::StatusOr<int64_t> last = LastRevision();
  if (!last.ok()) return last.status();
  const int64_t last_revision = *last;
  absl::StatusOr<etcd_dst::etcd::SnapshotResponse> stream = client_.Snapshot();
  if (!stream.ok()) return stream.status();
  const std::string& image = stream->blob();
  if (image.size() % 512 != kSha256Size ||
      Sha256(std::string_view(image).substr(0, image.size() - kSha256Size)) != image.substr(image.size() - kSha256Size)) {
    return absl::DataLossError("snapshot integrity check failed: SHA256 mismatch");
  }
  Log(kActor, "full snapshot SHA256 hash has been successfully verified.");
  Snapshot snapshot{.kind = Snapshot::Kind::kFull,
                    .start_revision = 0,
                    .last_revision = last_revision,
                    .created_unix = model::etcd::UnixSeconds(process_.Now()),
                    .compressed = options_.compress};
  const sim::SimTime started = process_.Now();
  const absl::Status saved = store_->Save(snapshot, options_.compress ? Gzip(image) : image);
  if (options_.on_attempt) options_.on_attempt({snapshot, began, process_.Now(), saved});
  if (absl::Status s = saved; !s.ok()) {
    return absl::Status(s.code(), fmt::format("failed to save snapshot: {}", std::string(s.message())));
  }
  Log(kActor, fmt::format("Total time to save Full snapshot: {:.6f} seconds.", (process_.Now() - started).nanos() / 1e9));
  Log(kActor, fmt::format("Successfully saved full snapshot at: {}", snapshot.Name()));
  prev_full_ = snapshot;
  prev_snapshot_ = snapshot;
  events_.clear();
  return absl::OkStatus();
}

absl::Status Snapshotter::TakeDeltaSnapshot() {
  if (!watch_error_.ok()) return watch_error_;
  if (events_.empty()) {
    Log(kActor, "No events received to save snapshot. Skipping delta snapshot.");
    return absl::OkStatus();
  }
  if (absl::Status s = CheckStillLeader(); !s.ok()) return s;
  std::vector<DeltaEvent> events = std::move(events_);
  events_.clear();
  Snapshot snapshot{.kind = Snapshot::Kind::kDelta,
                    .start_revision = prev_snapshot_.has_value() ? prev_snapshot_->last_revision + 1 : 1,
                    .last_revision = events.back().event.kv().mod_revision(),
                    .created_unix = model::etcd::UnixSeconds(process_.Now()),
                    .compressed = options_.compress};
  const std::string payload = EncodeDelta(events);
  const sim::SimTime began = process_.Now();
  const absl::Status saved = store_->Save(snapshot, options_.compress ? Gzip(payload) : payload);
  if (options_.on_attempt) options_.on_attempt({snapshot, began, process_.Now(), saved});
  if (absl::Status s = saved; !s.ok()) {
    // The events stay for the next try (upstream keeps its buffer too).
    events.insert(events.end(), events_.begin(), events_.end());
    events_ = std::move(events);
    return absl::Status(s.code(), fmt::format("failed to save delta snapshot: {}", std::string(s.message())));
  }
  Log(kActor, fmt::format("Successfully saved delta snapshot at: {}", snapshot.Name()));
  prev_snapshot_ = snapshot;
  return absl::OkStatus();
}

absl::Status Snapshotter::CollectEventsSincePrevSnapshot() {
  absl::StatusOr<int64_t> last = LastRevision();
  if (!last.ok()) return last.status();
  const int64_t current = *last;
  const int64_t from = prev_snapshot_->last_revision + 1;
  if (current < from) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<model::etcd::WatchStream>> stream = client_.Watch(kAllKeys, kAllKeys, from);
  if (!stream.ok()) return stream.status();
  for (int batches = 0; batches < 100000; ++batches) {
    absl::StatusOr<etcd_dst::etcd::WatchResponse> response = (*stream)->Next(sim::SimDuration::Seconds(5));
    if (!response.ok()) return response.status();
    for (const etcd_dst::etcd::Event& event : response->events()) events_.push_back({event, Now3339()});
    if (!events_.empty() && events_.back().event.kv().mod_revision() >= current) return absl::OkStatus();
  }
  return absl::DeadlineExceededError("collecting events since the previous snapshot did not end");
}

void Snapshotter::CollectGarbage() {
  absl::StatusOr<std::vector<Snapshot>> listed = store_->List();
  if (!listed.ok()) return;
  // Streams start at each full; the newest is never touched. LimitBased:
  // the newest max_backups fulls are kept, older streams deleted whole.
  std::vector<size_t> fulls;
  for (size_t i = 0; i < listed->size(); ++i) {
    if ((*listed)[i].kind == Snapshot::Kind::kFull) fulls.push_back(i);
  }
  if (fulls.size() <= static_cast<size_t>(options_.max_backups)) return;
  const size_t keep_from = fulls[fulls.size() - options_.max_backups];
  for (size_t i = 0; i < keep_from; ++i) {
    const Snapshot& old = (*listed)[i];
    if (store_->Delete(old).ok()) Log("garbage-collector", fmt::format("Deleted snapshot: {}", old.Name()));
  }
}

absl::Status Snapshotter::RunOnce(sim::Group* group) {
  // 4.-6.: a full if required at startup, else the events since the
  // previous snapshot as a delta (a full if that fails).
  const bool full_required = !prev_full_.has_value() || prev_full_->final || last_full_failed_ ||
                             model::etcd::UnixSeconds(process_.Now()) - prev_full_->created_unix >=
                                 options_.full_window.nanos() / 1'000'000'000;
  bool took_full = false;
  if (!full_required) {
    absl::Status delta = CollectEventsSincePrevSnapshot();
    if (delta.ok()) delta = TakeDeltaSnapshot();
    if (delta.ok()) {
      if (absl::Status s = StartWatch(prev_snapshot_->last_revision + 1, group); !s.ok()) return s;
    } else {
      events_.clear();
    }
    took_full = !delta.ok();
  }
  if (full_required || took_full) {
    Log(kActor, fmt::format("Taking scheduled full snapshot for time: {}", Now3339()));
    if (absl::Status s = TakeFullSnapshot(); !s.ok()) {
      last_full_failed_ = true;
      Log(kActor, fmt::format("Failed to take substitute full snapshot: {}", std::string(s.message())));
      return s;
    }
    last_full_failed_ = false;
    if (absl::Status s = StartWatch(prev_full_->last_revision + 1, group); !s.ok()) return s;
  }
  Log(kActor, "Starting the garbage collector...");
  process_.scheduler->Spawn(group, "garbage-collector", [this] {
    while (true) {
      sim::this_actor::SleepFor(options_.gc_period);
      CollectGarbage();
    }
  });
  Log(kActor, "Starting snapshotter...");
  // Full timer: the next hour boundary of the Unix clock.
  const int64_t period_s = options_.full_period.nanos() / 1'000'000'000;
  const int64_t now_s = model::etcd::UnixSeconds(process_.Now());
  next_full_ = process_.Now() + sim::SimDuration::Seconds(period_s - now_s % period_s);
  sim::SimTime next_delta = process_.Now() + options_.delta_period;
  while (true) {
    sim::this_actor::SleepUntil(std::min(next_full_, next_delta));
    if (process_.Now() >= next_full_) {
      if (absl::Status s = TakeFullSnapshot(); !s.ok()) {
        last_full_failed_ = true;
        return s;
      }
      if (absl::Status s = StartWatch(prev_full_->last_revision + 1, group); !s.ok()) return s;
      next_full_ = next_full_ + options_.full_period;
      continue;
    }
    if (absl::Status s = TakeDeltaSnapshot(); !s.ok()) return s;
    next_delta = process_.Now() + options_.delta_period;
  }
}

void Snapshotter::Run(sim::Group* group) {
  Log("server", "Creating snapstore from provider: SimBucket");
  Log("server", "Creating snapshotter...");
  absl::StatusOr<std::vector<Snapshot>> listed = store_->List();
  if (!listed.ok()) {
    options_.fatal(fmt::format("failed to create new Snapshotter object: {}", std::string(listed.status().message())));
    return;
  }
  const SnapshotSet latest = LatestSet(*listed);
  prev_full_ = latest.full;
  prev_snapshot_ = latest.deltas.empty() ? latest.full : std::optional<Snapshot>(latest.deltas.back());
  sim::SimDuration back_off = sim::SimDuration::Seconds(1);
  bool failed_before = false;
  for (int round = 0; round < 1'000'000; ++round) {
    Log("server", "Probing etcd...");
    absl::Status probe = WaitForReady(process_, sim::SimDuration::Seconds(5), [&] { return client_.Status(); }).status();
    if (!probe.ok()) {
      options_.set_health(false);
      continue;
    }
    if (failed_before) {
      back_off = std::min(back_off * 2, sim::SimDuration::Seconds(128));
      sim::this_actor::SleepFor(back_off);
    }
    options_.set_health(true);
    sim::Group* run = process_.scheduler->CreateGroup("snapshotter-run", group);
    watch_group_ = nullptr;
    absl::Status result = RunOnce(run);
    process_.scheduler->KillGroup(run);
    watch_group_ = nullptr;
    Log(kActor, fmt::format("Snapshotter failed with error: {}", std::string(result.message())));
    options_.set_health(false);
    failed_before = true;
  }
}

}  // namespace model::br
