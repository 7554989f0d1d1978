#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sim/channel.h"
#include "sim/future.h"
#include "sim/scheduler.h"

namespace sim {
namespace {

using this_actor::Now;
using this_actor::SleepFor;

// A future waits until its promise is set, and sees the value.
TEST(FutureTest, WaitSeesValue) {
  Scheduler scheduler;
  Promise<int> promise;
  Future<int> future = promise.GetFuture();
  absl::StatusOr<int> got;
  SimTime when;
  scheduler.Spawn(nullptr, "waiter", [&] {
    got = future.Wait();
    when = Now();
  });
  scheduler.Spawn(nullptr, "setter", [&] {
    SleepFor(SimDuration::Millis(250));
    promise.Set(42);
  });
  scheduler.Run();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, 42);
  EXPECT_EQ(when, SimTime::Zero() + SimDuration::Millis(250));
}

// A wait times out with DeadlineExceeded at exactly the deadline.
TEST(FutureTest, WaitTimesOut) {
  Scheduler scheduler;
  Promise<std::string> promise;
  absl::StatusOr<std::string> got;
  SimTime when;
  scheduler.Spawn(nullptr, "waiter", [&] {
    got = promise.GetFuture().Wait(SimDuration::Seconds(1));
    when = Now();
  });
  scheduler.Run();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(when, SimTime::Zero() + SimDuration::Seconds(1));
}

// A promise destroyed unset breaks its future with Cancelled.
TEST(FutureTest, BrokenPromise) {
  Scheduler scheduler;
  auto promise = std::make_unique<Promise<int>>();
  Future<int> future = promise->GetFuture();
  absl::StatusOr<int> got;
  scheduler.Spawn(nullptr, "waiter", [&] { got = future.Wait(); });
  scheduler.ScheduleAfter(SimDuration::Seconds(1), [&] { promise.reset(); });
  scheduler.Run();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kCancelled);
}

// A channel delivers in FIFO order and blocks the sender while full.
TEST(ChannelTest, FifoAndBackpressure) {
  Scheduler scheduler;
  Channel<int> channel(2);
  std::vector<std::string> log;
  scheduler.Spawn(nullptr, "sender", [&] {
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(channel.Send(i).ok());
      log.push_back("sent" + std::to_string(i) + "@" + Now().ToString());
    }
  });
  scheduler.Spawn(nullptr, "receiver", [&] {
    SleepFor(SimDuration::Seconds(1));
    for (int i = 0; i < 5; ++i) {
      absl::StatusOr<int> value = channel.Receive();
      ASSERT_TRUE(value.ok());
      EXPECT_EQ(*value, i);
    }
  });
  scheduler.Run();
  // Two fit at once; the rest wait for the receiver at 1 s.
  EXPECT_EQ(log[0], "sent0@0s");
  EXPECT_EQ(log[1], "sent1@0s");
  EXPECT_EQ(log[2], "sent2@1s");
  EXPECT_EQ(log.size(), 5u);
}

// Receive and Send time out; TrySend reports a full channel; Close drains then cancels.
TEST(ChannelTest, TimeoutsAndClose) {
  Scheduler scheduler;
  Channel<int> channel(1);
  std::vector<absl::StatusCode> codes;
  scheduler.Spawn(nullptr, "a", [&] {
    codes.push_back(channel.Receive(SimDuration::Millis(10)).status().code());
    codes.push_back(channel.Send(1).code());
    codes.push_back(channel.TrySend(2).code());
    codes.push_back(channel.Send(3, SimDuration::Millis(10)).code());
    channel.Close();
    codes.push_back(channel.Receive().status().code());
    codes.push_back(channel.Receive().status().code());
    codes.push_back(channel.Send(4).code());
  });
  scheduler.Run();
  EXPECT_EQ(codes, (std::vector<absl::StatusCode>{
                       absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kOk,
                       absl::StatusCode::kResourceExhausted, absl::StatusCode::kDeadlineExceeded,
                       absl::StatusCode::kOk, absl::StatusCode::kCancelled,
                       absl::StatusCode::kFailedPrecondition}));
}

// A receiver killed while waiting leaves no dangling waiter, and items reach the next one.
TEST(ChannelTest, KilledReceiverStrandsNothing) {
  Scheduler scheduler;
  Channel<int> channel(4);
  int got = -1;
  ActorHandle doomed = scheduler.Spawn(nullptr, "doomed", [&] { (void)channel.Receive(); });
  scheduler.Spawn(nullptr, "survivor", [&] {
    absl::StatusOr<int> value = channel.Receive();
    if (value.ok()) got = *value;
  });
  scheduler.Spawn(nullptr, "sender", [&] {
    SleepFor(SimDuration::Seconds(1));
    doomed.Kill();
    ASSERT_TRUE(channel.Send(7).ok());
  });
  scheduler.Run();
  EXPECT_EQ(doomed.outcome(), ActorOutcome::kKilled);
  EXPECT_EQ(got, 7);
}

}  // namespace
}  // namespace sim
