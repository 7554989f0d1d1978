// What BR and the etcd-wrapper read of etcd's configuration.
//
// ConfigMap is druid's `<etcd>-config` configmap (etcd.conf.yaml, mounted
// at /var/etcd/config/): the member table of ALL spec.replicas members,
// written by druid and rewritten when the replicas change. BR's `/config`
// (pkg/server/httpAPI.go serveConfig) starts from it, sets `name`, the
// pod's own URLs, `initial-cluster` and `initial-cluster-state`, and serves
// it as YAML; the wrapper parses the YAML into etcd's flags. Only the keys
// the model's etcd reads are rendered; TLS is not modelled.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "model/etcd/server.h"

namespace model::br {

struct ConfigMap {
  std::string etcd = "etcd-main";  // the Etcd resource's name
  // pod -> its peer URL / client URL on the peer service.
  std::map<std::string, std::string> peer_urls;
  std::map<std::string, std::string> client_urls;
  std::string token = "etcd-cluster";
  std::string data_dir = "var/etcd/data/new.etcd";
  uint64_t snapshot_count = 75000;

  // `initial-cluster`: every member, in pod order.
  std::string InitialCluster() const;
  // IsMultiNode / OriginalClusterSize: the entries in initial-cluster.
  int ClusterSize() const { return static_cast<int>(peer_urls.size()); }
};

// The YAML `/config` serves (keys as etcd's config file names them).
std::string RenderEtcdConfig(const model::etcd::EtcdConfig& config);
// embed.ConfigFromFile for the keys rendered above; InvalidArgument on a
// malformed document or a missing key.
absl::StatusOr<model::etcd::EtcdConfig> ParseEtcdConfig(const std::string& yaml);

}  // namespace model::br
