#include "sim/network.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "sim/simulation.h"
#include "sim/trace.h"

namespace sim {
namespace internal {

struct Frame {
  bool fin = false;
  std::string data;
  uint64_t message_id = 0;  // set while the trace observes messages
};

struct ConnectionState {
  Network* network = nullptr;
  uint64_t id = 0;
  Address ends[2];
  // in[s]: frames travelling toward side s.
  struct Inbound {
    Inbound() : inbox(1 << 20) {}
    Channel<Frame> inbox;
    SimTime last_arrival;
    std::deque<Frame> stalled;  // held by a blocked link, in order
    SimTime stalled_since;
  } in[2];
  bool closed[2] = {false, false};
  bool reset = false;
  std::string reset_reason;
};

}  // namespace internal

using internal::ConnectionState;
using internal::Frame;

namespace {
const char* DropName(int reason) {
  switch (reason) {
    case 1: return "partition";
    case 2: return "loss";
    case 3: return "down";
  }
  return "none";
}
}  // namespace

// ------------------------------------------------------------ Connection

Connection::~Connection() { Close(); }

absl::Status Connection::Send(std::string message) {
  if (state_->reset) return absl::UnavailableError("connection reset by peer");
  if (state_->closed[side_]) return absl::FailedPreconditionError("connection closed");
  uint64_t id = 0;
  if (Trace::Observing()) {
    id = ++state_->network->next_message_id_;
    TraceEvent("MessageSent", kObservation)
        .Detail("id", absl::StrCat("s", id))
        .Detail("from", state_->network->FormatAddress(local()))
        .Detail("to", state_->network->FormatAddress(remote()))
        .Detail("bytes", message.size());
  }
  state_->network->StreamSend(state_, side_, false, std::move(message), id);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Connection::Receive(SimDuration timeout) {
  auto& inbound = state_->in[side_];
  // Data that arrived before a reset is still readable, as from a socket buffer.
  if (state_->reset && inbound.inbox.size() == 0) {
    return absl::UnavailableError("connection reset by peer");
  }
  absl::StatusOr<Frame> frame = inbound.inbox.Receive(timeout);
  if (!frame.ok()) {
    if (frame.status().code() == absl::StatusCode::kCancelled) {
      return absl::UnavailableError("connection reset by peer");
    }
    return frame.status();
  }
  if (frame->fin) {
    // Keep reporting EOF on later reads.
    (void)inbound.inbox.TrySend(Frame{true, ""});
    return absl::OutOfRangeError("connection closed by peer");
  }
  if (frame->message_id != 0) {
    TraceEvent("MessageReceived", kObservation)
        .Detail("id", absl::StrCat("s", frame->message_id))
        .Detail("from", state_->network->FormatAddress(remote()))
        .Detail("to", state_->network->FormatAddress(local()));
  }
  return std::move(frame->data);
}

void Connection::Close() {
  if (state_ == nullptr || state_->closed[side_]) return;
  state_->closed[side_] = true;
  if (!state_->reset) state_->network->StreamSend(state_, side_, true, "");
}

Address Connection::local() const { return state_->ends[side_]; }
Address Connection::remote() const { return state_->ends[1 - side_]; }
bool Connection::broken() const { return state_->reset; }

// ------------------------------------------------------------ Envelope, Listener

void Envelope::Reply(absl::StatusOr<std::string> response) {
  SIM_CHECK(kind == Kind::kCall && network_ != nullptr, "Reply on an envelope that is not a call");
  SIM_CHECK(!replied_, "a call was replied to twice");
  replied_ = true;
  network_->SendReply(call_id_, server_, std::move(response));
}

Listener::~Listener() {
  if (network_ != nullptr) network_->Unbind(address_);
}

// ------------------------------------------------------------ Network

Network::Network(Simulation* simulation) : simulation_(simulation) {}

Network::~Network() {
  for (auto& [address, listener] : listeners_) listener->network_ = nullptr;
}

void Network::Unbind(Address address) { listeners_.erase(address); }

NodeId Network::AddNode(std::string_view name) {
  SIM_CHECK(!names_.contains(name), "node name {} used twice", name);
  const NodeId id = static_cast<NodeId>(nodes_.size());
  nodes_.push_back(Node{std::string(name), true});
  names_.emplace(std::string(name), id);
  return id;
}

std::optional<NodeId> Network::Resolve(std::string_view name) const {
  auto it = names_.find(name);
  if (it == names_.end()) return std::nullopt;
  return it->second;
}

const std::string& Network::NodeName(NodeId node) const { return nodes_.at(node).name; }

std::string Network::FormatAddress(Address address) const {
  return absl::StrCat(NodeName(address.node), ":", address.port);
}

void Network::SetLink(NodeId from, NodeId to, const LinkConfig& config) { links_[{from, to}] = config; }

const LinkConfig& Network::Link(NodeId from, NodeId to) const {
  auto it = links_.find({from, to});
  if (it != links_.end()) return it->second;
  return from == to ? loopback_link_ : default_link_;
}

LinkConfig Network::LoopbackLink() {
  LinkConfig link;
  link.latency_base = SimDuration::Micros(20);
  link.latency_jitter = SimDuration::Micros(30);
  return link;
}

Rng& Network::LinkRng(NodeId from, NodeId to) {
  Rng*& rng = link_rngs_[{from, to}];
  if (rng == nullptr) {
    rng = &simulation_->Stream(absl::StrCat("network.", NodeName(from), "->", NodeName(to)));
  }
  return *rng;
}

SimDuration Network::Latency(NodeId from, NodeId to) {
  const LinkConfig& link = Link(from, to);
  return link.latency_base + LinkRng(from, to).DurationIn(SimDuration::Zero(), link.latency_jitter);
}

SimTime Network::ArrivalTime(NodeId from, NodeId to, SimTime earliest) {
  auto it = clogged_until_.find({from, to});
  if (it != clogged_until_.end() && it->second > earliest) return it->second;
  return earliest;
}

Network::Drop Network::Decide(NodeId from, NodeId to, bool lossy) {
  ++packets_sent_;
  if (!IsUp(from) || !IsUp(to)) return Drop::kDown;
  if (Blocked(from, to)) return Drop::kPartition;
  const uint32_t loss = Link(from, to).loss_per_million;
  if (lossy && loss > 0 && LinkRng(from, to).Chance(loss, 1000000)) return Drop::kLoss;
  return Drop::kNone;
}

void Network::TraceDrop(Address from, Address to, const char* what, Drop reason, char id_kind, uint64_t id) {
  ++packets_dropped_;
  TraceEvent("PacketDropped")
      .Detail("from", FormatAddress(from))
      .Detail("to", FormatAddress(to))
      .Detail("what", what)
      .Detail("reason", DropName(static_cast<int>(reason)));
  if (id_kind != 0 && Trace::Observing()) {
    TraceEvent("MessageDropped", kObservation)
        .Detail("id", absl::StrCat(std::string(1, id_kind), id))
        .Detail("from", FormatAddress(from))
        .Detail("to", FormatAddress(to))
        .Detail("reason", DropName(static_cast<int>(reason)));
  }
}

void Network::DeliverEnvelope(Address from, Address to, Envelope envelope, const char* what) {
  // A call's envelope is message c<call id> in the trace's observations.
  const char id_kind = envelope.kind == Envelope::Kind::kCall ? 'c' : 0;
  const uint64_t id = envelope.call_id_;
  const Drop drop = Decide(from.node, to.node, true);
  if (drop != Drop::kNone) {
    TraceDrop(from, to, what, drop, id_kind, id);
    return;
  }
  const SimTime arrival =
      ArrivalTime(from.node, to.node, simulation_->Now() + Latency(from.node, to.node));
  simulation_->scheduler().ScheduleAt(arrival, [this, from, to, what, id_kind, id,
                                                envelope = std::move(envelope)]() mutable {
    // Checked again on arrival: a partition or failure in the meantime wins.
    if (!IsUp(to.node) || Blocked(from.node, to.node)) {
      TraceDrop(from, to, what, IsUp(to.node) ? Drop::kPartition : Drop::kDown, id_kind, id);
      return;
    }
    const uint64_t call_id = envelope.call_id_;
    const Envelope::Kind kind = envelope.kind;
    auto it = listeners_.find(to);
    if (it == listeners_.end() || !it->second->mailbox_.TrySend(std::move(envelope)).ok()) {
      // Nobody listening (or a full backlog): the kernel answers with a reset.
      if (kind == Envelope::Kind::kCall) {
        DeliverReply(call_id, to, from, absl::UnavailableError("connection refused"));
      }
      if (it != listeners_.end()) TraceDrop(from, to, what, Drop::kLoss, id_kind, id);
    }
  });
}

void Network::SendReply(uint64_t call_id, Address server, absl::StatusOr<std::string> response) {
  auto it = calls_.find(call_id);
  if (it == calls_.end()) return;  // the caller gave up or died
  if (Trace::Observing()) {
    TraceEvent("MessageSent", kObservation)
        .Detail("id", absl::StrCat("r", call_id))
        .Detail("from", FormatAddress(server))
        .Detail("to", FormatAddress(it->second.caller))
        .Detail("ok", response.ok());
  }
  DeliverReply(call_id, server, it->second.caller, std::move(response));
}

void Network::DeliverReply(uint64_t call_id, Address from, Address to,
                           absl::StatusOr<std::string> response) {
  const Drop drop = Decide(from.node, to.node, true);
  if (drop != Drop::kNone) {
    TraceDrop(from, to, "reply", drop, 'r', call_id);
    return;
  }
  const SimTime arrival =
      ArrivalTime(from.node, to.node, simulation_->Now() + Latency(from.node, to.node));
  simulation_->scheduler().ScheduleAt(arrival, [this, call_id, from, to,
                                                response = std::move(response)]() mutable {
    if (!IsUp(to.node) || Blocked(from.node, to.node)) {
      TraceDrop(from, to, "reply", IsUp(to.node) ? Drop::kPartition : Drop::kDown, 'r', call_id);
      return;
    }
    auto it = calls_.find(call_id);
    if (it == calls_.end()) return;
    it->second.promise.Set(std::move(response));
    calls_.erase(it);
  });
}

void Network::FailCall(uint64_t call_id, absl::Status status) {
  auto it = calls_.find(call_id);
  if (it == calls_.end()) return;
  it->second.promise.Set(std::move(status));
  calls_.erase(it);
}

absl::StatusOr<std::string> Network::AwaitCall(uint64_t call_id,
                                               const Future<absl::StatusOr<std::string>>& future,
                                               SimDuration timeout) {
  absl::StatusOr<absl::StatusOr<std::string>> outcome = future.Wait(timeout);
  if (!outcome.ok()) {
    calls_.erase(call_id);
    return outcome.status();
  }
  return std::move(*outcome);
}

void Network::SendDatagram(Address from, Address to, std::string payload) {
  Envelope envelope;
  envelope.kind = Envelope::Kind::kDatagram;
  envelope.from = from;
  envelope.payload = payload;
  const uint32_t duplicate = Link(from.node, to.node).duplicate_per_million;
  const bool twice = duplicate > 0 && CanReach(from.node, to.node) &&
                     LinkRng(from.node, to.node).Chance(duplicate, 1000000);
  DeliverEnvelope(from, to, std::move(envelope), "datagram");
  if (twice) {
    TraceEvent("PacketDuplicated").Detail("from", FormatAddress(from)).Detail("to", FormatAddress(to));
    Envelope copy;
    copy.kind = Envelope::Kind::kDatagram;
    copy.from = from;
    copy.payload = std::move(payload);
    DeliverEnvelope(from, to, std::move(copy), "datagram");
  }
}

uint64_t Network::StartCall(Address from, Address to, Future<absl::StatusOr<std::string>>* future) {
  const uint64_t call_id = next_call_id_++;
  PendingCall& call = calls_[call_id];
  call.caller = from;
  call.target = to;
  *future = call.promise.GetFuture();
  return call_id;
}

bool Network::RefusedByCrashedNode(Address from, Address to, uint64_t call_id) {
  if (IsUp(to.node) || nodes_[to.node].down_kind != DownKind::kCrash || !IsUp(from.node) ||
      Blocked(from.node, to.node)) {
    return false;
  }
  // The machine is up but nothing runs there: refused after a round trip.
  const SimDuration round_trip = Latency(from.node, to.node) + Latency(to.node, from.node);
  simulation_->scheduler().ScheduleAfter(round_trip, [this, call_id] {
    FailCall(call_id, absl::UnavailableError("connection refused"));
  });
  return true;
}

absl::StatusOr<std::string> Network::Call(Address from, Address to, std::string_view method,
                                          std::string request, SimDuration timeout) {
  Future<absl::StatusOr<std::string>> future;
  const uint64_t call_id = StartCall(from, to, &future);
  if (!RefusedByCrashedNode(from, to, call_id)) {
    Envelope envelope;
    envelope.kind = Envelope::Kind::kCall;
    envelope.from = from;
    envelope.method = std::string(method);
    envelope.payload = std::move(request);
    envelope.network_ = this;
    envelope.call_id_ = call_id;
    envelope.server_ = to;
    if (Trace::Observing()) {
      TraceEvent("MessageSent", kObservation)
          .Detail("id", absl::StrCat("c", call_id))
          .Detail("from", FormatAddress(from))
          .Detail("to", FormatAddress(to))
          .Detail("method", method)
          .Detail("bytes", envelope.payload.size());
    }
    DeliverEnvelope(from, to, std::move(envelope), "call");
  }
  absl::StatusOr<std::string> response = AwaitCall(call_id, future, timeout);
  if (Trace::Observing() && response.ok()) {
    TraceEvent("MessageReceived", kObservation)
        .Detail("id", absl::StrCat("r", call_id))
        .Detail("from", FormatAddress(to))
        .Detail("to", FormatAddress(from));
  }
  return response;
}

absl::StatusOr<Envelope> Listener::Receive(SimDuration timeout) {
  absl::StatusOr<Envelope> envelope = mailbox_.Receive(timeout);
  if (envelope.ok() && envelope->kind == Envelope::Kind::kCall && network_ != nullptr && Trace::Observing()) {
    TraceEvent("MessageReceived", kObservation)
        .Detail("id", absl::StrCat("c", envelope->call_id_))
        .Detail("from", network_->FormatAddress(envelope->from))
        .Detail("to", network_->FormatAddress(address_));
  }
  return envelope;
}

absl::StatusOr<std::unique_ptr<Listener>> Network::Listen(Address address, size_t capacity) {
  if (!IsUp(address.node)) return absl::FailedPreconditionError("node is down");
  if (listeners_.contains(address)) {
    return absl::AlreadyExistsError(absl::StrCat("address in use: ", FormatAddress(address)));
  }
  std::unique_ptr<Listener> listener(new Listener(this, address, capacity));
  listeners_[address] = listener.get();
  return listener;
}

absl::StatusOr<std::unique_ptr<Connection>> Network::Connect(Address from, Address to,
                                                             SimDuration timeout) {
  // The handshake is a call whose "server" is the kernel: it answers from
  // the listen backlog, so no server actor has to accept explicitly.
  auto state = std::make_shared<ConnectionState>();
  state->network = this;
  state->id = next_connection_id_++;
  state->ends[0] = from;
  state->ends[1] = to;
  Future<absl::StatusOr<std::string>> future;
  const uint64_t call_id = StartCall(from, to, &future);
  if (!RefusedByCrashedNode(from, to, call_id)) {
    const Drop drop = Decide(from.node, to.node, true);
    if (drop != Drop::kNone) {
      TraceDrop(from, to, "syn", drop);
    } else {
      const SimTime arrival =
          ArrivalTime(from.node, to.node, simulation_->Now() + Latency(from.node, to.node));
      simulation_->scheduler().ScheduleAt(arrival, [this, state, call_id, from, to] {
        if (!IsUp(to.node) || Blocked(from.node, to.node)) {
          TraceDrop(from, to, "syn", IsUp(to.node) ? Drop::kPartition : Drop::kDown);
          return;
        }
        auto it = listeners_.find(to);
        Envelope envelope;
        envelope.kind = Envelope::Kind::kConnection;
        envelope.from = from;
        envelope.connection.reset(new Connection(state, 1));
        if (it == listeners_.end() || !it->second->mailbox_.TrySend(std::move(envelope)).ok()) {
          DeliverReply(call_id, to, from, absl::UnavailableError("connection refused"));
          return;
        }
        connections_[state->id] = state;
        DeliverReply(call_id, to, from, std::string());
      });
    }
  }
  absl::StatusOr<std::string> accepted = AwaitCall(call_id, future, timeout);
  if (!accepted.ok()) {
    // The server may hold its end already: it sees the handshake fail.
    ResetConnection(*state, "handshake failed");
    return accepted.status();
  }
  return std::unique_ptr<Connection>(new Connection(state, 0));
}

void Network::StreamSend(const std::shared_ptr<ConnectionState>& state, int side, bool fin,
                         std::string message, uint64_t message_id) {
  const int to_side = 1 - side;
  const NodeId from = state->ends[side].node;
  const NodeId to = state->ends[to_side].node;
  // A powered-off or crashed sender sends nothing, not even a FIN.
  if (!IsUp(from)) return;
  auto& inbound = state->in[to_side];
  if (Blocked(from, to) || !IsUp(to) || !inbound.stalled.empty()) {
    if (inbound.stalled.empty()) {
      inbound.stalled_since = simulation_->Now();
      std::weak_ptr<ConnectionState> weak = state;
      simulation_->scheduler().ScheduleAfter(kStallTimeout, [this, weak, to_side] {
        auto locked = weak.lock();
        if (locked == nullptr || locked->reset) return;
        if (!locked->in[to_side].stalled.empty()) ResetConnection(*locked, "stalled");
      });
    }
    inbound.stalled.push_back(Frame{fin, std::move(message), message_id});
    return;
  }
  SimDuration delay = Latency(from, to);
  const uint32_t loss = Link(from, to).loss_per_million;
  // A lost segment costs a retransmission, never reorders or vanishes.
  ++packets_sent_;
  if (loss > 0 && LinkRng(from, to).Chance(loss, 1000000)) delay += kRetransmitDelay;
  SimTime arrival = ArrivalTime(from, to, simulation_->Now() + delay);
  arrival = std::max(arrival, inbound.last_arrival);
  inbound.last_arrival = arrival;
  std::weak_ptr<ConnectionState> weak = state;
  simulation_->scheduler().ScheduleAt(arrival, [weak, to_side, fin, message = std::move(message),
                                                message_id]() mutable {
    auto locked = weak.lock();
    if (locked == nullptr || locked->reset) return;
    (void)locked->in[to_side].inbox.TrySend(Frame{fin, std::move(message), message_id});
  });
}

void Network::FlushStalled(const std::shared_ptr<ConnectionState>& state, int to_side) {
  auto& inbound = state->in[to_side];
  std::deque<Frame> frames = std::move(inbound.stalled);
  inbound.stalled.clear();
  for (Frame& frame : frames) StreamSend(state, 1 - to_side, frame.fin, std::move(frame.data), frame.message_id);
}

void Network::ResetConnection(ConnectionState& state, const char* reason) {
  if (state.reset) return;
  state.reset = true;
  state.reset_reason = reason;
  TraceEvent("ConnectionReset")
      .Detail("a", FormatAddress(state.ends[0]))
      .Detail("b", FormatAddress(state.ends[1]))
      .Detail("reason", reason);
  for (auto& inbound : state.in) {
    inbound.stalled.clear();
    inbound.inbox.Close();  // wakes readers; buffered data stays readable
  }
  connections_.erase(state.id);
}

void Network::NodeDown(NodeId node, DownKind kind) {
  if (!nodes_.at(node).up) return;
  nodes_[node].up = false;
  nodes_[node].down_kind = kind;
  TraceEvent("NodeDown")
      .Detail("node", NodeName(node))
      .Detail("kind", kind == DownKind::kCrash ? "crash" : "power_off");
  // Calls from the node die with it; calls to a crashed node are reset.
  std::vector<uint64_t> doomed;
  for (auto& [id, call] : calls_) {
    if (call.caller.node == node || (call.target.node == node && kind == DownKind::kCrash)) {
      doomed.push_back(id);
    }
  }
  for (uint64_t id : doomed) FailCall(id, absl::UnavailableError("connection reset by peer"));
  if (kind == DownKind::kCrash) {
    std::vector<std::shared_ptr<ConnectionState>> affected;
    for (auto& [id, weak] : connections_) {
      auto state = weak.lock();
      if (state && (state->ends[0].node == node || state->ends[1].node == node)) affected.push_back(state);
    }
    for (auto& state : affected) ResetConnection(*state, "process died");
  }
}

void Network::NodeUp(NodeId node) {
  if (nodes_.at(node).up) return;
  nodes_[node].up = true;
  TraceEvent("NodeUp").Detail("node", NodeName(node));
  // Connections from before the outage belong to a dead process: the new
  // kernel answers their next segment with a reset.
  std::vector<std::shared_ptr<ConnectionState>> affected;
  for (auto& [id, weak] : connections_) {
    auto state = weak.lock();
    if (state && (state->ends[0].node == node || state->ends[1].node == node)) affected.push_back(state);
  }
  for (auto& state : affected) ResetConnection(*state, "peer rebooted");
}

void Network::Block(NodeId from, NodeId to) {
  if (blocked_.insert({from, to}).second) block_history_.push_back({simulation_->Now(), from, to, true});
}

bool Network::WasBlocked(NodeId from, NodeId to, SimTime at) const {
  // Blocked throughout the instant: before the changes made at `at` and
  // after them (a heal or a block at that very time makes it ambiguous).
  bool before = false, after = false;
  for (const BlockChange& change : block_history_) {
    if (change.time > at) break;
    if (change.from != from || change.to != to) continue;
    if (change.time < at) before = change.blocked;
    after = change.blocked;
  }
  return before && after;
}

void Network::Isolate(NodeId node) {
  for (NodeId other = 0; other < nodes_.size(); ++other) {
    if (other == node) continue;
    Block(node, other);
    Block(other, node);
  }
  TraceEvent("PartitionStarted").Detail("kind", "isolate").Detail("node", NodeName(node));
}

void Network::Split(const std::vector<NodeId>& side_a, const std::vector<NodeId>& side_b) {
  std::string a, b;
  for (NodeId x : side_a) {
    absl::StrAppend(&a, a.empty() ? "" : ",", NodeName(x));
    for (NodeId y : side_b) {
      Block(x, y);
      Block(y, x);
    }
  }
  for (NodeId y : side_b) absl::StrAppend(&b, b.empty() ? "" : ",", NodeName(y));
  TraceEvent("PartitionStarted").Detail("kind", "split").Detail("side_a", a).Detail("side_b", b);
}

void Network::BlockOneWay(NodeId from, NodeId to) {
  Block(from, to);
  TraceEvent("PartitionStarted")
      .Detail("kind", "one_way")
      .Detail("from", NodeName(from))
      .Detail("to", NodeName(to));
}

void Network::Heal() {
  const size_t pairs = blocked_.size();
  for (const auto& [from, to] : blocked_) block_history_.push_back({simulation_->Now(), from, to, false});
  blocked_.clear();
  TraceEvent("PartitionHealed").Detail("blocked_pairs", pairs);
  std::vector<std::shared_ptr<ConnectionState>> live;
  for (auto& [id, weak] : connections_) {
    if (auto state = weak.lock()) live.push_back(state);
  }
  for (auto& state : live) {
    for (int side = 0; side < 2; ++side) {
      if (!state->reset && IsUp(state->ends[0].node) && IsUp(state->ends[1].node)) FlushStalled(state, side);
    }
  }
}

void Network::EndFaults() {
  Heal();
  clogged_until_.clear();
  default_link_.loss_per_million = 0;
  default_link_.duplicate_per_million = 0;
  for (auto& [pair, link] : links_) {
    link.loss_per_million = 0;
    link.duplicate_per_million = 0;
  }
}

void Network::Clog(NodeId from, NodeId to, SimDuration duration) {
  const SimTime until = simulation_->Now() + duration;
  SimTime& current = clogged_until_[{from, to}];
  current = std::max(current, until);
  TraceEvent("LinkClogged")
      .Detail("from", NodeName(from))
      .Detail("to", NodeName(to))
      .Detail("until", current);
}

}  // namespace sim
