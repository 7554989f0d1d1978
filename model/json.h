// A small JSON reader for what the modelled programs write: etcd's member
// records (v2 store, WAL conf-change contexts) and BR's delta snapshots.
// Objects, arrays, strings (escapes \" \\ \/ \n \t and \uXXXX below 256) and
// literals; a literal (number, true, false, null) keeps its text, so that
// uint64 IDs parse without loss.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace model {

struct JsonValue {
  enum class Kind { kObject, kArray, kString, kLiteral };
  Kind kind = Kind::kLiteral;
  std::map<std::string, JsonValue> object;
  std::vector<JsonValue> array;
  std::string text;  // a string's value, or a literal's text

  // The member `key` of an object, or nullptr.
  const JsonValue* Find(const std::string& key) const;
};

// DataLoss with the offset on malformed input (or nesting deeper than 16).
absl::StatusOr<JsonValue> ParseJson(std::string_view input);

}  // namespace model
