#include "sim/object_store.h"

#include <gtest/gtest.h>

#include "sim/simulation.h"
#include "sim/run_actor_test_util.h"

namespace sim {
namespace {

// Runs `body` inside an actor of a fresh simulation with the given seed; the test fails if the
// body does not reach its end within an hour of simulated time.
void InSimulation(uint64_t seed, absl::AnyInvocable<void(Simulation&)> body) {
  Simulation simulation({.seed = seed, .workload = "object-store-test"});
  ASSERT_TRUE(RunActorToEnd(simulation, [&] { body(simulation); })) << "test body did not finish, seed " << seed;
}

// Put, get, sorted prefix listing and delete, each taking a latency.
TEST(ObjectStoreTest, Basics) {
  InSimulation(1, [](Simulation& simulation) {
    ObjectStore store(&simulation, "backups");
    const SimTime start = this_actor::Now();
    ASSERT_TRUE(store.Put("v2/Full-00000000-00000002-1", "full").ok());
    EXPECT_GE(this_actor::Now() - start, SimDuration::Millis(20));
    ASSERT_TRUE(store.Put("v2/Incr-00000003-00000005-2", "incr").ok());
    ASSERT_TRUE(store.Put("other/x", "x").ok());
    absl::StatusOr<std::vector<ObjectInfo>> listing = store.List("v2/");
    ASSERT_TRUE(listing.ok());
    ASSERT_EQ(listing->size(), 2u);
    EXPECT_EQ((*listing)[0].key, "v2/Full-00000000-00000002-1");
    EXPECT_EQ(*store.Get("v2/Incr-00000003-00000005-2"), "incr");
    ASSERT_TRUE(store.Delete("other/x").ok());
    EXPECT_EQ(store.Get("other/x").status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(store.Delete("other/x").code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(store.Contents().size(), 2u);
  });
}

// A lagging listing hides a fresh object (Get already sees it) and later shows it.
TEST(ObjectStoreTest, EventualListing) {
  InSimulation(1, [](Simulation& simulation) {
    ObjectStore store(&simulation, "backups");
    store.set_faults({.listing_lag = SimDuration::Seconds(2)});
    ASSERT_TRUE(store.Put("v2/Full-1", "snapshot").ok());
    EXPECT_TRUE(store.List("v2/")->empty());
    EXPECT_EQ(*store.Get("v2/Full-1"), "snapshot");
    this_actor::SleepFor(SimDuration::Seconds(2));
    EXPECT_EQ(store.List("v2/")->size(), 1u);
    // A delete also shows up late.
    ASSERT_TRUE(store.Delete("v2/Full-1").ok());
    EXPECT_EQ(store.List("v2/")->size(), 1u);
    this_actor::SleepFor(SimDuration::Seconds(2));
    EXPECT_TRUE(store.List("v2/")->empty());
  });
}

// Transient errors (503/429), ambiguous timeouts that did store, and failed uploads that did not.
TEST(ObjectStoreTest, Faults) {
  InSimulation(3, [](Simulation& simulation) {
    ObjectStore store(&simulation, "backups");
    store.set_faults({.transient_error_per_million = 1000000});
    absl::Status status = store.Put("a", "1");
    EXPECT_TRUE(status.code() == absl::StatusCode::kUnavailable ||
                status.code() == absl::StatusCode::kResourceExhausted) << status;
    EXPECT_FALSE(store.Peek("a").has_value());

    store.set_faults({.ambiguous_timeout_per_million = 1000000, .ambiguous_timeout = SimDuration::Seconds(10)});
    const SimTime start = this_actor::Now();
    EXPECT_EQ(store.Put("b", "2").code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_GE(this_actor::Now() - start, SimDuration::Seconds(10));
    EXPECT_EQ(store.Peek("b"), "2");

    store.set_faults({.failed_upload_per_million = 1000000});
    EXPECT_EQ(store.Put("c", "3").code(), absl::StatusCode::kUnavailable);
    EXPECT_FALSE(store.Peek("c").has_value());
  });
}

// Both transient error kinds occur at a 50% rate over many calls.
TEST(ObjectStoreTest, TransientErrorMix) {
  InSimulation(4, [](Simulation& simulation) {
    ObjectStore store(&simulation, "backups", SimDuration::Millis(1), SimDuration::Zero());
    store.set_faults({.transient_error_per_million = 500000});
    int unavailable = 0, throttled = 0, ok = 0;
    for (int i = 0; i < 400; ++i) {
      const absl::StatusCode code = store.List("").status().code();
      unavailable += code == absl::StatusCode::kUnavailable;
      throttled += code == absl::StatusCode::kResourceExhausted;
      ok += code == absl::StatusCode::kOk;
    }
    EXPECT_GT(ok, 150);
    EXPECT_GT(unavailable, 60);
    EXPECT_GT(throttled, 60);
  });
}

}  // namespace
}  // namespace sim
