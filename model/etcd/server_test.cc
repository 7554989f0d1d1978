#include "model/etcd/server.h"

#include <set>

#include <gtest/gtest.h>

#include "fmt/format.h"
#include "model/etcd/client.h"
#include "model/etcd/restore.h"
#include "sim/world.h"

namespace model::etcd {
namespace {

// A world of etcd machines m0..m{n-1}, each running one member per boot.
class EtcdWorld {
 public:
  EtcdWorld(int members, uint64_t seed, std::string state = "new")
      : simulation_({.seed = seed, .workload = "etcd-test"}), world_(&simulation_) {
    std::string initial;
    for (int i = 0; i < members; ++i) initial += fmt::format("{}m{}=http://m{}:2380", i ? "," : "", i, i);
    for (int i = 0; i < members; ++i) AddMachine(fmt::format("m{}", i), initial, state);
    client_node_ = world_.network().AddNode("client");
  }
  ~EtcdWorld() { simulation_.Shutdown(); }

  // Adds a machine `name` running a member with these flags (peer/client URLs from the name).
  void AddMachine(const std::string& name, const std::string& initial_cluster, const std::string& state) {
    EtcdConfig config;
    config.name = name;
    config.data_dir = "var/etcd/data";
    config.initial_advertise_peer_urls = {fmt::format("http://{}:2380", name)};
    config.advertise_client_urls = {fmt::format("http://{}:2379", name)};
    config.initial_cluster = initial_cluster;
    config.initial_cluster_state = state;
    configs_[name] = config;
    world_.AddMachine(name, {}, [this, name](sim::Group* group, int) {
      servers_[name] = std::make_unique<EtcdServer>(world_.Context(name, &simulation_.Stream("etcd." + name)),
                                                    configs_[name]);
      servers_[name]->Start(simulation_.scheduler().CreateGroup("etcd", group));
    });
  }

  void RunFor(sim::SimDuration duration) {
    simulation_.scheduler().Run({.until = simulation_.Now() + duration});
  }
  // Runs `body` as a client actor until it returns (or `limit` passes).
  void AsClient(std::vector<std::string> endpoints, absl::AnyInvocable<void(Client&)> body,
                sim::SimDuration limit = sim::SimDuration::Seconds(60)) {
    bool done = false;
    simulation_.scheduler().Spawn(nullptr, "client", [&, endpoints]() mutable {
      Client client(&world_.network(), client_node_, endpoints, &simulation_.Stream("client"));
      body(client);
      done = true;
    });
    const sim::SimTime until = simulation_.Now() + limit;
    while (!done && simulation_.Now() < until) RunFor(sim::SimDuration::Millis(500));
    ASSERT_TRUE(done) << "client did not finish";
  }

