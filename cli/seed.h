// Seeds on the command line: decimal, or hex with 0x (bug reports name seeds
// in hex). Anything else, including overflow and signs, is rejected.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace cli {
std::optional<uint64_t> ParseSeed(const std::string& text);
}  // namespace cli
