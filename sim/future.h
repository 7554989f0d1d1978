// One-shot Promise/Future between actors. A future waits with a timeout; a
// promise destroyed without a value breaks its future (Cancelled), as in
// FoundationDB's flow.
#pragma once

#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sim/scheduler.h"

namespace sim {

template <typename T>
class Future;

namespace internal {
template <typename T>
struct FutureState {
  std::optional<absl::StatusOr<T>> result;
  WaiterList waiters;
};
}  // namespace internal

template <typename T>
class Promise {
 public:
  Promise() : state_(std::make_shared<internal::FutureState<T>>()) {}
  Promise(Promise&&) noexcept = default;
  Promise& operator=(Promise&& other) noexcept {
    Break();
    state_ = std::move(other.state_);
    return *this;
  }
  Promise(const Promise&) = delete;
  Promise& operator=(const Promise&) = delete;
  ~Promise() { Break(); }

  Future<T> GetFuture() const { return Future<T>(state_); }
  bool fulfilled() const { return state_ != nullptr && state_->result.has_value(); }

  // Each promise is fulfilled at most once; later calls are a SIM_CHECK.
  void Set(T value) { Fulfill(absl::StatusOr<T>(std::move(value))); }
  void SetError(absl::Status error) {
    SIM_CHECK(!error.ok(), "SetError with an OK status");
    Fulfill(absl::StatusOr<T>(std::move(error)));
  }

 private:
  void Fulfill(absl::StatusOr<T> result) {
    SIM_CHECK(state_ != nullptr, "promise used after move");
    SIM_CHECK(!state_->result.has_value(), "promise fulfilled twice");
    state_->result.emplace(std::move(result));
    NotifyAll(state_->waiters);
  }
  void Break() {
    if (state_ != nullptr && !state_->result.has_value()) {
      state_->result.emplace(absl::CancelledError("broken promise"));
      if (!state_->waiters.empty()) NotifyAll(state_->waiters);
    }
  }
  std::shared_ptr<internal::FutureState<T>> state_;
};

template <typename T>
class Future {
 public:
  Future() = default;
  bool valid() const { return state_ != nullptr; }
  bool ready() const { return state_ != nullptr && state_->result.has_value(); }

  // Waits for the value; DeadlineExceeded if the timeout passes first.
  absl::StatusOr<T> Wait(SimDuration timeout = SimDuration::Max()) const {
    SIM_CHECK(state_ != nullptr, "Wait on an empty future");
    if (!state_->result.has_value()) {
      const SimTime deadline = Scheduler::Running()->Now() + timeout;
      while (!state_->result.has_value()) {
        if (!WaitOn(state_->waiters, deadline) && !state_->result.has_value()) {
          return absl::DeadlineExceededError("future not ready before the deadline");
        }
      }
    }
    return *state_->result;
  }

 private:
  friend class Promise<T>;
  explicit Future(std::shared_ptr<internal::FutureState<T>> state) : state_(std::move(state)) {}
  std::shared_ptr<internal::FutureState<T>> state_;
};

}  // namespace sim
