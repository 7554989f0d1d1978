// The etcd model's server behaviour, on clusters built as druid builds them
// (cluster/etcd_cluster.h): bootstrap, restarts, late members, learners,
// watches, leases, snapshots, restores. Pods are etcd-main-<i>.
#include "model/etcd/server.h"

#include <memory>
#include <set>

#include <gtest/gtest.h>

#include "cluster/etcd_cluster.h"
#include "fmt/format.h"
#include "model/etcd/client.h"
#include "model/etcd/restore.h"
#include "sim/run_actor_test_util.h"
#include "sim/trace.h"

namespace cluster {
namespace {

using model::ClusterId;
using model::FormatId;
using model::MemberId;
using model::etcd::Client;
using model::etcd::EtcdServer;
using model::etcd::RestoreConfig;
using model::etcd::RestoreSnapshot;
using sim::SimDuration;
namespace raft = model::raft;

// An etcd cluster for one test: said (pending pods, flag changes), started,
// run, and read back.
class Members {
 public:
  Members(int members, uint64_t seed, EtcdCluster::Options options = {})
      : simulation_({.seed = seed, .workload = "etcd-test"}) {
    options.members = members;
    options.nodes = members;
    cluster_ = std::make_unique<EtcdCluster>(&simulation_, std::move(options));
  }

  EtcdCluster& cluster() { return *cluster_; }
  sim::Simulation& simulation() { return simulation_; }
  EtcdServer& server(int ordinal) {
    EtcdServer* server = cluster_->Current(ordinal);
    SIM_CHECK(server != nullptr, "pod {} runs no etcd", ordinal);
    return *server;
  }
  std::string Url(int ordinal) const { return cluster_->ClientUrl(ordinal); }

  void RunFor(SimDuration duration) { cluster_->RunUntil(simulation_.Now() - sim::SimTime::Zero() + duration); }
  // Runs `body` as a client actor (outside the cluster) until it returns.
  void AsClient(std::vector<std::string> endpoints, absl::AnyInvocable<void(Client&)> body,
                SimDuration limit = SimDuration::Seconds(60)) {
    ASSERT_TRUE(sim::RunActorUntilDone(
        simulation_,
        [&] {
          Client client = cluster_->Client(endpoints);
          body(client);
        },
        limit, SimDuration::Millis(500)))
        << "client did not finish";
  }

 private:
  sim::Simulation simulation_;  // outlives the cluster
  std::unique_ptr<EtcdCluster> cluster_;
};

constexpr SimDuration kNever = SimDuration::Seconds(3600);

// A single member starts (new), elects itself, publishes, and serves puts and gets.
TEST(EtcdServerTest, SingleMember) {
  Members members(1, 1);
  members.cluster().Start();
  members.RunFor(SimDuration::Seconds(3));
  EtcdServer& m0 = members.server(0);
  ASSERT_EQ(m0.state(), EtcdServer::State::kRunning) << m0.failure();
  EXPECT_EQ(m0.raft()->role(), raft::Role::kLeader);
  members.AsClient({members.Url(0)}, [&](Client& client) {
    ASSERT_TRUE(client.Put("foo", "bar").ok());
    absl::StatusOr<etcd_dst::etcd::RangeResponse> got = client.Get("foo");
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->kvs_size(), 1);
    EXPECT_EQ(got->kvs(0).value(), "bar");
    absl::StatusOr<etcd_dst::etcd::MemberListResponse> list = client.MemberList();
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list->members_size(), 1);
    EXPECT_EQ(list->members(0).name(), "etcd-main-0");
    EXPECT_EQ(list->members(0).clienturls(0), members.Url(0));
  });
}

// Three members bootstrap one cluster with etcd's IDs (from the peer service's URLs); a write
// on one is read on another.
TEST(EtcdServerTest, ThreeMemberBootstrap) {
  Members members(3, 2);
  members.cluster().Start();
  members.RunFor(SimDuration::Seconds(5));
  std::vector<MemberId> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(model::ComputeMemberId({members.cluster().PeerUrl(i)}, "etcd-cluster"));
  const ClusterId expected = model::ComputeClusterId(ids);
  int leaders = 0;
  for (int i = 0; i < 3; ++i) {
    EtcdServer& server = members.server(i);
    ASSERT_EQ(server.state(), EtcdServer::State::kRunning) << i << ": " << server.failure();
    EXPECT_EQ(server.cluster_id(), expected) << i;
    EXPECT_EQ(server.id(), ids[static_cast<size_t>(i)]) << i;
    EXPECT_EQ(server.cluster().members().size(), 3u);
    leaders += server.raft()->role() == raft::Role::kLeader;
  }
  EXPECT_EQ(leaders, 1);
  members.AsClient({members.Url(1)}, [](Client& client) { ASSERT_TRUE(client.Put("k", "v").ok()); });
  members.AsClient({members.Url(2)}, [](Client& client) {
    absl::StatusOr<etcd_dst::etcd::RangeResponse> got = client.Get("k");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->kvs(0).value(), "v");
  });
}

