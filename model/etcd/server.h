// One etcd 3.4 member process on a simulated machine: its start paths, raft
// loop, peer transport, backend and client API (etcdserver/server.go,
// etcdserver/raft.go, etcdserver/api/rafthttp, etcdserver/v3_server.go).
//
// Start, in etcd's order: the snap dir; the bbolt backend (BEFORE the WAL, so
// a crash right after the bbolt init leaves no WAL); then one of
//   no WAL + "new":      IDs from --initial-cluster and the token, refuse if a
//                        peer already knows this member as started ("member %s
//                        has already been bootstrapped"), create the WAL, bootstrap
//                        raft with one ConfChangeAddNode per member;
//   no WAL + "existing": fetch the member list from the peers, require the
//                        same member count and peer URLs, adopt their IDs;
//   WAL present:         restart from the WAL (repairing a torn tail once);
//                        every --initial-cluster* flag is ignored.
// Each attempt is traced as EtcdStart with outcome=ok or outcome=failed and the
// error text the real etcd prints; a failed start ends the process.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/bbolt.h"
#include "model/etcd/api.pb.h"
#include "model/etcd/kv_store.h"
#include "model/etcd/membership.h"
#include "model/raft.h"
#include "model/wal.h"
#include "sim/process_context.h"
#include "sim/channel.h"
#include "sim/future.h"
#include "sim/network.h"
#include "sim/simulation.h"

namespace model::etcd {

// Simulated Unix time at simulated time zero (the day BR #864 was filed).
inline constexpr int64_t kSimEpochUnixSeconds = 1742305000;
int64_t UnixSeconds(sim::SimTime now);

struct EtcdConfig {
  std::string name = "default";
  std::string data_dir = "default.etcd";  // on the disk
  std::vector<std::string> initial_advertise_peer_urls = {"http://localhost:2380"};
  std::vector<std::string> advertise_client_urls = {"http://localhost:2379"};
  std::string initial_cluster = "default=http://localhost:2380";
  std::string initial_cluster_state = "new";
  std::string initial_cluster_token = "etcd-cluster";
  sim::SimDuration heartbeat = sim::SimDuration::Millis(100);
  sim::SimDuration election = sim::SimDuration::Millis(1000);
  uint64_t snapshot_count = 100000;
  uint64_t snapshot_catch_up_entries = 5000;
  bool strict_reconfig_check = true;
  // How bbolt initialises an empty member/snap/db (the real one: single write).
  bbolt::InitMode bbolt_init = bbolt::InitMode::kSingleWrite;
  // Not etcd 3.4: write the bootstrap conf changes into the WAL before it is
  // renamed into place, so a new member's log is never visible without them.
  bool atomic_wal_bootstrap = false;
};

// The error texts clients see (etcdserver/api/v3rpc/rpctypes).
inline constexpr char kErrUnhealthy[] = "etcdserver: unhealthy cluster";
inline constexpr char kErrNotEnoughStartedMembers[] =
    "etcdserver: re-configuration failed due to not enough started members";
inline constexpr char kErrLearnerNotReady[] =
    "etcdserver: can only promote a learner member which is in sync with leader";
inline constexpr char kErrMemberNotLearner[] = "etcdserver: can only promote a learner member";
inline constexpr char kErrTooManyLearners[] = "etcdserver: too many learner members in cluster";
inline constexpr char kErrPeerUrlExists[] = "etcdserver: Peer URLs already exists";
inline constexpr char kErrMemberExists[] = "etcdserver: member ID already exist";
inline constexpr char kErrMemberNotFound[] = "etcdserver: member not found";
inline constexpr char kErrNoLeader[] = "etcdserver: no leader";
inline constexpr char kErrTimeout[] = "etcdserver: request timed out";
inline constexpr char kErrStopped[] = "etcdserver: server stopped";

// Where a member lives on the simulated network.
using Endpoint = sim::Address;

class EtcdServer {
 public:
  // Runs as the process `context` describes (its volume holds the data dir).
  EtcdServer(const sim::ProcessContext& context, EtcdConfig config);
  ~EtcdServer();
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  // Spawns the process's actors in `group` (a container). Returns at once.
  void Start(sim::Group* group);

