#include "model/raft.h"

#include <deque>
#include <map>

#include <gtest/gtest.h>

#include "fmt/format.h"

namespace model::raft {
namespace {

// A cluster of raft nodes over an in-memory network with drops, delays and
// partitions, and crash/restart from what each node persisted. Safety is
// checked on every apply.
class Cluster {
 public:
  Cluster(int size, uint64_t seed) : rng_(seed), size_(size) {
    for (int i = 1; i <= size; ++i) peers_.push_back({static_cast<uint64_t>(i), fmt::format("member-{}", i)});
    for (int i = 1; i <= size; ++i) {
      Node& node = nodes_[i];
      node.rng = std::make_unique<sim::Rng>(seed * 1000 + i);
      node.raft = std::make_unique<Raft>(Config{.id = static_cast<uint64_t>(i), .rng = node.rng.get()}, Snapshot{},
                                         HardState{}, std::vector<Entry>{}, peers_);
    }
  }

  void Crash(uint64_t id) { nodes_[id].up = false; }
  void Restart(uint64_t id) {
    Node& node = nodes_[id];
    node.up = true;
    node.raft = std::make_unique<Raft>(Config{.id = id, .rng = node.rng.get()}, Snapshot{}, node.hard_state, node.wal);
    // The member re-applies its conf changes from the log as it applies.
    node.applied.clear();
  }
  void Partition(std::set<uint64_t> side) { side_ = std::move(side); }
  void Heal() { side_.clear(); }
  bool Connected(uint64_t a, uint64_t b) const {
    return side_.empty() || side_.contains(a) == side_.contains(b);
  }

  // One heartbeat interval: every live node ticks, then messages flow.
  void Round(uint32_t drop_per_million = 0) {
    for (auto& [id, node] : nodes_) {
      if (node.up) node.raft->Tick();
    }
    for (int pass = 0; pass < 20; ++pass) {
      bool progress = false;
      for (auto& [id, node] : nodes_) progress |= Drain(id, drop_per_million);
      std::deque<Message> in_flight = std::move(network_);
      network_.clear();
      for (Message& message : in_flight) {
        Node& target = nodes_[message.to];
        if (!target.up || !Connected(message.from, message.to)) continue;
        target.raft->Step(message);
        progress = true;
      }
      if (!progress) break;
    }
  }

  std::optional<uint64_t> Leader() const {
    std::optional<uint64_t> leader;
    uint64_t best_term = 0;
    for (const auto& [id, node] : nodes_) {
      if (node.up && node.raft->role() == Role::kLeader && node.raft->term() >= best_term) {
        leader = id;
        best_term = node.raft->term();
      }
    }
    return leader;
  }

  Raft& raft(uint64_t id) { return *nodes_[id].raft; }
  const std::vector<Entry>& applied(uint64_t id) { return nodes_[id].applied; }
  std::vector<std::string> violations;

 private:
  struct Node {
    std::unique_ptr<sim::Rng> rng;
    std::unique_ptr<Raft> raft;
    HardState hard_state;
    std::vector<Entry> wal;  // what was persisted, after truncations
    std::vector<Entry> applied;
    bool up = true;
  };

  bool Drain(uint64_t id, uint32_t drop_per_million) {
    Node& node = nodes_[id];
    if (!node.up || !node.raft->HasReady()) return false;
    Ready ready = node.raft->GetReady();
    if (ready.hard_state) node.hard_state = *ready.hard_state;
    for (const Entry& entry : ready.entries) {
      while (!node.wal.empty() && node.wal.back().index >= entry.index) node.wal.pop_back();
      node.wal.push_back(entry);
    }
    for (Message& message : ready.messages) {
      if (drop_per_million > 0 && rng_.Chance(drop_per_million, 1000000)) continue;
      network_.push_back(std::move(message));
    }
    // Messages reorder within a round.
    std::vector<Message> shuffled(network_.begin(), network_.end());
    rng_.Shuffle(shuffled);
    network_.assign(shuffled.begin(), shuffled.end());
    for (const Entry& entry : ready.committed) {
      if (entry.type == raftpb::EntryType::kConfChange) {
        ConfChange change;
        raftpb::Decode(*entry.data, &change);
        node.raft->ApplyConfChange(change);
      }
      node.applied.push_back(entry);
      Check(id, entry);
    }
    if (node.raft->role() == Role::kLeader) {
      auto [it, inserted] = leaders_.emplace(node.raft->term(), id);
      if (!inserted && it->second != id) {
        violations.push_back(fmt::format("two leaders in term {}: {} and {}", node.raft->term(), it->second, id));
      }
    }
    node.raft->Advance(ready);
    return true;
  }

