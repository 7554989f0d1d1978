#include "model/raft.h"

#include <algorithm>

#include "sim/check.h"

namespace model::raft {

const char* MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kProposal: return "MsgProp";
    case MessageType::kVote: return "MsgVote";
    case MessageType::kVoteResponse: return "MsgVoteResp";
    case MessageType::kAppend: return "MsgApp";
    case MessageType::kAppendResponse: return "MsgAppResp";
    case MessageType::kHeartbeat: return "MsgHeartbeat";
    case MessageType::kHeartbeatResponse: return "MsgHeartbeatResp";
    case MessageType::kSnapshot: return "MsgSnap";
  }
  return "?";
}

const char* RoleName(Role role) {
  switch (role) {
    case Role::kFollower: return "follower";
    case Role::kCandidate: return "candidate";
    case Role::kLeader: return "leader";
  }
  return "?";
}

Raft::Raft(Config config, const Snapshot& snapshot, const HardState& state, std::vector<Entry> entries,
           const std::vector<std::pair<uint64_t, std::string>>& bootstrap_peers)
    : config_(config), snapshot_(snapshot), log_(std::move(entries)) {
  SIM_CHECK(config_.rng != nullptr && config_.id != kNone, "raft needs an id and an rng");
  term_ = state.term;
  vote_ = state.vote;
  commit_ = state.commit;
  conf_ = snapshot.conf;
  applied_ = snapshot.index;
  stable_ = last_index();
  persisted_state_ = state;
  for (size_t i = 0; i < log_.size(); ++i) {
    SIM_CHECK(log_[i].index == snapshot_.index + 1 + i, "raft log is not contiguous at {}", log_[i].index);
  }
  if (!bootstrap_peers.empty()) {
    SIM_CHECK(log_.empty() && snapshot_.empty(), "bootstrapping a node that has a log");
    // raft.StartNode: term 1, one committed AddNode per peer, applied to the
    // configuration at once; the entries are persisted by the first Ready.
    BecomeFollower(1, kNone);
    for (size_t i = 0; i < bootstrap_peers.size(); ++i) {
      ConfChange change;
      change.type = raftpb::ConfChangeType::kAddNode;
      change.node_id = bootstrap_peers[i].first;
      change.context = bootstrap_peers[i].second;
      log_.push_back({1, i + 1, raftpb::EntryType::kConfChange, raftpb::Encode(change)});
      conf_.voters.insert(bootstrap_peers[i].first);
    }
    commit_ = log_.size();
    stable_ = 0;
  } else {
    BecomeFollower(term_, kNone);
  }
}

uint64_t Raft::last_index() const { return log_.empty() ? snapshot_.index : log_.back().index; }

std::optional<uint64_t> Raft::TermAt(uint64_t index) const {
  if (index == snapshot_.index) return snapshot_.term;
  if (index < snapshot_.index || index > last_index()) return std::nullopt;
  return log_[index - snapshot_.index - 1].term;
}

void Raft::ResetTimers() {
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  randomized_election_ticks_ =
      config_.election_ticks + static_cast<int>(config_.rng->UniformBelow(static_cast<uint64_t>(config_.election_ticks)));
}

void Raft::BecomeFollower(uint64_t term, uint64_t lead) {
  if (term != term_) {
    term_ = term;
    vote_ = kNone;
  }
  role_ = Role::kFollower;
  lead_ = lead;
  ResetTimers();
}

void Raft::BecomeCandidate() {
  SIM_CHECK(role_ != Role::kLeader, "a leader cannot become a candidate");
  term_ += 1;
  vote_ = config_.id;
  lead_ = kNone;
  role_ = Role::kCandidate;
  ResetTimers();
  votes_granted_ = {config_.id};
  votes_rejected_.clear();
  if (votes_granted_.size() >= Quorum()) {
    BecomeLeader();
    return;
  }
  const uint64_t last = last_index();
  for (uint64_t voter : conf_.voters) {
    if (voter == config_.id) continue;
    Message vote;
    vote.type = MessageType::kVote;
    vote.to = voter;
    vote.index = last;
    vote.log_term = *TermAt(last);
    Send(std::move(vote));
  }
}