  enum class State : uint8_t { kStarting, kRunning, kFailed, kStopped };
  State state() const { return state_; }
  const std::string& failure() const { return failure_; }
  // kFailed by a start path's refusal (bootstrap), not by a fatal error later.
  bool failed_at_start() const { return failed_at_start_; }
  // The process's exit code, once it exits: 1 for a failed start or a fatal
  // error (etcd's log.Fatal), 0 when it stops after its removal.
  sim::Future<int> Exited() const { return exit_promise_.GetFuture(); }
  MemberId id() const { return id_; }
  ClusterId cluster_id() const { return cluster_.id(); }
  const Cluster& cluster() const { return cluster_; }
  const EtcdConfig& config() const { return config_; }
  // Raft's view, for properties (nullptr before raft exists).
  const raft::Raft* raft() const { return raft_.get(); }
  const KvStore& kv() const { return kv_; }
  // Since when the member's stream to `peer` has been up; nullopt if down.
  std::optional<sim::SimTime> ActiveSince(MemberId peer) const;
  // Raft log entries this member applied, in order (index, term, data digest).
  struct Applied {
    uint64_t index;
    uint64_t term;
    uint64_t digest;
  };
  const std::vector<Applied>& applied_log() const { return applied_log_; }

 private:
  struct Event;
  struct PeerLink;

  // Start paths (server_start.cc).
  void Run();
  absl::Status Bootstrap();
  absl::Status StartNew(const std::vector<InitialMember>& initial);
  absl::Status StartJoin(const std::vector<InitialMember>& initial);
  absl::Status StartRestart();
  absl::StatusOr<Cluster> FetchRemoteCluster(const std::vector<std::string>& peer_urls, sim::SimDuration timeout);
  void Fail(const std::string& error);
  void Fatal(const std::string& error);  // a running process dies (etcd panics / Fatalf)

  // The raft loop and apply (server_raft.cc).
  void RaftLoop();
  void ProcessReady();
  void ApplyEntry(const raftpb::Entry& entry);
  void ApplyConfChange(const raftpb::Entry& entry);
  // Stops for good after learning this member was removed (its own
  // removal applied, or a peer refusing it with 410 Gone).
  void StopRemoved(const std::string& reason);
  void ApplyNormal(const raftpb::Entry& entry);
  void MaybeSnapshot();
  // Commits what changed since the last commit (a snapshot's db replaces
  // the backend through OpenSnapshotBackend, not through a commit).
  void CommitBackend();
  // Saves a received snapshot's db as <index>.snap.db and strips it from
  // the message; false (the message is dropped) when that fails.
  bool SaveSnapshotDb(raft::Message* message);
  // Replaces the backend with member/snap/<index>.snap.db (etcd's openSnapshotBackend).
  absl::Status OpenSnapshotBackend(uint64_t index);
  // Takes an opened db as the backend: the mvcc store and the leases from it.
  absl::Status LoadBackend(absl::StatusOr<bbolt::Db::OpenResult> opened, std::string_view verb);
  // The backend's whole state, and the buckets besides "key" and "meta".
  bbolt::Buckets Buckets() const;
  bbolt::Buckets SmallBuckets() const;
  void BackendLoop();
  void Publish();
  void SendRaftMessage(const raft::Message& message);
  void QueuePeerFrame(const raft::Message& message);
  void OnPeerMessage(raft::Message message);