// Restart from the WAL: the data and the IDs survive a crash, flags are ignored.
TEST(EtcdServerTest, RestartFromWal) {
  bool garbage = false;
  Members members(3, 3, {.configure = [&](int ordinal, model::etcd::EtcdConfig& config) {
                    if (ordinal == 1 && garbage) config.initial_cluster = "garbage=http://nowhere:1";
                  }});
  members.cluster().Start();
  members.RunFor(SimDuration::Seconds(5));
  members.AsClient({members.Url(0)}, [](Client& client) { ASSERT_TRUE(client.Put("durable", "yes").ok()); });
  const MemberId id = members.server(1).id();
  members.cluster().world().Crash("etcd-main-1");
  garbage = true;  // ignored with a WAL
  members.RunFor(SimDuration::Seconds(1));
  members.cluster().world().Restart("etcd-main-1");
  members.RunFor(SimDuration::Seconds(5));
  EtcdServer& m1 = members.server(1);
  ASSERT_EQ(m1.state(), EtcdServer::State::kRunning) << m1.failure();
  EXPECT_EQ(m1.config().initial_cluster, "garbage=http://nowhere:1");
  EXPECT_EQ(m1.id(), id);
  members.AsClient({members.Url(1)}, [](Client& client) {
    absl::StatusOr<etcd_dst::etcd::RangeResponse> got = client.Get("durable", true);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->kvs_size(), 1);
    EXPECT_EQ(got->kvs(0).value(), "yes");
  });
}

// As observed with the real etcd: with a voting member that never started, adding a learner
// fails with "unhealthy cluster"; the never-started member is listed without client URLs.
TEST(EtcdServerTest, LearnerAddUnhealthyWhileAMemberNeverStarted) {
  Members members(3, 4);
  members.cluster().Pod(2).PendingFor(kNever);
  members.cluster().Start();
  members.RunFor(SimDuration::Seconds(10));
  members.AsClient({members.Url(0)}, [&](Client& client) {
    absl::StatusOr<etcd_dst::etcd::MemberListResponse> list = client.MemberList();
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list->members_size(), 3);
    int unstarted = 0;
    for (const auto& member : list->members()) unstarted += member.clienturls_size() == 0;
    EXPECT_EQ(unstarted, 1);
    absl::StatusOr<etcd_dst::etcd::MemberAddResponse> added =
        client.MemberAdd({"http://etcd-main-3.etcd-main-peer.default.svc:2380"}, true);
    EXPECT_EQ(added.status().message(), model::etcd::kErrUnhealthy);
  });
}

// As etcd 3.4.23 does (scripts/conformance/unstarted_member_vs_etcd.sh): a bootstrap member
// that never started keeps its name (from --initial-cluster) only in memory. Listed with it
// while its peers run; once they took raft snapshots and restarted from them, listed with an
// EMPTY name (the v2 store holds its raft attributes only): BR #864's member table.
TEST(EtcdServerTest, UnstartedMemberLosesItsNameInASnapshot) {
  Members members(3, 12, {.snapshot_count = 10});
  members.cluster().Pod(2).PendingFor(kNever);
  members.cluster().Start();
  members.RunFor(SimDuration::Seconds(5));
  auto unstarted = [&] {
    std::vector<std::string> names;
    members.AsClient({members.Url(0), members.Url(1)}, [&](Client& client) {
      absl::StatusOr<etcd_dst::etcd::MemberListResponse> list = client.MemberList();
      ASSERT_TRUE(list.ok()) << list.status();
      for (const auto& member : list->members()) {
        if (member.clienturls_size() == 0) names.push_back(member.name());
      }
    });
    return names;
  };
  EXPECT_EQ(unstarted(), std::vector<std::string>{"etcd-main-2"});
  members.AsClient({members.Url(0)}, [](Client& client) {
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(client.Put(fmt::format("k{}", i), "v").ok()) << i;
  });
  EXPECT_GT(members.server(0).raft()->first_index(), 1u);  // a raft snapshot was taken
  sim::World& world = members.cluster().world();
  for (const char* pod : {"etcd-main-0", "etcd-main-1"}) world.Crash(pod);
  members.RunFor(SimDuration::Seconds(1));
  for (const char* pod : {"etcd-main-0", "etcd-main-1"}) world.Restart(pod);
  members.RunFor(SimDuration::Seconds(5));
  EXPECT_EQ(unstarted(), std::vector<std::string>{""});
}