void Raft::BecomeLeader() {
  role_ = Role::kLeader;
  lead_ = config_.id;
  ResetTimers();
  progress_.clear();
  SyncProgress();
  for (auto& [id, progress] : progress_) progress.recent_active = true;
  pending_conf_index_ = last_index();
  AppendEntries({Entry{}});
  BroadcastAppend();
}

void Raft::SyncProgress() {
  std::set<uint64_t> members = conf_.voters;
  members.insert(conf_.learners.begin(), conf_.learners.end());
  for (auto it = progress_.begin(); it != progress_.end();) {
    it = members.contains(it->first) ? std::next(it) : progress_.erase(it);
  }
  for (uint64_t id : members) {
    if (progress_.contains(id)) continue;
    Progress progress;
    progress.next = last_index() + 1;
    progress.recent_active = true;
    if (id == config_.id) progress.match = last_index();
    progress_[id] = progress;
  }
}

void Raft::Send(Message message) {
  message.from = config_.id;
  if (message.type != MessageType::kProposal) message.term = term_;
  outbox_.push_back(std::move(message));
}

void Raft::Tick() {
  if (role_ != Role::kLeader) {
    ++election_elapsed_;
    if (!Promotable() || election_elapsed_ < randomized_election_ticks_) return;
    election_elapsed_ = 0;
    // etcd refuses to campaign with committed conf changes not yet applied.
    for (uint64_t i = applied_ + 1; i <= commit_; ++i) {
      std::optional<uint64_t> term = TermAt(i);
      if (term && log_[i - snapshot_.index - 1].type == raftpb::EntryType::kConfChange) return;
    }
    BecomeCandidate();
    return;
  }
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_ticks) {
    election_elapsed_ = 0;
    if (config_.check_quorum) {
      size_t active = 0;
      for (auto& [id, progress] : progress_) {
        if (conf_.voters.contains(id) && (id == config_.id || progress.recent_active)) ++active;
        if (id != config_.id) progress.recent_active = false;
      }
      if (active < Quorum()) {
        BecomeFollower(term_, kNone);
        return;
      }
    }
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    BroadcastHeartbeat();
  }
}

bool Raft::UpToDate(uint64_t index, uint64_t term) const {
  const uint64_t my_last = last_index();
  const uint64_t my_term = *TermAt(my_last);
  return term > my_term || (term == my_term && index >= my_last);
}

