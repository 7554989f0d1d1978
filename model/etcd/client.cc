#include "model/etcd/client.h"

#include "model/etcd/server.h"

namespace model::etcd {

absl::StatusOr<std::string> Client::Call(const std::string& method, const google::protobuf::Message& request) {
  const std::string payload = request.SerializeAsString();
  absl::Status last = absl::UnavailableError("no endpoints");
  for (const std::string& url : endpoints_) {
    absl::StatusOr<Endpoint> endpoint = sim::ResolveUrl(resolver(), url, self_);
    if (!endpoint.ok()) {
      last = endpoint.status();
      continue;
    }
    const uint16_t port = sim::EphemeralPort(*rng_);
    absl::StatusOr<std::string> reply =
        network_->Call({self_, port}, {endpoint->node, endpoint->port}, method, payload, timeout_);
    if (reply.ok()) return reply;
    last = reply.status();
    // An answer from etcd itself (not a transport failure) is final, but for
    // "not leader", which another endpoint may not say.
    const std::string message(reply.status().message());
    if ((message.starts_with("etcdserver:") || message.starts_with("mvcc:")) && message != "etcdserver: not leader") {
      return last;
    }
  }
  return last;
}

namespace {
template <typename Response>
absl::StatusOr<Response> Parse(absl::StatusOr<std::string> reply) {
  if (!reply.ok()) return reply.status();
  Response response;
  if (!response.ParseFromString(*reply)) return absl::DataLossError("malformed response");
  return response;
}
}  // namespace

absl::StatusOr<etcd_dst::etcd::PutResponse> Client::Put(const std::string& key, const std::string& value) {
  etcd_dst::etcd::PutRequest request;
  request.set_key(key);
  request.set_value(value);
  return Parse<etcd_dst::etcd::PutResponse>(Call("Put", request));
}

absl::StatusOr<etcd_dst::etcd::RangeResponse> Client::Get(const std::string& key, bool serializable) {
  etcd_dst::etcd::RangeRequest request;
  request.set_key(key);
  request.set_serializable(serializable);
  return Parse<etcd_dst::etcd::RangeResponse>(Call("Range", request));
}

absl::StatusOr<etcd_dst::etcd::MemberListResponse> Client::MemberList() {
  return Parse<etcd_dst::etcd::MemberListResponse>(Call("MemberList", etcd_dst::etcd::MemberListRequest()));
}

absl::StatusOr<etcd_dst::etcd::MemberAddResponse> Client::MemberAdd(const std::vector<std::string>& peer_urls,
                                                                     bool learner) {
  etcd_dst::etcd::MemberAddRequest request;
  for (const std::string& url : peer_urls) request.add_peerurls(url);
  request.set_islearner(learner);
  return Parse<etcd_dst::etcd::MemberAddResponse>(Call("MemberAdd", request));
}

absl::StatusOr<etcd_dst::etcd::MemberRemoveResponse> Client::MemberRemove(uint64_t id) {
  etcd_dst::etcd::MemberRemoveRequest request;
  request.set_id(id);
  return Parse<etcd_dst::etcd::MemberRemoveResponse>(Call("MemberRemove", request));
}

absl::StatusOr<etcd_dst::etcd::MemberPromoteResponse> Client::MemberPromote(uint64_t id) {
  etcd_dst::etcd::MemberPromoteRequest request;
  request.set_id(id);
  return Parse<etcd_dst::etcd::MemberPromoteResponse>(Call("MemberPromote", request));
}

absl::StatusOr<etcd_dst::etcd::StatusResponse> Client::Status() {
  return Parse<etcd_dst::etcd::StatusResponse>(Call("Status", etcd_dst::etcd::StatusRequest()));
}

absl::StatusOr<etcd_dst::etcd::MemberUpdateResponse> Client::MemberUpdate(uint64_t id,
                                                                          const std::vector<std::string>& peer_urls) {
  etcd_dst::etcd::MemberUpdateRequest request;
  request.set_id(id);
  for (const std::string& url : peer_urls) request.add_peerurls(url);
  return Parse<etcd_dst::etcd::MemberUpdateResponse>(Call("MemberUpdate", request));
}

absl::StatusOr<etcd_dst::etcd::SnapshotResponse> Client::Snapshot() {
  return Parse<etcd_dst::etcd::SnapshotResponse>(Call("Snapshot", etcd_dst::etcd::SnapshotRequest()));
}

}  // namespace model::etcd

