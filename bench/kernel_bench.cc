// Kernel benchmark: throughput of the scheduler's core paths, and a baseline
// that does the same timer wake-ups with a bare std::priority_queue and raw
// boost::context::fiber resumes, measured in the same run so that the ratio
// is meaningful on a noisy machine. Each figure is the best of several
// alternating repetitions. The last line is kernel_vs_baseline_timer_ratio,
// the worse of the 10-actor and 1,000-actor ratios.
//
// Usage: kernel_bench [--quick]
#include <boost/context/fiber.hpp>
#include <boost/context/fixedsize_stack.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <queue>
#include <string>
#include <vector>

#include "sim/channel.h"
#include "sim/scheduler.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace ctx = boost::context;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The sleep pattern both sides follow: deterministic, spread over ~1 ms.
int64_t SleepNanos(int64_t actor, int64_t iteration) {
  return 1000 + ((actor * 7919 + iteration * 104729) % 997) * 1000;
}

// --- kernel -----------------------------------------------------------------

double KernelTimers(int actors, int total_wakeups) {
  sim::Scheduler scheduler;
  const int iterations = total_wakeups / actors;
  for (int a = 0; a < actors; ++a) {
    scheduler.Spawn(nullptr, "sleeper", [a, iterations] {
      for (int i = 0; i < iterations; ++i) {
        sim::this_actor::SleepFor(sim::SimDuration::Nanos(SleepNanos(a, i)));
      }
    });
  }
  const auto start = Clock::now();
  scheduler.Run();
  return static_cast<double>(actors) * iterations / Seconds(start);
}

double KernelPingPong(int round_trips) {
  sim::Scheduler scheduler;
  sim::Channel<int> ping(1), pong(1);
  scheduler.Spawn(nullptr, "pinger", [&] {
    for (int i = 0; i < round_trips; ++i) {
      (void)ping.Send(i);
      (void)pong.Receive();
    }
  });
  scheduler.Spawn(nullptr, "ponger", [&] {
    for (int i = 0; i < round_trips; ++i) {
      auto value = ping.Receive();
      (void)pong.Send(*value);
    }
  });
  const auto start = Clock::now();
  scheduler.Run();
  return round_trips / Seconds(start);
}

double KernelSpawn(int actors) {
  sim::Scheduler scheduler;
  int finished = 0;
  scheduler.Spawn(nullptr, "spawner", [&] {
    for (int i = 0; i < actors; ++i) {
      scheduler.Spawn(nullptr, "short", [&finished] { ++finished; });
      if (i % 64 == 63) sim::this_actor::Yield();
    }
  });
  const auto start = Clock::now();
  scheduler.Run();
  const double rate = actors / Seconds(start);
  if (finished != actors) std::fprintf(stderr, "spawn benchmark lost actors\n");
  return rate;
}

long ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * 4096;
}

// Resident memory per sleeping actor (stack pages touched + bookkeeping).
long KernelSleepingActorBytes(int actors) {
  sim::Scheduler scheduler;
  const long before = ResidentBytes();
  for (int a = 0; a < actors; ++a) {
    scheduler.Spawn(nullptr, "sleeper", [] { sim::this_actor::SleepFor(sim::SimDuration::Seconds(10)); });
  }
  scheduler.Run({.until = sim::SimTime::Zero() + sim::SimDuration::Seconds(1)});
  const long after = ResidentBytes();
  return (after - before) / actors;
}

// --- baseline: bare priority queue + raw fibers --------------------------------

struct BaselineEvent {
  int64_t time;
  uint64_t seq;
  int fiber;
  bool operator>(const BaselineEvent& o) const {
    return time != o.time ? time > o.time : seq > o.seq;
  }
};

double BaselineTimers(int actors, int total_wakeups) {
  const int iterations = total_wakeups / actors;
  std::priority_queue<BaselineEvent, std::vector<BaselineEvent>, std::greater<>> queue;
  std::vector<ctx::fiber> fibers(actors);
  std::vector<ctx::fiber> mains(actors);
  int64_t now = 0;
  uint64_t seq = 0;
  for (int a = 0; a < actors; ++a) {
    fibers[a] = ctx::fiber(std::allocator_arg, ctx::fixedsize_stack(64 * 1024),
                           [&, a](ctx::fiber&& main) {
                             mains[a] = std::move(main);
                             for (int i = 0; i < iterations; ++i) {
                               queue.push({now + SleepNanos(a, i), seq++, a});
                               mains[a] = std::move(mains[a]).resume();
                             }
                             return std::move(mains[a]);
                           });
    queue.push({0, seq++, a});
  }
  const auto start = Clock::now();
  while (!queue.empty()) {
    const BaselineEvent event = queue.top();
    queue.pop();
    now = event.time;
    fibers[event.fiber] = std::move(fibers[event.fiber]).resume();
  }
  return static_cast<double>(actors) * iterations / Seconds(start);
}

double Best(int repetitions, const std::function<double()>& measure) {
  double best = 0;
  for (int r = 0; r < repetitions; ++r) best = std::max(best, measure());
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int wakeups = quick ? 200000 : 2000000;
  const int repetitions = quick ? 2 : 5;

  // Alternate kernel and baseline so that both see the same machine state.
  double kernel10 = 0, kernel1000 = 0, base10 = 0, base1000 = 0;
  for (int r = 0; r < repetitions; ++r) {
    kernel10 = std::max(kernel10, KernelTimers(10, wakeups));
    base10 = std::max(base10, BaselineTimers(10, wakeups));
    kernel1000 = std::max(kernel1000, KernelTimers(1000, wakeups));
    base1000 = std::max(base1000, BaselineTimers(1000, wakeups));
  }
  const double ping_pong = Best(repetitions, [&] { return KernelPingPong(wakeups / 4); });
  const double spawn = Best(repetitions, [&] { return KernelSpawn(wakeups / 4); });
  const long sleeping_bytes = KernelSleepingActorBytes(10000);

  std::printf("kernel_timer_wakeups_per_second_10_actors=%.0f\n", kernel10);
  std::printf("kernel_timer_wakeups_per_second_1000_actors=%.0f\n", kernel1000);
  std::printf("baseline_timer_wakeups_per_second_10_actors=%.0f\n", base10);
  std::printf("baseline_timer_wakeups_per_second_1000_actors=%.0f\n", base1000);
  std::printf("kernel_channel_round_trips_per_second=%.0f\n", ping_pong);
  std::printf("kernel_spawn_finish_per_second=%.0f\n", spawn);
  std::printf("sleeping_actor_resident_bytes=%ld (target <= 65536)\n", sleeping_bytes);
  std::printf("kernel_vs_baseline_timer_ratio_10_actors=%.3f\n", kernel10 / base10);
  std::printf("kernel_vs_baseline_timer_ratio_1000_actors=%.3f\n", kernel1000 / base1000);
  // The headline is the worse of the two cases.
  std::printf("kernel_vs_baseline_timer_ratio=%.3f\n", std::min(kernel10 / base10, kernel1000 / base1000));
  return 0;
}
