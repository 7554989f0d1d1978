#include "sim/rng.h"

namespace sim {

Rng::Rng(uint64_t seed) {
  // SplitMix64 as a generator: state advances by the golden gamma each step.
  uint64_t x = seed;
  for (uint64_t& word : s_) {
    word = SplitMix64(x);
    x += 0x9e3779b97f4a7c15ull;
  }
  // xoshiro's state must not be all zero; SplitMix64 outputs never are all
  // zero four times in a row, but assert it, since the generator would stick.
  SIM_CHECK((s_[0] | s_[1] | s_[2] | s_[3]) != 0, "xoshiro state is zero");
}

uint64_t Rng::UniformBelow(uint64_t n) {
  SIM_CHECK(n > 0, "UniformBelow(0)");
  // Lemire, "Fast Random Integer Generation in an Interval" (2019): the high
  // word of a 128-bit product, rejecting the low words that would bias it.
  unsigned __int128 product = static_cast<unsigned __int128>(Next()) * n;
  uint64_t low = static_cast<uint64_t>(product);
  if (low < n) {
    const uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      product = static_cast<unsigned __int128>(Next()) * n;
      low = static_cast<uint64_t>(product);
    }
  }
  return static_cast<uint64_t>(product >> 64);
}

int64_t Rng::UniformIn(int64_t low, int64_t high) {
  SIM_CHECK(low <= high, "UniformIn with low > high");
  const uint64_t span = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  if (span == UINT64_MAX) return static_cast<int64_t>(Next());
  return static_cast<int64_t>(static_cast<uint64_t>(low) + UniformBelow(span + 1));
}

bool Rng::Chance(uint64_t numerator, uint64_t denominator) {
  SIM_CHECK(denominator > 0 && numerator <= denominator, "Chance needs 0 <= n <= d, d > 0");
  if (numerator == 0) return false;
  if (numerator == denominator) return true;
  return UniformBelow(denominator) < numerator;
}

SimDuration Rng::DurationIn(SimDuration low, SimDuration high) {
  return SimDuration::Nanos(UniformIn(low.nanos(), high.nanos()));
}

}  // namespace sim
