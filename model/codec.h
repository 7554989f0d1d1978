// The byte formats around BR's snapshots: SHA-256 (the 32-byte trailer etcd
// appends to a maintenance snapshot and BR to a delta) and gzip (BR's
// `--compress-snapshots`, the `.gz` suffix), over zlib and OpenSSL.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace model {

inline constexpr size_t kSha256Size = 32;

// The raw 32-byte digest.
std::string Sha256(std::string_view data);
// Lowercase hex, for logs and errors.
std::string Hex(std::string_view bytes);

// A gzip member (RFC 1952) holding `data`; deterministic (no name, mtime 0).
std::string Gzip(std::string_view data);
// The data of one or more concatenated gzip members, as Go's gzip.Reader
// returns it; DataLoss on a damaged or truncated stream.
absl::StatusOr<std::string> Gunzip(std::string_view compressed);

}  // namespace model
