// The discrete-event scheduler and its actors.
//
// Events are totally ordered by (time, sequence number). An event either
// resumes an actor (a fiber on its own pooled stack) or runs a callback on
// the scheduler's stack. Actors belong to groups (a pod, a container); killing
// an actor or a group unwinds the stacks with ActorKilled, so RAII cleanup
// runs. One scheduler runs on one OS thread; many simulations run as many
// processes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/context/fiber.hpp>

#include "absl/container/btree_map.h"
#include "absl/functional/any_invocable.h"
#include "sim/check.h"
#include "sim/stack_pool.h"
#include "sim/time.h"

namespace sim {

class Scheduler;
class Actor;

// Thrown inside a killed actor at its current (or next) suspension point. It
// deliberately does not derive from std::exception. Actor code must let it
// pass: an actor that returns normally after being killed is a SIM_CHECK
// failure.
class ActorKilled final {};

// A group of actors that live and die together: a pod, a container. Groups
// nest; killing a group kills its descendants. The path ("pod-0/etcd") is the
// name traces use.
class Group {
 public:
  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  Group* parent() const { return parent_; }
  size_t live_actors() const { return live_actors_.size(); }

 private:
  friend class Scheduler;
  std::string name_;
  std::string path_;
  Group* parent_ = nullptr;
  std::vector<Group*> children_;
  // Spawn order; kills walk it in this order, which keeps them deterministic.
  absl::btree_map<uint64_t, Actor*> live_actors_;
};

// An actor blocked on a primitive waits through a Waiter that lives on its
// own stack; the primitive keeps an intrusive FIFO of them. The destructor
// unlinks, so a wait abandoned by a timeout or a kill never leaves a
// dangling node behind.
class WaiterList;
struct Waiter {
  Actor* actor = nullptr;
  Waiter* prev = nullptr;
  Waiter* next = nullptr;
  WaiterList* list = nullptr;
  bool notified = false;
  ~Waiter();
};

class WaiterList {
 public:
  WaiterList() = default;
  WaiterList(const WaiterList&) = delete;
  WaiterList& operator=(const WaiterList&) = delete;
  ~WaiterList();
  bool empty() const { return head_ == nullptr; }
  void PushBack(Waiter* waiter);
  void Remove(Waiter* waiter);
  Waiter* PopFront();

 private:
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
};

enum class ActorOutcome : uint8_t { kRunning, kFinished, kKilled };
const char* ActorOutcomeName(ActorOutcome outcome);

enum class WakeReason : uint8_t { kNotified, kTimeout };

struct SpawnOptions {
  // 0 means the scheduler's default.
  size_t stack_bytes = 0;
};

// A counted reference to an actor, like a joinable thread handle. The actor
// runs whether or not a handle exists.
class ActorHandle {
 public:
  ActorHandle() = default;
  explicit ActorHandle(Actor* actor);
  ActorHandle(const ActorHandle& other);
  ActorHandle(ActorHandle&& other) noexcept;
  ActorHandle& operator=(ActorHandle other) noexcept;
  ~ActorHandle();

  bool valid() const { return actor_ != nullptr; }
  uint64_t id() const;
  const std::string& name() const;
  ActorOutcome outcome() const;
  bool done() const { return outcome() != ActorOutcome::kRunning; }
  // Blocks the calling actor until this one ends or the timeout passes;
  // returns kRunning on timeout.
  ActorOutcome Join(SimDuration timeout = SimDuration::Max());
  void Kill();

 private:
  Actor* actor_ = nullptr;
};

// Notified of kills, so the simulation can trace them without the scheduler
// knowing about traces.
class SchedulerObserver {
 public:
  virtual ~SchedulerObserver() = default;
  virtual void OnGroupKilled(const Group& group, size_t actors) = 0;
  virtual void OnActorKilled(const Actor& actor) = 0;
};

enum class StopReason : uint8_t { kQuiet, kTimeLimit, kEventBudget, kStopped };
const char* StopReasonName(StopReason reason);

struct RunLimits {
  SimTime until = SimTime::Max();
  uint64_t max_events = UINT64_MAX;
};

class Actor {
 public:
  uint64_t id() const { return id_; }
  const std::string& name() const { return name_; }
  Group* group() const { return group_; }
  ActorOutcome outcome() const { return outcome_; }
  bool kill_requested() const { return kill_requested_; }
  size_t stack_bytes() const { return stack_bytes_; }
  Scheduler* scheduler() const { return scheduler_; }
  // True if `address` lies in the guard page below this actor's stack.
  bool InGuardPage(const void* address) const;

 private:
  friend class Scheduler;
  friend class ActorHandle;
  Scheduler* scheduler_ = nullptr;
  uint64_t id_ = 0;
  // Bumped on every resume: events carrying an older value are stale.
  uint64_t wait_generation_ = 0;
  std::string name_;
  Group* group_ = nullptr;
  absl::AnyInvocable<void()> body_;
  boost::context::fiber context_;            // the actor, while suspended
  boost::context::fiber scheduler_context_;  // the scheduler, while running
  StackPool* stack_pool_ = nullptr;
  void* stack_bottom_ = nullptr;
  size_t stack_bytes_ = 0;
  void* asan_fake_stack_ = nullptr;
  WakeReason wake_reason_ = WakeReason::kNotified;
  ActorOutcome outcome_ = ActorOutcome::kRunning;
  bool kill_requested_ = false;
  uint32_t handle_refs_ = 0;
  WaiterList joiners_;
  Actor* next_free_ = nullptr;
};

class Scheduler {
 public:
  struct Options {
    size_t default_stack_bytes;
    Options();
  };
  Scheduler() : Scheduler(Options()) {}
  explicit Scheduler(Options options);
  // Shuts down if that has not happened yet.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  SimTime Now() const { return now_; }
  uint64_t events_dispatched() const { return events_dispatched_; }
  size_t live_actors() const { return live_actor_count_; }
  size_t pending_events() const { return heap_.size(); }
  void set_observer(SchedulerObserver* observer) { observer_ = observer; }

