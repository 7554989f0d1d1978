#include "model/ids.h"

#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/str_split.h"
#include "fmt/format.h"

namespace model {
namespace {

uint64_t FirstEightBytesBigEndian(const unsigned char* digest) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | digest[i];
  return value;
}

// etcd's types.NewURLs checks (scheme, "host:port" as Go's SplitHostPort
// reads it, so an empty host is fine; no path), plus a port that is a number a
// socket can have.
absl::Status CheckPeerUrl(const std::string& url) {
  const size_t scheme_end = url.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https" && scheme != "unix" && scheme != "unixs") {
    return absl::InvalidArgumentError(fmt::format("URL scheme must be http, https, unix, or unixs: {}", url));
  }
  const std::string rest = url.substr(scheme_end + 3);
  const size_t path_at = rest.find_first_of("/?#");
  const std::string host_port = rest.substr(0, path_at);
  if (path_at != std::string::npos) {
    return absl::InvalidArgumentError(fmt::format("URL must not contain a path: {}", url));
  }
  const size_t colon = host_port.rfind(':');
  const bool bracketed = !host_port.empty() && host_port[0] == '[';
  if (colon == std::string::npos || (bracketed && host_port[colon - 1] != ']')) {
    return absl::InvalidArgumentError(fmt::format("URL address does not have the form \"host:port\": {}", url));
  }
  const std::string port = host_port.substr(colon + 1);
  const bool digits = !port.empty() && port.size() <= 5 &&
                      port.find_first_not_of("0123456789") == std::string::npos;
  if (!digits || std::stoi(port) < 1 || std::stoi(port) > 65535) {
    return absl::InvalidArgumentError(fmt::format("URL port must be a number in [1, 65535]: {}", url));
  }
  return absl::OkStatus();
}

}  // namespace

MemberId ComputeMemberId(std::vector<std::string> peer_urls, std::string_view token,
                         std::optional<int64_t> unix_seconds) {
  std::sort(peer_urls.begin(), peer_urls.end());
  std::string input;
  for (const std::string& url : peer_urls) input += url;
  input += token;
  if (unix_seconds.has_value()) input += fmt::format("{}", *unix_seconds);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return FirstEightBytesBigEndian(digest);
}

ClusterId ComputeClusterId(std::vector<MemberId> members) {
  std::sort(members.begin(), members.end());
  std::string input;
  for (MemberId id : members) {
    for (int shift = 56; shift >= 0; shift -= 8) input.push_back(static_cast<char>((id >> shift) & 0xff));
  }
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return FirstEightBytesBigEndian(digest);
}

std::string FormatId(uint64_t id) { return fmt::format("{:016x}", id); }

absl::StatusOr<std::vector<InitialMember>> ParseInitialCluster(std::string_view flag) {
  std::vector<InitialMember> members;
  if (flag.empty()) return absl::InvalidArgumentError("--initial-cluster is empty");
  for (absl::string_view entry : absl::StrSplit(absl::string_view(flag.data(), flag.size()), ',')) {
    const size_t equals = entry.find('=');
    if (equals == absl::string_view::npos || equals == 0 || equals + 1 == entry.size()) {
      return absl::InvalidArgumentError(fmt::format("malformed --initial-cluster entry '{}' (want name=url)",
                                                    std::string(entry)));
    }
    const std::string name(entry.substr(0, equals));
    const std::string url(entry.substr(equals + 1));
    if (absl::Status status = CheckPeerUrl(url); !status.ok()) return status;
    auto it = std::find_if(members.begin(), members.end(), [&](const InitialMember& m) { return m.name == name; });
    if (it == members.end()) {
      members.push_back({name, {url}});
    } else {
      it->peer_urls.push_back(url);
    }
  }
  return members;
}

}  // namespace model
