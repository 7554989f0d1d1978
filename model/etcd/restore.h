// `etcdctl snapshot restore` as etcd 3.4 does it (clientv3/snapshot
// v3_snapshot.go Restore): from a db snapshot, a name, --initial-cluster and
// a token, build a NEW member data directory: the db without the old
// membership buckets and with the consistent index at the member count, a
// WAL with the metadata, one ConfChangeAddNode per member at term 1 and a
// hard state, and a snap file at that index. The cluster gets new IDs.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "sim/disk.h"

namespace model::etcd {

struct RestoreConfig {
  std::string name = "default";
  std::string initial_cluster = "default=http://localhost:2380";
  std::string initial_cluster_token = "etcd-cluster";
  std::vector<std::string> initial_advertise_peer_urls = {"http://localhost:2380"};
  std::string data_dir;  // must not exist
  // A copied db file has no hash trailer; a snapshot taken through the API
  // has one, and etcd verifies it unless told to skip.
  bool skip_hash_check = false;
  // Peer URLs the restored member gets after the restore (BR's restorer
  // runs MemberUpdate on an embedded etcd after applying deltas): its ID
  // stays the one computed from initial_cluster. Empty: unchanged.
  std::vector<std::string> updated_peer_urls;
};

// `snapshot` is the db image as the maintenance snapshot API streams it:
// the bbolt file and the SHA-256 of it.
absl::Status RestoreSnapshot(sim::Disk* disk, const std::string& snapshot, const RestoreConfig& config);

}  // namespace model::etcd
