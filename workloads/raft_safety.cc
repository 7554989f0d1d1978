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
        leaders_.emplace(Key{server->cluster_id(), lineage_ ? lineage_(s) : 0, raft.term()}, server->id());
    if (inserted && ++leaders_seen_ > 1) properties_->Sometimes(true, "LeaderChanged");
    properties_->Always(it->second == server->id(), "OneLeaderPerTerm",
                        fmt::format("term {}: {} and {}", raft.term(), model::FormatId(it->second),
                                    model::FormatId(server->id())));
  }
  for (size_t s = 0; s < servers.size(); ++s) {
    const auto& log = servers[s]->applied_log();
    size_t& seen = applied_seen_[s];
    for (; seen < log.size(); ++seen) {
      const EtcdServer::Applied& entry = log[seen];
      auto [it, inserted] = committed_.emplace(Key{servers[s]->cluster_id(), lineage_ ? lineage_(s) : 0, entry.index},
                                               std::make_pair(entry.term, entry.digest));
      properties_->Always(inserted || it->second == std::make_pair(entry.term, entry.digest),
                          "CommittedEntriesNeverChange",
                          fmt::format("{} applied index {} term {}, another member had term {}",
                                      servers[s]->config().name, entry.index, entry.term, it->second.first));
    }
    if (servers[s]->raft() != nullptr && servers[s]->raft()->first_index() > 1) {
      properties_->Sometimes(true, "SnapshotTaken");
    }
  }
}

}  // namespace workloads