  sim::Simulation simulation_;
  sim::World world_;
  std::map<std::string, EtcdConfig> configs_;
  std::map<std::string, std::unique_ptr<EtcdServer>> servers_;
  sim::NodeId client_node_;
};

// A single member starts (new), elects itself, publishes, and serves puts and gets.
TEST(EtcdServerTest, SingleMember) {
  EtcdWorld world(1, 1);
  world.world_.Start("m0");
  world.RunFor(sim::SimDuration::Seconds(3));
  EtcdServer& m0 = *world.servers_["m0"];
  ASSERT_EQ(m0.state(), EtcdServer::State::kRunning) << m0.failure();
  EXPECT_EQ(m0.raft()->role(), raft::Role::kLeader);
  world.AsClient({"http://m0:2379"}, [](Client& client) {
    ASSERT_TRUE(client.Put("foo", "bar").ok());
    absl::StatusOr<etcd_dst::etcd::RangeResponse> got = client.Get("foo");
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->kvs_size(), 1);
    EXPECT_EQ(got->kvs(0).value(), "bar");
    absl::StatusOr<etcd_dst::etcd::MemberListResponse> members = client.MemberList();
    ASSERT_TRUE(members.ok());
    ASSERT_EQ(members->members_size(), 1);
    EXPECT_EQ(members->members(0).name(), "m0");
    EXPECT_EQ(members->members(0).clienturls(0), "http://m0:2379");
  });
}

// Three members bootstrap one cluster with etcd's IDs; a write on one is read on another.
TEST(EtcdServerTest, ThreeMemberBootstrap) {
  EtcdWorld world(3, 2);
  for (const char* name : {"m0", "m1", "m2"}) world.world_.Start(name);
  world.RunFor(sim::SimDuration::Seconds(5));
  const ClusterId expected = ComputeClusterId({ComputeMemberId({"http://m0:2380"}, "etcd-cluster"),
                                               ComputeMemberId({"http://m1:2380"}, "etcd-cluster"),
                                               ComputeMemberId({"http://m2:2380"}, "etcd-cluster")});
  int leaders = 0;
  for (auto& [name, server] : world.servers_) {
    ASSERT_EQ(server->state(), EtcdServer::State::kRunning) << name << ": " << server->failure();
    EXPECT_EQ(server->cluster_id(), expected) << name;
    EXPECT_EQ(server->cluster().members().size(), 3u);
    leaders += server->raft()->role() == raft::Role::kLeader;
  }
  EXPECT_EQ(leaders, 1);
  world.AsClient({"http://m1:2379"}, [](Client& client) { ASSERT_TRUE(client.Put("k", "v").ok()); });
  world.AsClient({"http://m2:2379"}, [](Client& client) {
    absl::StatusOr<etcd_dst::etcd::RangeResponse> got = client.Get("k");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->kvs(0).value(), "v");
  });
}

// Restart from the WAL: the data and the IDs survive a crash, flags are ignored.
TEST(EtcdServerTest, RestartFromWal) {
  EtcdWorld world(3, 3);
  for (const char* name : {"m0", "m1", "m2"}) world.world_.Start(name);
  world.RunFor(sim::SimDuration::Seconds(5));
  world.AsClient({"http://m0:2379"}, [](Client& client) { ASSERT_TRUE(client.Put("durable", "yes").ok()); });
  const MemberId id = world.servers_["m1"]->id();
  world.world_.Crash("m1");
  world.configs_["m1"].initial_cluster = "garbage=http://nowhere:1";  // ignored with a WAL
  world.RunFor(sim::SimDuration::Seconds(1));
  world.world_.Restart("m1");
  world.RunFor(sim::SimDuration::Seconds(5));
  EtcdServer& m1 = *world.servers_["m1"];
  ASSERT_EQ(m1.state(), EtcdServer::State::kRunning) << m1.failure();
  EXPECT_EQ(m1.id(), id);
  world.AsClient({"http://m1:2379"}, [](Client& client) {
    absl::StatusOr<etcd_dst::etcd::RangeResponse> got = client.Get("durable", true);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->kvs_size(), 1);
    EXPECT_EQ(got->kvs(0).value(), "yes");
  });
}

// As observed with the real etcd: with a voting member that never started, adding a learner
// fails with "unhealthy cluster"; the never-started member is listed with its name, no client URLs.
TEST(EtcdServerTest, LearnerAddUnhealthyWhileAMemberNeverStarted) {
  EtcdWorld world(3, 4);
  world.world_.Start("m0");
  world.world_.Start("m1");
  world.RunFor(sim::SimDuration::Seconds(10));
  world.AsClient({"http://m0:2379"}, [](Client& client) {
    absl::StatusOr<etcd_dst::etcd::MemberListResponse> members = client.MemberList();
    ASSERT_TRUE(members.ok());
    ASSERT_EQ(members->members_size(), 3);
    for (const auto& member : members->members()) {
      EXPECT_FALSE(member.name().empty());
      if (member.name() == "m2") {
        EXPECT_EQ(member.clienturls_size(), 0);
      }
    }
    absl::StatusOr<etcd_dst::etcd::MemberAddResponse> added = client.MemberAdd({"http://m3:2380"}, true);
    EXPECT_EQ(added.status().message(), kErrUnhealthy);
  });
}

