// For tests that run their body as an actor: the body must reach its end, or
// the test fails (a body blocked forever must never pass).
#pragma once

#include "absl/functional/any_invocable.h"
#include "sim/simulation.h"

namespace sim {

// Runs `body` as an actor of `simulation` until the scheduler goes quiet or
// `limit` of simulated time passes, then unwinds whatever is still alive (so
// a blocked body lets go of what it uses before the caller destroys it).
// Returns whether the body reached its end; callers ASSERT_TRUE it.
inline bool RunActorToEnd(Simulation& simulation, absl::AnyInvocable<void()> body,
                          SimDuration limit = SimDuration::Minutes(60)) {
  bool done = false;
  simulation.scheduler().Spawn(nullptr, "test", [&] {
    body();
    done = true;
  });
  simulation.scheduler().Run({.until = simulation.Now() + limit});
  simulation.Shutdown();
  return done;
}

}  // namespace sim