namespace model::etcd {

absl::StatusOr<etcd_dst::etcd::LeaseGrantResponse> Client::LeaseGrant(int64_t ttl_seconds) {
  etcd_dst::etcd::LeaseGrantRequest request;
  request.set_ttl(ttl_seconds);
  return Parse<etcd_dst::etcd::LeaseGrantResponse>(Call("LeaseGrant", request));
}

absl::StatusOr<etcd_dst::etcd::RangeResponse> Client::Range(const std::string& key, const std::string& range_end) {
  etcd_dst::etcd::RangeRequest request;
  request.set_key(key);
  request.set_range_end(range_end);
  return Parse<etcd_dst::etcd::RangeResponse>(Call("Range", request));
}

absl::StatusOr<etcd_dst::etcd::DeleteRangeResponse> Client::Delete(const std::string& key) {
  etcd_dst::etcd::DeleteRangeRequest request;
  request.set_key(key);
  return Parse<etcd_dst::etcd::DeleteRangeResponse>(Call("DeleteRange", request));
}

absl::StatusOr<etcd_dst::etcd::TxnResponse> Client::Txn(const etcd_dst::etcd::TxnRequest& request) {
  return Parse<etcd_dst::etcd::TxnResponse>(Call("Txn", request));
}

absl::StatusOr<etcd_dst::etcd::LeaseRevokeResponse> Client::LeaseRevoke(int64_t id) {
  etcd_dst::etcd::LeaseRevokeRequest request;
  request.set_id(id);
  return Parse<etcd_dst::etcd::LeaseRevokeResponse>(Call("LeaseRevoke", request));
}

absl::StatusOr<etcd_dst::etcd::LeaseKeepAliveResponse> Client::LeaseKeepAlive(int64_t id) {
  etcd_dst::etcd::LeaseKeepAliveRequest request;
  request.set_id(id);
  return Parse<etcd_dst::etcd::LeaseKeepAliveResponse>(Call("LeaseKeepAlive", request));
}

absl::StatusOr<etcd_dst::etcd::PutResponse> Client::PutWithLease(const std::string& key, const std::string& value,
                                                                 int64_t lease) {
  etcd_dst::etcd::PutRequest request;
  request.set_key(key);
  request.set_value(value);
  request.set_lease(lease);
  return Parse<etcd_dst::etcd::PutResponse>(Call("Put", request));
}

absl::StatusOr<std::unique_ptr<WatchStream>> Client::Watch(const std::string& key, const std::string& range_end,
                                                           int64_t start_revision) {
  etcd_dst::etcd::WatchCreateRequest request;
  request.set_key(key);
  request.set_range_end(range_end);
  request.set_start_revision(start_revision);
  absl::Status last = absl::UnavailableError("no endpoints");
  for (const std::string& url : endpoints_) {
    absl::StatusOr<Endpoint> endpoint = sim::ResolveUrl(resolver(), url, self_);
    if (!endpoint.ok()) continue;
    const uint16_t port = sim::EphemeralPort(*rng_);
    absl::StatusOr<std::unique_ptr<sim::Connection>> connection =
        network_->Connect({self_, port}, {endpoint->node, endpoint->port}, timeout_);
    if (!connection.ok()) {
      last = connection.status();
      continue;
    }
    auto stream = std::make_unique<WatchStream>(*std::move(connection));
    if (!stream->connection_->Send(request.SerializeAsString()).ok()) continue;
    absl::StatusOr<etcd_dst::etcd::WatchResponse> created = stream->Next(timeout_);
    if (!created.ok()) {
      last = created.status();
      if (created.status().code() == absl::StatusCode::kOutOfRange) return last;
      continue;
    }
    return stream;
  }
  return last;
}

absl::StatusOr<etcd_dst::etcd::WatchResponse> WatchStream::Next(sim::SimDuration timeout) {
  absl::StatusOr<std::string> frame = connection_->Receive(timeout);
  if (!frame.ok()) return frame.status();
  etcd_dst::etcd::WatchResponse response;
  if (!response.ParseFromString(*frame)) return absl::DataLossError("malformed watch response");
  if (response.canceled()) {
    if (response.compact_revision() > 0) return absl::OutOfRangeError(response.cancel_reason());
    return absl::CancelledError(response.cancel_reason());
  }
  return response;
}

}  // namespace model::etcd