// A late member started with the same "new" flags computes the same IDs and joins.
TEST(EtcdServerTest, LateMemberJoinsWithNew) {
  EtcdWorld world(3, 5);
  world.world_.Start("m0");
  world.world_.Start("m1");
  world.RunFor(sim::SimDuration::Seconds(20));
  world.world_.Start("m2");
  world.RunFor(sim::SimDuration::Seconds(5));
  EtcdServer& m2 = *world.servers_["m2"];
  ASSERT_EQ(m2.state(), EtcdServer::State::kRunning) << m2.failure();
  EXPECT_EQ(m2.cluster_id(), world.servers_["m0"]->cluster_id());
  world.AsClient({"http://m2:2379"}, [](Client& client) {
    ASSERT_TRUE(client.Put("late", "ok").ok());
    absl::StatusOr<etcd_dst::etcd::MemberListResponse> members = client.MemberList();
    ASSERT_TRUE(members.ok());
    for (const auto& member : members->members()) EXPECT_EQ(member.clienturls_size(), 1) << member.name();
  });
}

// A learner joins, catches up and is promoted; promoting a voter, or adding a second
// learner, fails with etcd's errors.
TEST(EtcdServerTest, LearnerAddJoinPromote) {
  EtcdWorld world(3, 6);
  for (const char* name : {"m0", "m1", "m2"}) world.world_.Start(name);
  world.RunFor(sim::SimDuration::Seconds(8));  // peers connected for more than 5 s
  uint64_t learner = 0;
  world.AsClient({"http://m0:2379"}, [&](Client& client) {
    absl::StatusOr<etcd_dst::etcd::MemberAddResponse> added = client.MemberAdd({"http://m3:2380"}, true);
    ASSERT_TRUE(added.ok()) << added.status();
    learner = added->member().id();
    EXPECT_TRUE(added->member().islearner());
    EXPECT_EQ(client.MemberAdd({"http://m4:2380"}, true).status().message(), kErrTooManyLearners);
    EXPECT_EQ(client.MemberAdd({"http://m1:2380"}, false).status().message(), kErrPeerUrlExists);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(client.Put(fmt::format("k{}", i), "v").ok());
  });
  world.AddMachine("m3", "m0=http://m0:2380,m1=http://m1:2380,m2=http://m2:2380,m3=http://m3:2380", "existing");
  world.world_.Start("m3");
  world.RunFor(sim::SimDuration::Seconds(5));
  ASSERT_EQ(world.servers_["m3"]->state(), EtcdServer::State::kRunning) << world.servers_["m3"]->failure();
  EXPECT_EQ(world.servers_["m3"]->id(), learner);
  world.AsClient({"http://m1:2379"}, [&](Client& client) {
    absl::StatusOr<etcd_dst::etcd::MemberPromoteResponse> promoted = client.MemberPromote(learner);
    ASSERT_TRUE(promoted.ok()) << promoted.status();
    for (const auto& member : promoted->members()) EXPECT_FALSE(member.islearner()) << member.name();
    EXPECT_EQ(client.MemberPromote(learner).status().message(), kErrMemberNotLearner);
  });
  world.AsClient({"http://m3:2379"}, [](Client& client) {
    absl::StatusOr<etcd_dst::etcd::RangeResponse> got = client.Get("k19");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->kvs_size(), 1);
  });
}

