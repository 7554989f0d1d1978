// Raft as etcd 3.4 uses it (etcd-io/etcd raft/), as a pure state machine: no
// clock, no I/O. The member ticks it every heartbeat interval, steps it with
// messages, and drains Ready: save the hard state and entries to the WAL
// first, then send the messages, then apply the committed entries, then
// Advance. Randomness (election timeouts) comes from the caller's stream.
//
// What etcd's configuration turns on: CheckQuorum (a leader that has not heard
// from a quorum for an election timeout steps down, and followers that heard
// from a leader within the timeout ignore votes), no PreVote, learners that
// never vote or count for quorum, one pending conf change at a time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/raftpb.h"
#include "sim/rng.h"

namespace model::raft {

using raftpb::ConfChange;
using raftpb::Entry;
using raftpb::HardState;

inline constexpr uint64_t kNone = 0;

struct ConfState {
  std::set<uint64_t> voters;
  std::set<uint64_t> learners;
  bool operator==(const ConfState&) const = default;
};

struct Snapshot {
  uint64_t index = 0;
  uint64_t term = 0;
  ConfState conf;
  std::string data;  // the application's state at `index`
  bool empty() const { return index == 0; }
};

enum class MessageType : uint8_t {
  kProposal,  // forwarded to the leader
  kVote,
  kVoteResponse,
  kAppend,
  kAppendResponse,
  kHeartbeat,
  kHeartbeatResponse,
  kSnapshot,
};
const char* MessageTypeName(MessageType type);

struct Message {
  MessageType type = MessageType::kAppend;
  uint64_t from = 0;
  uint64_t to = 0;
  uint64_t term = 0;
  uint64_t log_term = 0;  // append: term of `index`; vote: term of the last entry
  uint64_t index = 0;     // append: index before `entries`; vote: last index; response: last accepted
  std::vector<Entry> entries;
  uint64_t commit = 0;
  bool reject = false;
  uint64_t reject_hint = 0;
  Snapshot snapshot;
};

enum class Role : uint8_t { kFollower, kCandidate, kLeader };
const char* RoleName(Role role);

struct Config {
  uint64_t id = 0;
  int election_ticks = 10;
  int heartbeat_ticks = 1;
  bool check_quorum = true;
  size_t max_entries_per_message = 64;
  sim::Rng* rng = nullptr;
};

// What the member must do next.
struct Ready {
  std::optional<HardState> hard_state;  // changed: persist it
  std::vector<Entry> entries;           // to append to the WAL before sending
  std::optional<Snapshot> snapshot;     // to persist and restore from
  std::vector<Entry> committed;         // to apply, in order
  std::vector<Message> messages;        // to send after persisting
  bool must_sync = false;
};

struct Progress {
  uint64_t match = 0;
  uint64_t next = 1;
  bool recent_active = false;
  bool probing = true;  // send one append at a time until the follower matches
};

class Raft {
 public:
  // Starts from what was persisted: a snapshot, the hard state and the log
  // entries after the snapshot. `peers` bootstraps a new cluster (empty log)
  // with one ConfChangeAddNode entry per peer at term 1, as raft.StartNode.
  Raft(Config config, const Snapshot& snapshot, const HardState& state, std::vector<Entry> entries,
       const std::vector<std::pair<uint64_t, std::string>>& bootstrap_peers = {});

  void Tick();
  void Step(const Message& message);
  // Appends to the leader's log (followers forward to the leader). Unavailable
  // "raft proposal dropped" without a leader.
  absl::Status Propose(std::string data);
  absl::Status ProposeConfChange(const ConfChange& change);
  // Called by the member when a committed conf change is applied.
  ConfState ApplyConfChange(const ConfChange& change);
  // Replaces everything up to `snapshot.index` (log compaction).
  void Compact(const Snapshot& snapshot);

  bool HasReady() const;
  Ready GetReady();
  void Advance(const Ready& ready);

  uint64_t id() const { return config_.id; }
  uint64_t term() const { return term_; }
  uint64_t lead() const { return lead_; }
  Role role() const { return role_; }
  uint64_t commit() const { return commit_; }
  uint64_t applied() const { return applied_; }
  uint64_t last_index() const;
  uint64_t first_index() const { return snapshot_.index + 1; }
  const ConfState& conf() const { return conf_; }
  const std::map<uint64_t, Progress>& progress() const { return progress_; }
  // The term of entry `index`, if it is in the log or is the snapshot's.
  std::optional<uint64_t> TermAt(uint64_t index) const;

 private:
  void BecomeFollower(uint64_t term, uint64_t lead);
  void BecomeCandidate();
  void BecomeLeader();
  void ResetTimers();
  bool Promotable() const { return conf_.voters.contains(config_.id); }
  size_t Quorum() const { return conf_.voters.size() / 2 + 1; }
  void Send(Message message);
  void SendAppend(uint64_t to, bool allow_empty);
  void BroadcastAppend();
  void BroadcastHeartbeat();
  bool MaybeCommit();
  void AppendEntries(std::vector<Entry> entries);  // leader: local append
  void HandleAppend(const Message& message);
  void HandleSnapshot(const Message& message);
  bool UpToDate(uint64_t last_index, uint64_t last_term) const;
  void SyncProgress();
  void Truncate(uint64_t after);  // drops entries with index > after

  Config config_;
  uint64_t term_ = 0;
  uint64_t vote_ = kNone;
  uint64_t commit_ = 0;
  uint64_t applied_ = 0;
  uint64_t lead_ = kNone;
  Role role_ = Role::kFollower;
  Snapshot snapshot_;            // the compacted prefix
  std::vector<Entry> log_;       // entries after the snapshot
  uint64_t stable_ = 0;          // entries up to here were handed out to persist
  std::optional<Snapshot> pending_snapshot_;
  ConfState conf_;
  std::map<uint64_t, Progress> progress_;
  std::set<uint64_t> votes_granted_;
  std::set<uint64_t> votes_rejected_;
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_ticks_ = 0;
  uint64_t pending_conf_index_ = 0;
  HardState persisted_state_;
  std::vector<Message> outbox_;
};

}  // namespace model::raft
