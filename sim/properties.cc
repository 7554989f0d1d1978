#include "sim/properties.h"

#include <memory>

#include "sim/trace.h"

namespace sim {

const char* PropertyKindName(PropertyStats::Kind kind) {
  switch (kind) {
    case PropertyStats::Kind::kAlways: return "always";
    case PropertyStats::Kind::kSometimes: return "sometimes";
    case PropertyStats::Kind::kEventually: return "eventually";
  }
  return "?";
}

struct Properties::EventuallyState {
  std::string name;
  SimTime deadline;
  SimDuration poll;
  absl::AnyInvocable<bool()> predicate;
};

PropertyStats& Properties::Stats(std::string_view name, PropertyStats::Kind kind) {
  auto [it, inserted] = stats_.try_emplace(std::string(name));
  if (inserted) it->second.kind = kind;
  SIM_CHECK(it->second.kind == kind, "property {} used as both {} and {}", name,
            PropertyKindName(it->second.kind), PropertyKindName(kind));
  return it->second;
}

bool Properties::Always(bool condition, std::string_view name, std::string_view details) {
  PropertyStats& stats = Stats(name, PropertyStats::Kind::kAlways);
  ++stats.evaluations;
  if (!condition) Fail(name, details);
  return condition;
}

bool Properties::Sometimes(bool condition, std::string_view name) {
  PropertyStats& stats = Stats(name, PropertyStats::Kind::kSometimes);
  ++stats.evaluations;
  if (condition) ++stats.hits;
  return condition;
}

void Properties::DeclareSometimes(std::string_view name) {
  Stats(name, PropertyStats::Kind::kSometimes);
}

void Properties::DeclareCheck(std::string_view name) {
  Stats(name, PropertyStats::Kind::kAlways).required = true;
}

void Properties::Eventually(std::string_view name, SimDuration within,
                            absl::AnyInvocable<bool()> predicate, SimDuration poll) {
  SIM_CHECK(poll > SimDuration::Zero(), "Eventually {} needs a positive poll interval", name);
  PropertyStats& stats = Stats(name, PropertyStats::Kind::kEventually);
  ++stats.evaluations;
  ++stats.pending;
  auto state = std::make_shared<EventuallyState>();
  state->name = std::string(name);
  state->deadline = scheduler_->Now() + within;
  state->poll = poll;
  state->predicate = std::move(predicate);
  PollEventually(std::move(state));
}

void Properties::PollEventually(std::shared_ptr<EventuallyState> state) {
  PropertyStats& stats = Stats(state->name, PropertyStats::Kind::kEventually);
  if (state->predicate()) {
    ++stats.hits;
    --stats.pending;
    return;
  }
  const SimTime now = scheduler_->Now();
  if (now >= state->deadline) {
    --stats.pending;
    Fail(state->name, "did not hold by " + state->deadline.ToString());
    return;
  }
  const SimTime next = std::min(state->deadline, now + state->poll);
  scheduler_->ScheduleAt(next, [this, state]() mutable { PollEventually(std::move(state)); });
}

void Properties::Fail(std::string_view name, std::string_view details) {
  // Kind is whatever the name was registered as; a bare Fail is an Always.
  auto it = stats_.find(name);
  PropertyStats& stats = it != stats_.end() ? it->second : Stats(name, PropertyStats::Kind::kAlways);
  const uint64_t seen = stats.violations++;
  TraceEvent("PropertyViolated").Detail("property", name).Detail("details", details);
  if (seen >= kViolationsKeptPerProperty) return;
  Violation violation;
  violation.property = std::string(name);
  violation.time = scheduler_->Now();
  Scheduler::Place place = scheduler_->CurrentPlace();
  violation.group = std::move(place.group);
  violation.actor = std::move(place.actor);
  violation.details = std::string(details);
  violations_.push_back(std::move(violation));
}

std::vector<std::string> Properties::ViolatedNames() const {
  std::vector<std::string> names;
  for (const auto& [name, stats] : stats_) {
    if (stats.violations > 0) names.push_back(name);
  }
  return names;
}

std::vector<std::string> Properties::SometimesNeverSeen() const {
  std::vector<std::string> names;
  for (const auto& [name, stats] : stats_) {
    if (stats.kind == PropertyStats::Kind::kSometimes && stats.hits == 0) names.push_back(name);
  }
  return names;
}

std::vector<std::string> Properties::Unchecked() const {
  std::vector<std::string> names;
  for (const auto& [name, stats] : stats_) {
    if (stats.required && stats.evaluations == 0) names.push_back(name + " (never evaluated)");
    if (stats.pending > 0) names.push_back(name + " (still pending)");
  }
  return names;
}

}  // namespace sim
