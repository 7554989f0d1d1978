// What one process of a model sees of the world, and all it may touch (as
// FoundationDB's roles see only INetwork): the scheduler (its clock, and
// actors spawned into the process's group), its network endpoint and how it
// resolves names, its volume, the backup bucket, and its own RNG stream.
// Tracing goes through TraceEvent. A model gets this and nothing of the
// Simulation or the World, so the same model code could run on a real clock.
#pragma once

#include "sim/disk.h"
#include "sim/network.h"
#include "sim/bucket.h"
#include "sim/resolver.h"
#include "sim/rng.h"
#include "sim/scheduler.h"

namespace sim {

struct ProcessContext {
  Scheduler* scheduler = nullptr;
  Network* network = nullptr;
  NodeId node = 0;
  const Resolver* resolver = nullptr;
  Disk* volume = nullptr;         // nullptr: the process has no volume
  BucketClient* bucket = nullptr;  // nullptr: no bucket
  Rng* rng = nullptr;             // the process's own stream

  SimTime Now() const { return scheduler->Now(); }
};

}  // namespace sim
