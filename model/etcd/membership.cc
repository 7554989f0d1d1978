#include "model/etcd/membership.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "fmt/format.h"
#include "model/json.h"

namespace model::etcd {
namespace {

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '<': out += "\\u003c"; break;  // Go's json escapes HTML characters
      case '>': out += "\\u003e"; break;
      case '&': out += "\\u0026"; break;
      default: out.push_back(c);
    }
  }
  return out + "\"";
}

std::string JsonStrings(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + JsonString(values[i]);
  return out + "]";
}

}  // namespace

std::string MemberToJson(const Member& member) {
  std::string out = fmt::format("{{\"id\":{},\"peerURLs\":{}", member.id, JsonStrings(member.peer_urls));
  if (member.is_learner) out += ",\"isLearner\":true";
  if (!member.name.empty()) out += ",\"name\":" + JsonString(member.name);
  if (!member.client_urls.empty()) out += ",\"clientURLs\":" + JsonStrings(member.client_urls);
  return out + "}";
}

absl::StatusOr<Member> MemberFromJson(std::string_view json) {
  auto bad = [&] { return absl::InvalidArgumentError(fmt::format("bad member JSON: {}", json)); };
  absl::StatusOr<JsonValue> parsed = ParseJson(json);
  if (!parsed.ok() || parsed->kind != JsonValue::Kind::kObject) return bad();
  Member member;
  for (const auto& [key, value] : parsed->object) {
    if (key == "peerURLs" || key == "clientURLs") {
      if (value.kind != JsonValue::Kind::kArray) return bad();
      std::vector<std::string>& list = key == "peerURLs" ? member.peer_urls : member.client_urls;
      for (const JsonValue& url : value.array) {
        if (url.kind != JsonValue::Kind::kString) return bad();
        list.push_back(url.text);
      }
    } else if (key == "name") {
      if (value.kind != JsonValue::Kind::kString) return bad();
      member.name = value.text;
    } else if (key == "id") {
      if (!absl::SimpleAtoi(value.text, &member.id)) return bad();
    } else if (key == "isLearner") {
      member.is_learner = value.text == "true";
    }
  }
  return member;
}

