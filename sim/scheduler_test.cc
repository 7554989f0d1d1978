#include "sim/scheduler.h"

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sim/stack_pool.h"

#ifdef ETCD_DST_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace sim {
namespace {

using this_actor::Now;
using this_actor::SleepFor;

// Actors wake at exactly the simulated times they asked for, in time order.
TEST(SchedulerTest, SleepersWakeInTimeOrder) {
  Scheduler scheduler;
  std::vector<std::string> log;
  for (int delay : {30, 10, 20}) {
    scheduler.Spawn(nullptr, "sleeper", [&, delay] {
      SleepFor(SimDuration::Millis(delay));
      log.push_back(std::to_string(delay) + "@" + Now().ToString());
    });
  }
  EXPECT_EQ(scheduler.Run(), StopReason::kQuiet);
  EXPECT_EQ(log, (std::vector<std::string>{"10@0.010s", "20@0.020s", "30@0.030s"}));
  EXPECT_EQ(scheduler.Now(), SimTime::Zero() + SimDuration::Millis(30));
  EXPECT_EQ(scheduler.live_actors(), 0u);
}

// Events at the same time run in the order they were scheduled (sequence numbers).
TEST(SchedulerTest, SameTimeIsFifo) {
  Scheduler scheduler;
  std::string order;
  for (char c : std::string("abcde")) {
    scheduler.Spawn(nullptr, std::string(1, c), [&, c] {
      order.push_back(c);
      this_actor::Yield();
      order.push_back(static_cast<char>(c - 'a' + 'A'));
    });
  }
  scheduler.Run();
  EXPECT_EQ(order, "abcdeABCDE");
}

// Callbacks run at their time; a cancelled one never runs.
TEST(SchedulerTest, CallbacksAndCancel) {
  Scheduler scheduler;
  std::vector<int> fired;
  scheduler.ScheduleAfter(SimDuration::Seconds(2), [&] { fired.push_back(2); });
  const auto cancelled = scheduler.ScheduleAfter(SimDuration::Seconds(1), [&] { fired.push_back(1); });
  scheduler.ScheduleAfter(SimDuration::Seconds(3), [&] { fired.push_back(3); });
  EXPECT_TRUE(scheduler.Cancel(cancelled));
  EXPECT_FALSE(scheduler.Cancel(cancelled));
  scheduler.Run();
  EXPECT_EQ(fired, (std::vector<int>{2, 3}));
  EXPECT_EQ(scheduler.events_dispatched(), 2u);
}

// Run stops at a time limit (advancing the clock to it), at an event budget, and on Stop().
TEST(SchedulerTest, RunLimits) {
  Scheduler scheduler;
  int ticks = 0;
  scheduler.Spawn(nullptr, "ticker", [&] {
    for (int i = 0; i < 100; ++i) {
      SleepFor(SimDuration::Seconds(1));
      ++ticks;
      if (ticks == 50) scheduler.Stop();
    }
  });
  EXPECT_EQ(scheduler.Run({.until = SimTime::Zero() + SimDuration::Millis(10500)}),
            StopReason::kTimeLimit);
  EXPECT_EQ(ticks, 10);
  EXPECT_EQ(scheduler.Now(), SimTime::Zero() + SimDuration::Millis(10500));
  EXPECT_EQ(scheduler.Run({.max_events = 5}), StopReason::kEventBudget);
  EXPECT_EQ(ticks, 15);
  EXPECT_EQ(scheduler.Run(), StopReason::kStopped);
  EXPECT_EQ(ticks, 50);
  EXPECT_EQ(scheduler.Run(), StopReason::kQuiet);
  EXPECT_EQ(ticks, 100);
}

struct Guard {
  int* destroyed;
  ~Guard() { ++*destroyed; }
};

// Killing a sleeping actor unwinds its stack: destructors run, and joiners see kKilled.
TEST(SchedulerTest, KillUnwindsWithRaii) {
  Scheduler scheduler;
  int destroyed = 0;
  bool after_sleep = false;
  ActorHandle victim = scheduler.Spawn(nullptr, "victim", [&] {
    Guard guard{&destroyed};
    SleepFor(SimDuration::Seconds(100));
    after_sleep = true;
  });
  ActorOutcome seen = ActorOutcome::kRunning;
  scheduler.Spawn(nullptr, "killer", [&] {
    SleepFor(SimDuration::Seconds(1));
    victim.Kill();
    seen = victim.Join();
  });
  scheduler.Run();
  EXPECT_EQ(destroyed, 1);
  EXPECT_FALSE(after_sleep);
  EXPECT_EQ(seen, ActorOutcome::kKilled);
  EXPECT_EQ(victim.outcome(), ActorOutcome::kKilled);
  // The victim's 100 s timer is stale and does not keep the clock running.
  EXPECT_EQ(scheduler.Now(), SimTime::Zero() + SimDuration::Seconds(1));
}

// Killing a group kills its nested groups too, and only them.
TEST(SchedulerTest, KillGroupIsRecursive) {
  Scheduler scheduler;
  Group* pod = scheduler.CreateGroup("pod-0");
  Group* etcd = scheduler.CreateGroup("etcd", pod);
  Group* other = scheduler.CreateGroup("pod-1");
  EXPECT_EQ(etcd->path(), "pod-0/etcd");
  int destroyed = 0;
  auto body = [&] {
    Guard guard{&destroyed};
    SleepFor(SimDuration::Seconds(100));
  };
  ActorHandle a = scheduler.Spawn(pod, "a", body);
  ActorHandle b = scheduler.Spawn(etcd, "b", body);
  ActorHandle c = scheduler.Spawn(other, "c", body);
  scheduler.ScheduleAfter(SimDuration::Seconds(1), [&] { scheduler.KillGroup(pod); });
  scheduler.Run({.until = SimTime::Zero() + SimDuration::Seconds(2)});
  EXPECT_EQ(destroyed, 2);
  EXPECT_EQ(a.outcome(), ActorOutcome::kKilled);
  EXPECT_EQ(b.outcome(), ActorOutcome::kKilled);
  EXPECT_EQ(c.outcome(), ActorOutcome::kRunning);
  EXPECT_EQ(pod->live_actors() + etcd->live_actors(), 0u);
}

// An actor that kills its own group dies at once, after its peers were marked.
TEST(SchedulerTest, KillOwnGroup) {
  Scheduler scheduler;
  Group* pod = scheduler.CreateGroup("pod");
  bool reached = false;
  ActorHandle peer = scheduler.Spawn(pod, "peer", [] { SleepFor(SimDuration::Seconds(10)); });
  ActorHandle self = scheduler.Spawn(pod, "self", [&] {
    SleepFor(SimDuration::Seconds(1));
    scheduler.KillGroup(pod);
    reached = true;
  });
  scheduler.Run();
  EXPECT_FALSE(reached);
  EXPECT_EQ(self.outcome(), ActorOutcome::kKilled);
  EXPECT_EQ(peer.outcome(), ActorOutcome::kKilled);
}

// An actor killed before it first runs never runs its body.
TEST(SchedulerTest, KillBeforeStart) {
  Scheduler scheduler;
  bool ran = false;
  ActorHandle handle = scheduler.Spawn(nullptr, "never", [&] { ran = true; });
  handle.Kill();
  scheduler.Run();
  EXPECT_FALSE(ran);
  EXPECT_EQ(handle.outcome(), ActorOutcome::kKilled);
}

// Join with a timeout returns kRunning when the actor outlives the timeout.
TEST(SchedulerTest, JoinTimeout) {
  Scheduler scheduler;
  ActorHandle slow = scheduler.Spawn(nullptr, "slow", [] { SleepFor(SimDuration::Seconds(5)); });
  std::vector<ActorOutcome> seen;
  scheduler.Spawn(nullptr, "joiner", [&] {
    seen.push_back(slow.Join(SimDuration::Seconds(1)));
    seen.push_back(slow.Join());
  });
  scheduler.Run();
  EXPECT_EQ(seen, (std::vector<ActorOutcome>{ActorOutcome::kRunning, ActorOutcome::kFinished}));
}

// Shutting down unwinds actors that are still blocked, running their destructors.
TEST(SchedulerTest, ShutdownUnwindsLiveActors) {
  int destroyed = 0;
  {
    Scheduler scheduler;
    for (int i = 0; i < 3; ++i) {
      scheduler.Spawn(nullptr, "forever", [&] {
        Guard guard{&destroyed};
        SleepFor(SimDuration::Max());
      });
    }
    scheduler.Spawn(nullptr, "unstarted-is-fine-too", [&] { Guard guard{&destroyed}; });
    scheduler.Run({.max_events = 3});
    EXPECT_EQ(scheduler.live_actors(), 4u);
  }
  EXPECT_EQ(destroyed, 3);
}

// After shutdown, what destructors schedule is dropped, and timer slots stay consistent.
TEST(SchedulerTest, ScheduleAfterShutdownIsDropped) {
  Scheduler scheduler;
  bool ran = false;
  scheduler.ScheduleAfter(SimDuration::Seconds(1), [] {});
  const auto cancelled = scheduler.ScheduleAfter(SimDuration::Seconds(2), [] {});
  EXPECT_TRUE(scheduler.Cancel(cancelled));
  scheduler.Shutdown();
  EXPECT_EQ(scheduler.ScheduleAfter(SimDuration::Seconds(1), [&ran] { ran = true; }), Scheduler::kNoTimer);
  EXPECT_EQ(scheduler.Run(), StopReason::kQuiet);
  EXPECT_FALSE(ran);
}

// Finished actors' slots and stacks are reused: many short actors stay cheap.
TEST(SchedulerTest, ManyShortActors) {
  Scheduler scheduler;
  int finished = 0;
  scheduler.Spawn(nullptr, "spawner", [&] {
    for (int i = 0; i < 10000; ++i) {
      scheduler.Spawn(nullptr, "short", [&] { ++finished; });
      if (i % 100 == 0) this_actor::Yield();
    }
  });
  scheduler.Run();
  EXPECT_EQ(finished, 10000);
  EXPECT_EQ(scheduler.live_actors(), 0u);
}

// A deep recursion within the default stack works (64 KiB holds real code).
TEST(SchedulerTest, ModerateRecursionFits) {
  Scheduler scheduler;
  std::function<int(int)> depth = [&](int n) -> int {
    volatile char pad[256];
    pad[0] = static_cast<char>(n);
    return n == 0 ? pad[0] : depth(n - 1) + 1;
  };
  int result = -1;
  scheduler.Spawn(nullptr, "deep", [&] { result = depth(100); });
  scheduler.Run();
  EXPECT_EQ(result, 100);
}

// A stack handed out again carries no ASan poison from the frames that were
// live when its previous fiber ended: a stale redzone there made ASan report
// a bogus stack access (and then fail its own CHECK) in the corpus replay.
TEST(StackPoolTest, ReusedStackCarriesNoStalePoison) {
#ifndef ETCD_DST_ASAN
  GTEST_SKIP() << "ASan's shadow memory exists only in the sanitizer build";
#else
  StackPool pool(64 * 1024);
  boost::context::stack_context first = pool.Allocate();
  char* top = static_cast<char*>(first.sp);
  // What a dead frame's redzones look like in the shadow.
  ASAN_POISON_MEMORY_REGION(top - 4096, 64);
  ASSERT_TRUE(__asan_address_is_poisoned(top - 4096));
  pool.Release(first);
  boost::context::stack_context second = pool.Allocate();
  ASSERT_EQ(second.sp, first.sp);  // the same mapping, recycled
  EXPECT_EQ(__asan_region_is_poisoned(static_cast<char*>(second.sp) - second.size, second.size), nullptr);
  pool.Release(second);
#endif
}

// An actor that catches and swallows its kill is an internal failure (exit 3).
TEST(SchedulerDeathTest, SwallowedKillIsFatal) {
  EXPECT_EXIT(
      {
        Scheduler scheduler;
        ActorHandle rude = scheduler.Spawn(nullptr, "rude", [] {
          try {
            SleepFor(SimDuration::Seconds(10));
          } catch (...) {
          }
        });
        scheduler.ScheduleAfter(SimDuration::Seconds(1), [&] { rude.Kill(); });
        scheduler.Run();
      },
      testing::ExitedWithCode(3), "swallowed ActorKilled");
}

// An uncaught exception in actor code is an internal failure (exit 3), named.
TEST(SchedulerDeathTest, UncaughtExceptionIsFatal) {
  EXPECT_EXIT(
      {
        Scheduler scheduler;
        scheduler.Spawn(nullptr, "thrower", [] { throw std::runtime_error("boom"); });
        scheduler.Run();
      },
      testing::ExitedWithCode(3), "uncaught exception in actor thrower.*boom");
}

#ifndef ETCD_DST_ASAN
int Recurse(int n) {
  volatile char pad[1024];
  pad[0] = static_cast<char>(n);
  return n == 0 ? pad[0] : Recurse(n - 1) + pad[0];
}

// Overflowing an actor's stack hits its guard page and is reported as such (exit 3).
TEST(SchedulerDeathTest, StackOverflowIsReported) {
  EXPECT_EXIT(
      {
        Scheduler scheduler;
        Group* pod = scheduler.CreateGroup("pod-0");
        int result = 0;
        scheduler.Spawn(pod, "deep", [&] { result = Recurse(1000); });
        scheduler.Run();
        std::printf("%d\n", result);
      },
      testing::ExitedWithCode(3), "stack overflow in actor deep of group pod-0: its 65536-byte stack");
}
#endif

}  // namespace
}  // namespace sim
