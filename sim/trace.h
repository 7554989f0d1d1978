// Structured trace events: time, group, actor, a PascalCase name and
// key=value details, as FoundationDB's TraceEvent. Every event feeds a
// running 64-bit digest (the run's fingerprint before the final RNG draw),
// a ring buffer for failure reports, and any number of sinks (a text file,
// one line per event; a protobuf stream file).
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "sim/time.h"

namespace sim {

class Scheduler;

struct TraceDetail {
  std::string key;
  std::string value;
};

struct TraceRecord {
  SimTime time;
  std::string group;
  std::string actor;
  std::string name;
  std::vector<TraceDetail> details;
};

// "12.345678s group actor Name key=value key2="two words"".
std::string FormatTraceLine(const TraceRecord& record);

class TraceSink {
 public:
  virtual ~TraceSink() = default;
  virtual void Write(const TraceRecord& record) = 0;
  virtual void Flush() = 0;
  // The first write error (a full disk, a closed pipe), sticky; checked after
  // the last Flush so that a lost trace is never reported as written.
  virtual absl::Status status() const { return absl::OkStatus(); }
};

class Trace {
 public:
  static constexpr size_t kTailLength = 64;

  explicit Trace(const Scheduler* clock);
  ~Trace();
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  // The trace that TraceEvent writes to; set by Simulation for its lifetime.
  static Trace* Current();
  static void SetCurrent(Trace* trace);

  void AddSink(std::unique_ptr<TraceSink> sink);
  // The first error of any sink (see TraceSink::status).
  absl::Status SinkStatus() const;
  // Fills time, group and actor from the scheduler, then records.
  void Emit(std::string name, std::vector<TraceDetail> details);
  // An observation: written to the sinks only. It is not part of the
  // fingerprint, the event count or the failure tail, so a run traced to a
  // file replays the run without one bit for bit. Messages sent and
  // received are observations (for the space-time pictures).
  void Observe(std::string name, std::vector<TraceDetail> details);
  // True when the current trace has a sink: observations cost nothing
  // otherwise, and callers check this before building one.
  static bool Observing();
  void Flush();

  uint64_t digest() const { return digest_; }
  uint64_t count() const { return count_; }
  std::vector<std::string> TailLines() const;

 private:
  // A record stamped with the time and the running actor's place.
  TraceRecord Record(std::string name, std::vector<TraceDetail> details) const;

  const Scheduler* clock_;
  uint64_t digest_;
  uint64_t count_ = 0;
  std::deque<TraceRecord> tail_;
  std::vector<std::unique_ptr<TraceSink>> sinks_;
};

// Formats a 64-bit ID as 16 hex digits, the way etcd prints IDs.
struct Hex {
  uint64_t value;
};

// Builder: TraceEvent("LeaderElected").Detail("term", 3).Detail("member", Hex{id});
// emitted when it goes out of scope. Dropped when no simulation is running.
struct ObservationTag {};
inline constexpr ObservationTag kObservation;

class TraceEvent {
 public:
  explicit TraceEvent(std::string_view name) : name_(name) {}
  // An observation (see Trace::Observe).
  TraceEvent(std::string_view name, ObservationTag) : name_(name), observation_(true) {}
  TraceEvent(const TraceEvent&) = delete;
  TraceEvent& operator=(const TraceEvent&) = delete;
  ~TraceEvent();

  TraceEvent& Detail(std::string_view key, std::string_view value) {
    details_.push_back({std::string(key), std::string(value)});
    return *this;
  }
  TraceEvent& Detail(std::string_view key, const std::string& value) {
    return Detail(key, std::string_view(value));
  }
  TraceEvent& Detail(std::string_view key, const char* value) {
    return Detail(key, std::string_view(value));
  }
  TraceEvent& Detail(std::string_view key, bool value) {
    return Detail(key, std::string_view(value ? "true" : "false"));
  }
  template <typename Integer>
    requires std::is_integral_v<Integer>
  TraceEvent& Detail(std::string_view key, Integer value) {
    details_.push_back({std::string(key), fmt::format("{}", value)});
    return *this;
  }
  TraceEvent& Detail(std::string_view key, SimDuration value) { return Detail(key, value.ToString()); }
  TraceEvent& Detail(std::string_view key, SimTime value) { return Detail(key, value.ToString()); }
  TraceEvent& Detail(std::string_view key, Hex value) {
    details_.push_back({std::string(key), fmt::format("{:016x}", value.value)});
    return *this;
  }

 private:
  std::string name_;
  std::vector<TraceDetail> details_;
  bool observation_ = false;
};

// One line per event to a file (or stdout). Owns the FILE* unless it is a
// standard stream.
class TextTraceSink : public TraceSink {
 public:
  // `name` is for the error message: a path, or "stdout".
  TextTraceSink(std::FILE* file, bool owned, std::string name = "the text trace")
      : file_(file), owned_(owned), name_(std::move(name)) {}
  ~TextTraceSink() override;
  void Write(const TraceRecord& record) override;
  void Flush() override;
  absl::Status status() const override;

 private:
  std::FILE* file_;
  bool owned_;
  std::string name_;
  bool failed_ = false;
};

}  // namespace sim
