#include "model/br/config.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fmt/format.h"

namespace model::br {

std::string ConfigMap::InitialCluster() const {
  std::string out;
  for (const auto& [pod, url] : peer_urls) out += fmt::format("{}{}={}", out.empty() ? "" : ",", pod, url);
  return out;
}

std::string RenderEtcdConfig(const model::etcd::EtcdConfig& config) {
  std::string out;
  out += fmt::format("name: {}\n", config.name);
  out += fmt::format("data-dir: {}\n", config.data_dir);
  out += fmt::format("initial-advertise-peer-urls: {}\n", absl::StrJoin(config.initial_advertise_peer_urls, ","));
  out += fmt::format("advertise-client-urls: {}\n", absl::StrJoin(config.advertise_client_urls, ","));
  out += fmt::format("initial-cluster: {}\n", config.initial_cluster);
  out += fmt::format("initial-cluster-state: {}\n", config.initial_cluster_state);
  out += fmt::format("initial-cluster-token: {}\n", config.initial_cluster_token);
  out += fmt::format("snapshot-count: {}\n", config.snapshot_count);
  return out;
}

absl::StatusOr<model::etcd::EtcdConfig> ParseEtcdConfig(const std::string& yaml) {
  std::map<std::string, std::string> values;
  for (absl::string_view line : absl::StrSplit(yaml, '\n', absl::SkipEmpty())) {
    const size_t colon = line.find(": ");
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(fmt::format("error converting YAML to JSON: malformed line \"{}\"", std::string(line)));
    }
    values[std::string(line.substr(0, colon))] = std::string(line.substr(colon + 2));
  }
  for (const char* key : {"name", "data-dir", "initial-advertise-peer-urls", "advertise-client-urls",
                          "initial-cluster", "initial-cluster-state", "initial-cluster-token", "snapshot-count"}) {
    if (!values.contains(key)) return absl::InvalidArgumentError(fmt::format("config file misses {}", key));
  }
  model::etcd::EtcdConfig config;
  config.name = values["name"];
  config.data_dir = values["data-dir"];
  config.initial_advertise_peer_urls = absl::StrSplit(values["initial-advertise-peer-urls"], ',');
  config.advertise_client_urls = absl::StrSplit(values["advertise-client-urls"], ',');
  config.initial_cluster = values["initial-cluster"];
  config.initial_cluster_state = values["initial-cluster-state"];
  config.initial_cluster_token = values["initial-cluster-token"];
  if (!absl::SimpleAtoi(values["snapshot-count"], &config.snapshot_count)) {
    return absl::InvalidArgumentError("snapshot-count is not a number");
  }
  return config;
}

}  // namespace model::br
