// A bounded FIFO channel (an actor's mailbox). Senders block while it is
// full, receivers while it is empty, each with a timeout. Callbacks, which
// must not block, use TrySend/TryReceive.
#pragma once

#include <deque>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sim/scheduler.h"

namespace sim {

template <typename T>
class Channel {
 public:
  explicit Channel(size_t capacity) : capacity_(capacity) {
    SIM_CHECK(capacity > 0, "a channel needs capacity > 0");
  }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  size_t size() const { return items_.size(); }
  size_t capacity() const { return capacity_; }
  bool closed() const { return closed_; }

  // Blocks while full. DeadlineExceeded on timeout, FailedPrecondition once closed.
  absl::Status Send(T value, SimDuration timeout = SimDuration::Max()) {
    const SimTime deadline = Scheduler::Running()->Now() + timeout;
    while (!closed_ && items_.size() >= capacity_) {
      if (!WaitOn(senders_, deadline) && !closed_ && items_.size() >= capacity_) {
        return absl::DeadlineExceededError("channel full until the deadline");
      }
    }
    return Push(std::move(value));
  }

  // ResourceExhausted when full, FailedPrecondition once closed.
  absl::Status TrySend(T value) {
    if (!closed_ && items_.size() >= capacity_) return absl::ResourceExhaustedError("channel full");
    return Push(std::move(value));
  }

  // Blocks while empty. DeadlineExceeded on timeout; Cancelled once closed
  // and drained.
  absl::StatusOr<T> Receive(SimDuration timeout = SimDuration::Max()) {
    const SimTime deadline = Scheduler::Running()->Now() + timeout;
    while (items_.empty() && !closed_) {
      if (!WaitOn(receivers_, deadline) && items_.empty() && !closed_) {
        return absl::DeadlineExceededError("channel empty until the deadline");
      }
    }
    if (items_.empty()) return absl::CancelledError("channel closed");
    return Pop();
  }

  std::optional<T> TryReceive() {
    if (items_.empty()) return std::nullopt;
    return Pop();
  }

  // Wakes everyone; queued items can still be received.
  void Close() {
    closed_ = true;
    NotifyAll(receivers_);
    NotifyAll(senders_);
  }

 private:
  absl::Status Push(T value) {
    if (closed_) return absl::FailedPreconditionError("channel closed");
    items_.push_back(std::move(value));
    // Every waiter re-checks the queue, so a receiver that is killed after
    // its wake-up cannot strand an item.
    NotifyAll(receivers_);
    return absl::OkStatus();
  }
  T Pop() {
    T value = std::move(items_.front());
    items_.pop_front();
    NotifyAll(senders_);
    return value;
  }

  size_t capacity_;
  bool closed_ = false;
  std::deque<T> items_;
  WaiterList receivers_;
  WaiterList senders_;
};

}  // namespace sim
