// Simulated time: int64 nanoseconds in strong types. SimTime is a point on the
// simulation's clock (0 at the start of a run), SimDuration a span between
// two points. Neither ever reads a wall clock.
#pragma once

#include <compare>
#include <cstdint>
#include <limits>
#include <string>

namespace sim {

class SimDuration {
 public:
  constexpr SimDuration() = default;
  static constexpr SimDuration Nanos(int64_t ns) { return SimDuration(ns); }
  static constexpr SimDuration Micros(int64_t us) { return SimDuration(us * 1000); }
  static constexpr SimDuration Millis(int64_t ms) { return SimDuration(ms * 1000 * 1000); }
  static constexpr SimDuration Seconds(int64_t s) { return SimDuration(s * 1000 * 1000 * 1000); }
  static constexpr SimDuration Minutes(int64_t m) { return Seconds(m * 60); }
  static constexpr SimDuration Zero() { return SimDuration(0); }
  static constexpr SimDuration Max() { return SimDuration(std::numeric_limits<int64_t>::max()); }

  constexpr int64_t nanos() const { return ns_; }
  constexpr int64_t millis() const { return ns_ / (1000 * 1000); }
  constexpr int64_t seconds() const { return ns_ / (1000 * 1000 * 1000); }

  constexpr auto operator<=>(const SimDuration&) const = default;
  constexpr SimDuration operator+(SimDuration o) const { return SimDuration(ns_ + o.ns_); }
  constexpr SimDuration operator-(SimDuration o) const { return SimDuration(ns_ - o.ns_); }
  constexpr SimDuration operator*(int64_t k) const { return SimDuration(ns_ * k); }
  constexpr SimDuration operator/(int64_t k) const { return SimDuration(ns_ / k); }
  constexpr SimDuration& operator+=(SimDuration o) { ns_ += o.ns_; return *this; }
  constexpr SimDuration& operator-=(SimDuration o) { ns_ -= o.ns_; return *this; }

  // "12.345s", "0.0015s", "-2s": seconds, trailing zeros trimmed.
  std::string ToString() const;

 private:
  constexpr explicit SimDuration(int64_t ns) : ns_(ns) {}
  int64_t ns_ = 0;
};

class SimTime {
 public:
  constexpr SimTime() = default;
  static constexpr SimTime FromNanos(int64_t ns) { return SimTime(ns); }
  static constexpr SimTime Zero() { return SimTime(0); }
  static constexpr SimTime Max() { return SimTime(std::numeric_limits<int64_t>::max()); }

  constexpr int64_t nanos() const { return ns_; }
  constexpr SimDuration SinceStart() const { return SimDuration::Nanos(ns_); }

  constexpr auto operator<=>(const SimTime&) const = default;
  // Saturates at Max() so that "now + a very long timeout" stays ordered.
  constexpr SimTime operator+(SimDuration d) const {
    if (d.nanos() > 0 && ns_ > std::numeric_limits<int64_t>::max() - d.nanos()) return Max();
    return SimTime(ns_ + d.nanos());
  }
  constexpr SimTime operator-(SimDuration d) const { return SimTime(ns_ - d.nanos()); }
  constexpr SimDuration operator-(SimTime o) const { return SimDuration::Nanos(ns_ - o.ns_); }
  constexpr SimTime& operator+=(SimDuration d) { *this = *this + d; return *this; }

  std::string ToString() const { return SinceStart().ToString(); }

 private:
  constexpr explicit SimTime(int64_t ns) : ns_(ns) {}
  int64_t ns_ = 0;
};

// Parses "1.5s", "250ms", "10us", "7ns", "2m" or a bare number of seconds.
bool ParseDuration(const std::string& text, SimDuration* out);

}  // namespace sim
