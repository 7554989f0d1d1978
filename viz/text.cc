#include "viz/text.h"

#include <cstdint>

#include "fmt/format.h"

namespace viz {
namespace {

// Splits `text` into code points; invalid sequences come out as U+FFFD.
template <typename F>
void ForEachCodePoint(std::string_view text, F&& f) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    int length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    uint32_t code = length == 1 ? c : length == 2 ? c & 0x1f : length == 3 ? c & 0x0f : c & 0x07;
    bool valid = length > 0 && i + length <= text.size();
    for (int k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) {
        valid = false;
      } else {
        code = (code << 6) | (next & 0x3f);
      }
    }
    if (valid && ((length == 2 && code < 0x80) || (length == 3 && code < 0x800) || (length == 4 && code < 0x10000) ||
                  code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))) {
      valid = false;
    }
    if (!valid) {
      f(0xfffd, std::string_view("\xef\xbf\xbd"));
      ++i;
      continue;
    }
    f(code, text.substr(i, static_cast<size_t>(length)));
    i += static_cast<size_t>(length);
  }
}

}  // namespace

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  ForEachCodePoint(text, [&](uint32_t code, std::string_view bytes) {
    if (code == '"') {
      out += "\\\"";
    } else if (code == '\\') {
      out += "\\\\";
    } else if (code == '\n') {
      out += "\\n";
    } else if (code < 0x20 || code == 0x7f || code == 0x2028 || code == 0x2029) {
      out += fmt::format("\\u{:04x}", code);
    } else if (code == '<') {
      out += "\\u003c";  // safe inside a <script> element as well
    } else {
      out += bytes;
    }
  });
  return out + "\"";
}

std::string Html(std::string_view text) {
  std::string out;
  ForEachCodePoint(text, [&](uint32_t code, std::string_view bytes) {
    switch (code) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if ((code < 0x20 && code != '\t' && code != '\n') || code == 0x7f) break;
        out += bytes;
    }
  });
  return out;
}

std::string DotString(std::string_view text) {
  std::string out;
  ForEachCodePoint(text, [&](uint32_t code, std::string_view bytes) {
    if (code == '"' || code == '\\') {
      out += '\\';
      out += static_cast<char>(code);
    } else if (code == '\n') {
      out += "\\n";
    } else if (code < 0x20 || code == 0x7f) {
      // dropped
    } else {
      out += bytes;
    }
  });
  return out;
}

}  // namespace viz
