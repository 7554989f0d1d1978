// What a key space must hold, kept from the client's own history (as
// Jepsen's and porcupine's checkers do, for a register per key): every
// operation is recorded before it is sent, with the writes it makes (a
// value unique to the operation, or a delete); an acknowledgement gives it
// its revision, a definite failure drops it, anything else leaves it
// ambiguous (applied or not, at an unknown revision).
//
// A state (the keys and their mod revisions) read at revision R is
// consistent with the history when, for each key, it shows the effect of
// the last acknowledged write at or below R (at exactly that write's
// revision), or of an ambiguous write after it, and never a write
// acknowledged above R. Used for reads, for the cluster at the end of a
// run, and for every backup set in the bucket.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/etcd/api.pb.h"
#include "sim/time.h"

namespace workloads {

class KvOracle {
 public:
  // key -> nullopt for a delete, else the value written.
  using Writes = std::vector<std::pair<std::string, std::optional<std::string>>>;

  // The value an operation writes to `key`: unique per (operation, key).
  static std::string ValueFor(int op, const std::string& key);

  // Records an operation before it is sent; returns its id.
  int Begin(const Writes& writes);
  // It was applied at `revision`, and the client heard so at `at`.
  void Acknowledge(int op, int64_t revision, sim::SimTime at);
  // It certainly made no change (e.g. a transaction whose compare failed).
  void Failed(int op);
  // The cluster was rebuilt from a backup at `revision`: acknowledged
  // writes above it are gone and become ambiguous (their revisions are
  // used again by later writes).
  void RollBackTo(int64_t revision);

  struct Problem {
    std::string key;
    std::string what;
  };
  // The problems of `state` (every key under the checked prefix that exists
  // at `revision`) against the history.
  std::vector<Problem> Check(const std::map<std::string, etcd_dst::etcd::KeyValue>& state, int64_t revision) const;
  // The problem, if any, of one key read at `revision` (nullopt: absent).
  std::optional<Problem> CheckKey(const std::string& key, const std::optional<etcd_dst::etcd::KeyValue>& kv,
                                  int64_t revision) const;

  // Acknowledged (and not rolled back) before `time` with a revision
  // above `revision`: (key, revision) pairs.
  std::vector<std::pair<std::string, int64_t>> AcknowledgedBeforeAbove(sim::SimTime time, int64_t revision) const;
  size_t acknowledged() const { return acknowledged_; }
  size_t operations() const { return ops_.size(); }

 private:
  struct Op {
    Writes writes;
    sim::SimTime acknowledged_at;
    int64_t revision = 0;
    bool acknowledged = false;
    bool failed = false;
  };
  // The newest acknowledged write to `key` at or below `revision`: op id or -1.
  int LastAcknowledged(const std::string& key, int64_t revision) const;
  const std::optional<std::string>* WriteOf(const Op& op, const std::string& key) const;

  std::vector<Op> ops_;
  std::map<std::string, std::vector<int>> by_key_;  // key -> ops writing it, in issue order
  size_t acknowledged_ = 0;
};

}  // namespace workloads
