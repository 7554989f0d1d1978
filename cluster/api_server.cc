#include "cluster/api_server.h"

#include "fmt/format.h"
#include "sim/check.h"
#include "sim/trace.h"

namespace cluster {

ApiServer::ApiServer(sim::Scheduler* scheduler, sim::Network* network, std::string_view node_name)
    : scheduler_(scheduler), network_(network), node_(network->AddNode(node_name)) {}

void ApiServer::Start() {
  SIM_CHECK(group_ == nullptr, "the API server started twice");
  group_ = scheduler_->CreateGroup("kube-apiserver");
  scheduler_->Spawn(group_, "server", [this] { Serve(); });
}

void ApiServer::set_available(bool available) {
  available_ = available;
  if (!available) {
    // An outage ends every watch; watchers must list and watch again.
    for (auto& [kind, weak] : watchers_) {
      if (auto channel = weak.lock()) channel->Close();
    }
    watchers_.clear();
  }
  sim::TraceEvent("ApiServerAvailability").Detail("available", available);
}

absl::Status ApiServer::CheckAvailable() const {
  if (available_) return absl::OkStatus();
  return absl::UnavailableError("the server is currently unable to handle the request");
}

absl::StatusOr<Object> ApiServer::Get(const std::string& kind, const std::string& name) const {
  if (absl::Status status = CheckAvailable(); !status.ok()) return status;
  auto it = objects_.find({kind, name});
  if (it == objects_.end()) return absl::NotFoundError(fmt::format("{} \"{}\" not found", kind, name));
  return it->second;
}

std::vector<Object> ApiServer::List(const std::string& kind) const {
  std::vector<Object> objects;
  for (auto it = objects_.lower_bound({kind, ""}); it != objects_.end() && it->first.first == kind; ++it) {
    objects.push_back(it->second);
  }
  return objects;
}

absl::StatusOr<Object> ApiServer::Create(Object object) {
  if (absl::Status status = CheckAvailable(); !status.ok()) return status;
  const auto key = std::make_pair(object.kind(), object.meta().name());
  if (objects_.contains(key)) {
    return absl::AlreadyExistsError(fmt::format("{} \"{}\" already exists", key.first, key.second));
  }
  object.mutable_meta()->set_resource_version(++revision_);
  object.mutable_meta()->set_creation_ns(scheduler_->Now().nanos());
  objects_[key] = object;
  Publish("ADDED", object);
  return object;
}

absl::StatusOr<Object> ApiServer::Update(Object object) {
  if (absl::Status status = CheckAvailable(); !status.ok()) return status;
  const auto key = std::make_pair(object.kind(), object.meta().name());
  auto it = objects_.find(key);
  if (it == objects_.end()) return absl::NotFoundError(fmt::format("{} \"{}\" not found", key.first, key.second));
  const int64_t expected = object.meta().resource_version();
  if (expected != 0 && expected != it->second.meta().resource_version()) return absl::AbortedError(kConflict);
  object.mutable_meta()->set_creation_ns(it->second.meta().creation_ns());
  object.mutable_meta()->set_resource_version(++revision_);
  it->second = object;
  Publish("MODIFIED", object);
  return object;
}

absl::Status ApiServer::Delete(const std::string& kind, const std::string& name) {
  if (absl::Status status = CheckAvailable(); !status.ok()) return status;
  auto it = objects_.find({kind, name});
  if (it == objects_.end()) return absl::NotFoundError(fmt::format("{} \"{}\" not found", kind, name));
  Object gone = std::move(it->second);
  objects_.erase(it);
  gone.mutable_meta()->set_resource_version(++revision_);
  Publish("DELETED", gone);
  return absl::OkStatus();
}

void ApiServer::Publish(const std::string& type, const Object& object) {
  WatchEvent event;
  event.set_type(type);
  *event.mutable_object() = object;
  history_.push_back(event);
  if (history_.size() > kHistory) history_.pop_front();
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    std::shared_ptr<sim::Channel<WatchEvent>> channel = it->second.lock();
    if (channel == nullptr) {
      it = watchers_.erase(it);
      continue;
    }
    // A watcher that does not keep up loses its watch, as with the real
    // server; it must list and watch again.
    if (it->first == object.kind() && !channel->TrySend(event).ok()) channel->Close();
    ++it;
  }
}

absl::StatusOr<std::shared_ptr<sim::Channel<WatchEvent>>> ApiServer::Watch(const std::string& kind,
                                                                         int64_t resource_version) {
  if (absl::Status status = CheckAvailable(); !status.ok()) return status;
  if (!history_.empty() && resource_version + 1 < history_.front().object().meta().resource_version()) {
    return absl::OutOfRangeError("too old resource version");
  }
  auto channel = std::make_shared<sim::Channel<WatchEvent>>(1024);
  for (const WatchEvent& event : history_) {
    if (event.object().kind() == kind && event.object().meta().resource_version() > resource_version) {
      SIM_CHECK(channel->TrySend(event).ok(), "watch backlog above its capacity");
    }
  }
  watchers_.emplace_back(kind, channel);
  return channel;
}

void ApiServer::Serve() {
  absl::StatusOr<std::unique_ptr<sim::Listener>> listener = network_->Listen(address());
  SIM_CHECK(listener.ok(), "API server listen: {}", listener.status().ToString());
  while (true) {
    absl::StatusOr<sim::Envelope> envelope = (*listener)->Receive();
    if (!envelope.ok()) return;
    if (envelope->kind == sim::Envelope::Kind::kCall) {
      Handle(*std::move(envelope));
    } else if (envelope->kind == sim::Envelope::Kind::kConnection) {
      auto connection = std::make_shared<std::unique_ptr<sim::Connection>>(std::move(envelope->connection));
      scheduler_->Spawn(group_, "watch", [this, connection] { ServeWatch(std::move(*connection)); });
    }
  }
}