  Group* root_group() { return root_; }
  Group* CreateGroup(std::string_view name, Group* parent = nullptr);

  ActorHandle Spawn(Group* group, std::string_view name, absl::AnyInvocable<void()> body,
                    SpawnOptions options = {});

  // Callbacks run on the scheduler's stack and must not block.
  using TimerId = uint64_t;
  static constexpr TimerId kNoTimer = UINT64_MAX;
  TimerId ScheduleAt(SimTime at, absl::AnyInvocable<void()> callback);
  TimerId ScheduleAfter(SimDuration delay, absl::AnyInvocable<void()> callback) {
    return ScheduleAt(now_ + delay, std::move(callback));
  }
  // Returns false if the timer already fired or was cancelled.
  bool Cancel(TimerId id);

  void Kill(Actor* actor);
  // Kills every live actor of the group and its descendants, in spawn order.
  void KillGroup(Group* group);
  // Actors alive in `group` and the groups under it (a killed actor stays
  // alive until it has unwound).
  size_t LiveActorsUnder(Group* group);

  StopReason Run(RunLimits limits = {});
  // Kills and unwinds every actor still alive, directly and in id order, so
  // their destructors run; no events are dispatched and none is observed.
  // Nothing can be spawned afterwards.
  void Shutdown();
  // Makes Run return after the current event.
  void Stop() { stop_requested_ = true; }

  // --- used by actors and wait primitives -------------------------------
  Actor* current() const { return current_; }
  // Suspends the current actor until Wake() or the deadline. Throws
  // ActorKilled if the actor is (or gets) killed.
  WakeReason Block(SimTime deadline);
  // Makes a blocked actor runnable at the current time (FIFO among equals).
  void Wake(Actor* actor);
  void YieldCurrent();
  void CheckNotKilled();

  static Scheduler* Running() { return running_; }

  // Who is running now, as traces and reports name it: the actor's group
  // path and name, or "world" and "-" on the scheduler's own stack.
  struct Place {
    std::string group;
    std::string actor;
  };
  Place CurrentPlace() const;

 private:
  struct Event {
    int64_t time;
    uint64_t seq;
    Actor* actor;  // nullptr: a callback
    // Actors: wait generation << 1 | is_timeout. Callbacks: slot << 32 | slot generation.
    uint64_t token;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.time != b.time ? a.time > b.time : a.seq > b.seq;
    }
  };
  struct CallbackSlot {
    absl::AnyInvocable<void()> callback;
    uint32_t generation = 0;
    bool armed = false;
  };

  void Push(SimTime at, Actor* actor, uint64_t token);
  void Resume(Actor* actor);
  void SwitchToScheduler(Actor* actor);
  void FinishActor(Actor* actor, ActorOutcome outcome);
  void MaybeRecycle(Actor* actor);
  void RequestKill(Actor* actor);
  void CollectGroup(Group* group, std::vector<Actor*>* out);
  StackPool* PoolFor(size_t stack_bytes);
  static void ActorMain(Actor* actor);

  friend class ActorHandle;

  Options options_;
  SimTime now_;
  uint64_t next_seq_ = 0;
  uint64_t next_actor_id_ = 1;
  uint64_t events_dispatched_ = 0;
  size_t live_actor_count_ = 0;
  bool stop_requested_ = false;
  bool shutting_down_ = false;
  bool shut_down_ = false;
  std::vector<Event> heap_;
  std::vector<CallbackSlot> callbacks_;
  std::vector<uint32_t> free_callback_slots_;
  std::vector<std::unique_ptr<Group>> groups_;
  Group* root_ = nullptr;
  std::vector<std::unique_ptr<Actor>> actors_;  // owns every actor slot
  Actor* free_actors_ = nullptr;
  absl::btree_map<size_t, std::unique_ptr<StackPool>> stack_pools_;
  Actor* current_ = nullptr;
  SchedulerObserver* observer_ = nullptr;
  // Where the scheduler's own stack lies, learned on the first switch (ASan).
  const void* main_stack_bottom_ = nullptr;
  size_t main_stack_bytes_ = 0;

  static Scheduler* running_;
};

// Blocks the calling actor on `list` until notified or the deadline passes.
// Returns true if it was notified (a notification at the deadline wins).
bool WaitOn(WaiterList& list, SimTime deadline);
// Wakes the first waiter / all waiters of `list`, in FIFO order.
void NotifyOne(WaiterList& list);
void NotifyAll(WaiterList& list);

// The calling actor's view, as in SimGrid's this_actor.
namespace this_actor {
Actor& Self();
SimTime Now();
void SleepFor(SimDuration duration);
void SleepUntil(SimTime deadline);
void Yield();
}  // namespace this_actor

}  // namespace sim