// A late member started with the same "new" flags computes the same IDs and joins.
TEST(EtcdServerTest, LateMemberJoinsWithNew) {
  Members members(3, 5);
  members.cluster().Pod(2).PendingFor(SimDuration::Seconds(20));
  members.cluster().Start();
  members.RunFor(SimDuration::Seconds(25));
  EtcdServer& m2 = members.server(2);
  ASSERT_EQ(m2.state(), EtcdServer::State::kRunning) << m2.failure();
  EXPECT_EQ(m2.cluster_id(), members.server(0).cluster_id());
  members.AsClient({members.Url(2)}, [](Client& client) {
    ASSERT_TRUE(client.Put("late", "ok").ok());
    absl::StatusOr<etcd_dst::etcd::MemberListResponse> list = client.MemberList();
    ASSERT_TRUE(list.ok());
    for (const auto& member : list->members()) EXPECT_EQ(member.clienturls_size(), 1) << member.name();
  });
}

// A learner joins (the StatefulSet scaled to four, the new pod started `existing`), catches up
// and is promoted; promoting a voter, or adding a second learner, fails with etcd's errors.
TEST(EtcdServerTest, LearnerAddJoinPromote) {
  std::string four;
  Members members(3, 6, {.configure = [&](int ordinal, model::etcd::EtcdConfig& config) {
                    if (ordinal != 3) return;
                    config.initial_cluster = four;
                    config.initial_cluster_state = "existing";
                  }});
  EtcdCluster& cluster = members.cluster();
  for (int i = 0; i < 4; ++i) four += fmt::format("{}{}={}", i ? "," : "", cluster.PodName(i), cluster.PeerUrl(i));
  cluster.Start();
  members.RunFor(SimDuration::Seconds(8));  // peers connected for more than 5 s
  uint64_t learner = 0;
  members.AsClient({members.Url(0)}, [&](Client& client) {
    absl::StatusOr<etcd_dst::etcd::MemberAddResponse> added = client.MemberAdd({cluster.PeerUrl(3)}, true);
    ASSERT_TRUE(added.ok()) << added.status();
    learner = added->member().id();
    EXPECT_TRUE(added->member().islearner());
    EXPECT_EQ(client.MemberAdd({cluster.PeerUrl(4)}, true).status().message(), model::etcd::kErrTooManyLearners);
    EXPECT_EQ(client.MemberAdd({cluster.PeerUrl(1)}, false).status().message(), model::etcd::kErrPeerUrlExists);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(client.Put(fmt::format("k{}", i), "v").ok());
  });
  cluster.ScaleTo(4);
  members.RunFor(SimDuration::Seconds(5));
  EXPECT_EQ(cluster.cluster().Pods("etcd-main").size(), 4u);
  ASSERT_EQ(members.server(3).state(), EtcdServer::State::kRunning) << members.server(3).failure();
  EXPECT_EQ(members.server(3).id(), learner);
  members.AsClient({members.Url(1)}, [&](Client& client) {
    absl::StatusOr<etcd_dst::etcd::MemberPromoteResponse> promoted = client.MemberPromote(learner);
    ASSERT_TRUE(promoted.ok()) << promoted.status();
    for (const auto& member : promoted->members()) EXPECT_FALSE(member.islearner()) << member.name();
    EXPECT_EQ(client.MemberPromote(learner).status().message(), model::etcd::kErrMemberNotLearner);
  });
  members.AsClient({members.Url(3)}, [](Client& client) {
    absl::StatusOr<etcd_dst::etcd::RangeResponse> got = client.Get("k19");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->kvs_size(), 1);
  });
  // The joined member replayed the cluster's conf changes from index 1 (its
  // fetched membership already held those members, as etcd's in-memory
  // cluster does; validation is against what it applied, etcd's v2 store),
  // so its raft counts all four voters: it cannot elect itself alone.
  members.RunFor(SimDuration::Seconds(1));
  EXPECT_EQ(members.server(3).raft()->conf().voters.size(), 4u);
  EXPECT_EQ(members.server(0).raft()->conf().voters.size(), 4u);
}

