#include "workloads/raft_safety.h"

#include <algorithm>
#include <vector>

#include "fmt/format.h"
#include "model/ids.h"

namespace workloads {

using model::etcd::EtcdServer;

void RaftSafety::Declare() {
  properties_->DeclareSometimes("LeaderChanged");
  properties_->DeclareSometimes("SnapshotTaken");
}

// A process's lineage depends only on what happened before it started.
uint64_t RaftSafety::LineageOf(size_t k) {
  if (!lineage_) return 0;
  auto it = lineages_.find(k);
  if (it == lineages_.end()) it = lineages_.emplace(k, lineage_(k)).first;
  return it->second;
}

void RaftSafety::Check() {
  std::vector<const EtcdServer*> current;  // few: a linear search, no pointer-ordered set
  for (int member = 0; member < cluster_->members(); ++member) current.push_back(cluster_->Current(member));
  const auto& servers = cluster_->all();
  for (size_t s = 0; s < servers.size(); ++s) {
    const EtcdServer* server = servers[s].get();
    if (std::find(current.begin(), current.end(), server) == current.end()) continue;  // a process that died
    if (server->state() != EtcdServer::State::kRunning || server->raft() == nullptr) continue;
    const model::raft::Raft& raft = *server->raft();
    if (raft.role() != model::raft::Role::kLeader) continue;
    auto [it, inserted] =
        leaders_.emplace(Key{server->cluster_id(), LineageOf(s), raft.term()}, server->id());
    if (inserted && ++leaders_seen_ > 1) properties_->Sometimes(true, "LeaderChanged");
    const bool one = it->second == server->id();
    properties_->Always(one, "OneLeaderPerTerm",
                        one ? "" : fmt::format("term {}: {} and {}", raft.term(), model::FormatId(it->second),
                                               model::FormatId(server->id())));
  }
  for (size_t s = 0; s < servers.size(); ++s) {
    const auto& log = servers[s]->applied_log();
    size_t& seen = applied_seen_[s];
    const uint64_t lineage = seen < log.size() ? LineageOf(s) : 0;
    for (; seen < log.size(); ++seen) {
      const EtcdServer::Applied& entry = log[seen];
      auto [it, inserted] = committed_.emplace(Key{servers[s]->cluster_id(), lineage, entry.index},
                                               std::make_pair(entry.term, entry.digest));
      // The details are formatted only for a violation: this runs for every
      // applied entry.
      const bool same = inserted || it->second == std::make_pair(entry.term, entry.digest);
      properties_->Always(same, "CommittedEntriesNeverChange",
                          same ? "" : fmt::format("{} applied index {} term {}, another member applied index {} "
                                                  "term {} with {} contents",
                                                  servers[s]->config().name, entry.index, entry.term, entry.index,
                                                  it->second.first,
                                                  entry.term == it->second.first ? "other" : "its"));
    }
    if (servers[s]->raft() != nullptr && servers[s]->raft()->first_index() > 1) {
      properties_->Sometimes(true, "SnapshotTaken");
    }
  }
}

}  // namespace workloads
