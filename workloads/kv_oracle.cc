#include "workloads/kv_oracle.h"

#include "absl/strings/numbers.h"
#include "fmt/format.h"

namespace workloads {

std::string KvOracle::ValueFor(int op, const std::string& key) { return fmt::format("op-{}:{}", op, key); }

int KvOracle::Begin(const Writes& writes) {
  const int id = static_cast<int>(ops_.size());
  ops_.push_back({.writes = writes});
  for (const auto& [key, value] : writes) by_key_[key].push_back(id);
  return id;
}

void KvOracle::Acknowledge(int op, int64_t revision, sim::SimTime at) {
  Op& o = ops_.at(op);
  o.acknowledged = true;
  o.revision = revision;
  o.acknowledged_at = at;
  ++acknowledged_;
}

void KvOracle::Failed(int op) { ops_.at(op).failed = true; }

void KvOracle::RollBackTo(int64_t revision) {
  for (Op& op : ops_) {
    if (op.acknowledged && op.revision > revision) {
      op.acknowledged = false;
      --acknowledged_;
    }
  }
}

const std::optional<std::string>* KvOracle::WriteOf(const Op& op, const std::string& key) const {
  for (const auto& [k, value] : op.writes) {
    if (k == key) return &value;
  }
  return nullptr;
}

int KvOracle::LastAcknowledged(const std::string& key, int64_t revision) const {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return -1;
  int best = -1;
  for (int id : it->second) {
    const Op& op = ops_[id];
    if (!op.acknowledged || op.revision > revision) continue;
    if (best < 0 || op.revision > ops_[best].revision) best = id;
  }
  return best;
}

std::optional<KvOracle::Problem> KvOracle::CheckKey(const std::string& key,
                                                     const std::optional<etcd_dst::etcd::KeyValue>& kv,
                                                     int64_t revision) const {
  const int last = LastAcknowledged(key, revision);
  const int64_t last_revision = last < 0 ? 0 : ops_[last].revision;
  auto problem = [&](std::string what) { return Problem{key, std::move(what)}; };
  if (kv.has_value()) {
    // "op-<id>:<key>"
    int id = -1;
    const std::string& value = kv->value();
    const size_t colon = value.find(':');
    if (!value.starts_with("op-") || colon == std::string::npos ||
        !absl::SimpleAtoi(absl::string_view(value).substr(3, colon - 3), &id) || id < 0 ||
        static_cast<size_t>(id) >= ops_.size() || WriteOf(ops_[id], key) == nullptr ||
        *WriteOf(ops_[id], key) != value) {
      return problem(fmt::format("holds {:?}, which no client wrote to it", value));
    }
    const Op& op = ops_[id];
    if (op.failed) return problem(fmt::format("holds the write of op {}, whose transaction failed", id));
    if (op.acknowledged) {
      if (op.revision > revision) {
        return problem(fmt::format("at revision {} holds op {}'s write, acknowledged at revision {}", revision, id,
                                   op.revision));
      }
      if (id != last) {
        return problem(fmt::format("holds op {}'s write (revision {}), but op {} wrote it at revision {} and was "
                                   "acknowledged",
                                   id, op.revision, last, last_revision));
      }
      if (kv->mod_revision() != op.revision) {
        return problem(fmt::format("op {} was acknowledged at revision {}, the key says mod revision {}", id,
                                   op.revision, kv->mod_revision()));
      }
      return std::nullopt;
    }
    // An ambiguous write: it may have happened, after the last acknowledged one.
    if (kv->mod_revision() <= last_revision || kv->mod_revision() > revision) {
      return problem(fmt::format("holds unacknowledged op {}'s write at mod revision {}, but op {} was acknowledged "
                                 "at revision {} (read at {})",
                                 id, kv->mod_revision(), last, last_revision, revision));
    }
    return std::nullopt;
  }
  if (last < 0 || !WriteOf(ops_[last], key)->has_value()) return std::nullopt;
  // The acknowledged put is gone: only an ambiguous delete could explain
  // that (one issued earlier too: a request the client gave up on may
  // still commit later, e.g. under the next leader).
  for (int id : by_key_.at(key)) {
    const Op& op = ops_[id];
    if (op.acknowledged || op.failed) continue;
    if (!WriteOf(op, key)->has_value()) return std::nullopt;
  }
  return problem(fmt::format("is missing: op {} put it at revision {} (acknowledged at {}), read at revision {}",
                             last, last_revision, ops_[last].acknowledged_at.ToString(), revision));
}

std::vector<KvOracle::Problem> KvOracle::Check(const std::map<std::string, etcd_dst::etcd::KeyValue>& state,
                                               int64_t revision) const {
  std::vector<Problem> problems;
  for (const auto& [key, ops] : by_key_) {
    auto found = state.find(key);
    std::optional<etcd_dst::etcd::KeyValue> kv;
    if (found != state.end()) kv = found->second;
    if (std::optional<Problem> problem = CheckKey(key, kv, revision)) problems.push_back(*std::move(problem));
  }
  for (const auto& [key, kv] : state) {
    if (!by_key_.contains(key)) problems.push_back({key, fmt::format("exists, but no client wrote it ({:?})", kv.value())});
  }
  return problems;
}

std::vector<std::pair<std::string, int64_t>> KvOracle::AcknowledgedBeforeAbove(sim::SimTime time,
                                                                                int64_t revision) const {
  std::vector<std::pair<std::string, int64_t>> found;
  for (const Op& op : ops_) {
    if (!op.acknowledged || op.acknowledged_at >= time || op.revision <= revision) continue;
    for (const auto& [key, value] : op.writes) found.emplace_back(key, op.revision);
  }
  return found;
}

}  // namespace workloads