// A restore with BR's default identity makes a new one-member cluster, with a different cluster
// ID (cdf818194e3a8c32), that serves the snapshot's data, whatever flags it is then started with.
TEST(EtcdServerTest, RestoreMakesANewCluster) {
  EtcdWorld world(3, 7);
  for (const char* name : {"m0", "m1", "m2"}) world.world_.Start(name);
  world.RunFor(sim::SimDuration::Seconds(3));
  std::string snapshot;
  world.AsClient({"http://m0:2379"}, [&](Client& client) {
    ASSERT_TRUE(client.Put("restored", "yes").ok());
    absl::StatusOr<etcd_dst::etcd::SnapshotResponse> taken = client.Snapshot();
    ASSERT_TRUE(taken.ok()) << taken.status();
    snapshot = taken->blob();
  });
  const ClusterId original = world.servers_["m0"]->cluster_id();
  world.AddMachine("r0", "r0=http://r0:2380", "new");
  RestoreConfig restore;
  restore.data_dir = "var/etcd/data";
  bool restored = false;
  world.simulation_.scheduler().Spawn(nullptr, "restore", [&] {
    ASSERT_TRUE(RestoreSnapshot(&world.world_.disk("r0"), snapshot, restore).ok());
    EXPECT_EQ(RestoreSnapshot(&world.world_.disk("r0"), snapshot, restore).message(), "data-dir \"var/etcd/data\" exists");
    restored = true;
  });
  world.RunFor(sim::SimDuration::Seconds(1));
  ASSERT_TRUE(restored);
  world.world_.Start("r0");
  world.RunFor(sim::SimDuration::Seconds(4));
  EtcdServer& r0 = *world.servers_["r0"];
  ASSERT_EQ(r0.state(), EtcdServer::State::kRunning) << r0.failure();
  EXPECT_EQ(FormatId(r0.cluster_id()), "cdf818194e3a8c32");
  EXPECT_EQ(FormatId(r0.id()), "8e9e05c52164694d");
  EXPECT_NE(r0.cluster_id(), original);
  EXPECT_EQ(r0.raft()->role(), raft::Role::kLeader);
  world.AsClient({"http://r0:2379"}, [](Client& client) {
    absl::StatusOr<etcd_dst::etcd::RangeResponse> got = client.Get("restored");
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->kvs_size(), 1);
    EXPECT_EQ(got->kvs(0).value(), "yes");
  });
}

// A watch from a past revision gets the history, then live events, in revision order;
// a compacted start revision is refused.
TEST(EtcdServerTest, WatchFromRevision) {
  EtcdWorld world(3, 8);
  for (const char* name : {"m0", "m1", "m2"}) world.world_.Start(name);
  world.RunFor(sim::SimDuration::Seconds(3));
  world.AsClient({"http://m0:2379"}, [&](Client& client) {
    int64_t first = 0;
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<etcd_dst::etcd::PutResponse> put = client.Put(fmt::format("w/{}", i), "old");
      ASSERT_TRUE(put.ok());
      if (i == 1) first = put->header().revision();
    }
    ASSERT_TRUE(client.Put("other", "ignored").ok());
    absl::StatusOr<std::unique_ptr<WatchStream>> watch = client.Watch("w/", "w0", first);
    ASSERT_TRUE(watch.ok()) << watch.status();
    absl::StatusOr<etcd_dst::etcd::WatchResponse> past = (*watch)->Next(sim::SimDuration::Seconds(2));
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
      absl::StatusOr<etcd_dst::etcd::WatchResponse> next = (*watch)->Next(sim::SimDuration::Seconds(2));
      ASSERT_TRUE(next.ok()) << next.status();
      for (const auto& event : next->events()) {
        live.push_back(fmt::format("{}:{}", event.type() == etcd_dst::etcd::Event::PUT ? "put" : "delete", event.kv().key()));
      }
    }
    EXPECT_EQ(live, (std::vector<std::string>{"put:w/9", "delete:w/0"}));
    etcd_dst::etcd::CompactionRequest compact;
    compact.set_revision(first + 2);
    ASSERT_TRUE(client.Call("Compact", compact).ok());
    EXPECT_EQ(client.Watch("w/", "w0", first).status().message(), kErrCompacted);
  });
}

// Leases: keys attached to a lease go when it is revoked or expires; keep-alives keep it;
// a put to an unknown lease fails.
TEST(EtcdServerTest, Leases) {
  EtcdWorld world(3, 9);
  for (const char* name : {"m0", "m1", "m2"}) world.world_.Start(name);
  world.RunFor(sim::SimDuration::Seconds(3));
  world.AsClient({"http://m0:2379", "http://m1:2379", "http://m2:2379"}, [&](Client& client) {
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
      sim::this_actor::SleepFor(sim::SimDuration::Seconds(1));
    }
    EXPECT_EQ(client.Get("kept")->kvs_size(), 1);
    EXPECT_EQ(client.Get("lapsed")->kvs_size(), 0);
  });
}

