// BR's delta snapshot format (pkg/snapshot/snapshotter: TakeDeltaSnapshot,
// restorer applyDeltaSnapshot): a JSON array of `{"etcdEvent":E,"time":T}`
// where E is etcd's mvccpb.Event with protobuf JSON tags (`type` numeric,
// PUT = 0 omitted, DELETE = 1; `kv` with base64 `key` and `value`,
// `create_revision`, `mod_revision`, `version`, `lease`, zeros omitted),
// followed by the raw 32-byte SHA-256 of the JSON; the whole then gzip'd.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/etcd/api.pb.h"

namespace model::br {

struct DeltaEvent {
  etcd_dst::etcd::Event event;
  std::string time;  // RFC 3339, when the watch delivered it
};

// The JSON array of the events (without the hash).
std::string EncodeDeltaEvents(const std::vector<DeltaEvent>& events);
// The JSON array and its SHA-256 trailer, as uploaded before compression.
std::string EncodeDelta(const std::vector<DeltaEvent>& events);
// Verifies the trailer and parses the events: "delta snapshot is missing
// hash" if 32 bytes or fewer, DataLoss on a hash mismatch or bad JSON.
absl::StatusOr<std::vector<etcd_dst::etcd::Event>> DecodeDelta(const std::string& data);

}  // namespace model::br
