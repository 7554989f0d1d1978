// Properties of the system under test, checked while it runs:
//   Always(condition)    must hold every time it is evaluated;
//   Sometimes(condition) should hold at least once in a sweep (counted per run;
//                        declared names never seen are reported);
//   Eventually(...)      a predicate must become true before a deadline.
// A run passes only if what it declared was checked: DeclareCheck names an
// Always that must be evaluated at least once, and an Eventually still
// pending when the run stops was not checked either. Unchecked() lists both,
// for the runner to fail the run with CheckNotReached.
// A violation is recorded with its time, place and details, traced as
// PropertyViolated, and never stops the simulation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <map>
#include "absl/functional/any_invocable.h"
#include "sim/scheduler.h"
#include "sim/time.h"

namespace sim {

struct Violation {
  std::string property;
  SimTime time;
  std::string group;
  std::string actor;
  std::string details;
};

struct PropertyStats {
  enum class Kind : uint8_t { kAlways, kSometimes, kEventually };
  Kind kind = Kind::kAlways;
  uint64_t evaluations = 0;  // Always: checks; Sometimes: evaluations; Eventually: registrations
  uint64_t hits = 0;         // Sometimes: times true; Eventually: times satisfied
  uint64_t violations = 0;
  bool required = false;  // Always: declared with DeclareCheck
  uint64_t pending = 0;   // Eventually: registered, not yet resolved
};
const char* PropertyKindName(PropertyStats::Kind kind);

class Properties {
 public:
  // At most this many violations are kept per property (all are counted).
  static constexpr size_t kViolationsKeptPerProperty = 16;

  explicit Properties(Scheduler* scheduler) : scheduler_(scheduler) {}

  // Returns `condition`, so callers can branch on it.
  bool Always(bool condition, std::string_view name, std::string_view details = "");
  bool Sometimes(bool condition, std::string_view name);
  // Makes a Sometimes property known to the run before it is first evaluated,
  // so that "never seen" can be reported for it.
  void DeclareSometimes(std::string_view name);
  // Declares an Always the run must evaluate at least once: an end-of-run
  // check that a stopped or stuck run never reached fails the run.
  void DeclareCheck(std::string_view name);
  // Polls `predicate` every `poll` until it holds; a violation if it has not
  // held by now + `within`. Polls run as scheduler callbacks.
  void Eventually(std::string_view name, SimDuration within, absl::AnyInvocable<bool()> predicate,
                  SimDuration poll = SimDuration::Millis(100));
  // Records a violation unconditionally.
  void Fail(std::string_view name, std::string_view details);

  const std::vector<Violation>& violations() const { return violations_; }
  const std::map<std::string, PropertyStats, std::less<>>& stats() const { return stats_; }
  // Sorted names of the properties that were violated at least once.
  std::vector<std::string> ViolatedNames() const;
  // Sorted names of Sometimes properties that never held in this run.
  std::vector<std::string> SometimesNeverSeen() const;
  // "Name (why)" for each declared check never evaluated and each Eventually
  // still pending, sorted by name.
  std::vector<std::string> Unchecked() const;

 private:
  struct EventuallyState;
  void PollEventually(std::shared_ptr<EventuallyState> state);
  PropertyStats& Stats(std::string_view name, PropertyStats::Kind kind);

  Scheduler* scheduler_;
  std::map<std::string, PropertyStats, std::less<>> stats_;
  std::vector<Violation> violations_;
};

}  // namespace sim
