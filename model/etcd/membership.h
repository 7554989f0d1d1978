// etcd 3.4's cluster membership (etcdserver/api/membership): members with
// IDs, names, peer and client URLs and the learner flag; the removed IDs; the
// cluster version. Conf change contexts are the member as JSON, exactly as
// etcd marshals it ({"id":<decimal>,"peerURLs":[...],"isLearner":true,
// "name":"...","clientURLs":[...]}, empty fields omitted).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/ids.h"

namespace model::etcd {

struct Member {
  MemberId id = 0;
  std::string name;  // empty until the member publishes it (API-added members)
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
  bool is_learner = false;
  bool started() const { return !name.empty(); }
  bool operator==(const Member&) const = default;
};

std::string MemberToJson(const Member& member);
absl::StatusOr<Member> MemberFromJson(std::string_view json);

// The apply-time errors of membership changes, with etcd's text.
inline constexpr char kErrIdRemoved[] = "membership: ID removed";
inline constexpr char kErrIdExists[] = "membership: ID exists";
inline constexpr char kErrIdNotFound[] = "membership: ID not found";
inline constexpr char kErrMembershipPeerUrlExists[] = "membership: peerURL exists";
inline constexpr char kErrMembershipNotLearner[] = "membership: can only promote a learner member";
inline constexpr char kErrMembershipTooManyLearners[] = "membership: too many learner members in cluster";
inline constexpr size_t kMaxLearners = 1;

class Cluster {
 public:
  ClusterId id() const { return id_; }
  void set_id(ClusterId id) { id_ = id; }
  const std::map<MemberId, Member>& members() const { return members_; }
  const std::set<MemberId>& removed() const { return removed_; }
  const Member* Find(MemberId id) const;
  const Member* FindByName(const std::string& name) const;
  std::vector<MemberId> VotingIds() const;
  const std::string& version() const { return version_; }
  void set_version(std::string version) { version_ = std::move(version); }

  // Builds the bootstrap cluster from --initial-cluster and the token (IDs as
  // etcd computes them, names from the flag), as NewClusterFromURLsMap.
  static Cluster FromInitialCluster(const std::vector<InitialMember>& initial, const std::string& token);

  // ValidateConfigurationChange, then apply. Status messages are etcd's texts.
  absl::Status ValidateAdd(const Member& member) const;
  absl::Status ValidateRemove(MemberId id) const;
  absl::Status ValidatePromote(MemberId id) const;
  absl::Status ValidateUpdate(MemberId id, const std::vector<std::string>& peer_urls) const;
  void Add(const Member& member);
  void Remove(MemberId id);
  void Promote(MemberId id);
  void UpdatePeerUrls(MemberId id, const std::vector<std::string>& peer_urls);
  void UpdateAttributes(MemberId id, const std::string& name, const std::vector<std::string>& client_urls);

  // IsReadyToAddVotingMember / IsReadyToRemoveVotingMember / IsReadyToPromoteMember.
  bool ReadyToAddVotingMember() const;
  bool ReadyToRemoveVotingMember(MemberId id) const;
  bool ReadyToPromoteMember(MemberId id) const;

  // Serialized whole, as the member holds it in memory (a peer's /members
  // answer; our own format).
  std::string Serialize() const;
  // What etcd 3.4's v2 store keeps of it, for raft snapshots: every member's
  // raft attributes (ID, peer URLs, learner), and name and client URLs only
  // of members whose publish was applied. A bootstrap member that never
  // started has its name (from --initial-cluster) only in memory: a member
  // that restarts from, or installs, a snapshot lists it with an EMPTY name
  // (real etcd 3.4.23: scripts/conformance/unstarted_member_vs_etcd.sh).
  std::string SerializeV2Store() const;
  static absl::StatusOr<Cluster> Deserialize(std::string_view data);

 private:
  ClusterId id_ = 0;
  std::map<MemberId, Member> members_;
  std::set<MemberId> removed_;
  std::string version_;
};

}  // namespace model::etcd
