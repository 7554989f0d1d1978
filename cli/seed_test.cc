#include "cli/seed.h"

#include <gtest/gtest.h>

namespace cli {
namespace {

// Decimal and 0x-hex seeds parse; signs, junk, empties and overflow do not.
TEST(ParseSeedTest, AcceptsDecimalAndHexOnly) {
  EXPECT_EQ(ParseSeed("7"), 7u);
  EXPECT_EQ(ParseSeed("0"), 0u);
  EXPECT_EQ(ParseSeed("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(ParseSeed("0x05d442c247527da2"), 0x05d442c247527da2ull);
  EXPECT_EQ(ParseSeed("0XFF"), 255u);
  EXPECT_FALSE(ParseSeed("18446744073709551616"));
  EXPECT_FALSE(ParseSeed("0x1ffffffffffffffff"));
  EXPECT_FALSE(ParseSeed(""));
  EXPECT_FALSE(ParseSeed("-1"));
  EXPECT_FALSE(ParseSeed("+1"));
  EXPECT_FALSE(ParseSeed("12abc"));
  EXPECT_FALSE(ParseSeed("abc"));
  EXPECT_FALSE(ParseSeed("0x"));
  EXPECT_FALSE(ParseSeed(" 1"));
}

}  // namespace
}  // namespace cli
