// One simulation run: the scheduler, the trace, the properties, buggify and
// the named RNG streams of one root seed. At most one exists at a time in a
// process; it installs itself as the target of TraceEvent, SIM_BUGGIFY and
// SIM_CHECK's failure report for its lifetime.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "sim/buggify.h"
#include "sim/check.h"
#include "sim/properties.h"
#include "sim/rng.h"
#include "sim/scheduler.h"
#include "sim/trace.h"

namespace sim {

struct SimulationOptions {
  uint64_t seed = 0;
  std::string workload;  // for reports and the replay line
  // What the replay line needs beyond --workload and --seed to reproduce the
  // run bit for bit (" --plan '/abs/p.txt' --no-buggify"), already quoted.
  std::string replay_flags;
  BuggifyOptions buggify;
  Scheduler::Options scheduler;
};

class Simulation final : public CheckContext, public SchedulerObserver {
 public:
  explicit Simulation(SimulationOptions options);
  ~Simulation() override;
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  static Simulation* Current();

  uint64_t seed() const { return options_.seed; }
  const std::string& workload() const { return options_.workload; }
  Scheduler& scheduler() { return scheduler_; }
  Trace& trace() { return trace_; }
  Properties& properties() { return properties_; }
  Buggify& buggify() { return buggify_; }
  SimTime Now() const { return scheduler_.Now(); }

  // The stream `name`, created on first use; the same object afterwards.
  Rng& Stream(std::string_view name);

  // The run's fingerprint: the trace digest folded with one last draw from
  // every stream, in name order (FoundationDB's "unseed"): two runs agree
  // only if they traced the same events AND drew the same numbers. Call once,
  // at the end.
  uint64_t Fingerprint();

  // Ends the run: unwinds every actor still alive (their destructors may
  // still use the world, so call this before destroying it); nothing they
  // trace reaches a sink. Idempotent; the destructor calls it too.
  void Shutdown();

  // The command line that replays this run.
  std::string ReplayLine() const;

  // CheckContext
  void DescribeFailure(std::string_view message) override;
  // SchedulerObserver
  void OnGroupKilled(const Group& group, size_t actors) override;
  void OnActorKilled(const Actor& actor) override;

 private:
  SimulationOptions options_;
  Scheduler scheduler_;
  Trace trace_;
  Properties properties_;
  Buggify buggify_;
  std::map<std::string, Rng, std::less<>> streams_;
  bool fingerprinted_ = false;
};

}  // namespace sim