  // Committed entries are the same everywhere, forever.
  void Check(uint64_t id, const Entry& entry) {
    auto [it, inserted] = committed_.emplace(entry.index, entry);
    if (!inserted && !(it->second == entry)) {
      violations.push_back(fmt::format("node {} applied a different entry at {}: term {} vs {}", id, entry.index,
                                       entry.term, it->second.term));
    }
  }

  sim::Rng rng_;
  int size_;
  std::vector<std::pair<uint64_t, std::string>> peers_;
  std::map<uint64_t, Node> nodes_;
  std::deque<Message> network_;
  std::set<uint64_t> side_;
  std::map<uint64_t, uint64_t> leaders_;
  std::map<uint64_t, Entry> committed_;
};

// A new three-node cluster applies its bootstrap conf changes, elects one leader, and commits proposals.
TEST(RaftTest, BootstrapElectAndCommit) {
  Cluster cluster(3, 1);
  for (int i = 0; i < 30 && !cluster.Leader(); ++i) cluster.Round();
  ASSERT_TRUE(cluster.Leader().has_value());
  const uint64_t leader = *cluster.Leader();
  EXPECT_EQ(cluster.raft(leader).conf().voters, (std::set<uint64_t>{1, 2, 3}));
  ASSERT_TRUE(cluster.raft(leader).Propose("hello").ok());
  for (int i = 0; i < 3; ++i) cluster.Round();
  for (uint64_t id = 1; id <= 3; ++id) {
    ASSERT_FALSE(cluster.applied(id).empty());
    EXPECT_EQ(cluster.applied(id).back().data, "hello") << id;
    EXPECT_EQ(cluster.applied(id)[0].type, raftpb::EntryType::kConfChange);
  }
  EXPECT_TRUE(cluster.violations.empty()) << cluster.violations[0];
}

// A single node elects itself and commits alone.
TEST(RaftTest, SingleNode) {
  Cluster cluster(1, 2);
  for (int i = 0; i < 30 && !cluster.Leader(); ++i) cluster.Round();
  ASSERT_EQ(cluster.Leader(), 1u);
  ASSERT_TRUE(cluster.raft(1).Propose("x").ok());
  cluster.Round();
  EXPECT_EQ(cluster.applied(1).back().data, "x");
}

// A minority partition cannot commit; after healing, the majority's log wins everywhere.
TEST(RaftTest, MinorityCannotCommit) {
  Cluster cluster(5, 3);
  for (int i = 0; i < 30 && !cluster.Leader(); ++i) cluster.Round();
  const uint64_t old_leader = *cluster.Leader();
  cluster.Partition({old_leader});
  ASSERT_TRUE(cluster.raft(old_leader).Propose("lost").ok());
  for (int i = 0; i < 40; ++i) cluster.Round();
  EXPECT_NE(cluster.raft(old_leader).role(), Role::kLeader);  // CheckQuorum stepped it down
  const uint64_t new_leader = *cluster.Leader();
  EXPECT_NE(new_leader, old_leader);
  ASSERT_TRUE(cluster.raft(new_leader).Propose("kept").ok());
  cluster.Heal();
  for (int i = 0; i < 20; ++i) cluster.Round();
  for (uint64_t id = 1; id <= 5; ++id) {
    for (const Entry& entry : cluster.applied(id)) EXPECT_NE(entry.data, "lost");
    EXPECT_EQ(cluster.applied(id).back().data, "kept") << id;
  }
  EXPECT_TRUE(cluster.violations.empty()) << cluster.violations[0];
}

// Learners replicate but never vote or count for quorum; promotion makes them voters.
TEST(RaftTest, Learners) {
  Cluster cluster(3, 4);
  for (int i = 0; i < 30 && !cluster.Leader(); ++i) cluster.Round();
  const uint64_t leader = *cluster.Leader();
  ConfChange demote;  // make node with the highest id a learner via remove + add learner
  const uint64_t other = leader == 3 ? 2 : 3;
  demote.type = raftpb::ConfChangeType::kRemoveNode;
  demote.node_id = other;
  ASSERT_TRUE(cluster.raft(leader).ProposeConfChange(demote).ok());
  for (int i = 0; i < 5; ++i) cluster.Round();
  ConfChange learner;
  learner.type = raftpb::ConfChangeType::kAddLearnerNode;
  learner.node_id = other;
  ASSERT_TRUE(cluster.raft(leader).ProposeConfChange(learner).ok());
  for (int i = 0; i < 5; ++i) cluster.Round();
  EXPECT_EQ(cluster.raft(leader).conf().learners, std::set<uint64_t>{other});
  EXPECT_EQ(cluster.raft(leader).conf().voters.size(), 2u);
  ASSERT_TRUE(cluster.raft(leader).Propose("to-learner").ok());
  for (int i = 0; i < 5; ++i) cluster.Round();
  EXPECT_EQ(cluster.applied(other).back().data, "to-learner");
  // A learner never campaigns, however long it hears nothing.
  cluster.Partition({other});
  for (int i = 0; i < 60; ++i) cluster.Round();
  EXPECT_EQ(cluster.raft(other).role(), Role::kFollower);
  cluster.Heal();
  ConfChange promote;
  promote.type = raftpb::ConfChangeType::kAddNode;
  promote.node_id = other;
  const uint64_t current = *cluster.Leader();
  ASSERT_TRUE(cluster.raft(current).ProposeConfChange(promote).ok());
  for (int i = 0; i < 5; ++i) cluster.Round();
  EXPECT_EQ(cluster.raft(current).conf().voters.size(), 3u);
  EXPECT_TRUE(cluster.raft(current).conf().learners.empty());
  EXPECT_TRUE(cluster.violations.empty()) << cluster.violations[0];
}

// Entries sent to a replicating follower and lost (its stream reset) reach it later without new
// proposals: a heartbeat response makes the leader send an append, the follower rejects it, and the
// leader probes back from the follower's match, as raft's Progress.MaybeDecrTo does.
TEST(RaftTest, LostAppendsAreResentWithoutNewProposals) {
  Cluster cluster(3, 5);
  for (int i = 0; i < 30 && !cluster.Leader(); ++i) cluster.Round();
  const uint64_t leader = *cluster.Leader();
  ASSERT_TRUE(cluster.raft(leader).Propose("first").ok());
  for (int i = 0; i < 3; ++i) cluster.Round();  // every follower replicating
  const uint64_t follower = leader == 1 ? 2 : 1;
  ASSERT_EQ(cluster.applied(follower).back().data, "first");
  std::set<uint64_t> rest;
  for (uint64_t id = 1; id <= 3; ++id) {
    if (id != follower) rest.insert(id);
  }
  cluster.Partition(rest);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(cluster.raft(leader).Propose(fmt::format("lost-{}", i)).ok());
  cluster.Round();
  cluster.Heal();
  for (int i = 0; i < 10; ++i) cluster.Round();
  ASSERT_EQ(cluster.Leader(), leader);
  EXPECT_EQ(cluster.applied(follower).back().data, "lost-2");
  EXPECT_EQ(cluster.raft(follower).last_index(), cluster.raft(leader).last_index());
  EXPECT_TRUE(cluster.violations.empty()) << cluster.violations[0];
}

// Raft safety over many seeds of drops, partitions, crashes and restarts: at most one
// leader per term, and no committed entry ever changes.
TEST(RaftTest, SafetyUnderChaos) {
  int commits = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    sim::Rng chaos(seed);
    Cluster cluster(seed % 2 == 0 ? 3 : 5, seed);
    const int size = seed % 2 == 0 ? 3 : 5;
    for (int round = 0; round < 300; ++round) {
      if (chaos.Chance(1, 20)) {
        std::set<uint64_t> side;
        for (int id = 1; id <= size; ++id) if (chaos.Chance(1, 2)) side.insert(id);
        cluster.Partition(side);
      }
      if (chaos.Chance(1, 15)) cluster.Heal();
      if (chaos.Chance(1, 30)) cluster.Crash(1 + chaos.UniformBelow(size));
      if (chaos.Chance(1, 10)) {
        const uint64_t id = 1 + chaos.UniformBelow(size);
        cluster.Restart(id);
      }
      if (auto leader = cluster.Leader(); leader && chaos.Chance(1, 2)) {
        (void)cluster.raft(*leader).Propose(fmt::format("v{}-{}", seed, round));
      }
      cluster.Round(chaos.Chance(1, 3) ? 200000 : 0);
    }
    for (int id = 1; id <= size; ++id) commits += static_cast<int>(cluster.applied(id).size());
    ASSERT_TRUE(cluster.violations.empty()) << "seed " << seed << ": " << cluster.violations[0];
  }
  EXPECT_GT(commits, 1000);
}

}  // namespace
}  // namespace model::raft