// A member cut off while the others write and compact their logs catches up through a
// raft snapshot when it comes back.
TEST(EtcdServerTest, LaggingMemberCatchesUpBySnapshot) {
  EtcdWorld world(3, 10);
  for (auto& [name, config] : world.configs_) config.snapshot_count = 20;
  for (const char* name : {"m0", "m1", "m2"}) world.world_.Start(name);
  world.RunFor(sim::SimDuration::Seconds(3));
  world.world_.network().Isolate(world.world_.node("m2"));
  world.AsClient({"http://m0:2379", "http://m1:2379"}, [](Client& client) {
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(client.Put(fmt::format("k{:03d}", i), "v").ok()) << i;
  });
  EXPECT_GT(world.servers_["m0"]->raft()->first_index(), 50u);  // compacted past what m2 has
  world.world_.network().Heal();
  world.RunFor(sim::SimDuration::Seconds(5));
  world.AsClient({"http://m2:2379"}, [](Client& client) {
    absl::StatusOr<etcd_dst::etcd::RangeResponse> got = client.Get("k099", true);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->kvs_size(), 1);
  });
}

// BR #864 variant A by hand, as MODEL_FACTS records it for the real etcd: m2 never started,
// its data dir is a restore with BR's default identity; started with its own flags it ignores
// them, leads the one-member cluster cdf818194e3a8c32, publishes its own name, and m0/m1 see
// "cluster ID mismatch".
TEST(EtcdServerTest, RestoredMemberSplitsTheCluster) {
  EtcdWorld world(3, 11);
  world.world_.Start("m0");
  world.world_.Start("m1");
  world.RunFor(sim::SimDuration::Seconds(3));
  std::string snapshot;
  world.AsClient({"http://m0:2379"}, [&](Client& client) {
    ASSERT_TRUE(client.Put("before", "split").ok());
    snapshot = client.Snapshot()->blob();
  });
  RestoreConfig restore;
  restore.data_dir = "var/etcd/data";
  world.simulation_.scheduler().Spawn(nullptr, "restore", [&] {
    ASSERT_TRUE(RestoreSnapshot(&world.world_.disk("m2"), snapshot, restore).ok());
  });
  world.RunFor(sim::SimDuration::Seconds(1));
  std::multiset<std::string> names;
  struct Sink : sim::TraceSink {
    std::multiset<std::string>* names;
    void Write(const sim::TraceRecord& record) override { names->insert(record.name); }
    void Flush() override {}
  };
  auto sink = std::make_unique<Sink>();
  sink->names = &names;
  world.simulation_.trace().AddSink(std::move(sink));
  world.world_.Start("m2");
  world.RunFor(sim::SimDuration::Seconds(5));
  EtcdServer& m2 = *world.servers_["m2"];
  ASSERT_EQ(m2.state(), EtcdServer::State::kRunning) << m2.failure();
  EXPECT_EQ(FormatId(m2.cluster_id()), "cdf818194e3a8c32");
  EXPECT_EQ(m2.raft()->role(), raft::Role::kLeader);
  EXPECT_NE(world.servers_["m0"]->cluster_id(), m2.cluster_id());
  EXPECT_GT(names.count("ClusterIdMismatch"), 0u);
  world.AsClient({"http://m2:2379"}, [](Client& client) {
    absl::StatusOr<etcd_dst::etcd::MemberListResponse> members = client.MemberList();
    ASSERT_TRUE(members.ok());
    ASSERT_EQ(members->members_size(), 1);
    EXPECT_EQ(members->members(0).name(), "m2");
    EXPECT_EQ(members->members(0).peerurls(0), "http://localhost:2380");
    EXPECT_EQ(client.Get("before")->kvs_size(), 1);
  });
}

}  // namespace
}  // namespace model::etcd
