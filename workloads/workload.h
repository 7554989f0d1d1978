// A workload is one scenario: it spawns actors into a fresh Simulation,
// declares the properties it checks, and gets a last look when the run ends.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/fault_plan.h"
#include "sim/simulation.h"
#include "sim/world.h"

namespace workloads {

class Workload {
 public:
  virtual ~Workload() = default;
  // What fault plans may touch; nullopt for a workload that takes none (its
  // plans are empty).
  virtual std::optional<sim::FaultSurface> Faults() const { return std::nullopt; }
  // A workload with a fault story of its own generates its plan here instead
  // of the generic swarm generator.
  virtual std::optional<sim::FaultPlan> MakePlan(uint64_t seed) const { return std::nullopt; }
  // Spawns the scenario's actors and registers its properties, under `plan`
  // (generated from the seed, or read from a file). Called once, before the
  // scheduler runs.
  virtual void Setup(sim::Simulation& simulation, const sim::FaultPlan& plan) = 0;
  // The world the workload built in Setup, if any (for disk exports).
  virtual sim::World* world() { return nullptr; }
  // End-of-run checks, after the scheduler stopped (actors are still alive).
  virtual void Finish(sim::Simulation& simulation) {}
  // The model profiles the workload runs under, the default first (empty:
  // none; a plan naming a profile is refused).
  virtual std::vector<std::string> Profiles() const { return {}; }
  // When the run stops if it does not go quiet first.
  virtual sim::RunLimits Limits() const {
    return {.until = sim::SimTime::Zero() + sim::SimDuration::Minutes(10), .max_events = 50'000'000};
  }
};

struct WorkloadEntry {
  std::string name;
  std::string description;
  std::function<std::unique_ptr<Workload>()> make;
  // A sweep without --workload runs it (false for harness self-tests whose
  // seeds fail on purpose).
  bool in_default_sweep = true;
};

// Every workload, sorted by name.
const std::vector<WorkloadEntry>& AllWorkloads();
// nullptr if unknown.
const WorkloadEntry* FindWorkload(const std::string& name);

}  // namespace workloads
