#include "sim/time.h"

#include <gtest/gtest.h>

namespace sim {
namespace {

// Durations print as seconds with trailing zeros trimmed, to nanosecond precision.
TEST(SimDurationTest, PrintsReadably) {
  EXPECT_EQ(SimDuration::Millis(12345).ToString(), "12.345s");
  EXPECT_EQ(SimDuration::Seconds(2).ToString(), "2s");
  EXPECT_EQ(SimDuration::Micros(1500).ToString(), "0.0015s");
  EXPECT_EQ(SimDuration::Nanos(1).ToString(), "0.000000001s");
  EXPECT_EQ(SimDuration::Millis(-2000).ToString(), "-2s");
  EXPECT_EQ(SimDuration::Zero().ToString(), "0s");
  EXPECT_EQ(SimTime::FromNanos(100000000).ToString(), "0.100s");
}

// Arithmetic stays in integer nanoseconds, and adding to a time saturates.
TEST(SimDurationTest, ArithmeticAndSaturation) {
  EXPECT_EQ((SimDuration::Seconds(1) + SimDuration::Millis(5)).nanos(), 1005000000);
  EXPECT_EQ((SimTime::Zero() + SimDuration::Seconds(3)) - SimTime::Zero(), SimDuration::Seconds(3));
  EXPECT_EQ(SimTime::FromNanos(10) + SimDuration::Max(), SimTime::Max());
  EXPECT_LT(SimTime::FromNanos(1), SimTime::FromNanos(2));
}

// Durations parse with units and without floating point.
TEST(SimDurationTest, Parses) {
  SimDuration d;
  ASSERT_TRUE(ParseDuration("1.5s", &d));
  EXPECT_EQ(d, SimDuration::Millis(1500));
  ASSERT_TRUE(ParseDuration("250ms", &d));
  EXPECT_EQ(d, SimDuration::Millis(250));
  ASSERT_TRUE(ParseDuration("10us", &d));
  EXPECT_EQ(d, SimDuration::Micros(10));
  ASSERT_TRUE(ParseDuration("7ns", &d));
  EXPECT_EQ(d, SimDuration::Nanos(7));
  ASSERT_TRUE(ParseDuration("2m", &d));
  EXPECT_EQ(d, SimDuration::Minutes(2));
  ASSERT_TRUE(ParseDuration("3", &d));
  EXPECT_EQ(d, SimDuration::Seconds(3));
  ASSERT_TRUE(ParseDuration("0.1s", &d));
  EXPECT_EQ(d.nanos(), 100000000);
  EXPECT_FALSE(ParseDuration("", &d));
  EXPECT_FALSE(ParseDuration("abc", &d));
  EXPECT_FALSE(ParseDuration("1.2.3s", &d));
  EXPECT_FALSE(ParseDuration("-1s", &d));
  EXPECT_FALSE(ParseDuration("99999999999999999999s", &d));
}

}  // namespace
}  // namespace sim