// A watch from a past revision gets the history, then live events, in revision order;
// a compacted start revision is refused.
TEST(EtcdServerTest, WatchFromRevision) {
  Members members(3, 8);
  members.cluster().Start();
  members.RunFor(SimDuration::Seconds(3));
  members.AsClient({members.Url(0)}, [&](Client& client) {
    int64_t first = 0;
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<etcd_dst::etcd::PutResponse> put = client.Put(fmt::format("w/{}", i), "old");
      ASSERT_TRUE(put.ok());
      if (i == 1) first = put->header().revision();
    }
    ASSERT_TRUE(client.Put("other", "ignored").ok());
    absl::StatusOr<std::unique_ptr<model::etcd::WatchStream>> watch = client.Watch("w/", "w0", first);
    ASSERT_TRUE(watch.ok()) << watch.status();
    absl::StatusOr<etcd_dst::etcd::WatchResponse> past = (*watch)->Next(SimDuration::Seconds(2));
    ASSERT_TRUE(past.ok()) << past.status();
    ASSERT_EQ(past->events_size(), 2);
    EXPECT_EQ(past->events(0).kv().key(), "w/1");
    EXPECT_EQ(past->events(0).kv().mod_revision(), first);
    Client writer = client;
    ASSERT_TRUE(writer.Put("w/9", "new").ok());
    etcd_dst::etcd::DeleteRangeRequest delete_request;
    delete_request.set_key("w/0");
    ASSERT_TRUE(writer.Call("DeleteRange", delete_request).ok());
    std::vector<std::string> live;
    while (live.size() < 2) {
      absl::StatusOr<etcd_dst::etcd::WatchResponse> next = (*watch)->Next(SimDuration::Seconds(2));
      ASSERT_TRUE(next.ok()) << next.status();
      for (const auto& event : next->events()) {
        live.push_back(fmt::format("{}:{}", event.type() == etcd_dst::etcd::Event::PUT ? "put" : "delete",
                                   event.kv().key()));
      }
    }
    EXPECT_EQ(live, (std::vector<std::string>{"put:w/9", "delete:w/0"}));
    etcd_dst::etcd::CompactionRequest compact;
    compact.set_revision(first + 2);
    ASSERT_TRUE(client.Call("Compact", compact).ok());
    EXPECT_EQ(client.Watch("w/", "w0", first).status().message(), model::etcd::kErrCompacted);
  });
}

// Leases: keys attached to a lease go when it is revoked or expires; keep-alives keep it;
// a put to an unknown lease fails.
TEST(EtcdServerTest, Leases) {
  Members members(3, 9);
  members.cluster().Start();
  members.RunFor(SimDuration::Seconds(3));
  members.AsClient(members.cluster().ClientUrls(), [&](Client& client) {
    absl::StatusOr<etcd_dst::etcd::LeaseGrantResponse> kept = client.LeaseGrant(5);
    absl::StatusOr<etcd_dst::etcd::LeaseGrantResponse> lapsed = client.LeaseGrant(5);
    absl::StatusOr<etcd_dst::etcd::LeaseGrantResponse> revoked = client.LeaseGrant(60);
    ASSERT_TRUE(kept.ok() && lapsed.ok() && revoked.ok()) << kept.status() << lapsed.status() << revoked.status();
    ASSERT_TRUE(client.PutWithLease("kept", "1", kept->id()).ok());
    ASSERT_TRUE(client.PutWithLease("lapsed", "1", lapsed->id()).ok());
    ASSERT_TRUE(client.PutWithLease("revoked", "1", revoked->id()).ok());
    EXPECT_EQ(client.PutWithLease("nolease", "1", 12345).status().message(), "etcdserver: requested lease not found");
    ASSERT_TRUE(client.LeaseRevoke(revoked->id()).ok());
    EXPECT_EQ(client.Get("revoked")->kvs_size(), 0);
    for (int i = 0; i < 8; ++i) {
      ASSERT_TRUE(client.LeaseKeepAlive(kept->id()).ok());
      sim::this_actor::SleepFor(SimDuration::Seconds(1));
    }
    EXPECT_EQ(client.Get("kept")->kvs_size(), 1);
    EXPECT_EQ(client.Get("lapsed")->kvs_size(), 0);
  });
}

