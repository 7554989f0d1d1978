// sweep-selftest: exercises the sweep's isolation and reporting, not a
// model. Most seeds pass at once; a seed whose last decimal digit is 3
// aborts, 5 spins without ever yielding (only the sweep's wall-time limit
// ends it), 7 allocates until the address-space limit refuses, and 9
// violates a property whose details are markup (what a dashboard must show
// as text, never run). The sweep must report each as that seed's failure with
// its replay line and go on. It is not in the default sweep
// (WorkloadEntry::in_default_sweep).
#include <cstdlib>
#include <memory>
#include <vector>

#include "sim/simulation.h"
#include "workloads/workload.h"

namespace workloads {
namespace {

class SweepSelftest : public Workload {
 public:
  void Setup(sim::Simulation& simulation, const sim::FaultPlan& /*plan: none*/) override {
    sim::Properties& properties = simulation.properties();
    properties.DeclareCheck("SeedBehaved");
    const uint64_t digit = simulation.seed() % 10;
    sim::Group* group = simulation.scheduler().CreateGroup("selftest");
    simulation.scheduler().Spawn(group, "misbehave", [&simulation, digit] {
      sim::this_actor::SleepFor(sim::SimDuration::Millis(1));
      if (digit == 3) std::abort();
      if (digit == 5) {
        for (uint64_t spins = 0;; ++spins) asm volatile("" : "+r"(spins));
      }
      if (digit == 7) {
        std::vector<std::unique_ptr<char[]>> blocks;
        for (;;) blocks.emplace_back(new char[size_t{1} << 30]);  // never touched: address space only
      }
      // Markup in the details, as a trace may carry (actor names, peer
      // responses): pages and dashboards must show it as text.
      simulation.properties().Always(digit != 9, "SeedBehaved",
                                     "the seed's last digit is 9 <img src=x onerror=\"document.title='pwned'\"> "
                                     "<script>document.title='pwned'</script> & \"quoted\"");
    });
  }
  sim::RunLimits Limits() const override {
    return {.until = sim::SimTime::Zero() + sim::SimDuration::Seconds(1), .max_events = 1000};
  }
};

}  // namespace

std::unique_ptr<Workload> MakeSweepSelftest() { return std::make_unique<SweepSelftest>(); }

}  // namespace workloads
