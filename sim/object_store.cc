#include "sim/object_store.h"

#include <filesystem>
#include <fstream>

#include "fmt/format.h"
#include "sim/simulation.h"
#include "sim/trace.h"

namespace sim {

ObjectStore::ObjectStore(Simulation* simulation, std::string bucket, SimDuration latency_base,
                         SimDuration latency_jitter)
    : simulation_(simulation),
      bucket_(std::move(bucket)),
      latency_base_(latency_base),
      latency_jitter_(latency_jitter),
      rng_(&simulation->Stream("objectstore." + bucket_)) {}

void ObjectStore::set_faults(const ObjectStoreFaults& faults) {
  faults_ = faults;
  TraceEvent("ObjectStoreFaults")
      .Detail("bucket", bucket_)
      .Detail("transient_ppm", faults.transient_error_per_million)
      .Detail("ambiguous_ppm", faults.ambiguous_timeout_per_million)
      .Detail("failed_upload_ppm", faults.failed_upload_per_million)
      .Detail("listing_lag", faults.listing_lag);
}

absl::Status ObjectStore::Begin(const char* op, std::string_view key) {
  this_actor::SleepFor(latency_base_ + rng_->DurationIn(SimDuration::Zero(), latency_jitter_));
  if (faults_.transient_error_per_million > 0 && rng_->Chance(faults_.transient_error_per_million, 1000000)) {
    const bool throttled = rng_->Chance(1, 2);
    const char* error = throttled ? "429 Too Many Requests" : "503 Service Unavailable";
    TraceEvent("ObjectStoreError").Detail("bucket", bucket_).Detail("op", op).Detail("key", key).Detail("error", error);
    return throttled ? absl::ResourceExhaustedError(error) : absl::UnavailableError(error);
  }
  return absl::OkStatus();
}

absl::Status ObjectStore::Put(std::string_view key, std::string data) {
  if (absl::Status status = Begin("put", key); !status.ok()) return status;
  if (faults_.failed_upload_per_million > 0 && rng_->Chance(faults_.failed_upload_per_million, 1000000)) {
    TraceEvent("ObjectStoreError").Detail("bucket", bucket_).Detail("op", "put").Detail("key", key)
        .Detail("error", "upload failed, nothing stored");
    return absl::UnavailableError("upload failed: connection reset");
  }
  const bool ambiguous = faults_.ambiguous_timeout_per_million > 0 &&
                         rng_->Chance(faults_.ambiguous_timeout_per_million, 1000000);
  const uint64_t size = data.size();
  Object& object = objects_[std::string(key)];
  object.data = std::move(data);
  object.put_time = simulation_->Now();
  object.deleted = false;
  TraceEvent("ObjectPut").Detail("bucket", bucket_).Detail("key", key).Detail("size", size)
      .Detail("ambiguous", ambiguous);
  if (ambiguous) {
    this_actor::SleepFor(faults_.ambiguous_timeout);
    return absl::DeadlineExceededError("put timed out (the object may have been stored)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ObjectStore::Get(std::string_view key) {
  if (absl::Status status = Begin("get", key); !status.ok()) return status;
  auto it = objects_.find(key);
  if (it == objects_.end() || it->second.deleted) return absl::NotFoundError(fmt::format("no such key: {}", key));
  return it->second.data;
}

absl::StatusOr<std::vector<ObjectInfo>> ObjectStore::List(std::string_view prefix) {
  if (absl::Status status = Begin("list", prefix); !status.ok()) return status;
  const SimTime now = simulation_->Now();
  std::vector<ObjectInfo> listing;
  uint64_t hidden = 0;
  for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.starts_with(prefix); ++it) {
    const Object& object = it->second;
    // The index lags the store: it reflects the state of `listing_lag` ago.
    const bool listed_put = object.put_time + faults_.listing_lag <= now;
    const bool listed_delete = object.deleted && object.delete_time + faults_.listing_lag <= now;
    if (listed_put && !listed_delete) {
      listing.push_back({it->first, object.data.size(), object.put_time});
    } else if (!object.deleted || !listed_delete) {
      ++hidden;
    }
  }
  if (hidden > 0) TraceEvent("ListingLagged").Detail("bucket", bucket_).Detail("prefix", prefix).Detail("hidden", hidden);
  return listing;
}

absl::Status ObjectStore::Delete(std::string_view key) {
  if (absl::Status status = Begin("delete", key); !status.ok()) return status;
  auto it = objects_.find(key);
  if (it == objects_.end() || it->second.deleted) return absl::NotFoundError(fmt::format("no such key: {}", key));
  it->second.deleted = true;
  it->second.delete_time = simulation_->Now();
  TraceEvent("ObjectDeleted").Detail("bucket", bucket_).Detail("key", key);
  return absl::OkStatus();
}

std::vector<ObjectInfo> ObjectStore::Contents() const {
  std::vector<ObjectInfo> contents;
  for (const auto& [key, object] : objects_) {
    if (!object.deleted) contents.push_back({key, object.data.size(), object.put_time});
  }
  return contents;
}

std::optional<std::string> ObjectStore::Peek(std::string_view key) const {
  auto it = objects_.find(key);
  if (it == objects_.end() || it->second.deleted) return std::nullopt;
  return it->second.data;
}

absl::Status ObjectStore::Export(const std::string& directory) const {
  std::error_code error;
  for (const auto& [key, object] : objects_) {
    if (object.deleted) continue;
    if (key.find("..") != std::string::npos) return absl::InvalidArgumentError(fmt::format("unsafe key {}", key));
    const std::filesystem::path target = std::filesystem::path(directory) / key;
    std::filesystem::create_directories(target.parent_path(), error);
    if (error) return absl::PermissionDeniedError(fmt::format("cannot create {}", target.parent_path().string()));
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    out.write(object.data.data(), static_cast<std::streamsize>(object.data.size()));
    if (!out) return absl::PermissionDeniedError(fmt::format("cannot write {}", target.string()));
  }
  std::filesystem::create_directories(directory, error);
  return absl::OkStatus();
}

}  // namespace sim
