#include "workloads/kv_oracle.h"

#include "gtest/gtest.h"

namespace workloads {
namespace {

using etcd_dst::etcd::KeyValue;
using sim::SimDuration;
using sim::SimTime;

SimTime At(int s) { return SimTime::Zero() + SimDuration::Seconds(s); }

KeyValue Kv(const std::string& key, const std::string& value, int64_t mod) {
  KeyValue kv;
  kv.set_key(key);
  kv.set_value(value);
  kv.set_mod_revision(mod);
  return kv;
}

TEST(KvOracleTest, LastAcknowledgedWriteIsWhatAReadMustSee) {
  KvOracle oracle;
  const int a = oracle.Begin({{"k", KvOracle::ValueFor(0, "k")}});
  oracle.Acknowledge(a, 5, At(2));
  const int b = oracle.Begin({{"k", KvOracle::ValueFor(1, "k")}});
  oracle.Acknowledge(b, 9, At(4));
  EXPECT_FALSE(oracle.CheckKey("k", Kv("k", KvOracle::ValueFor(1, "k"), 9), 9).has_value());
  // At revision 7 the first write is the one.
  EXPECT_FALSE(oracle.CheckKey("k", Kv("k", KvOracle::ValueFor(0, "k"), 5), 7).has_value());
  // A stale value, a lost key, a future value, a wrong revision, garbage.
  EXPECT_TRUE(oracle.CheckKey("k", Kv("k", KvOracle::ValueFor(0, "k"), 5), 9).has_value());
  EXPECT_TRUE(oracle.CheckKey("k", std::nullopt, 9).has_value());
  EXPECT_TRUE(oracle.CheckKey("k", Kv("k", KvOracle::ValueFor(1, "k"), 9), 7).has_value());
  EXPECT_TRUE(oracle.CheckKey("k", Kv("k", KvOracle::ValueFor(1, "k"), 8), 9).has_value());
  EXPECT_TRUE(oracle.CheckKey("k", Kv("k", "nobody wrote this", 9), 9).has_value());
}

TEST(KvOracleTest, AmbiguousWritesMayOrMayNotHaveHappened) {
  KvOracle oracle;
  const int put = oracle.Begin({{"k", KvOracle::ValueFor(0, "k")}});
  oracle.Acknowledge(put, 3, At(2));
  const int maybe = oracle.Begin({{"k", KvOracle::ValueFor(1, "k")}, {"j", KvOracle::ValueFor(1, "j")}});
  (void)maybe;  // timed out
  EXPECT_FALSE(oracle.CheckKey("k", Kv("k", KvOracle::ValueFor(0, "k"), 3), 10).has_value());
  EXPECT_FALSE(oracle.CheckKey("k", Kv("k", KvOracle::ValueFor(1, "k"), 6), 10).has_value());
  EXPECT_FALSE(oracle.CheckKey("j", std::nullopt, 10).has_value());
  // Not before the acknowledged write it would have overwritten.
  EXPECT_TRUE(oracle.CheckKey("k", Kv("k", KvOracle::ValueFor(1, "k"), 2), 10).has_value());
  // An ambiguous delete explains a missing key; a failed one does not.
  const int del = oracle.Begin({{"k", std::nullopt}});
  EXPECT_FALSE(oracle.CheckKey("k", std::nullopt, 10).has_value());
  oracle.Failed(del);
  EXPECT_TRUE(oracle.CheckKey("k", std::nullopt, 10).has_value());
}

TEST(KvOracleTest, AnAmbiguousWriteMayCommitAfterALaterAcknowledgedOne) {
  // A delete the client gave up on commits under the next leader, after
  // the put the client sent next was acknowledged.
  KvOracle oracle;
  (void)oracle.Begin({{"k", std::nullopt}});  // timed out
  const int put = oracle.Begin({{"k", KvOracle::ValueFor(1, "k")}});
  oracle.Acknowledge(put, 66, At(2));
  EXPECT_FALSE(oracle.CheckKey("k", std::nullopt, 78).has_value());
  EXPECT_FALSE(oracle.CheckKey("k", Kv("k", KvOracle::ValueFor(1, "k"), 66), 78).has_value());
}

TEST(KvOracleTest, CheckCoversEveryKeyAndRollBackForgetsLostWrites) {
  KvOracle oracle;
  const int a = oracle.Begin({{"a", KvOracle::ValueFor(0, "a")}});
  oracle.Acknowledge(a, 2, At(1));
  const int b = oracle.Begin({{"b", KvOracle::ValueFor(1, "b")}});
  oracle.Acknowledge(b, 3, At(6));
  std::map<std::string, KeyValue> state = {{"a", Kv("a", KvOracle::ValueFor(0, "a"), 2)}};
  ASSERT_EQ(oracle.Check(state, 3).size(), 1u);  // b is missing
  EXPECT_EQ(oracle.Check(state, 3)[0].key, "b");
  EXPECT_EQ(oracle.AcknowledgedBeforeAbove(At(10), 2).size(), 1u);
  EXPECT_TRUE(oracle.AcknowledgedBeforeAbove(At(6), 2).empty());
  oracle.RollBackTo(2);  // restored from a backup at revision 2
  EXPECT_TRUE(oracle.Check(state, 2).empty());
  state["x"] = Kv("x", "stray", 3);
  EXPECT_EQ(oracle.Check(state, 3).size(), 1u);
}

}  // namespace
}  // namespace workloads
