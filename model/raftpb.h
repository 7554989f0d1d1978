// The raft and WAL messages etcd 3.4 writes to disk (raft/raftpb, wal/walpb,
// etcdserver/etcdserverpb Metadata), with gogoproto-identical encodings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace model::raftpb {

enum class EntryType : uint64_t { kNormal = 0, kConfChange = 1, kConfChangeV2 = 2 };

struct Entry {
  uint64_t term = 0;
  uint64_t index = 0;
  EntryType type = EntryType::kNormal;
  std::optional<std::string> data;  // nil vs empty matters on the wire
  bool operator==(const Entry&) const = default;
};

struct HardState {
  uint64_t term = 0;
  uint64_t vote = 0;
  uint64_t commit = 0;
  bool operator==(const HardState&) const = default;
  bool empty() const { return term == 0 && vote == 0 && commit == 0; }
};

enum class ConfChangeType : uint64_t { kAddNode = 0, kRemoveNode = 1, kUpdateNode = 2, kAddLearnerNode = 3 };

struct ConfChange {
  uint64_t id = 0;
  ConfChangeType type = ConfChangeType::kAddNode;
  uint64_t node_id = 0;
  std::optional<std::string> context;
  bool operator==(const ConfChange&) const = default;
};

// walpb.Snapshot: the index and term a WAL snapshot record points at.
struct WalSnapshot {
  uint64_t index = 0;
  uint64_t term = 0;
  bool operator==(const WalSnapshot&) const = default;
};

// etcdserverpb.Metadata, the WAL's metadata record.
struct Metadata {
  uint64_t node_id = 0;
  uint64_t cluster_id = 0;
  bool operator==(const Metadata&) const = default;
};

std::string Encode(const Entry& entry);
std::string Encode(const HardState& state);
std::string Encode(const ConfChange& change);
std::string Encode(const WalSnapshot& snapshot);
std::string Encode(const Metadata& metadata);
bool Decode(std::string_view data, Entry* entry);
bool Decode(std::string_view data, HardState* state);
bool Decode(std::string_view data, ConfChange* change);
bool Decode(std::string_view data, WalSnapshot* snapshot);
bool Decode(std::string_view data, Metadata* metadata);

}  // namespace model::raftpb
