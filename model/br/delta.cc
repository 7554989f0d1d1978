#include "model/br/delta.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "fmt/format.h"
#include "model/codec.h"
#include "model/json.h"

namespace model::br {
namespace {

std::string KvJson(const etcd_dst::etcd::KeyValue& kv) {
  std::string out = "{";
  auto field = [&](const std::string& text) { out += (out.size() > 1 ? "," : "") + text; };
  if (!kv.key().empty()) field(fmt::format("\"key\":\"{}\"", absl::Base64Escape(kv.key())));
  if (kv.create_revision() != 0) field(fmt::format("\"create_revision\":{}", kv.create_revision()));
  if (kv.mod_revision() != 0) field(fmt::format("\"mod_revision\":{}", kv.mod_revision()));
  if (kv.version() != 0) field(fmt::format("\"version\":{}", kv.version()));
  if (!kv.value().empty()) field(fmt::format("\"value\":\"{}\"", absl::Base64Escape(kv.value())));
  if (kv.lease() != 0) field(fmt::format("\"lease\":{}", kv.lease()));
  return out + "}";
}

// A number member (0 when absent, as protobuf's JSON omits zeros).
absl::StatusOr<int64_t> Number(const JsonValue& object, const char* key) {
  const JsonValue* value = object.Find(key);
  int64_t number = 0;
  if (value != nullptr && !absl::SimpleAtoi(value->text, &number)) {
    return absl::DataLossError(fmt::format("delta snapshot: {} is not a number", key));
  }
  return number;
}

absl::StatusOr<std::string> Bytes(const JsonValue& object, const char* key) {
  const JsonValue* value = object.Find(key);
  if (value == nullptr) return std::string();
  std::string out;
  if (!absl::Base64Unescape(value->text, &out)) return absl::DataLossError("illegal base64 data");
  return out;
}

}  // namespace

std::string EncodeDeltaEvents(const std::vector<DeltaEvent>& events) {
  std::string out = "[";
  for (size_t i = 0; i < events.size(); ++i) {
    const etcd_dst::etcd::Event& event = events[i].event;
    std::string body = "{";
    if (event.type() != etcd_dst::etcd::Event::PUT) body += fmt::format("\"type\":{},", static_cast<int>(event.type()));
    body += "\"kv\":" + KvJson(event.kv()) + "}";
    out += fmt::format("{}{{\"etcdEvent\":{},\"time\":\"{}\"}}", i ? "," : "", body, events[i].time);
  }
  return out + "]";
}

std::string EncodeDelta(const std::vector<DeltaEvent>& events) {
  std::string json = EncodeDeltaEvents(events);
  return json + Sha256(json);
}

absl::StatusOr<std::vector<etcd_dst::etcd::Event>> DecodeDelta(const std::string& data) {
  if (data.size() <= kSha256Size) return absl::DataLossError("delta snapshot is missing hash");
  const std::string_view json(data.data(), data.size() - kSha256Size);
  if (Sha256(json) != data.substr(json.size())) {
    return absl::DataLossError("snapshot integrity check failed: hash mismatch");
  }
  absl::StatusOr<JsonValue> parsed = ParseJson(json);
  if (!parsed.ok()) return parsed.status();
  if (parsed->kind != JsonValue::Kind::kArray) return absl::DataLossError("delta snapshot is not an array");
  std::vector<etcd_dst::etcd::Event> events;
  for (const JsonValue& item : parsed->array) {
    const JsonValue* event_json = item.Find("etcdEvent");
    if (event_json == nullptr) return absl::DataLossError("delta snapshot event without etcdEvent");
    absl::StatusOr<int64_t> type = Number(*event_json, "type");
    if (!type.ok()) return type.status();
    etcd_dst::etcd::Event event;
    event.set_type(*type == 1 ? etcd_dst::etcd::Event::DELETE : etcd_dst::etcd::Event::PUT);
    if (const JsonValue* kv = event_json->Find("kv"); kv != nullptr) {
      absl::StatusOr<std::string> key = Bytes(*kv, "key"), value = Bytes(*kv, "value");
      if (!key.ok()) return key.status();
      if (!value.ok()) return value.status();
      absl::StatusOr<int64_t> create = Number(*kv, "create_revision"), mod = Number(*kv, "mod_revision"),
                              version = Number(*kv, "version"), lease = Number(*kv, "lease");
      for (const auto* number : {&create, &mod, &version, &lease}) {
        if (!number->ok()) return number->status();
      }
      event.mutable_kv()->set_key(*key);
      event.mutable_kv()->set_value(*value);
      event.mutable_kv()->set_create_revision(*create);
      event.mutable_kv()->set_mod_revision(*mod);
      event.mutable_kv()->set_version(*version);
      event.mutable_kv()->set_lease(*lease);
    }
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace model::br
