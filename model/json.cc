#include "model/json.h"

#include <cctype>

#include "fmt/format.h"

namespace model {
namespace {

class Reader {
 public:
  explicit Reader(std::string_view input) : input_(input) {}

  absl::StatusOr<JsonValue> Document() {
    absl::StatusOr<JsonValue> value = Value(0);
    if (value.ok() && (Skip(), pos_ != input_.size())) return Error("trailing data");
    return value;
  }

 private:
  absl::Status Error(const char* what) const {
    return absl::DataLossError(fmt::format("invalid JSON at {}: {}", pos_, what));
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
      char c = input_[pos_++];
      if (c == '\\') {
        if (pos_ >= input_.size()) break;
        const char escaped = input_[pos_++];
        if (escaped == 'n') {
          c = '\n';
        } else if (escaped == 't') {
          c = '\t';
        } else if (escaped == 'u') {
          unsigned code = 0;
          for (int i = 0; i < 4; ++i, ++pos_) {
            if (pos_ >= input_.size() || !std::isxdigit(static_cast<unsigned char>(input_[pos_]))) {
              return Error("bad \\u escape");
            }
            const char h = static_cast<char>(std::tolower(static_cast<unsigned char>(input_[pos_])));
            code = code * 16 + static_cast<unsigned>(h <= '9' ? h - '0' : h - 'a' + 10);
          }
          if (code > 0xff) return Error("\\u escape beyond Latin-1");
          c = static_cast<char>(code);
        } else {
          c = escaped;  // \" \\ \/
        }
      }
      out.push_back(c);
    }
    if (!Eat('"')) return Error("unterminated string");
    return out;
  }
  absl::StatusOr<JsonValue> Value(int depth) {
    if (depth > 16) return Error("nested too deep");
    Skip();
    if (pos_ >= input_.size()) return Error("unexpected end");
    JsonValue value;
    if (Eat('{')) {
      value.kind = JsonValue::Kind::kObject;
      if (Eat('}')) return value;
      do {
        absl::StatusOr<std::string> key = String();
        if (!key.ok()) return key.status();
        if (!Eat(':')) return Error("expected ':'");
        absl::StatusOr<JsonValue> member = Value(depth + 1);
        if (!member.ok()) return member.status();
        value.object[*key] = *std::move(member);
      } while (Eat(','));
      if (!Eat('}')) return Error("expected '}'");
      return value;
    }
    if (Eat('[')) {
      value.kind = JsonValue::Kind::kArray;
      if (Eat(']')) return value;
      do {
        absl::StatusOr<JsonValue> element = Value(depth + 1);
        if (!element.ok()) return element.status();
        value.array.push_back(*std::move(element));
      } while (Eat(','));
      if (!Eat(']')) return Error("expected ']'");
      return value;
    }
    if (input_[pos_] == '"') {
      value.kind = JsonValue::Kind::kString;
      absl::StatusOr<std::string> text = String();
      if (!text.ok()) return text.status();
      value.text = *std::move(text);
      return value;
    }
    while (pos_ < input_.size() && (std::isalnum(static_cast<unsigned char>(input_[pos_])) || input_[pos_] == '-' ||
                                    input_[pos_] == '+' || input_[pos_] == '.')) {
      value.text.push_back(input_[pos_++]);
    }
    if (value.text.empty()) return Error("expected a value");
    return value;
  }

  std::string_view input_;
  size_t pos_ = 0;
};

}  // namespace

const JsonValue* JsonValue::Find(const std::string& key) const {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &it->second;
}

absl::StatusOr<JsonValue> ParseJson(std::string_view input) { return Reader(input).Document(); }

}  // namespace model
