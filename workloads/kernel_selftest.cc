// kernel-selftest: exercises the kernel end to end before any etcd exists.
// Three node groups each run a server behind a small bounded mailbox and two
// clients; clients send requests to random servers through a "network" of
// random delays (scheduler callbacks), wait for replies with timeouts and
// retry. Midway a supervisor kills one node group: its actors must unwind,
// its queued requests must go unanswered, and the survivors must finish.
#include <memory>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "sim/channel.h"
#include "sim/future.h"
#include "sim/simulation.h"
#include "workloads/workload.h"

namespace workloads {
namespace {

using sim::ActorHandle;
using sim::Channel;
using sim::Promise;
using sim::SimDuration;
using sim::SimTime;
using sim::TraceEvent;

struct Reply {
  uint64_t request_id = 0;
  int server = 0;
  SimTime produced_at;
};

struct Request {
  uint64_t id = 0;
  int client = 0;
  Promise<Reply> reply;
};

class KernelSelftest : public Workload {
 public:
  static constexpr int kNodes = 3;
  static constexpr int kClientsPerNode = 2;
  static constexpr int kRequestsPerClient = 40;
  static constexpr int kAttemptsPerRequest = 3;

  void Setup(sim::Simulation& simulation, const sim::FaultPlan& /*plan: none*/) override {
    simulation_ = &simulation;
    sim::Properties& properties = simulation.properties();
    for (const char* name : {"RequestTimedOut", "RequestRejected", "MailboxFull",
                             "ServerIdleTimeout", "ReplyAfterKill", "SlowServerBuggified"}) {
      properties.DeclareSometimes(name);
    }
    properties.DeclareCheck("VictimActorsKilled");
    properties.DeclareCheck("KilledActorsUnwound");
    sim::Rng& chaos = simulation.Stream("selftest.chaos");
    victim_ = static_cast<int>(chaos.UniformBelow(kNodes));
    const SimDuration kill_at = chaos.DurationIn(SimDuration::Millis(300), SimDuration::Seconds(2));

    nodes_.resize(kNodes);
    for (int i = 0; i < kNodes; ++i) {
      Node& node = nodes_[i];
      node.group = simulation.scheduler().CreateGroup(fmt::format("node-{}", i));
      sim::Rng& rng = simulation.Stream(fmt::format("selftest.node-{}", i));
      node.mailbox = std::make_unique<Channel<Request>>(rng.UniformIn(1, 4));
      Track(i, simulation.scheduler().Spawn(node.group, "server", [this, i] { Server(i); }));
      for (int c = 0; c < kClientsPerNode; ++c) {
        const int client = i * kClientsPerNode + c;
        Track(i, simulation.scheduler().Spawn(node.group, fmt::format("client-{}", client),
                                              [this, client] { Client(client); }));
      }
    }
    survivors_ = (kNodes - 1) * kClientsPerNode;
    sim::Group* supervisor = simulation.scheduler().CreateGroup("supervisor");
    simulation.scheduler().Spawn(supervisor, "chaos", [this, kill_at] { Chaos(kill_at); });
    properties.Eventually("SurvivorsFinish", SimDuration::Seconds(60),
                          [this] { return clients_done_ == survivors_; });
  }

  void Finish(sim::Simulation& simulation) override {
    sim::Properties& properties = simulation.properties();
    // Actors of the victim that had finished before the kill stay finished.
    size_t killed = 0;
    for (const ActorHandle& handle : nodes_[victim_].actors) {
      killed += handle.outcome() == sim::ActorOutcome::kKilled;
    }
    properties.Always(killed == alive_at_kill_, "VictimActorsKilled",
                      fmt::format("{} killed, {} alive at the kill", killed, alive_at_kill_));
    properties.Always(victim_guards_unwound_ == alive_at_kill_, "KilledActorsUnwound",
                      fmt::format("{} of {} unwound", victim_guards_unwound_, alive_at_kill_));
  }

  sim::RunLimits Limits() const override {
    return {.until = SimTime::Zero() + SimDuration::Minutes(2), .max_events = 10'000'000};
  }

 private:
  struct Node {
    sim::Group* group = nullptr;
    std::unique_ptr<Channel<Request>> mailbox;
    std::vector<ActorHandle> actors;
    bool killed = false;
    SimTime killed_at = SimTime::Max();
  };

  // Lives on each actor's stack; counts the unwinding of the victim's actors.
  struct UnwindGuard {
    KernelSelftest* self;
    int node;
    ~UnwindGuard() {
      if (self->nodes_[node].killed) ++self->victim_guards_unwound_;
    }
  };

  void Track(int node, ActorHandle handle) { nodes_[node].actors.push_back(std::move(handle)); }

