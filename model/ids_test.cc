#include "model/ids.h"

#include <gtest/gtest.h>

namespace model {
namespace {

// The documented example: one member at http://localhost:2380 with token etcd-cluster, as the real
// etcd 3.4.23 reports it (and as every BR restore produces it).
TEST(IdsTest, DefaultSingleMember) {
  const MemberId member = ComputeMemberId({"http://localhost:2380"}, "etcd-cluster");
  EXPECT_EQ(FormatId(member), "8e9e05c52164694d");
  EXPECT_EQ(FormatId(ComputeClusterId({member})), "cdf818194e3a8c32");
}

// Peer URLs are sorted before hashing, cluster IDs do not depend on member order,
// and an API-added member's time changes its ID.
TEST(IdsTest, SortingAndTime) {
  EXPECT_EQ(ComputeMemberId({"http://b:2380", "http://a:2380"}, "t"),
            ComputeMemberId({"http://a:2380", "http://b:2380"}, "t"));
  EXPECT_EQ(ComputeClusterId({1, 2, 3}), ComputeClusterId({3, 1, 2}));
  EXPECT_NE(ComputeMemberId({"http://a:2380"}, ""), ComputeMemberId({"http://a:2380"}, "", 1700000000));
  EXPECT_NE(ComputeMemberId({"http://a:2380"}, "x"), ComputeMemberId({"http://a:2380"}, "y"));
}

// --initial-cluster parses names and URLs, groups repeated names, and rejects junk.
TEST(IdsTest, ParseInitialCluster) {
  auto members = ParseInitialCluster("m0=http://a:2380,m1=http://b:2380,m0=http://c:2380");
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ((*members)[0].name, "m0");
  EXPECT_EQ((*members)[0].peer_urls, (std::vector<std::string>{"http://a:2380", "http://c:2380"}));
  EXPECT_FALSE(ParseInitialCluster("").ok());
  EXPECT_FALSE(ParseInitialCluster("m0").ok());
  EXPECT_FALSE(ParseInitialCluster("=http://a:2380").ok());
  EXPECT_FALSE(ParseInitialCluster("m0=a:2380").ok());
  for (const char* bad : {"m0=ftp://x:1", "m0=http://", "m0=http://a", "m0=http://a:", "m0=http://a:0",
                          "m0=http://a:65536", "m0=http://a:99999999999", "m0=http://a:x",
                          "m0=http://a:2380/path"}) {
    EXPECT_FALSE(ParseInitialCluster(bad).ok()) << bad;
  }
  EXPECT_TRUE(ParseInitialCluster("m0=https://a:65535,m1=http://[::1]:1").ok());
}

}  // namespace
}  // namespace model
