#include "model/br/delta.h"

#include <cctype>
#include <map>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "fmt/format.h"
#include "model/codec.h"

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

// A small JSON reader for the format above: objects, arrays, strings
// (without escapes beyond \" and \\), integers.
struct Json {
  enum class Kind { kObject, kArray, kString, kNumber } kind = Kind::kNumber;
  std::map<std::string, Json> object;
  std::vector<Json> array;
  std::string text;
  int64_t number = 0;
};

class Reader {
 public:
  explicit Reader(std::string_view input) : input_(input) {}
  absl::StatusOr<Json> Parse() {
    absl::StatusOr<Json> value = Value(0);
    Skip();
    if (value.ok() && pos_ != input_.size()) return Error("trailing data");
    return value;
  }

 private:
  absl::Status Error(const char* what) const {
    return absl::DataLossError(fmt::format("invalid delta snapshot JSON at {}: {}", pos_, what));
  }
  void Skip() {
    while (pos_ < input_.size() && std::isspace(static_cast<unsigned char>(input_[pos_]))) ++pos_;
  }
  bool Eat(char c) {
    Skip();
    if (pos_ < input_.size() && input_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  absl::StatusOr<std::string> String() {
    if (!Eat('"')) return Error("expected a string");
    std::string out;
    while (pos_ < input_.size() && input_[pos_] != '"') {
      if (input_[pos_] == '\\' && pos_ + 1 < input_.size()) ++pos_;
      out += input_[pos_++];
    }
    if (pos_ >= input_.size()) return Error("unterminated string");
    ++pos_;
    return out;
  }
  absl::StatusOr<Json> Value(int depth) {
    if (depth > 16) return Error("nested too deep");
    Skip();
    if (pos_ >= input_.size()) return Error("unexpected end");
    Json json;
    if (Eat('{')) {
      json.kind = Json::Kind::kObject;
      if (Eat('}')) return json;
      do {
        absl::StatusOr<std::string> key = String();
        if (!key.ok()) return key.status();
        if (!Eat(':')) return Error("expected ':'");
        absl::StatusOr<Json> value = Value(depth + 1);
        if (!value.ok()) return value.status();
        json.object[*key] = *std::move(value);
      } while (Eat(','));
      if (!Eat('}')) return Error("expected '}'");
      return json;
    }
    if (Eat('[')) {
      json.kind = Json::Kind::kArray;
      if (Eat(']')) return json;
      do {
        absl::StatusOr<Json> value = Value(depth + 1);
        if (!value.ok()) return value.status();
        json.array.push_back(*std::move(value));
      } while (Eat(','));
      if (!Eat(']')) return Error("expected ']'");
      return json;
    }
    if (input_[pos_] == '"') {
      json.kind = Json::Kind::kString;
      absl::StatusOr<std::string> text = String();
      if (!text.ok()) return text.status();
      json.text = *text;
      return json;
    }
    const size_t start = pos_;
    while (pos_ < input_.size() && (std::isdigit(static_cast<unsigned char>(input_[pos_])) || input_[pos_] == '-')) ++pos_;
    if (!absl::SimpleAtoi(std::string(input_.substr(start, pos_ - start)), &json.number)) return Error("expected a value");
    return json;
  }

  std::string_view input_;
  size_t pos_ = 0;
};

int64_t Number(const Json& object, const char* key) {
  auto it = object.object.find(key);
  return it == object.object.end() ? 0 : it->second.number;
}

absl::StatusOr<std::string> Bytes(const Json& object, const char* key) {
  auto it = object.object.find(key);
  if (it == object.object.end()) return std::string();
  std::string out;
  if (!absl::Base64Unescape(it->second.text, &out)) return absl::DataLossError("illegal base64 data");
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
  absl::StatusOr<Json> parsed = Reader(json).Parse();
  if (!parsed.ok()) return parsed.status();
  if (parsed->kind != Json::Kind::kArray) return absl::DataLossError("delta snapshot is not an array");
  std::vector<etcd_dst::etcd::Event> events;
  for (const Json& item : parsed->array) {
    auto event_json = item.object.find("etcdEvent");
    if (event_json == item.object.end()) return absl::DataLossError("delta snapshot event without etcdEvent");
    etcd_dst::etcd::Event event;
    event.set_type(Number(event_json->second, "type") == 1 ? etcd_dst::etcd::Event::DELETE
                                                             : etcd_dst::etcd::Event::PUT);
    auto kv_json = event_json->second.object.find("kv");
    if (kv_json != event_json->second.object.end()) {
      const Json& kv = kv_json->second;
      absl::StatusOr<std::string> key = Bytes(kv, "key"), value = Bytes(kv, "value");
      if (!key.ok()) return key.status();
      if (!value.ok()) return value.status();
      event.mutable_kv()->set_key(*key);
      event.mutable_kv()->set_value(*value);
      event.mutable_kv()->set_create_revision(Number(kv, "create_revision"));
      event.mutable_kv()->set_mod_revision(Number(kv, "mod_revision"));
      event.mutable_kv()->set_version(Number(kv, "version"));
      event.mutable_kv()->set_lease(Number(kv, "lease"));
    }
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace model::br
