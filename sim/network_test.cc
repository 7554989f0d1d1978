#include "sim/network.h"

#include <memory>

#include <gtest/gtest.h>

#include "sim/simulation.h"

namespace sim {
namespace {

using this_actor::Now;
using this_actor::SleepFor;

// A small world: three nodes with an echo server on port 80 each.
class NetworkTest : public testing::Test {
 protected:
  NetworkTest() : simulation_({.seed = 5, .workload = "network-test"}), network_(&simulation_) {
    for (const char* name : {"a", "b", "c"}) nodes_.push_back(network_.AddNode(name));
    LinkConfig link;
    link.latency_base = SimDuration::Millis(1);
    link.latency_jitter = SimDuration::Millis(1);
    network_.SetDefaultLink(link);
  }
  ~NetworkTest() override { simulation_.Shutdown(); }

  void StartEcho(NodeId node, SimDuration think = SimDuration::Zero()) {
    Group* group = simulation_.scheduler().CreateGroup("echo-" + network_.NodeName(node));
    groups_[node] = group;
    simulation_.scheduler().Spawn(group, "echo", [this, node, think] {
      auto listener = network_.Listen({node, 80});
      ASSERT_TRUE(listener.ok());
      while (true) {
        absl::StatusOr<Envelope> envelope = (*listener)->Receive();
        if (!envelope.ok()) return;
        if (envelope->kind == Envelope::Kind::kCall) {
          SleepFor(think);
          envelope->Reply("echo:" + envelope->payload);
        } else if (envelope->kind == Envelope::Kind::kDatagram) {
          datagrams_[node].push_back(envelope->payload);
        } else {
          accepted_.push_back(std::move(envelope->connection));
        }
      }
    });
  }

  absl::StatusOr<std::string> CallFrom(NodeId from, NodeId to, SimDuration timeout = SimDuration::Seconds(1)) {
    return network_.Call({from, 1000}, {to, 80}, "Echo", "hi", timeout);
  }

  // Runs `body` as an actor; the test fails if it does not reach its end by minute 5. The actor
  // owns `body` and `done`, as a body still blocked may outlive this call.
  void RunActor(absl::AnyInvocable<void()> body) {
    auto done = std::make_shared<bool>(false);
    simulation_.scheduler().Spawn(nullptr, "test", [done, body = std::move(body)]() mutable {
      body();
      *done = true;
    });
    simulation_.scheduler().Run({.until = SimTime::Zero() + SimDuration::Minutes(5)});
    ASSERT_TRUE(*done) << "test body did not finish";
  }

  bool TraceHas(const std::string& needle) {
    for (const std::string& line : simulation_.trace().TailLines()) {
      if (line.find(needle) != std::string::npos) return true;
    }
    return false;
  }