  // Proposals (server_api.cc).
  uint64_t NextRequestId();
  absl::StatusOr<std::string> Propose(std::string data, uint64_t id, sim::SimDuration timeout);
  absl::StatusOr<std::string> ProposeConfChange(raftpb::ConfChange change, sim::SimDuration timeout);
  void ServeClients();
  void HandleClient(sim::Envelope envelope);
  absl::StatusOr<std::string> Dispatch(const std::string& method, const std::string& request);
  absl::StatusOr<std::string> MemberAdd(const etcd_dst::etcd::MemberAddRequest& request);
  absl::StatusOr<std::string> MemberRemove(const etcd_dst::etcd::MemberRemoveRequest& request);
  absl::StatusOr<std::string> MemberPromote(const etcd_dst::etcd::MemberPromoteRequest& request);
  absl::StatusOr<std::string> MemberUpdate(const etcd_dst::etcd::MemberUpdateRequest& request);
  etcd_dst::etcd::ResponseHeader Header() const;
  void FillMembers(google::protobuf::RepeatedPtrField<etcd_dst::etcd::Member>* out) const;
  bool ConnectedFullySince(sim::SimTime since) const;
  size_t ConnectedSince(sim::SimTime since) const;

  // Watches and leases (server_watch.cc).
  void ServeWatch(std::unique_ptr<sim::Connection> connection);
  void PublishEvents();
  void LessorLoop();
  void LoadLeases(const bbolt::Buckets& buckets);
  absl::StatusOr<std::string> ApplyLease(const etcd_dst::etcd::InternalRaftRequest& request);
  absl::StatusOr<std::string> LeaseKeepAlive(const etcd_dst::etcd::LeaseKeepAliveRequest& request);

  // Peer transport (server_peer.cc).
  void ServePeers();
  void PeerReader(std::unique_ptr<sim::Connection> connection);
  void PeerWriter(MemberId peer);
  void EnsurePeer(MemberId peer);

  sim::Scheduler* scheduler_;
  sim::Network* network_;
  sim::NodeId node_;
  const sim::Resolver* resolver_;
  sim::Disk* disk_;
  EtcdConfig config_;
  sim::Group* group_ = nullptr;
  State state_ = State::kStarting;
  std::string failure_;
  bool failed_at_start_ = false;
  sim::Promise<int> exit_promise_;
  std::string path_;  // new | join | restart

  MemberId id_ = 0;
  Cluster cluster_;
  // The membership as applied from the log (etcd's v2 store): what conf
  // changes are validated against. A joining member knows the remote
  // cluster in memory (cluster_) but has applied nothing yet, so replaying
  // the cluster's first AddNode entries must validate.
  Cluster applied_;
  KvStore kv_;
  std::unique_ptr<bbolt::Db> db_;
  std::unique_ptr<wal::Wal> wal_;
  std::unique_ptr<raft::Raft> raft_;
  sim::Rng* rng_;
  bool backend_dirty_ = false;
  bool committing_ = false;
  sim::WaiterList commit_waiters_;
  uint64_t snapshot_index_ = 0;
  raft::Role traced_role_ = raft::Role::kFollower;
  uint64_t traced_term_ = 0;
  uint64_t request_counter_ = 0;

  std::unique_ptr<sim::Channel<std::unique_ptr<Event>>> inbox_;
  std::map<uint64_t, sim::Promise<absl::StatusOr<std::string>>> waiters_;
  std::map<MemberId, std::unique_ptr<PeerLink>> peers_;
  std::vector<Applied> applied_log_;

  struct Watcher {
    std::string key;
    std::string range_end;
    sim::Channel<etcd_dst::etcd::Event>* queue = nullptr;
    bool overflowed = false;
  };
  std::map<int64_t, Watcher*> watchers_;
  int64_t next_watch_id_ = 1;
  struct Lease {
    int64_t ttl = 0;
    sim::SimTime expiry;
    bool revoking = false;
  };
  std::map<int64_t, Lease> leases_;
  std::map<std::string, std::string> lease_records_;  // the "lease" bucket
  // What the small buckets (members, cluster, lease...) held at the last
  // incremental commit into this db_; unset when unknown (a new db, a whole
  // commit, a failed one).
  struct SmallBucketInputs {
    std::map<MemberId, Member> members;
    std::set<MemberId> removed;
    std::string version;
    std::map<std::string, std::string> leases;
  };
  std::optional<SmallBucketInputs> committed_small_;
};

}  // namespace model::etcd
