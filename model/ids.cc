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
    if (url.find("://") == std::string::npos) {
      return absl::InvalidArgumentError(fmt::format("URL scheme must be http, https, unix, or unixs: {}", url));
    }
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
