// The simulated network: nodes with names, one-way datagrams, in-order
// stream connections, and request/response RPC with deadlines. Per-link
// latency is base + jitter (integer nanoseconds, from the link's own RNG
// stream), with loss and duplication ratios. Partitions (isolate a node,
// split into two sides, one-way blocks), clogging and node failures change
// what gets through; every change is a trace event.
//
// What a caller sees, as with TCP on Linux:
//   - target node down or nobody listening: Unavailable "connection refused";
//   - target process dies mid-call (crash): Unavailable "connection reset by peer";
//   - packets dropped (partition, loss, power-off): DeadlineExceeded at the deadline.
// Streams deliver in order; a blocked stream holds its data until the link
// heals, and breaks if that takes longer than the stall timeout. Datagrams
// may be lost, duplicated and reordered.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sim/channel.h"
#include "sim/future.h"
#include "sim/rng.h"
#include "sim/time.h"

namespace sim {

class Simulation;
class Network;

using NodeId = uint32_t;

// A client's source port, from Linux's ephemeral range (ip_local_port_range).
inline uint16_t EphemeralPort(Rng& rng) { return static_cast<uint16_t>(rng.UniformIn(32768, 60999)); }

struct Address {
  NodeId node = 0;
  uint16_t port = 0;
  auto operator<=>(const Address&) const = default;
};

struct LinkConfig {
  SimDuration latency_base = SimDuration::Micros(500);
  SimDuration latency_jitter = SimDuration::Micros(500);
  uint32_t loss_per_million = 0;       // datagrams and RPC packets dropped; streams retransmit
  uint32_t duplicate_per_million = 0;  // datagrams only
};

namespace internal {
struct ConnectionState;
}

// One end of an in-order byte-message stream (like a TCP connection).
class Connection {
 public:
  ~Connection();  // closes
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Unavailable once the connection was reset or closed.
  absl::Status Send(std::string message);
  // The next message in order. DeadlineExceeded on timeout; Unavailable
  // "connection reset by peer" when broken; OutOfRange "closed by peer" at EOF.
  absl::StatusOr<std::string> Receive(SimDuration timeout = SimDuration::Max());
  // Orderly close: the peer reads what was sent, then EOF.
  void Close();
  Address local() const;
  Address remote() const;
  bool broken() const;

 private:
  friend class Network;
  Connection(std::shared_ptr<internal::ConnectionState> state, int side)
      : state_(std::move(state)), side_(side) {}
  std::shared_ptr<internal::ConnectionState> state_;
  int side_;
};

// What arrives at a listening port.
struct Envelope {
  enum class Kind : uint8_t { kDatagram, kCall, kConnection };
  Kind kind = Kind::kDatagram;
  Address from;
  std::string method;   // kCall
  std::string payload;  // kDatagram, kCall
  std::unique_ptr<Connection> connection;  // kConnection
  // kCall: sends the response back over the network. At most once.
  void Reply(absl::StatusOr<std::string> response);

 private:
  friend class Listener;
  friend class Network;
  Network* network_ = nullptr;
  uint64_t call_id_ = 0;
  Address server_;
  bool replied_ = false;
};

// A bound port. Unbinds when destroyed, so a killed actor's RAII frees it.
class Listener {
 public:
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  // The next envelope (a call's arrival is observed in the trace).
  absl::StatusOr<Envelope> Receive(SimDuration timeout = SimDuration::Max());
  Address address() const { return address_; }

 private:
  friend class Network;
  Listener(Network* network, Address address, size_t capacity)
      : network_(network), address_(address), mailbox_(capacity) {}
  Network* network_;
  Address address_;
  Channel<Envelope> mailbox_;
};

class Network {
 public:
  // Streams stalled by a blocked link break after this long.
  static constexpr SimDuration kStallTimeout = SimDuration::Seconds(5);
  // A lost stream segment is retransmitted after this long.
  static constexpr SimDuration kRetransmitDelay = SimDuration::Millis(200);

  explicit Network(Simulation* simulation);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  NodeId AddNode(std::string_view name);
  std::optional<NodeId> Resolve(std::string_view name) const;
  const std::string& NodeName(NodeId node) const;
  size_t node_count() const { return nodes_.size(); }
  std::string FormatAddress(Address address) const;

  // The default link joins two different nodes. A node's traffic to itself
  // (a sidecar calling its neighbour over localhost) takes the loopback
  // link: tens of microseconds, never lost or duplicated, whatever the
  // plan's packet loss. SetLink(n, n, ...) overrides it for one node.
  void SetDefaultLink(const LinkConfig& config) { default_link_ = config; }
  void SetLink(NodeId from, NodeId to, const LinkConfig& config);
  const LinkConfig& Link(NodeId from, NodeId to) const;
  static LinkConfig LoopbackLink();

  // Node lifecycle. A crash (process gone, kernel up) resets connections and
  // calls involving the node; a power-off just goes silent. Both drop what
  // is in flight to the node.
  enum class DownKind : uint8_t { kCrash, kPowerOff };
  void NodeDown(NodeId node, DownKind kind);
  void NodeUp(NodeId node);
  bool IsUp(NodeId node) const { return nodes_.at(node).up; }

