// The simulator's only source of randomness: xoshiro256** seeded through
// SplitMix64, with integer-only helpers. Named streams keep subsystems apart:
// drawing more numbers in one place never shifts another (see
// docs/determinism.md). Never use std distributions or random_device here.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/check.h"
#include "sim/hash.h"
#include "sim/time.h"

namespace sim {

class Rng {
 public:
  explicit Rng(uint64_t seed);
  // The stream `name` of the run seeded with `root_seed`:
  // seeded with SplitMix64(root_seed ^ StableHash(name)).
  static Rng Stream(uint64_t root_seed, std::string_view name) {
    return Rng(SplitMix64(root_seed ^ StableHash(name)));
  }

  // Next raw 64-bit output of xoshiro256**.
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n), n > 0, without modulo bias (Lemire's method).
  uint64_t UniformBelow(uint64_t n);
  // Uniform in [low, high], inclusive.
  int64_t UniformIn(int64_t low, int64_t high);
  // True with probability numerator/denominator.
  bool Chance(uint64_t numerator, uint64_t denominator);
  // Uniform duration in [low, high], inclusive, at nanosecond resolution.
  SimDuration DurationIn(SimDuration low, SimDuration high);

  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    SIM_CHECK(!items.empty(), "Pick from an empty vector");
    return items[UniformBelow(items.size())];
  }

  // Fisher-Yates, from the back.
  template <typename T>
  void Shuffle(std::vector<T>& items) {
    for (size_t i = items.size(); i > 1; --i) {
      std::swap(items[i - 1], items[UniformBelow(i)]);
    }
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace sim
