// Escaping for what viz writes: JSON strings, XML/HTML text and attributes,
// DOT labels. Everything shown comes from traces, plans and results, whose
// strings (actor names, violation details) are not ours to trust.
#pragma once

#include <string>
#include <string_view>

namespace viz {

// A JSON string literal, quotes included; control characters and invalid
// UTF-8 as \uXXXX escapes (invalid bytes as U+FFFD).
std::string JsonString(std::string_view text);

// Text for HTML or XML, in element content or a quoted attribute: & < > " '
// escaped, control characters other than tab and newline dropped (XML 1.0
// forbids them), invalid UTF-8 replaced by U+FFFD.
std::string Html(std::string_view text);

// A DOT double-quoted string's content: " and \ escaped, newlines as \n,
// control characters dropped.
std::string DotString(std::string_view text);

}  // namespace viz