// The first message names the kind and the resourceVersion; then every
// event is one message, and an ERROR event (its reason as the object's
// name) ends the watch.
void ApiServer::ServeWatch(std::unique_ptr<sim::Connection> connection) {
  auto end = [&connection](const std::string& reason) {
    WatchEvent error;
    error.set_type("ERROR");
    error.mutable_object()->mutable_meta()->set_name(reason);
    (void)connection->Send(error.SerializeAsString());
    connection->Close();
  };
  absl::StatusOr<std::string> first = connection->Receive(sim::SimDuration::Seconds(30));
  Object request;
  if (!first.ok() || !request.ParseFromString(*first)) return;
  absl::StatusOr<std::shared_ptr<sim::Channel<WatchEvent>>> watch =
      Watch(request.kind(), request.meta().resource_version());
  if (!watch.ok()) {
    end(std::string(watch.status().message()));
    return;
  }
  while (true) {
    absl::StatusOr<WatchEvent> event = (*watch)->Receive();
    if (!event.ok()) {
      end("watch closed by the server");
      return;
    }
    if (!connection->Send(event->SerializeAsString()).ok()) return;
  }
}

void ApiServer::Handle(sim::Envelope envelope) {
  Object request;
  if (!request.ParseFromString(envelope.payload)) {
    envelope.Reply(absl::InvalidArgumentError("malformed request"));
    return;
  }
  if (envelope.method == "List") {
    if (absl::Status available = CheckAvailable(); !available.ok()) {
      envelope.Reply(available);
      return;
    }
    etcd_dst::kube::ObjectList list;
    for (Object& object : List(request.kind())) *list.add_items() = std::move(object);
    list.set_resource_version(revision_);
    envelope.Reply(list.SerializeAsString());
    return;
  }
  absl::StatusOr<Object> result = absl::UnimplementedError("unknown method " + envelope.method);
  if (envelope.method == "Get") {
    result = Get(request.kind(), request.meta().name());
  } else if (envelope.method == "Create") {
    result = Create(std::move(request));
  } else if (envelope.method == "Update") {
    result = Update(std::move(request));
  } else if (envelope.method == "Delete") {
    const absl::Status deleted = Delete(request.kind(), request.meta().name());
    result = deleted.ok() ? absl::StatusOr<Object>(Object()) : absl::StatusOr<Object>(deleted);
  }
  if (!result.ok()) {
    envelope.Reply(result.status());
    return;
  }
  envelope.Reply(result->SerializeAsString());
}

absl::StatusOr<std::string> ApiClient::Send(std::string_view method, const Object& request) {
  const uint16_t port = sim::EphemeralPort(*rng_);
  return network_->Call({self_, port}, server_, method, request.SerializeAsString(), timeout_);
}

absl::StatusOr<Object> ApiClient::Call(std::string_view method, const Object& request) {
  absl::StatusOr<std::string> reply = Send(method, request);
  if (!reply.ok()) return reply.status();
  Object object;
  if (!object.ParseFromString(*reply)) return absl::DataLossError("malformed API server response");
  return object;
}

absl::StatusOr<Object> ApiClient::Get(const std::string& kind, const std::string& name) {
  Object request;
  request.set_kind(kind);
  request.mutable_meta()->set_name(name);
  return Call("Get", request);
}

absl::StatusOr<Object> ApiClient::Create(const Object& object) { return Call("Create", object); }

absl::StatusOr<Object> ApiClient::Update(const Object& object) { return Call("Update", object); }

absl::StatusOr<etcd_dst::kube::ObjectList> ApiClient::List(const std::string& kind) {
  Object request;
  request.set_kind(kind);
  absl::StatusOr<std::string> reply = Send("List", request);
  if (!reply.ok()) return reply.status();
  etcd_dst::kube::ObjectList list;
  if (!list.ParseFromString(*reply)) return absl::DataLossError("malformed API server response");
  return list;
}

absl::Status ApiClient::Delete(const std::string& kind, const std::string& name) {
  Object request;
  request.set_kind(kind);
  request.mutable_meta()->set_name(name);
  return Call("Delete", request).status();
}

absl::StatusOr<std::unique_ptr<ApiWatch>> ApiClient::Watch(const std::string& kind, int64_t resource_version) {
  const uint16_t port = sim::EphemeralPort(*rng_);
  absl::StatusOr<std::unique_ptr<sim::Connection>> connection = network_->Connect({self_, port}, server_, timeout_);
  if (!connection.ok()) return connection.status();
  Object request;
  request.set_kind(kind);
  request.mutable_meta()->set_resource_version(resource_version);
  if (absl::Status sent = (*connection)->Send(request.SerializeAsString()); !sent.ok()) return sent;
  return std::make_unique<ApiWatch>(*std::move(connection));
}

absl::StatusOr<WatchEvent> ApiWatch::Next(sim::SimDuration timeout) {
  absl::StatusOr<std::string> message = connection_->Receive(timeout);
  if (!message.ok()) {
    if (message.status().code() == absl::StatusCode::kOutOfRange) return absl::UnavailableError("watch closed");
    return message.status();
  }
  WatchEvent event;
  if (!event.ParseFromString(*message)) return absl::DataLossError("malformed watch event");
  if (event.type() == "ERROR") return absl::OutOfRangeError(event.object().meta().name());
  return event;
}

}  // namespace cluster