  // Partitions. Blocks accumulate until Heal().
  void Isolate(NodeId node);
  void Split(const std::vector<NodeId>& side_a, const std::vector<NodeId>& side_b);
  void BlockOneWay(NodeId from, NodeId to);
  void Heal();
  // Holds everything from -> to until now + duration.
  void Clog(NodeId from, NodeId to, SimDuration duration);
  // The liveness phase: heals every partition, ends clogs (what a clog holds
  // already is delivered when it was due), and drops no or duplicates no
  // more packets on any link. Latencies stay.
  void EndFaults();
  bool Blocked(NodeId from, NodeId to) const { return blocked_.count({from, to}) != 0; }
  // Whether from -> to was blocked throughout time `at` (partition history).
  bool WasBlocked(NodeId from, NodeId to, SimTime at) const;
  bool CanReach(NodeId from, NodeId to) const {
    return IsUp(from) && IsUp(to) && !Blocked(from, to);
  }

  // Endpoints (AlreadyExists if bound, FailedPrecondition if the node is down).
  absl::StatusOr<std::unique_ptr<Listener>> Listen(Address address, size_t capacity = 4096);
  void SendDatagram(Address from, Address to, std::string payload);
  // Blocking (actor only). The response is the server's Reply.
  absl::StatusOr<std::string> Call(Address from, Address to, std::string_view method,
                                   std::string request, SimDuration timeout);
  absl::StatusOr<std::unique_ptr<Connection>> Connect(Address from, Address to, SimDuration timeout);

  uint64_t packets_sent() const { return packets_sent_; }
  uint64_t packets_dropped() const { return packets_dropped_; }

 private:
  friend class Listener;
  friend class Connection;
  friend struct Envelope;

  struct Node {
    std::string name;
    bool up = true;
    DownKind down_kind = DownKind::kCrash;
  };
  struct PendingCall {
    Address caller;
    Address target;
    Promise<absl::StatusOr<std::string>> promise;
  };
  enum class Drop : uint8_t { kNone, kPartition, kLoss, kDown };

  SimDuration Latency(NodeId from, NodeId to);
  Rng& LinkRng(NodeId from, NodeId to);
  Drop Decide(NodeId from, NodeId to, bool lossy);
  // `id_kind` 'c' (a call) or 'r' (its reply) with `id`: also a
  // MessageDropped observation for the space-time pictures; 0: none.
  void TraceDrop(Address from, Address to, const char* what, Drop reason, char id_kind = 0, uint64_t id = 0);
  SimTime ArrivalTime(NodeId from, NodeId to, SimTime earliest);
  void DeliverEnvelope(Address from, Address to, Envelope envelope, const char* what);
  void SendReply(uint64_t call_id, Address server, absl::StatusOr<std::string> response);
  void DeliverReply(uint64_t call_id, Address from, Address to, absl::StatusOr<std::string> response);
  void FailCall(uint64_t call_id, absl::Status status);
  // Registers a pending call or handshake from `from` to `to`.
  uint64_t StartCall(Address from, Address to, Future<absl::StatusOr<std::string>>* future);
  // If `to` has crashed (kernel up, process gone), schedules the refusal and returns true.
  bool RefusedByCrashedNode(Address from, Address to, uint64_t call_id);
  // Waits (actor) for `future` until the deadline; cleans up call `call_id` on timeout.
  absl::StatusOr<std::string> AwaitCall(uint64_t call_id,
                                        const Future<absl::StatusOr<std::string>>& future,
                                        SimDuration timeout);
  void StreamSend(const std::shared_ptr<internal::ConnectionState>& state, int side, bool fin,
                  std::string message, uint64_t message_id = 0);
  void FlushStalled(const std::shared_ptr<internal::ConnectionState>& state, int side);
  void ResetConnection(internal::ConnectionState& state, const char* reason);
  void Unbind(Address address);

  Simulation* simulation_;
  std::vector<Node> nodes_;
  std::map<std::string, NodeId, std::less<>> names_;
  LinkConfig default_link_;
  LinkConfig loopback_link_ = LoopbackLink();
  std::map<std::pair<NodeId, NodeId>, LinkConfig> links_;
  std::map<std::pair<NodeId, NodeId>, Rng*> link_rngs_;
  std::set<std::pair<NodeId, NodeId>> blocked_;
  struct BlockChange {
    SimTime time;
    NodeId from, to;
    bool blocked;
  };
  void Block(NodeId from, NodeId to);
  std::vector<BlockChange> block_history_;
  std::map<std::pair<NodeId, NodeId>, SimTime> clogged_until_;
  std::map<Address, Listener*> listeners_;
  std::map<uint64_t, PendingCall> calls_;
  std::map<uint64_t, std::weak_ptr<internal::ConnectionState>> connections_;
  uint64_t next_call_id_ = 1;
  uint64_t next_message_id_ = 0;  // observed stream messages (see Trace::Observe)
  uint64_t next_connection_id_ = 1;
  uint64_t packets_sent_ = 0;
  uint64_t packets_dropped_ = 0;
};

}  // namespace sim
