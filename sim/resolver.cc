#include "sim/resolver.h"

#include "absl/strings/numbers.h"
#include "fmt/format.h"

namespace sim {

absl::StatusOr<NodeId> NetworkResolver::Resolve(std::string_view host, NodeId self) const {
  if (host == "localhost" || host == "127.0.0.1") return self;
  std::optional<NodeId> node = network_->Resolve(host);
  if (!node.has_value()) return absl::NotFoundError(fmt::format("lookup {}: no such host", host));
  return *node;
}

absl::StatusOr<Address> ResolveUrl(const Resolver& resolver, std::string_view url, NodeId self) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return absl::InvalidArgumentError(fmt::format("invalid URL {}", url));
  const std::string_view rest = url.substr(scheme + 3);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(fmt::format("missing port in URL {}", url));
  }
  uint32_t port = 0;
  const std::string_view digits = rest.substr(colon + 1);
  if (!absl::SimpleAtoi(absl::string_view(digits.data(), digits.size()), &port) || port > 65535) {
    return absl::InvalidArgumentError(fmt::format("invalid port in URL {}", url));
  }
  absl::StatusOr<NodeId> node = resolver.Resolve(rest.substr(0, colon), self);
  if (!node.ok()) return node.status();
  return Address{*node, static_cast<uint16_t>(port)};
}

}  // namespace sim