// A member cut off while the others write and compact their logs catches up through a
// raft snapshot when it comes back.
TEST(EtcdServerTest, LaggingMemberCatchesUpBySnapshot) {
  Members members(3, 10, {.snapshot_count = 20});
  members.cluster().Start();
  members.RunFor(SimDuration::Seconds(3));
  sim::World& world = members.cluster().world();
  world.network().Isolate(world.node("etcd-main-2"));
  members.AsClient({members.Url(0), members.Url(1)}, [](Client& client) {
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(client.Put(fmt::format("k{:03d}", i), "v").ok()) << i;
  });
  EXPECT_GT(members.server(0).raft()->first_index(), 50u);  // compacted past what pod 2 has
  world.network().Heal();
  members.RunFor(SimDuration::Seconds(5));
  members.AsClient({members.Url(2)}, [](Client& client) {
    absl::StatusOr<etcd_dst::etcd::RangeResponse> got = client.Get("k099", true);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->kvs_size(), 1);
  });
}

// BR #864 variant A by hand, as MODEL_FACTS records it for the real etcd: pod 2 is Pending
// while its volume gets a restore of pod 0's snapshot with BR's default identity (a second
// restore is refused: the data dir exists). Started with the cluster's flags it ignores them,
// leads the one-member cluster cdf818194e3a8c32 as member 8e9e05c52164694d, publishes its own
// name, serves the snapshot's data, and the others see "cluster ID mismatch".
TEST(EtcdServerTest, RestoredMemberSplitsTheCluster) {
  Members members(3, 11);
  members.cluster().Pod(2).PendingFor(SimDuration::Seconds(6));
  members.cluster().Start();
  members.RunFor(SimDuration::Seconds(3));
  std::string snapshot;
  members.AsClient({members.Url(0)}, [&](Client& client) {
    ASSERT_TRUE(client.Put("before", "split").ok());
    absl::StatusOr<etcd_dst::etcd::SnapshotResponse> taken = client.Snapshot();
    ASSERT_TRUE(taken.ok()) << taken.status();
    snapshot = taken->blob();
  });
  RestoreConfig restore;
  restore.data_dir = members.cluster().options().data_dir;
  bool restored = false;
  sim::Disk& volume = members.cluster().world().volume("data-etcd-main-2");
  members.simulation().scheduler().Spawn(nullptr, "restore", [&] {
    ASSERT_TRUE(RestoreSnapshot(&volume, snapshot, restore).ok());
    EXPECT_EQ(RestoreSnapshot(&volume, snapshot, restore).message(),
              fmt::format("data-dir \"{}\" exists", restore.data_dir));
    restored = true;
  });
  members.RunFor(SimDuration::Millis(500));
  ASSERT_TRUE(restored);
  ASSERT_FALSE(members.cluster().cluster().Bound("etcd-main-2"));
  std::multiset<std::string> names;
  struct Sink : sim::TraceSink {
    std::multiset<std::string>* names;
    void Write(const sim::TraceRecord& record) override { names->insert(record.name); }
    void Flush() override {}
  };
  auto sink = std::make_unique<Sink>();
  sink->names = &names;
  members.simulation().trace().AddSink(std::move(sink));
  members.RunFor(SimDuration::Seconds(6));
  EtcdServer& m2 = members.server(2);
  ASSERT_EQ(m2.state(), EtcdServer::State::kRunning) << m2.failure();
  EXPECT_EQ(FormatId(m2.cluster_id()), "cdf818194e3a8c32");
  EXPECT_EQ(FormatId(m2.id()), "8e9e05c52164694d");
  EXPECT_EQ(m2.raft()->role(), raft::Role::kLeader);
  EXPECT_NE(members.server(0).cluster_id(), m2.cluster_id());
  EXPECT_GT(names.count("ClusterIdMismatch"), 0u);
  members.AsClient({members.Url(2)}, [](Client& client) {
    absl::StatusOr<etcd_dst::etcd::MemberListResponse> list = client.MemberList();
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list->members_size(), 1);
    EXPECT_EQ(list->members(0).name(), "etcd-main-2");
    EXPECT_EQ(list->members(0).peerurls(0), "http://localhost:2380");
    absl::StatusOr<etcd_dst::etcd::RangeResponse> got = client.Get("before");
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->kvs_size(), 1);
    EXPECT_EQ(got->kvs(0).value(), "split");
  });
}

}  // namespace
}  // namespace cluster
