#include "model/etcd/membership.h"

#include <gtest/gtest.h>

namespace model::etcd {
namespace {

// Conf change contexts are the JSON etcd 3.4.23 writes (taken from a real WAL).
TEST(MembershipTest, JsonAsEtcdWritesIt) {
  Member member{3211106759432434375ull, "m0", {"http://127.0.0.1:34380"}, {}, false};
  EXPECT_EQ(MemberToJson(member), R"({"id":3211106759432434375,"peerURLs":["http://127.0.0.1:34380"],"name":"m0"})");
  Member learner{11194802417882134095ull, "", {"http://127.0.0.1:1"}, {}, true};
  EXPECT_EQ(MemberToJson(learner), R"({"id":11194802417882134095,"peerURLs":["http://127.0.0.1:1"],"isLearner":true})");
  Member published{1, "a", {"http://a:2380"}, {"http://a:2379"}, false};
  absl::StatusOr<Member> parsed = MemberFromJson(MemberToJson(published));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, published);
}

// The bootstrap cluster has etcd's IDs and the names from --initial-cluster.
TEST(MembershipTest, FromInitialCluster) {
  auto initial = ParseInitialCluster("default=http://localhost:2380");
  Cluster cluster = Cluster::FromInitialCluster(*initial, "etcd-cluster");
  EXPECT_EQ(FormatId(cluster.id()), "cdf818194e3a8c32");
  ASSERT_NE(cluster.Find(0x8e9e05c52164694dull), nullptr);
  EXPECT_EQ(cluster.FindByName("default")->id, 0x8e9e05c52164694dull);
}

// Apply-time validation: existing IDs and peer URLs, too many learners, promoting a voter.
TEST(MembershipTest, Validation) {
  Cluster cluster = Cluster::FromInitialCluster(*ParseInitialCluster("a=http://a:2380,b=http://b:2380"), "t");
  const MemberId a = cluster.FindByName("a")->id;
  EXPECT_EQ(cluster.ValidateAdd({a, "", {"http://z:1"}, {}, false}).message(), kErrIdExists);
  EXPECT_EQ(cluster.ValidateAdd({99, "", {"http://a:2380"}, {}, false}).message(), kErrMembershipPeerUrlExists);
  cluster.Add({99, "", {"http://c:2380"}, {}, true});
  EXPECT_EQ(cluster.ValidateAdd({100, "", {"http://d:2380"}, {}, true}).message(), kErrMembershipTooManyLearners);
  EXPECT_EQ(cluster.ValidatePromote(a).message(), kErrMembershipNotLearner);
  EXPECT_TRUE(cluster.ValidatePromote(99).ok());
  cluster.Remove(99);
  EXPECT_EQ(cluster.ValidateAdd({99, "", {"http://e:2380"}, {}, false}).message(), kErrIdRemoved);
  absl::StatusOr<Cluster> restored = Cluster::Deserialize(cluster.Serialize());
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->members(), cluster.members());
  EXPECT_EQ(restored->removed(), cluster.removed());
}

// Quorum-protection predicates count started (named) voting members.
TEST(MembershipTest, ReadyToAdd) {
  Cluster cluster = Cluster::FromInitialCluster(*ParseInitialCluster("a=http://a:1,b=http://b:1,c=http://c:1"), "t");
  EXPECT_TRUE(cluster.ReadyToAddVotingMember());
  cluster.Add({7, "", {"http://d:1"}, {}, false});  // API-added, never started
  cluster.Add({8, "", {"http://e:1"}, {}, false});
  EXPECT_FALSE(cluster.ReadyToAddVotingMember());  // 3 started of 6 after the add: below quorum 4
}

// The learner to be promoted counts as started: a one-member cluster
// promotes its learner (observed with etcd 3.4.23: member add --learner,
// start it, member promote succeeds), while two unstarted voters block it.
TEST(MembershipTest, ReadyToPromote) {
  Cluster cluster = Cluster::FromInitialCluster(*ParseInitialCluster("a=http://a:1"), "t");
  cluster.UpdateAttributes(cluster.members().begin()->first, "a", {"http://a:2"});
  cluster.Add({7, "", {"http://b:1"}, {}, true});
  EXPECT_TRUE(cluster.ReadyToPromoteMember(7));
  cluster.Add({8, "", {"http://c:1"}, {}, false});  // voters never started
  cluster.Add({9, "", {"http://d:1"}, {}, false});
  EXPECT_FALSE(cluster.ReadyToPromoteMember(7));  // 2 started of 4: below quorum 3
}

}  // namespace
}  // namespace model::etcd
