#include "model/br/restorer.h"

#include "fmt/format.h"
#include "model/bbolt.h"
#include "model/br/delta.h"
#include "model/br/log.h"
#include "model/codec.h"
#include "model/etcd/kv_store.h"
#include "model/etcd/restore.h"

namespace model::br {
namespace {

constexpr char kActor[] = "restorer";

absl::StatusOr<std::string> FetchPayload(Snapstore& store, const Snapshot& snapshot) {
  absl::StatusOr<std::string> data = store.Fetch(snapshot);
  if (!data.ok()) return data.status();
  if (!snapshot.compressed) return data;
  Log(kActor, "start decompressing the snapshot with gzip compressionPolicy");
  return Gunzip(*data);
}

std::string Seconds(sim::SimDuration duration) { return fmt::format("{:.6f}", duration.nanos() / 1e9); }

}  // namespace

absl::StatusOr<DeltaApplier> DeltaApplier::Open(const std::string& full) {
  if (full.size() % 512 != kSha256Size) return absl::DataLossError("full snapshot SHA256 hash missing");
  bbolt::ParsedImage parsed = bbolt::ParseImage(full.substr(0, full.size() - kSha256Size), "snapshot");
  if (parsed.failure.has_value()) return absl::DataLossError(parsed.failure->etcd_error);
  absl::StatusOr<model::etcd::KvStore> kv = model::etcd::KvStore::FromBuckets(parsed.buckets);
  if (!kv.ok()) return kv.status();
  return DeltaApplier(std::move(parsed), *std::move(kv));
}

absl::Status DeltaApplier::Apply(const Snapshot& delta, const std::string& payload) {
  const bool first = applied_++ == 0;
  absl::StatusOr<std::vector<etcd_dst::etcd::Event>> events = DecodeDelta(payload);
  if (!events.ok()) return events.status();
  if (first && kv_.revision() == delta.last_revision) {
    Log(kActor, fmt::format("First delta snapshot {} found to be completely overlap with full snapshot, skipping it",
                            delta.Name()));
    return absl::OkStatus();
  }
  // Events of one mod revision are one transaction.
  for (size_t begin = 0; begin < events->size();) {
    const int64_t revision = (*events)[begin].kv().mod_revision();
    size_t end = begin;
    while (end < events->size() && (*events)[end].kv().mod_revision() == revision) ++end;
    if (revision > kv_.revision()) {
      model::etcd::KvStore::Write write(&kv_);
      for (size_t e = begin; e < end; ++e) {
        const etcd_dst::etcd::Event& event = (*events)[e];
        if (event.type() == etcd_dst::etcd::Event::DELETE) {
          write.DeleteRange(event.kv().key(), "");
        } else {
          write.Put(event.kv().key(), event.kv().value(), 0);
        }
      }
    }
    begin = end;
  }
  (void)kv_.TakeEvents();
  if (kv_.revision() != delta.last_revision) {
    return absl::DataLossError(fmt::format("mismatched event revision while applying delta snapshot, expected {} but applied {}",
                                           delta.last_revision, kv_.revision()));
  }
  return absl::OkStatus();
}

std::string DeltaApplier::Image() const {
  bbolt::Buckets buckets = parsed_.buckets;
  kv_.ToBuckets(&buckets);
  std::string image = bbolt::BuildImage(buckets, parsed_.txid + 1);
  return image + Sha256(image);
}

absl::StatusOr<std::string> ApplyDeltas(const std::string& full, const std::vector<Snapshot>& deltas,
                                        const std::vector<std::string>& payloads) {
  absl::StatusOr<DeltaApplier> applier = DeltaApplier::Open(full);
  if (!applier.ok()) return applier.status();
  for (size_t i = 0; i < deltas.size(); ++i) {
    if (absl::Status status = applier->Apply(deltas[i], payloads[i]); !status.ok()) return status;
  }
  return applier->Image();
}

absl::Status Restore(const sim::ProcessContext& process, Snapstore& store, const SnapshotSet& set,
                     const RestoreOptions& options) {
  sim::Disk* disk = process.volume;
  if (!set.full.has_value()) return absl::NotFoundError("no base snapshot found to restore from");
  const std::string part = options.data_dir + ".part";
  Log("initializer", fmt::format("Removing directory({}).", part));
  if (absl::Status s = disk->RemoveAll(part); !s.ok()) return s;
  Log(kActor, fmt::format("Creating temporary directory {} for persisting full and delta snapshots locally.",
                          options.temp_dir));
  if (absl::Status s = disk->MkdirAll(options.temp_dir); !s.ok()) return s;

  Log(kActor, fmt::format("Restoring from base snapshot: {}", set.full->Name()));
  const sim::SimTime fetch_start = process.Now();
  absl::StatusOr<std::string> full = FetchPayload(store, *set.full);
  if (!full.ok()) return absl::Status(full.status().code(), fmt::format("failed to fetch snapshot: {}", std::string(full.status().message())));
  const std::string took = Seconds(process.Now() - fetch_start);
  Log(kActor, fmt::format("Fetched the snapshot from the object store in {} seconds", took));
  Log(kActor, fmt::format("Successfully fetched and saved data of the base snapshot in {} seconds [CompressionPolicy:gzip]", took));

  model::etcd::RestoreConfig config;
  config.data_dir = part;
  std::string image = *full;
  if (set.deltas.empty()) {
    Log(kActor, "No delta snapshots present over base snapshot.");
  } else {
    Log(kActor, fmt::format("Attempting to apply {} delta snapshots for restoration.", set.deltas.size()));
    std::vector<std::string> payloads;
    for (const Snapshot& delta : set.deltas) {
      absl::StatusOr<std::string> payload = FetchPayload(store, delta);
      if (!payload.ok()) return payload.status();
      payloads.push_back(*std::move(payload));
    }
    absl::StatusOr<std::string> applied = ApplyDeltas(image, set.deltas, payloads);
    if (!applied.ok()) return applied.status();
    image = *std::move(applied);
    config.updated_peer_urls = {options.peer_url};
  }
  if (absl::Status s = model::etcd::RestoreSnapshot(disk, image, config); !s.ok()) {
    (void)disk->RemoveAll(options.temp_dir);
    return s;
  }
  Log(kActor, fmt::format("Successfully restored from base snapshot: {}", set.full->Name()));
  if (!set.deltas.empty()) Log("member-add", "Successfully updated the member peer URL");
  (void)disk->RemoveAll(options.temp_dir);

  Log("initializer", fmt::format("Removing directory({}).", options.data_dir));
  if (absl::Status s = disk->RemoveAll(options.data_dir); !s.ok()) return s;
  if (absl::Status s = disk->Rename(part, options.data_dir); !s.ok()) return s;
  Log("initializer", "Successfully restored the etcd data directory.");
  return absl::OkStatus();
}

}  // namespace model::br