const Member* Cluster::Find(MemberId id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

const Member* Cluster::FindByName(const std::string& name) const {
  for (const auto& [id, member] : members_) {
    if (member.name == name) return &member;
  }
  return nullptr;
}

std::vector<MemberId> Cluster::VotingIds() const {
  std::vector<MemberId> ids;
  for (const auto& [id, member] : members_) {
    if (!member.is_learner) ids.push_back(id);
  }
  return ids;
}

Cluster Cluster::FromInitialCluster(const std::vector<InitialMember>& initial, const std::string& token) {
  Cluster cluster;
  std::vector<MemberId> ids;
  for (const InitialMember& entry : initial) {
    Member member;
    member.peer_urls = entry.peer_urls;
    std::sort(member.peer_urls.begin(), member.peer_urls.end());
    member.id = ComputeMemberId(member.peer_urls, token);
    member.name = entry.name;
    cluster.members_[member.id] = member;
    ids.push_back(member.id);
  }
  cluster.id_ = ComputeClusterId(ids);
  return cluster;
}

absl::Status Cluster::ValidateAdd(const Member& member) const {
  if (removed_.contains(member.id)) return absl::FailedPreconditionError(kErrIdRemoved);
  if (members_.contains(member.id)) return absl::AlreadyExistsError(kErrIdExists);
  for (const auto& [id, existing] : members_) {
    for (const std::string& url : existing.peer_urls) {
      if (std::find(member.peer_urls.begin(), member.peer_urls.end(), url) != member.peer_urls.end()) {
        return absl::AlreadyExistsError(kErrMembershipPeerUrlExists);
      }
    }
  }
  if (member.is_learner) {
    size_t learners = 0;
    for (const auto& [id, existing] : members_) learners += existing.is_learner;
    if (learners + 1 > kMaxLearners) return absl::FailedPreconditionError(kErrMembershipTooManyLearners);
  }
  return absl::OkStatus();
}

absl::Status Cluster::ValidateRemove(MemberId id) const {
  if (removed_.contains(id)) return absl::FailedPreconditionError(kErrIdRemoved);
  if (!members_.contains(id)) return absl::NotFoundError(kErrIdNotFound);
  return absl::OkStatus();
}

absl::Status Cluster::ValidatePromote(MemberId id) const {
  if (removed_.contains(id)) return absl::FailedPreconditionError(kErrIdRemoved);
  const Member* member = Find(id);
  if (member == nullptr) return absl::NotFoundError(kErrIdNotFound);
  if (!member->is_learner) return absl::FailedPreconditionError(kErrMembershipNotLearner);
  return absl::OkStatus();
}

absl::Status Cluster::ValidateUpdate(MemberId id, const std::vector<std::string>& peer_urls) const {
  if (removed_.contains(id)) return absl::FailedPreconditionError(kErrIdRemoved);
  if (!members_.contains(id)) return absl::NotFoundError(kErrIdNotFound);
  for (const auto& [other, member] : members_) {
    if (other == id) continue;
    for (const std::string& url : member.peer_urls) {
      if (std::find(peer_urls.begin(), peer_urls.end(), url) != peer_urls.end()) {
        return absl::AlreadyExistsError(kErrMembershipPeerUrlExists);
      }
    }
  }
  return absl::OkStatus();
}

void Cluster::Add(const Member& member) { members_[member.id] = member; }
void Cluster::Remove(MemberId id) {
  members_.erase(id);
  removed_.insert(id);
}
void Cluster::Promote(MemberId id) { members_.at(id).is_learner = false; }
void Cluster::UpdatePeerUrls(MemberId id, const std::vector<std::string>& peer_urls) {
  members_.at(id).peer_urls = peer_urls;
}
void Cluster::UpdateAttributes(MemberId id, const std::string& name, const std::vector<std::string>& client_urls) {
  auto it = members_.find(id);
  if (it == members_.end()) return;  // removed meanwhile: etcd ignores it
  it->second.name = name;
  it->second.client_urls = client_urls;
}

bool Cluster::ReadyToAddVotingMember() const {
  size_t members = 1, started = 0;
  for (const auto& [id, member] : members_) {
    if (member.is_learner) continue;
    started += member.started();
    ++members;
  }
  if (started == 1 && members == 2) return true;  // restoring: adding to a one-member cluster
  return started >= members / 2 + 1;
}

bool Cluster::ReadyToRemoveVotingMember(MemberId removed) const {
  size_t members = 0, started = 0;
  for (const auto& [id, member] : members_) {
    if (member.is_learner) continue;
    ++members;
    if (id != removed && member.started()) ++started;
  }
  if (const Member* member = Find(removed); member != nullptr && member->is_learner) return true;
  return started >= (members - 1) / 2 + 1;
}

bool Cluster::ReadyToPromoteMember(MemberId id) const {
  // The learner to be promoted counts for the future quorum and as started
  // (etcd 3.4 IsReadyToPromoteMember; real etcd 3.4.23 promotes the learner
  // of a one-member cluster).
  size_t members = 1, started = 1;
  for (const auto& [other, member] : members_) {
    if (member.is_learner) continue;
    ++members;
    started += member.started();
  }
  (void)id;
  return started >= members / 2 + 1;
}

std::string Cluster::Serialize() const {
  std::string out = fmt::format("{:016x}\n{}\n", id_, version_);
  for (const auto& [id, member] : members_) out += "m " + MemberToJson(member) + "\n";
  for (MemberId id : removed_) out += fmt::format("r {}\n", id);
  return out;
}

std::string Cluster::SerializeV2Store() const {
  Cluster stored = *this;
  for (auto& [id, member] : stored.members_) {
    // Published members have client URLs (etcd always advertises one);
    // a member's own publish is the only write of its attributes.
    if (member.client_urls.empty()) member.name.clear();
  }
  return stored.Serialize();
}

absl::StatusOr<Cluster> Cluster::Deserialize(std::string_view data) {
  Cluster cluster;
  size_t line_start = 0;
  int line = 0;
  while (line_start < data.size()) {
    const size_t end = data.find('\n', line_start);
    if (end == std::string_view::npos) return absl::DataLossError("truncated cluster state");
    const std::string text(data.substr(line_start, end - line_start));
    if (line == 0) {
      cluster.id_ = std::stoull(text, nullptr, 16);
    } else if (line == 1) {
      cluster.version_ = text;
    } else if (text.starts_with("m ")) {
      absl::StatusOr<Member> member = MemberFromJson(text.substr(2));
      if (!member.ok()) return member.status();
      cluster.members_[member->id] = *member;
    } else if (text.starts_with("r ")) {
      cluster.removed_.insert(std::stoull(text.substr(2)));
    }
    line_start = end + 1;
    ++line;
  }
  return cluster;
}

}  // namespace model::etcd