void Raft::Step(const Message& m) {
  if (m.type != MessageType::kProposal) {
    if (m.term > term_) {
      if (m.type == MessageType::kVote) {
        const bool in_lease = config_.check_quorum && lead_ != kNone && election_elapsed_ < config_.election_ticks;
        if (in_lease) return;
      }
      const bool from_leader = m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
                               m.type == MessageType::kSnapshot;
      BecomeFollower(m.term, from_leader ? m.from : kNone);
    } else if (m.term < term_) {
      // Tell a stale leader about the newer term, so it steps down.
      if (config_.check_quorum && (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat)) {
        Message response;
        response.type = MessageType::kAppendResponse;
        response.to = m.from;
        Send(std::move(response));
      }
      return;
    }
  }

  switch (m.type) {
    case MessageType::kVote: {
      const bool can_vote = vote_ == m.from || (vote_ == kNone && lead_ == kNone);
      Message response;
      response.type = MessageType::kVoteResponse;
      response.to = m.from;
      if (can_vote && UpToDate(m.index, m.log_term)) {
        election_elapsed_ = 0;
        vote_ = m.from;
      } else {
        response.reject = true;
      }
      Send(std::move(response));
      return;
    }
    case MessageType::kProposal:
      if (role_ == Role::kLeader) {
        AppendEntries(m.entries);
        BroadcastAppend();
      } else if (lead_ != kNone) {
        Message forward = m;
        forward.to = lead_;
        Send(std::move(forward));
      }
      return;
    default:
      break;
  }

  if (role_ == Role::kLeader) {
    auto it = progress_.find(m.from);
    if (it == progress_.end()) return;
    Progress& progress = it->second;
    if (m.type == MessageType::kAppendResponse) {
      progress.recent_active = true;
      if (m.reject) {
        // raft's Progress.MaybeDecrTo: while replicating, any rejection above
        // the match sends next back to match + 1 and turns to probing (the
        // entries in between were lost, e.g. with a reset stream); while
        // probing, only the rejection of the entry just probed counts.
        bool decreased = false;
        if (!progress.probing) {
          if (m.index > progress.match) {
            progress.next = progress.match + 1;
            decreased = true;
          }
        } else if (progress.next > 1 && m.index == progress.next - 1) {
          progress.next = std::max<uint64_t>(1, std::min(m.index, m.reject_hint + 1));
          decreased = true;
        }
        if (decreased) {
          progress.probing = true;
          SendAppend(m.from, true);
        }
        return;
      }
      // raft's Progress.MaybeUpdate: an acknowledgement that moves nothing
      // (stale, or a follower answering with its commit index below the
      // probe) sends nothing, or a diverged follower would loop forever.
      if (m.index <= progress.match) {
        progress.next = std::max(progress.next, m.index + 1);
        return;
      }
      progress.match = m.index;
      progress.probing = false;
      progress.next = std::max(progress.next, m.index + 1);
      if (MaybeCommit()) {
        BroadcastAppend();
      } else if (progress.next <= last_index()) {
        SendAppend(m.from, false);
      }
    } else if (m.type == MessageType::kHeartbeatResponse) {
      // An empty append too: if the entries sent optimistically were lost,
      // the follower's rejection of it is how the leader finds out.
      progress.recent_active = true;
      if (progress.match < last_index()) SendAppend(m.from, true);
    }
    return;
  }

  if (role_ == Role::kCandidate) {
    if (m.type == MessageType::kVoteResponse) {
      (m.reject ? votes_rejected_ : votes_granted_).insert(m.from);
      if (votes_granted_.size() >= Quorum()) {
        BecomeLeader();
      } else if (votes_rejected_.size() >= Quorum()) {
        BecomeFollower(term_, kNone);
      }
      return;
    }
    if (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat || m.type == MessageType::kSnapshot) {
      BecomeFollower(term_, m.from);
    } else {
      return;
    }
  }

  // Follower.
  switch (m.type) {
    case MessageType::kAppend:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleAppend(m);
      break;
    case MessageType::kHeartbeat: {
      election_elapsed_ = 0;
      lead_ = m.from;
      commit_ = std::max(commit_, std::min(m.commit, last_index()));
      Message response;
      response.type = MessageType::kHeartbeatResponse;
      response.to = m.from;
      Send(std::move(response));
      break;
    }
    case MessageType::kSnapshot:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleSnapshot(m);
      break;
    default:
      break;
  }
}

void Raft::Truncate(uint64_t after) {
  SIM_CHECK(after >= commit_, "raft: entry {} conflicts with committed entry (commit {})", after + 1, commit_);
  log_.resize(after - snapshot_.index);
  stable_ = std::min(stable_, after);
}

void Raft::HandleAppend(const Message& m) {
  Message response;
  response.type = MessageType::kAppendResponse;
  response.to = m.from;
  if (m.index < commit_) {
    response.index = commit_;
    Send(std::move(response));
    return;
  }
  std::optional<uint64_t> term = TermAt(m.index);
  if (!term.has_value() || *term != m.log_term) {
    response.reject = true;
    response.index = m.index;
    response.reject_hint = last_index();
    Send(std::move(response));
    return;
  }
  for (const Entry& entry : m.entries) {
    std::optional<uint64_t> existing = TermAt(entry.index);
    if (existing.has_value() && *existing == entry.term) continue;
    if (existing.has_value()) Truncate(entry.index - 1);
    SIM_CHECK(entry.index == last_index() + 1, "raft: gap appending entry {} after {}", entry.index, last_index());
    log_.push_back(entry);
  }
  const uint64_t last_new = m.index + m.entries.size();
  commit_ = std::max(commit_, std::min(m.commit, last_new));
  response.index = last_new;
  Send(std::move(response));
}

