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

// Runs `body` as an actor until it returns, in steps of `step`, for at most
// `limit` of simulated time, and leaves the simulation running (for tests
// that go on with the same world). Returns whether the body returned;
// callers ASSERT_TRUE it.
inline bool RunActorUntilDone(Simulation& simulation, absl::AnyInvocable<void()> body,
                              SimDuration limit = SimDuration::Seconds(60),
                              SimDuration step = SimDuration::Millis(100)) {
  bool done = false;
  simulation.scheduler().Spawn(nullptr, "test", [&] {
    body();
    done = true;
  });
  const SimTime until = simulation.Now() + limit;
  while (!done && simulation.Now() < until) simulation.scheduler().Run({.until = simulation.Now() + step});
  return done;
}

}  // namespace sim
