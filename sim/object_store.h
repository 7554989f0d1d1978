// The backup bucket: an S3/Swift-like object store with put, get, delete and
// sorted prefix listings, each taking a latency. Injectable faults, drawn
// from the bucket's own RNG stream:
//   - transient errors (503 Service Unavailable, 429 Too Many Requests);
//   - an ambiguous timeout: the put happened, the caller hears DeadlineExceeded;
//   - a failed upload that leaves nothing;
//   - an eventual listing: objects put (or deleted) within the last `listing_lag`
//     are not yet (or still) listed, while Get already sees the truth.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sim/rng.h"
#include "sim/time.h"

namespace sim {

class Simulation;

struct ObjectStoreFaults {
  uint32_t transient_error_per_million = 0;  // half 503, half 429
  uint32_t ambiguous_timeout_per_million = 0;
  uint32_t failed_upload_per_million = 0;
  SimDuration listing_lag = SimDuration::Zero();
  SimDuration ambiguous_timeout = SimDuration::Seconds(30);
};

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  SimTime created;
};

class ObjectStore {
 public:
  ObjectStore(Simulation* simulation, std::string bucket,
              SimDuration latency_base = SimDuration::Millis(20),
              SimDuration latency_jitter = SimDuration::Millis(30));
  ObjectStore(const ObjectStore&) = delete;
  ObjectStore& operator=(const ObjectStore&) = delete;

  const std::string& bucket() const { return bucket_; }

  // Blocking calls (actors only).
  absl::Status Put(std::string_view key, std::string data);
  absl::StatusOr<std::string> Get(std::string_view key);
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix);  // sorted by key
  absl::Status Delete(std::string_view key);

  void set_faults(const ObjectStoreFaults& faults);
  const ObjectStoreFaults& faults() const { return faults_; }

  // Inspection, without latency or faults (for checks and tests).
  std::vector<ObjectInfo> Contents() const;
  std::optional<std::string> Peek(std::string_view key) const;
  // Writes every object as a file named by its key under `directory`.
  absl::Status Export(const std::string& directory) const;

 private:
  struct Object {
    std::string data;
    SimTime put_time;
    bool deleted = false;
    SimTime delete_time;
  };
  // Waits one latency and maybe fails the call with a transient error.
  absl::Status Begin(const char* op, std::string_view key);

  Simulation* simulation_;
  std::string bucket_;
  SimDuration latency_base_;
  SimDuration latency_jitter_;
  Rng* rng_;
  ObjectStoreFaults faults_;
  std::map<std::string, Object, std::less<>> objects_;
};

}  // namespace sim