void Raft::HandleSnapshot(const Message& m) {
  Message response;
  response.type = MessageType::kAppendResponse;
  response.to = m.from;
  const Snapshot& snapshot = m.snapshot;
  if (snapshot.index <= commit_) {
    response.index = commit_;
    Send(std::move(response));
    return;
  }
  std::optional<uint64_t> term = TermAt(snapshot.index);
  if (term.has_value() && *term == snapshot.term) {
    commit_ = snapshot.index;  // fast-forward: the log already has it
  } else {
    snapshot_ = snapshot;
    log_.clear();
    commit_ = snapshot.index;
    conf_ = snapshot.conf;
    stable_ = snapshot.index;
    pending_snapshot_ = snapshot;
  }
  response.index = last_index();
  Send(std::move(response));
}

void Raft::SendAppend(uint64_t to, bool allow_empty) {
  Progress& progress = progress_.at(to);
  const uint64_t previous = progress.next - 1;
  std::optional<uint64_t> previous_term = TermAt(previous);
  Message message;
  message.to = to;
  if (!previous_term.has_value()) {
    // The follower needs entries that were compacted: send the snapshot.
    message.type = MessageType::kSnapshot;
    message.snapshot = snapshot_;
    progress.next = snapshot_.index + 1;
    progress.probing = true;
    Send(std::move(message));
    return;
  }
  message.type = MessageType::kAppend;
  message.index = previous;
  message.log_term = *previous_term;
  message.commit = commit_;
  for (uint64_t i = progress.next; i <= last_index() && message.entries.size() < config_.max_entries_per_message; ++i) {
    message.entries.push_back(log_[i - snapshot_.index - 1]);
  }
  if (message.entries.empty() && !allow_empty) return;
  if (!progress.probing && !message.entries.empty()) progress.next = message.entries.back().index + 1;
  Send(std::move(message));
}

void Raft::BroadcastAppend() {
  for (const auto& [id, progress] : progress_) {
    if (id != config_.id) SendAppend(id, true);
  }
}

void Raft::BroadcastHeartbeat() {
  for (const auto& [id, progress] : progress_) {
    if (id == config_.id) continue;
    Message heartbeat;
    heartbeat.type = MessageType::kHeartbeat;
    heartbeat.to = id;
    heartbeat.commit = std::min(progress.match, commit_);
    Send(std::move(heartbeat));
  }
}

bool Raft::MaybeCommit() {
  std::vector<uint64_t> matches;
  for (uint64_t voter : conf_.voters) {
    auto it = progress_.find(voter);
    matches.push_back(voter == config_.id ? last_index() : it == progress_.end() ? 0 : it->second.match);
  }
  if (matches.empty()) return false;
  std::sort(matches.rbegin(), matches.rend());
  const uint64_t candidate = matches[Quorum() - 1];
  // Only entries of the current term are committed by counting replicas.
  if (candidate > commit_ && TermAt(candidate) == term_) {
    commit_ = candidate;
    return true;
  }
  return false;
}

void Raft::AppendEntries(std::vector<Entry> entries) {
  for (Entry& entry : entries) {
    entry.term = term_;
    entry.index = last_index() + 1;
    if (entry.type == raftpb::EntryType::kConfChange) {
      if (pending_conf_index_ > applied_) {
        // One conf change at a time: this one becomes an empty entry.
        entry.type = raftpb::EntryType::kNormal;
        entry.data.reset();
      } else {
        pending_conf_index_ = entry.index;
      }
    }
    log_.push_back(std::move(entry));
  }
  if (auto it = progress_.find(config_.id); it != progress_.end()) it->second.match = last_index();
  MaybeCommit();
}

