#include "sim/time.h"

#include <cctype>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fmt/format.h"

namespace sim {

std::string SimDuration::ToString() const {
  if (ns_ == std::numeric_limits<int64_t>::max()) return "inf";
  const bool negative = ns_ < 0;
  // Work in uint64 so that INT64_MIN has a magnitude.
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(ns_) : static_cast<uint64_t>(ns_);
  const uint64_t whole = magnitude / 1000000000ull;
  uint64_t fraction = magnitude % 1000000000ull;
  std::string out = negative ? "-" : "";
  absl::StrAppend(&out, whole);
  if (fraction != 0) {
    std::string digits = fmt::format("{:09d}", fraction);
    while (digits.size() > 3 && digits.back() == '0') digits.pop_back();
    absl::StrAppend(&out, ".", digits);
  }
  out += "s";
  return out;
}

bool ParseDuration(const std::string& text, SimDuration* out) {
  static constexpr struct {
    const char* suffix;
    int64_t nanos;
  } kUnits[] = {{"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000},
                {"m", 60000000000}, {"h", 3600000000000}};
  if (text.empty()) return false;
  std::string number = text;
  int64_t unit = 1000000000;
  for (const auto& u : kUnits) {
    const std::string suffix = u.suffix;
    if (text.size() > suffix.size() && text.ends_with(suffix)) {
      // "ms" also ends with "s": take the longest suffix that leaves a number.
      const std::string head = text.substr(0, text.size() - suffix.size());
      if (!head.empty() && (std::isdigit(static_cast<unsigned char>(head.back())) || head.back() == '.')) {
        number = head;
        unit = u.nanos;
        break;
      }
    }
  }
  // Integer and decimal parts parsed separately: no floating point, so
  // "0.1s" is exactly 100000000ns on every machine.
  const size_t dot = number.find('.');
  const std::string int_part = number.substr(0, dot);
  std::string frac_part = dot == std::string::npos ? "" : number.substr(dot + 1);
  if (int_part.empty() && frac_part.empty()) return false;
  int64_t whole = 0;
  if (!int_part.empty()) {
    for (char c : int_part) if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    if (!absl::SimpleAtoi(int_part, &whole)) return false;
  }
  for (char c : frac_part) if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  if (whole > std::numeric_limits<int64_t>::max() / unit) return false;
  int64_t total = whole * unit;
  int64_t scale = unit;
  for (char c : frac_part) {
    scale /= 10;
    total += (c - '0') * scale;
  }
  *out = SimDuration::Nanos(total);
  return true;
}

}  // namespace sim
