// Member and cluster IDs exactly as etcd 3.4 computes them
// (etcdserver/api/membership/member.go NewMember, cluster.go genID):
//   member  = first 8 bytes, big-endian, of SHA-1(sorted peer URLs concatenated
//             + cluster token [+ decimal Unix seconds, for members added by the API]);
//   cluster = first 8 bytes, big-endian, of SHA-1(the sorted member IDs, each
//             as 8 big-endian bytes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace model {

using MemberId = uint64_t;
using ClusterId = uint64_t;

MemberId ComputeMemberId(std::vector<std::string> peer_urls, std::string_view token,
                         std::optional<int64_t> unix_seconds = std::nullopt);
ClusterId ComputeClusterId(std::vector<MemberId> members);

// "0123456789abcdef", as etcd prints IDs.
std::string FormatId(uint64_t id);

// One entry of --initial-cluster: a name and its peer URLs, in flag order.
struct InitialMember {
  std::string name;
  std::vector<std::string> peer_urls;
};

// Parses "name=url[,name=url...]" (a name may repeat to give several URLs).
// InvalidArgument with etcd's meaning for malformed input.
absl::StatusOr<std::vector<InitialMember>> ParseInitialCluster(std::string_view flag);

}  // namespace model
