#include "sim/simulation.h"

#include <cstdio>

namespace sim {
namespace {
Simulation* g_current_simulation = nullptr;
}

Simulation::Simulation(SimulationOptions options)
    : options_(std::move(options)),
      scheduler_(options_.scheduler),
      trace_(&scheduler_),
      properties_(&scheduler_),
      buggify_(options_.seed, options_.buggify) {
  SIM_CHECK(g_current_simulation == nullptr, "two simulations alive in one process");
  g_current_simulation = this;
  Trace::SetCurrent(&trace_);
  Buggify::SetCurrent(&buggify_);
  SetCheckContext(this);
  scheduler_.set_observer(this);
}

void Simulation::Shutdown() {
  // What the actors trace while unwinding is after the run: no sink sees it.
  Trace::SetCurrent(nullptr);
  scheduler_.Shutdown();
}

Simulation::~Simulation() {
  Shutdown();
  SetCheckContext(nullptr);
  Buggify::SetCurrent(nullptr);
  g_current_simulation = nullptr;
}

Simulation* Simulation::Current() { return g_current_simulation; }

Rng& Simulation::Stream(std::string_view name) {
  auto it = streams_.find(name);
  if (it == streams_.end()) {
    it = streams_.emplace(std::string(name), Rng::Stream(options_.seed, name)).first;
  }
  return it->second;
}

uint64_t Simulation::Fingerprint() {
  SIM_CHECK(!fingerprinted_, "Fingerprint taken twice");
  fingerprinted_ = true;
  uint64_t unseed = HashCombine(kFnvOffset, streams_.size());
  if (streams_.empty()) {
    unseed = HashCombine(unseed, Rng::Stream(options_.seed, "unseed").Next());
  }
  for (auto& [name, rng] : streams_) {
    unseed = HashCombine(unseed, StableHash(name));
    unseed = HashCombine(unseed, rng.Next());
  }
  return HashCombine(trace_.digest(), unseed);
}

std::string Simulation::ReplayLine() const {
  return fmt::format("etcd-dst run --workload {} --seed {}{}", options_.workload, options_.seed,
                     options_.replay_flags);
}

void Simulation::DescribeFailure(std::string_view message) {
  const Scheduler::Place place = scheduler_.CurrentPlace();
  const std::string where = place.group + "/" + place.actor;
  std::fprintf(stderr, "internal failure: seed=%llu workload=%s sim_time=%s actor=%s\n",
               static_cast<unsigned long long>(options_.seed), options_.workload.c_str(),
               scheduler_.Now().ToString().c_str(), where.c_str());
  std::fprintf(stderr, "last %zu trace events:\n", trace_.TailLines().size());
  for (const std::string& line : trace_.TailLines()) std::fprintf(stderr, "  %s\n", line.c_str());
  std::fprintf(stderr, "replay: %s\n", ReplayLine().c_str());
  trace_.Flush();
}

void Simulation::OnGroupKilled(const Group& group, size_t actors) {
  TraceEvent("GroupKilled").Detail("target", group.path()).Detail("actors", actors);
}

void Simulation::OnActorKilled(const Actor& actor) {
  TraceEvent("ActorKilled")
      .Detail("target_group", actor.group()->path())
      .Detail("target", actor.name());
}

}  // namespace sim