absl::Status Raft::Propose(std::string data) {
  Message proposal;
  proposal.type = MessageType::kProposal;
  proposal.entries.push_back({0, 0, raftpb::EntryType::kNormal, std::move(data)});
  if (role_ != Role::kLeader && lead_ == kNone) return absl::UnavailableError("raft proposal dropped");
  proposal.from = config_.id;
  Step(proposal);
  return absl::OkStatus();
}

absl::Status Raft::ProposeConfChange(const ConfChange& change) {
  Message proposal;
  proposal.type = MessageType::kProposal;
  proposal.entries.push_back({0, 0, raftpb::EntryType::kConfChange, raftpb::Encode(change)});
  if (role_ != Role::kLeader && lead_ == kNone) return absl::UnavailableError("raft proposal dropped");
  proposal.from = config_.id;
  Step(proposal);
  return absl::OkStatus();
}

ConfState Raft::ApplyConfChange(const ConfChange& change) {
  switch (change.type) {
    case raftpb::ConfChangeType::kAddNode:
      conf_.learners.erase(change.node_id);
      conf_.voters.insert(change.node_id);
      break;
    case raftpb::ConfChangeType::kAddLearnerNode:
      if (!conf_.voters.contains(change.node_id)) conf_.learners.insert(change.node_id);
      break;
    case raftpb::ConfChangeType::kRemoveNode:
      conf_.voters.erase(change.node_id);
      conf_.learners.erase(change.node_id);
      break;
    case raftpb::ConfChangeType::kUpdateNode:
      break;
  }
  if (role_ == Role::kLeader) {
    SyncProgress();
    if (MaybeCommit()) BroadcastAppend();
  }
  return conf_;
}

void Raft::Compact(const Snapshot& snapshot) {
  SIM_CHECK(snapshot.index <= applied_ && snapshot.index > snapshot_.index, "bad compaction to {}", snapshot.index);
  log_.erase(log_.begin(), log_.begin() + static_cast<std::ptrdiff_t>(snapshot.index - snapshot_.index));
  snapshot_ = snapshot;
}

bool Raft::HasReady() const {
  const HardState state{term_, vote_, commit_};
  return !(state == persisted_state_) || stable_ < last_index() || pending_snapshot_.has_value() ||
         commit_ > applied_ || !outbox_.empty();
}

Ready Raft::GetReady() {
  Ready ready;
  const HardState state{term_, vote_, commit_};
  if (!(state == persisted_state_)) ready.hard_state = state;
  if (pending_snapshot_.has_value()) ready.snapshot = pending_snapshot_;
  for (uint64_t i = std::max(stable_, snapshot_.index) + 1; i <= last_index(); ++i) {
    ready.entries.push_back(log_[i - snapshot_.index - 1]);
  }
  const uint64_t apply_from = std::max(applied_, snapshot_.index) + 1;
  for (uint64_t i = apply_from; i <= commit_ && i <= last_index(); ++i) ready.committed.push_back(log_[i - snapshot_.index - 1]);
  ready.messages = std::move(outbox_);
  outbox_.clear();
  ready.must_sync = !ready.entries.empty() || state.term != persisted_state_.term || state.vote != persisted_state_.vote;
  return ready;
}

void Raft::Advance(const Ready& ready) {
  if (ready.hard_state.has_value()) persisted_state_ = *ready.hard_state;
  if (!ready.entries.empty()) stable_ = std::max(stable_, ready.entries.back().index);
  if (ready.snapshot.has_value()) {
    applied_ = std::max(applied_, ready.snapshot->index);
    stable_ = std::max(stable_, ready.snapshot->index);
    pending_snapshot_.reset();
  }
  if (!ready.committed.empty()) applied_ = std::max(applied_, ready.committed.back().index);
}

}  // namespace model::raft
