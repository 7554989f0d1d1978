#include "model/etcd/kv_store.h"

#include <gtest/gtest.h>

namespace model::etcd {
namespace {

// Puts, deletes and reads at past revisions follow etcd's MVCC rules.
TEST(KvStoreTest, RevisionsAndHistory) {
  KvStore store;
  EXPECT_EQ(store.revision(), 1);
  { KvStore::Write(&store).Put("a", "1", 0); }
  { KvStore::Write(&store).Put("a", "2", 0); }
  {
    KvStore::Write write(&store);
    write.Put("b", "x", 0);
    write.Put("c", "y", 0);
  }
  EXPECT_EQ(store.revision(), 4);
  int64_t count = 0;
  auto now = store.Range("a", "", 0, 0, &count);
  ASSERT_TRUE(now.ok());
  ASSERT_EQ(now->size(), 1u);
  EXPECT_EQ((*now)[0].value(), "2");
  EXPECT_EQ((*now)[0].create_revision(), 2);
  EXPECT_EQ((*now)[0].mod_revision(), 3);
  EXPECT_EQ((*now)[0].version(), 2);
  EXPECT_EQ((*store.Range("a", "", 2, 0, nullptr))[0].value(), "1");
  EXPECT_EQ(store.Range("a", std::string(1, '\0'), 0, 0, &count)->size(), 3u);
  EXPECT_EQ(count, 3);
  { EXPECT_EQ(KvStore::Write(&store).DeleteRange("b", "d").size(), 2u); }
  EXPECT_EQ(store.revision(), 5);
  EXPECT_TRUE(store.Range("b", "d", 0, 0, nullptr)->empty());
  EXPECT_EQ(store.Range("b", "d", 4, 0, nullptr)->size(), 2u);
  EXPECT_EQ(store.Range("a", "", 9, 0, nullptr).status().message(), kErrFutureRevision);
  ASSERT_TRUE(store.Compact(4).ok());
  EXPECT_EQ(store.Range("a", "", 3, 0, nullptr).status().message(), kErrCompacted);
  EXPECT_EQ((*store.Range("a", "", 4, 0, nullptr))[0].value(), "2");
}

// The state survives a round trip through etcd's bucket layout.
TEST(KvStoreTest, BucketsRoundTrip) {
  KvStore store;
  { KvStore::Write(&store).Put("k1", "v1", 0); }
  { KvStore::Write(&store).Put("k2", "v2", 7); }
  { KvStore::Write(&store).DeleteRange("k1", ""); }
  store.set_consistent_index(42);
  bbolt::Buckets buckets;
  store.ToBuckets(&buckets);
  EXPECT_EQ(buckets["key"].size(), 3u);
  EXPECT_TRUE(buckets["key"].contains(RevisionKey({4, 0}, true)));
  EXPECT_EQ(buckets["meta"]["consistent_index"], std::string("\0\0\0\0\0\0\0\x2a", 8));
  absl::StatusOr<KvStore> restored = KvStore::FromBuckets(buckets);
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->revision(), 4);
  EXPECT_EQ(restored->consistent_index(), 42u);
  EXPECT_TRUE(restored->Range("k1", "", 0, 0, nullptr)->empty());
  EXPECT_EQ((*restored->Range("k2", "", 0, 0, nullptr))[0].lease(), 7);
}

// Transactions compare against the current state and apply one branch at one revision.
TEST(KvStoreTest, Txn) {
  KvStore store;
  { KvStore::Write(&store).Put("k", "v", 0); }
  etcd_dst::etcd::TxnRequest txn;
  auto* compare = txn.add_compare();
  compare->set_key("k");
  compare->set_target(etcd_dst::etcd::Compare::VALUE);
  compare->set_value("v");
  txn.add_success()->mutable_request_put()->set_key("k");
  txn.mutable_success(0)->mutable_request_put()->set_value("w");
  txn.add_failure()->mutable_request_delete_range()->set_key("k");
  EXPECT_TRUE(store.Txn(txn).succeeded());
  EXPECT_EQ((*store.Range("k", "", 0, 0, nullptr))[0].value(), "w");
  EXPECT_FALSE(store.Txn(txn).succeeded());
  EXPECT_TRUE(store.Range("k", "", 0, 0, nullptr)->empty());
}

}  // namespace
}  // namespace model::etcd
