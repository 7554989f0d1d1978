// Stable hashes: the same value on every machine, compiler and run. Used for
// named RNG streams, buggify sites and the trace fingerprint; never
// std::hash or absl::Hash, which are allowed to change per process.
#pragma once

#include <cstdint>
#include <string_view>

namespace sim {

inline constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
inline constexpr uint64_t kFnvPrime = 0x100000001b3ull;

// FNV-1a, 64 bit, continuing from `state`.
constexpr uint64_t Fnv1a64(std::string_view bytes, uint64_t state = kFnvOffset) {
  for (unsigned char c : bytes) {
    state ^= c;
    state *= kFnvPrime;
  }
  return state;
}

constexpr uint64_t StableHash(std::string_view name) { return Fnv1a64(name); }

// SplitMix64's output function: one step of the generator started at `x`.
constexpr uint64_t SplitMix64(uint64_t x) {
  uint64_t z = x + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Folds `value` into a running 64-bit digest; order matters.
constexpr uint64_t HashCombine(uint64_t digest, uint64_t value) {
  return SplitMix64(digest ^ SplitMix64(value));
}

}  // namespace sim
