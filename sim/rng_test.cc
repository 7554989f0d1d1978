#include "sim/rng.h"

#include <algorithm>
#include <array>

#include <gtest/gtest.h>

namespace sim {
namespace {

// The generator's output is pinned: these values come from an independent
// reference implementation of SplitMix64 seeding + xoshiro256**.
TEST(RngTest, GoldenOutput) {
  Rng rng(7);
  EXPECT_EQ(rng.Next(), 0xb358faf74ef9765aull);
  EXPECT_EQ(rng.Next(), 0x475c3d964f482cd2ull);
  EXPECT_EQ(rng.Next(), 0xd6f1d349952c7996ull);
  EXPECT_EQ(rng.Next(), 0xfb2938731e807240ull);
  Rng zero(0);
  EXPECT_EQ(zero.Next(), 0x99ec5f36cb75f2b4ull);
  EXPECT_EQ(zero.Next(), 0xbf6e1f784956452aull);
}

// Named streams are pinned too, through the stable FNV-1a name hash.
TEST(RngTest, GoldenNamedStream) {
  EXPECT_EQ(StableHash("network"), 0x1e8e57b2909b2a85ull);
  Rng network = Rng::Stream(42, "network");
  EXPECT_EQ(network.Next(), 0xa57a2711bc83fce9ull);
  EXPECT_EQ(network.Next(), 0xf2dd67853fa89f18ull);
}

// UniformBelow is pinned and stays in range.
TEST(RngTest, GoldenUniformBelow) {
  Rng rng(7);
  std::array<uint64_t, 8> got;
  for (auto& value : got) value = rng.UniformBelow(10);
  EXPECT_EQ(got, (std::array<uint64_t, 8>{7, 2, 8, 9, 9, 8, 0, 1}));
}

// Drawing from one stream does not shift another.
TEST(RngTest, StreamsAreIndependent) {
  Rng a1 = Rng::Stream(5, "disk");
  Rng b1 = Rng::Stream(5, "network");
  for (int i = 0; i < 1000; ++i) a1.Next();
  Rng b2 = Rng::Stream(5, "network");
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b1.Next(), b2.Next());
  EXPECT_NE(Rng::Stream(5, "disk").Next(), Rng::Stream(6, "disk").Next());
}

// Every residue of a small modulus appears about equally often.
TEST(RngTest, UniformBelowIsRoughlyUniform) {
  Rng rng(99);
  std::array<int, 3> counts{};
  for (int i = 0; i < 30000; ++i) ++counts[rng.UniformBelow(3)];
  for (int count : counts) {
    EXPECT_GT(count, 9500);
    EXPECT_LT(count, 10500);
  }
  // The largest modulus: results stay in range.
  for (int i = 0; i < 100; ++i) EXPECT_LT(rng.UniformBelow(UINT64_MAX), UINT64_MAX);
  EXPECT_EQ(rng.UniformBelow(1), 0u);
}

// Ranges are inclusive at both ends, and Chance honours its edges.
TEST(RngTest, RangesAndChance) {
  Rng rng(3);
  bool saw_low = false, saw_high = false;
  for (int i = 0; i < 1000; ++i) {
    const int64_t v = rng.UniformIn(-2, 2);
    ASSERT_GE(v, -2);
    ASSERT_LE(v, 2);
    saw_low |= v == -2;
    saw_high |= v == 2;
  }
  EXPECT_TRUE(saw_low && saw_high);
  EXPECT_FALSE(rng.Chance(0, 5));
  EXPECT_TRUE(rng.Chance(5, 5));
  int hits = 0;
  for (int i = 0; i < 10000; ++i) hits += rng.Chance(1, 4);
  EXPECT_GT(hits, 2300);
  EXPECT_LT(hits, 2700);
  const SimDuration d = rng.DurationIn(SimDuration::Millis(10), SimDuration::Millis(20));
  EXPECT_GE(d, SimDuration::Millis(10));
  EXPECT_LE(d, SimDuration::Millis(20));
}

// Shuffle yields a permutation and is deterministic per seed.
TEST(RngTest, ShuffleAndPick) {
  std::vector<int> a = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<int> b = a;
  Rng r1(11), r2(11);
  r1.Shuffle(a);
  r2.Shuffle(b);
  EXPECT_EQ(a, b);
  std::vector<int> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_NE(a, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
  const int picked = r1.Pick(a);
  EXPECT_GE(picked, 1);
  EXPECT_LE(picked, 8);
}

}  // namespace
}  // namespace sim