  void Server(int index) {
    UnwindGuard guard{this, index};
    sim::Rng& rng = simulation_->Stream(fmt::format("selftest.server-{}", index));
    Node& node = nodes_[index];
    TraceEvent("ServerStarted").Detail("capacity", node.mailbox->capacity());
    while (true) {
      const SimDuration idle = rng.DurationIn(SimDuration::Millis(200), SimDuration::Millis(800));
      absl::StatusOr<Request> request = node.mailbox->Receive(idle);
      if (!request.ok()) {
        simulation_->properties().Sometimes(true, "ServerIdleTimeout");
        if (clients_done_ == survivors_) break;
        continue;
      }
      SimDuration service = rng.DurationIn(SimDuration::Millis(1), SimDuration::Millis(20));
      if (SIM_BUGGIFY) {
        simulation_->properties().Sometimes(true, "SlowServerBuggified");
        service = SimDuration::Millis(300);
      }
      sim::this_actor::SleepFor(service);
      Reply reply{request->id, index, sim::this_actor::Now()};
      // The reply travels back over the network; it may land after this
      // server's group was killed, but it was produced before.
      const SimDuration latency = Latency();
      simulation_->scheduler().ScheduleAfter(
          latency, [promise = std::move(request->reply), reply]() mutable { promise.Set(reply); });
    }
    TraceEvent("ServerStopped");
  }

  void Client(int client) {
    const int home = client / kClientsPerNode;
    UnwindGuard guard{this, home};
    sim::Rng& rng = simulation_->Stream(fmt::format("selftest.client-{}", client));
    sim::Properties& properties = simulation_->properties();
    int answered = 0;
    for (int r = 0; r < kRequestsPerClient; ++r) {
      const int server = static_cast<int>(rng.UniformBelow(kNodes));
      for (int attempt = 0; attempt < kAttemptsPerRequest; ++attempt) {
        Request request;
        request.id = next_request_id_++;
        request.client = client;
        sim::Future<Reply> future = request.reply.GetFuture();
        const uint64_t id = request.id;
        Channel<Request>* mailbox = nodes_[server].mailbox.get();
        simulation_->scheduler().ScheduleAfter(Latency(), [this, mailbox, request = std::move(request)]() mutable {
          // A full or closed mailbox drops the request; its promise breaks.
          const absl::Status sent = mailbox->TrySend(std::move(request));
          simulation_->properties().Sometimes(sent.code() == absl::StatusCode::kResourceExhausted,
                                              "MailboxFull");
        });
        const SimDuration timeout = rng.DurationIn(SimDuration::Millis(50), SimDuration::Millis(400));
        absl::StatusOr<Reply> reply = future.Wait(timeout);
        if (reply.ok()) {
          properties.Always(reply->request_id == id, "ReplyMatchesRequest");
          const Node& from = nodes_[reply->server];
          properties.Always(reply->produced_at <= from.killed_at, "NoReplyProducedAfterKill",
                            fmt::format("server {} killed at {}, reply produced at {}", reply->server,
                                        from.killed_at.ToString(), reply->produced_at.ToString()));
          properties.Sometimes(from.killed, "ReplyAfterKill");
          ++answered;
          break;
        }
        properties.Sometimes(reply.status().code() == absl::StatusCode::kDeadlineExceeded,
                             "RequestTimedOut");
        properties.Sometimes(reply.status().code() == absl::StatusCode::kCancelled,
                             "RequestRejected");
        sim::this_actor::SleepFor(rng.DurationIn(SimDuration::Millis(1), SimDuration::Millis(50)));
      }
    }
    if (home != victim_) ++clients_done_;
    TraceEvent("ClientDone").Detail("client", client).Detail("answered", answered);
  }

  void Chaos(SimDuration kill_at) {
    sim::this_actor::SleepFor(kill_at);
    Node& victim = nodes_[victim_];
    victim.killed = true;
    victim.killed_at = sim::this_actor::Now();
    for (const ActorHandle& handle : victim.actors) alive_at_kill_ += !handle.done();
    simulation_->scheduler().KillGroup(victim.group);
    // Requests still queued for the dead server are never answered; new ones
    // are refused.
    victim.mailbox->Close();
    for (ActorHandle& handle : victim.actors) {
      const sim::ActorOutcome outcome = handle.Join(SimDuration::Seconds(1));
      simulation_->properties().Always(outcome != sim::ActorOutcome::kRunning, "JoinSeesEnd",
                                       handle.name());
    }
    TraceEvent("VictimDown").Detail("node", victim_).Detail("unwound", victim_guards_unwound_);
  }

  SimDuration Latency() {
    return simulation_->Stream("selftest.network")
        .DurationIn(SimDuration::Micros(100), SimDuration::Millis(30));
  }

  sim::Simulation* simulation_ = nullptr;
  std::vector<Node> nodes_;
  int victim_ = 0;
  int survivors_ = 0;
  int clients_done_ = 0;  // surviving clients that finished
  size_t victim_guards_unwound_ = 0;
  size_t alive_at_kill_ = 0;
  uint64_t next_request_id_ = 1;
};

}  // namespace

std::unique_ptr<Workload> MakeKernelSelftest() { return std::make_unique<KernelSelftest>(); }

}  // namespace workloads
