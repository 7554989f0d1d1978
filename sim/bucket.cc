#include "sim/bucket.h"

#include "sim/bucket.pb.h"
#include "sim/check.h"

namespace sim {

BucketService::BucketService(Scheduler* scheduler, Network* network, ObjectStore* store, std::string_view node_name)
    : scheduler_(scheduler), network_(network), store_(store), node_(network->AddNode(node_name)) {}

void BucketService::Start() {
  SIM_CHECK(group_ == nullptr, "the bucket service started twice");
  group_ = scheduler_->CreateGroup("bucket");
  scheduler_->Spawn(group_, "server", [this] { Serve(); });
}

void BucketService::Serve() {
  absl::StatusOr<std::unique_ptr<Listener>> listener = network_->Listen(address());
  SIM_CHECK(listener.ok(), "bucket listen: {}", listener.status().ToString());
  while (true) {
    absl::StatusOr<Envelope> envelope = (*listener)->Receive();
    if (!envelope.ok()) return;
    if (envelope->kind != Envelope::Kind::kCall) continue;
    // One actor per request: the store's latency must not serialize callers.
    auto request = std::make_shared<Envelope>(*std::move(envelope));
    scheduler_->Spawn(group_, "request", [this, request] { Handle(std::move(*request)); });
  }
}

void BucketService::Handle(Envelope envelope) {
  etcd_dst::bucket::BucketRequest request;
  if (!request.ParseFromString(envelope.payload)) {
    envelope.Reply(absl::InvalidArgumentError("malformed bucket request"));
    return;
  }
  if (envelope.method == "Put") {
    absl::Status status = store_->Put(request.key(), std::move(*request.mutable_data()));
    envelope.Reply(status.ok() ? absl::StatusOr<std::string>(std::string()) : status);
  } else if (envelope.method == "Get") {
    envelope.Reply(store_->Get(request.key()));
  } else if (envelope.method == "List") {
    absl::StatusOr<std::vector<ObjectInfo>> objects = store_->List(request.key());
    if (!objects.ok()) {
      envelope.Reply(objects.status());
      return;
    }
    etcd_dst::bucket::BucketListing listing;
    for (const ObjectInfo& object : *objects) {
      etcd_dst::bucket::BucketObject* out = listing.add_objects();
      out->set_key(object.key);
      out->set_size(object.size);
      out->set_created_ns(object.created.nanos());
    }
    envelope.Reply(listing.SerializeAsString());
  } else if (envelope.method == "Delete") {
    absl::Status status = store_->Delete(request.key());
    envelope.Reply(status.ok() ? absl::StatusOr<std::string>(std::string()) : status);
  } else {
    envelope.Reply(absl::UnimplementedError("unknown bucket method " + envelope.method));
  }
}

absl::StatusOr<std::string> BucketClient::Call(std::string_view method, std::string_view key, std::string data) {
  etcd_dst::bucket::BucketRequest request;
  request.set_key(std::string(key));
  request.set_data(std::move(data));
  const uint16_t port = EphemeralPort(*rng_);
  return network_->Call({self_, port}, bucket_, method, request.SerializeAsString(), timeout_);
}

absl::Status BucketClient::Put(std::string_view key, std::string data) {
  return Call("Put", key, std::move(data)).status();
}

absl::StatusOr<std::string> BucketClient::Get(std::string_view key) { return Call("Get", key, ""); }

absl::StatusOr<std::vector<ObjectInfo>> BucketClient::List(std::string_view prefix) {
  absl::StatusOr<std::string> reply = Call("List", prefix, "");
  if (!reply.ok()) return reply.status();
  etcd_dst::bucket::BucketListing listing;
  if (!listing.ParseFromString(*reply)) return absl::DataLossError("malformed bucket listing");
  std::vector<ObjectInfo> objects;
  for (const auto& object : listing.objects()) {
    objects.push_back({object.key(), object.size(), SimTime::FromNanos(object.created_ns())});
  }
  return objects;
}

absl::Status BucketClient::Delete(std::string_view key) { return Call("Delete", key, "").status(); }

}  // namespace sim