  Simulation simulation_;
  Network network_;
  std::vector<NodeId> nodes_;
  std::map<NodeId, Group*> groups_;
  std::map<NodeId, std::vector<std::string>> datagrams_;
  std::vector<std::unique_ptr<Connection>> accepted_;
};

// A call crosses the link twice: its latency is between 2x base and 2x (base + jitter).
TEST_F(NetworkTest, CallRoundTrip) {
  StartEcho(nodes_[1]);
  RunActor([&] {
    const SimTime start = Now();
    absl::StatusOr<std::string> reply = CallFrom(nodes_[0], nodes_[1]);
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(*reply, "echo:hi");
    EXPECT_GE(Now() - start, SimDuration::Millis(2));
    EXPECT_LE(Now() - start, SimDuration::Millis(4));
  });
}

// A crashed target refuses; a powered-off one times out; a closed port refuses.
TEST_F(NetworkTest, RefusedAndTimeouts) {
  StartEcho(nodes_[1]);
  RunActor([&] {
    EXPECT_EQ(network_.Call({nodes_[0], 1}, {nodes_[1], 81}, "Echo", "x", SimDuration::Seconds(1))
                  .status().message(), "connection refused");
    network_.NodeDown(nodes_[1], Network::DownKind::kCrash);
    absl::StatusOr<std::string> refused = CallFrom(nodes_[0], nodes_[1]);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(refused.status().message(), "connection refused");
    network_.NodeUp(nodes_[1]);
    network_.NodeDown(nodes_[2], Network::DownKind::kPowerOff);
    const SimTime start = Now();
    EXPECT_EQ(CallFrom(nodes_[0], nodes_[2]).status().code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(Now() - start, SimDuration::Seconds(1));
  });
  EXPECT_TRUE(TraceHas("NodeDown node=c kind=power_off"));
}

// A process that dies while serving a call resets it.
TEST_F(NetworkTest, ResetWhenNodeDiesMidCall) {
  StartEcho(nodes_[1], SimDuration::Millis(500));
  simulation_.scheduler().ScheduleAfter(SimDuration::Millis(100), [&] {
    simulation_.scheduler().KillGroup(groups_[nodes_[1]]);
    network_.NodeDown(nodes_[1], Network::DownKind::kCrash);
  });
  RunActor([&] {
    absl::StatusOr<std::string> reply = CallFrom(nodes_[0], nodes_[1]);
    EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(reply.status().message(), "connection reset by peer");
    EXPECT_EQ(Now(), SimTime::Zero() + SimDuration::Millis(100));
  });
}

// A partitioned pair cannot talk while the others can; healing restores it.
TEST_F(NetworkTest, SplitPartition) {
  for (NodeId node : nodes_) StartEcho(node);
  RunActor([&] {
    network_.Split({nodes_[0]}, {nodes_[1]});
    EXPECT_EQ(CallFrom(nodes_[0], nodes_[1]).status().code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(CallFrom(nodes_[1], nodes_[0]).status().code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_TRUE(CallFrom(nodes_[0], nodes_[2]).ok());
    EXPECT_TRUE(CallFrom(nodes_[2], nodes_[1]).ok());
    network_.Heal();
    EXPECT_TRUE(CallFrom(nodes_[0], nodes_[1]).ok());
  });
  EXPECT_TRUE(TraceHas("PartitionHealed"));
}

// One-way: a hears nothing from b; b's requests reach a but replies get lost.
TEST_F(NetworkTest, AsymmetricPartition) {
  for (NodeId node : nodes_) StartEcho(node);
  RunActor([&] {
    network_.BlockOneWay(nodes_[1], nodes_[0]);
    network_.SendDatagram({nodes_[0], 1}, {nodes_[1], 80}, "a-to-b");
    network_.SendDatagram({nodes_[1], 1}, {nodes_[0], 80}, "b-to-a");
    EXPECT_EQ(CallFrom(nodes_[0], nodes_[1]).status().code(), absl::StatusCode::kDeadlineExceeded);
  });
  EXPECT_EQ(datagrams_[nodes_[1]], std::vector<std::string>{"a-to-b"});
  EXPECT_TRUE(datagrams_[nodes_[0]].empty());
}

// Isolating a node cuts it off from everyone.
TEST_F(NetworkTest, Isolate) {
  for (NodeId node : nodes_) StartEcho(node);
  RunActor([&] {
    network_.Isolate(nodes_[2]);
    EXPECT_FALSE(CallFrom(nodes_[0], nodes_[2]).ok());
    EXPECT_FALSE(CallFrom(nodes_[2], nodes_[1]).ok());
    EXPECT_TRUE(CallFrom(nodes_[0], nodes_[1]).ok());
  });
}

// Streams deliver in order despite jitter; datagrams with the same jitter reorder.
TEST_F(NetworkTest, StreamsKeepOrderDatagramsDoNot) {
  StartEcho(nodes_[1]);
  std::vector<std::string> received;
  RunActor([&] {
    auto connection = network_.Connect({nodes_[0], 5000}, {nodes_[1], 80}, SimDuration::Seconds(1));
    ASSERT_TRUE(connection.ok()) << connection.status();
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE((*connection)->Send(std::to_string(i)).ok());
      network_.SendDatagram({nodes_[0], 1}, {nodes_[1], 80}, std::to_string(i));
    }
    SleepFor(SimDuration::Millis(100));
    ASSERT_EQ(accepted_.size(), 1u);
    for (int i = 0; i < 200; ++i) {
      absl::StatusOr<std::string> message = accepted_[0]->Receive(SimDuration::Seconds(1));
      ASSERT_TRUE(message.ok());
      received.push_back(*message);
    }
    (*connection)->Close();
    EXPECT_EQ(accepted_[0]->Receive(SimDuration::Seconds(1)).status().code(), absl::StatusCode::kOutOfRange);
  });
  for (int i = 0; i < 200; ++i) EXPECT_EQ(received[i], std::to_string(i));
  const auto& datagrams = datagrams_[nodes_[1]];
  ASSERT_EQ(datagrams.size(), 200u);
  EXPECT_FALSE(std::is_sorted(datagrams.begin(), datagrams.end(),
                              [](const std::string& x, const std::string& y) { return std::stoi(x) < std::stoi(y); }));
}

// A stream blocked by a short partition holds its data and delivers it, in order, after healing.
TEST_F(NetworkTest, StreamStallsThenFlushes) {
  StartEcho(nodes_[1]);
  RunActor([&] {
    auto connection = network_.Connect({nodes_[0], 5000}, {nodes_[1], 80}, SimDuration::Seconds(1));
    ASSERT_TRUE(connection.ok());
    SleepFor(SimDuration::Millis(10));
    network_.Split({nodes_[0]}, {nodes_[1]});
    ASSERT_TRUE((*connection)->Send("one").ok());
    ASSERT_TRUE((*connection)->Send("two").ok());
    EXPECT_EQ(accepted_[0]->Receive(SimDuration::Seconds(2)).status().code(), absl::StatusCode::kDeadlineExceeded);
    network_.Heal();
    EXPECT_EQ(*accepted_[0]->Receive(SimDuration::Seconds(1)), "one");
    EXPECT_EQ(*accepted_[0]->Receive(SimDuration::Seconds(1)), "two");
    // A long partition breaks the stream.
    network_.Split({nodes_[0]}, {nodes_[1]});
    ASSERT_TRUE((*connection)->Send("three").ok());
    SleepFor(Network::kStallTimeout + SimDuration::Seconds(1));
    EXPECT_EQ((*connection)->Send("four").code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(accepted_[0]->Receive().status().message(), "connection reset by peer");
  });
}

// A crash resets streams at once; the peer sees "connection reset by peer".
TEST_F(NetworkTest, CrashResetsStreams) {
  StartEcho(nodes_[1]);
  RunActor([&] {
    auto connection = network_.Connect({nodes_[0], 5000}, {nodes_[1], 80}, SimDuration::Seconds(1));
    ASSERT_TRUE(connection.ok());
    network_.NodeDown(nodes_[1], Network::DownKind::kCrash);
    EXPECT_EQ((*connection)->Receive().status().message(), "connection reset by peer");
    EXPECT_EQ(network_.Connect({nodes_[0], 5001}, {nodes_[1], 80}, SimDuration::Seconds(1)).status().message(),
              "connection refused");
  });
}

// A clogged link holds everything until the clog ends.
TEST_F(NetworkTest, Clog) {
  StartEcho(nodes_[1]);
  RunActor([&] {
    network_.Clog(nodes_[0], nodes_[1], SimDuration::Seconds(3));
    const SimTime start = Now();
    absl::StatusOr<std::string> reply = CallFrom(nodes_[0], nodes_[1], SimDuration::Seconds(10));
    ASSERT_TRUE(reply.ok());
    EXPECT_GE(Now() - start, SimDuration::Seconds(3));
    EXPECT_LT(Now() - start, SimDuration::Millis(3010));
  });
  EXPECT_TRUE(TraceHas("LinkClogged from=a to=b"));
}

// Loss and duplication happen at about their configured rates and are traced.
TEST_F(NetworkTest, LossAndDuplication) {
  StartEcho(nodes_[1]);
  LinkConfig lossy;
  lossy.loss_per_million = 200000;
  lossy.duplicate_per_million = 100000;
  network_.SetLink(nodes_[0], nodes_[1], lossy);
  RunActor([&] {
    for (int i = 0; i < 2000; ++i) network_.SendDatagram({nodes_[0], 1}, {nodes_[1], 80}, "d");
    SleepFor(SimDuration::Seconds(1));
  });
  const size_t got = datagrams_[nodes_[1]].size();
  // 2000 * (1 + 0.1) * 0.8 = 1760 expected.
  EXPECT_GT(got, 1600u);
  EXPECT_LT(got, 1920u);
  EXPECT_GT(network_.packets_dropped(), 300u);
}

// A node's traffic to itself takes the loopback link: however lossy the
// default link, nothing sent over localhost is lost or duplicated, and a call
// returns in tens of microseconds, not the network's milliseconds.
TEST_F(NetworkTest, LoopbackIsNeverLost) {
  StartEcho(nodes_[0]);
  StartEcho(nodes_[1]);
  LinkConfig lossy;
  lossy.latency_base = SimDuration::Millis(1);
  lossy.loss_per_million = 300000;
  lossy.duplicate_per_million = 100000;
  network_.SetDefaultLink(lossy);
  RunActor([&] {
    for (int i = 0; i < 1000; ++i) {
      network_.SendDatagram({nodes_[0], 1}, {nodes_[0], 80}, "self");
      network_.SendDatagram({nodes_[0], 1}, {nodes_[1], 80}, "other");
    }
    SleepFor(SimDuration::Seconds(1));
    for (int i = 0; i < 200; ++i) {
      const SimTime start = Now();
      absl::StatusOr<std::string> reply = CallFrom(nodes_[0], nodes_[0]);
      ASSERT_TRUE(reply.ok()) << reply.status();
      EXPECT_LT(Now() - start, SimDuration::Micros(200));
    }
  });
  EXPECT_EQ(datagrams_[nodes_[0]].size(), 1000u);
  EXPECT_LT(datagrams_[nodes_[1]].size(), 1000u);  // the other link did lose
}

// Binding twice fails; names resolve; a destroyed listener frees its port.
TEST_F(NetworkTest, ListenAndResolve) {
  EXPECT_EQ(network_.Resolve("b"), nodes_[1]);
  EXPECT_FALSE(network_.Resolve("zz").has_value());
  auto first = network_.Listen({nodes_[0], 80});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(network_.Listen({nodes_[0], 80}).status().code(), absl::StatusCode::kAlreadyExists);
  first->reset();
  EXPECT_TRUE(network_.Listen({nodes_[0], 80}).ok());
}

}  // namespace
}  // namespace sim
