#include "sim/scheduler.h"

#include <algorithm>
#include <exception>
#include <typeinfo>
#include <utility>

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <boost/context/preallocated.hpp>

#ifdef ETCD_DST_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace sim {

Scheduler* Scheduler::running_ = nullptr;

// ---------------------------------------------------------------- waiters

Waiter::~Waiter() {
  if (list != nullptr) list->Remove(this);
}

WaiterList::~WaiterList() {
  while (PopFront() != nullptr) {
  }
}

// Waiters live on their actor's stack by design; the destructor unlinks them
// before the frame dies. GCC cannot see that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
void WaiterList::PushBack(Waiter* waiter) {
  SIM_CHECK(waiter->list == nullptr, "waiter already queued");
  waiter->list = this;
  waiter->prev = tail_;
  waiter->next = nullptr;
  if (tail_ != nullptr) {
    tail_->next = waiter;
  } else {
    head_ = waiter;
  }
  tail_ = waiter;
}

#pragma GCC diagnostic pop

void WaiterList::Remove(Waiter* waiter) {
  SIM_CHECK(waiter->list == this, "waiter removed from a list it is not on");
  if (waiter->prev != nullptr) {
    waiter->prev->next = waiter->next;
  } else {
    head_ = waiter->next;
  }
  if (waiter->next != nullptr) {
    waiter->next->prev = waiter->prev;
  } else {
    tail_ = waiter->prev;
  }
  waiter->prev = waiter->next = nullptr;
  waiter->list = nullptr;
}

Waiter* WaiterList::PopFront() {
  Waiter* waiter = head_;
  if (waiter != nullptr) Remove(waiter);
  return waiter;
}

// ---------------------------------------------------------------- names

const char* ActorOutcomeName(ActorOutcome outcome) {
  switch (outcome) {
    case ActorOutcome::kRunning: return "running";
    case ActorOutcome::kFinished: return "finished";
    case ActorOutcome::kKilled: return "killed";
  }
  return "?";
}

const char* StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kQuiet: return "quiet";
    case StopReason::kTimeLimit: return "time_limit";
    case StopReason::kEventBudget: return "event_budget";
    case StopReason::kStopped: return "stopped";
  }
  return "?";
}

// ---------------------------------------------------------------- handles

ActorHandle::ActorHandle(Actor* actor) : actor_(actor) {
  if (actor_ != nullptr) ++actor_->handle_refs_;
}
ActorHandle::ActorHandle(const ActorHandle& other) : ActorHandle(other.actor_) {}
ActorHandle::ActorHandle(ActorHandle&& other) noexcept : actor_(std::exchange(other.actor_, nullptr)) {}
ActorHandle& ActorHandle::operator=(ActorHandle other) noexcept {
  std::swap(actor_, other.actor_);
  return *this;
}
ActorHandle::~ActorHandle() {
  if (actor_ == nullptr) return;
  SIM_CHECK(actor_->handle_refs_ > 0, "actor handle count underflow");
  if (--actor_->handle_refs_ == 0) actor_->scheduler_->MaybeRecycle(actor_);
}
uint64_t ActorHandle::id() const { return actor_->id_; }
const std::string& ActorHandle::name() const { return actor_->name_; }
ActorOutcome ActorHandle::outcome() const { return actor_->outcome_; }

ActorOutcome ActorHandle::Join(SimDuration timeout) {
  SIM_CHECK(actor_ != nullptr, "Join on an empty handle");
  if (actor_->outcome_ != ActorOutcome::kRunning) return actor_->outcome_;
  Scheduler* scheduler = actor_->scheduler_;
  SIM_CHECK(scheduler->current() != actor_, "actor {} joins itself", actor_->name_);
  Waiter waiter;
  waiter.actor = scheduler->current();
  SIM_CHECK(waiter.actor != nullptr, "Join outside an actor");
  actor_->joiners_.PushBack(&waiter);
  const SimTime deadline = scheduler->Now() + timeout;
  while (!waiter.notified) {
    if (scheduler->Block(deadline) == WakeReason::kTimeout) break;
  }
  return actor_->outcome_;
}

void ActorHandle::Kill() {
  SIM_CHECK(actor_ != nullptr, "Kill on an empty handle");
  actor_->scheduler_->Kill(actor_);
}

// ---------------------------------------------------------------- scheduler

Scheduler::Options::Options() {
#ifdef ETCD_DST_ASAN
  // ASan's redzones make frames several times larger.
  default_stack_bytes = 512 * 1024;
#else
  default_stack_bytes = 64 * 1024;
#endif
}

// A fault in an actor's guard page is a stack overflow: say so, with the
// simulation's context, and exit 3 like a failed SIM_CHECK. Runs on its own
// signal stack, since the faulting one is full. Under ASan, ASan's own
// handler reports it instead.
namespace {
#ifndef ETCD_DST_ASAN
void OnSegv(int signal_number, siginfo_t* info, void*) {
  const Scheduler* scheduler = Scheduler::Running();
  const Actor* actor = scheduler != nullptr ? scheduler->current() : nullptr;
  if (actor != nullptr && actor->InGuardPage(info->si_addr)) {
    std::fprintf(stderr,
                 "stack overflow in actor %s of group %s: its %zu-byte stack is full "
                 "(raise SpawnOptions.stack_bytes)\n",
                 actor->name().c_str(), actor->group()->path().c_str(), actor->stack_bytes());
    if (CheckContext* context = GetCheckContext()) context->DescribeFailure("stack overflow");
    std::fflush(stderr);
    std::_Exit(kInternalFailureExitCode);
  }
  // Not ours: die of the signal as we would have without the handler.
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

void InstallStackOverflowHandler() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  static char alternate_stack[64 * 1024];
  stack_t stack = {};
  stack.ss_sp = alternate_stack;
  stack.ss_size = sizeof(alternate_stack);
  sigaltstack(&stack, nullptr);
  struct sigaction action = {};
  action.sa_sigaction = OnSegv;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  sigaction(SIGSEGV, &action, nullptr);
  sigaction(SIGBUS, &action, nullptr);
}
#else
void InstallStackOverflowHandler() {}
#endif
}  // namespace

bool Actor::InGuardPage(const void* address) const {
  const char* bottom = static_cast<const char*>(stack_bottom_);
  const char* at = static_cast<const char*>(address);
  const long page = sysconf(_SC_PAGESIZE);
  return bottom != nullptr && at < bottom && at >= bottom - page;
}

Scheduler::Scheduler(Options options) : options_(options) {
  InstallStackOverflowHandler();
  auto root = std::make_unique<Group>();
  root->name_ = "world";
  root->path_ = "world";
  root_ = root.get();
  groups_.push_back(std::move(root));
}

Scheduler::~Scheduler() { Shutdown(); }

void Scheduler::Shutdown() {
  if (shutting_down_) return;
  SIM_CHECK(current_ == nullptr, "Shutdown from inside an actor");
  shutting_down_ = true;
  observer_ = nullptr;
  Scheduler* previous = std::exchange(running_, this);
  // Unwind every actor still alive, in id order, directly (no events).
  std::vector<Actor*> alive;
  CollectGroup(root_, &alive);
  for (Actor* actor : alive) actor->kill_requested_ = true;
  for (Actor* actor : alive) {
    for (int attempt = 0; actor->outcome_ == ActorOutcome::kRunning; ++attempt) {
      SIM_CHECK(attempt < 3, "actor {} does not die when killed", actor->name_);
      ++actor->wait_generation_;
      Resume(actor);
    }
  }
  heap_.clear();
  callbacks_.clear();
  free_callback_slots_.clear();
  shut_down_ = true;
  running_ = previous;
}

Group* Scheduler::CreateGroup(std::string_view name, Group* parent) {
  if (parent == nullptr) parent = root_;
  auto group = std::make_unique<Group>();
  group->name_ = std::string(name);
  group->path_ = parent == root_ ? std::string(name) : parent->path_ + "/" + std::string(name);
  group->parent_ = parent;
  Group* raw = group.get();
  parent->children_.push_back(raw);
  groups_.push_back(std::move(group));
  return raw;
}

StackPool* Scheduler::PoolFor(size_t stack_bytes) {
  auto& pool = stack_pools_[stack_bytes];
  if (pool == nullptr) pool = std::make_unique<StackPool>(stack_bytes);
  return pool.get();
}

ActorHandle Scheduler::Spawn(Group* group, std::string_view name, absl::AnyInvocable<void()> body,
                             SpawnOptions options) {
  SIM_CHECK(!shutting_down_, "spawn during shutdown");
  if (group == nullptr) group = root_;
  Actor* actor = free_actors_;
  if (actor != nullptr) {
    free_actors_ = actor->next_free_;
    actor->next_free_ = nullptr;
  } else {
    actors_.push_back(std::make_unique<Actor>());
    actor = actors_.back().get();
    actor->scheduler_ = this;
  }
  actor->id_ = next_actor_id_++;
  actor->name_.assign(name);
  actor->group_ = group;
  actor->body_ = std::move(body);
  actor->outcome_ = ActorOutcome::kRunning;
  actor->kill_requested_ = false;
  actor->stack_pool_ = PoolFor(options.stack_bytes != 0 ? options.stack_bytes
                                                        : options_.default_stack_bytes);
  boost::context::stack_context stack = actor->stack_pool_->Allocate();
  actor->stack_bottom_ = static_cast<char*>(stack.sp) - stack.size;
  actor->stack_bytes_ = stack.size;
  actor->context_ = boost::context::fiber(
      std::allocator_arg, boost::context::preallocated(stack.sp, stack.size, stack),
      PooledStackAllocator{actor->stack_pool_},
      [actor](boost::context::fiber&& scheduler) -> boost::context::fiber {
        actor->scheduler_context_ = std::move(scheduler);
        ActorMain(actor);
        return std::move(actor->scheduler_context_);
      });
  group->live_actors_.emplace(actor->id_, actor);
  ++live_actor_count_;
  Push(now_, actor, actor->wait_generation_ << 1);
  return ActorHandle(actor);
}

void Scheduler::ActorMain(Actor* actor) {
  Scheduler* self = actor->scheduler_;
#ifdef ETCD_DST_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &self->main_stack_bottom_, &self->main_stack_bytes_);
#endif
  ActorOutcome outcome = ActorOutcome::kFinished;
  try {
    // Killed before it ever ran: the body never starts.
    if (actor->kill_requested_) throw ActorKilled();
    actor->body_();
    SIM_CHECK(!actor->kill_requested_,
              "actor {} in group {} returned normally after it was killed: it swallowed "
              "ActorKilled", actor->name_, actor->group_->path());
  } catch (const ActorKilled&) {
    outcome = ActorOutcome::kKilled;
  } catch (const std::exception& error) {
    SIM_UNREACHABLE("uncaught exception in actor {} of group {}: {}: {}", actor->name_,
                    actor->group_->path(), typeid(error).name(), error.what());
  } catch (...) {
    SIM_UNREACHABLE("uncaught non-standard exception in actor {} of group {}", actor->name_,
                    actor->group_->path());
  }
  // The body's captures die on the actor's own stack, inside its group.
  actor->body_ = nullptr;
  self->FinishActor(actor, outcome);
#ifdef ETCD_DST_ASAN
  // nullptr: this stack is about to be released. (ASan's
  // detect_stack_use_after_return cannot work here: Boost's fiber_entry and
  // our lambda get their frames before the first finish_switch below, from
  // the scheduler's fake stack. CI runs ASan without it.)
  __sanitizer_start_switch_fiber(nullptr, self->main_stack_bottom_, self->main_stack_bytes_);
#endif
}

void Scheduler::FinishActor(Actor* actor, ActorOutcome outcome) {
  actor->outcome_ = outcome;
  actor->group_->live_actors_.erase(actor->id_);
  --live_actor_count_;
  while (Waiter* joiner = actor->joiners_.PopFront()) {
    joiner->notified = true;
    if (!shutting_down_) Wake(joiner->actor);
  }
}

void Scheduler::MaybeRecycle(Actor* actor) {
  if (actor->outcome_ == ActorOutcome::kRunning || actor->handle_refs_ != 0 || actor->context_) {
    return;
  }
  actor->next_free_ = free_actors_;
  free_actors_ = actor;
}

void Scheduler::Resume(Actor* actor) {
  SIM_CHECK(current_ == nullptr, "nested resume of {}", actor->name_);
  current_ = actor;
#ifdef ETCD_DST_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, actor->stack_bottom_, actor->stack_bytes_);
#endif
  actor->context_ = std::move(actor->context_).resume();
#ifdef ETCD_DST_ASAN
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
  current_ = nullptr;
  if (actor->outcome_ != ActorOutcome::kRunning) {
    SIM_CHECK(!actor->context_, "finished actor {} still has a fiber", actor->name_);
    MaybeRecycle(actor);
  }
}

void Scheduler::SwitchToScheduler(Actor* actor) {
#ifdef ETCD_DST_ASAN
  __sanitizer_start_switch_fiber(&actor->asan_fake_stack_, main_stack_bottom_, main_stack_bytes_);
#endif
  actor->scheduler_context_ = std::move(actor->scheduler_context_).resume();
#ifdef ETCD_DST_ASAN
  __sanitizer_finish_switch_fiber(actor->asan_fake_stack_, &main_stack_bottom_, &main_stack_bytes_);
#endif
}

void Scheduler::Push(SimTime at, Actor* actor, uint64_t token) {
  SIM_CHECK(at >= now_, "event scheduled in the past: {} < {}", at.ToString(), now_.ToString());
  heap_.push_back(Event{at.nanos(), next_seq_++, actor, token});
  std::push_heap(heap_.begin(), heap_.end(), Later());
}

Scheduler::TimerId Scheduler::ScheduleAt(SimTime at, absl::AnyInvocable<void()> callback) {
  // After shutdown nothing runs again: what destructors schedule is dropped.
  if (shut_down_) return kNoTimer;
  uint32_t slot;
  if (!free_callback_slots_.empty()) {
    slot = free_callback_slots_.back();
    free_callback_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(callbacks_.size());
    callbacks_.emplace_back();
  }
  CallbackSlot& entry = callbacks_[slot];
  entry.callback = std::move(callback);
  entry.armed = true;
  const uint64_t token = (static_cast<uint64_t>(slot) << 32) | entry.generation;
  Push(at, nullptr, token);
  return token;
}

bool Scheduler::Cancel(TimerId id) {
  const uint32_t slot = static_cast<uint32_t>(id >> 32);
  if (slot >= callbacks_.size()) return false;
  CallbackSlot& entry = callbacks_[slot];
  if (!entry.armed || entry.generation != static_cast<uint32_t>(id)) return false;
  entry.armed = false;
  entry.callback = nullptr;
  ++entry.generation;
  free_callback_slots_.push_back(slot);
  return true;
}

void Scheduler::RequestKill(Actor* actor) {
  actor->kill_requested_ = true;
  if (observer_ != nullptr) observer_->OnActorKilled(*actor);
  if (actor != current_) Wake(actor);
}

void Scheduler::Kill(Actor* actor) {
  if (actor->outcome_ != ActorOutcome::kRunning || actor->kill_requested_) return;
  RequestKill(actor);
  if (actor == current_) throw ActorKilled();
}

void Scheduler::CollectGroup(Group* group, std::vector<Actor*>* out) {
  const size_t first = out->size();
  std::vector<Group*> pending = {group};
  while (!pending.empty()) {
    Group* next = pending.back();
    pending.pop_back();
    for (const auto& [id, actor] : next->live_actors_) out->push_back(actor);
    for (Group* child : next->children_) pending.push_back(child);
  }
  std::sort(out->begin() + first, out->end(),
            [](const Actor* a, const Actor* b) { return a->id_ < b->id_; });
}

size_t Scheduler::LiveActorsUnder(Group* group) {
  std::vector<Actor*> alive;
  CollectGroup(group, &alive);
  return alive.size();
}

void Scheduler::KillGroup(Group* group) {
  std::vector<Actor*> victims;
  CollectGroup(group, &victims);
  if (observer_ != nullptr) observer_->OnGroupKilled(*group, victims.size());
  bool includes_current = false;
  for (Actor* actor : victims) {
    if (actor->kill_requested_) continue;
    if (actor == current_) {
      includes_current = true;
      continue;
    }
    RequestKill(actor);
  }
  if (includes_current) {
    RequestKill(current_);
    throw ActorKilled();
  }
}

Scheduler::Place Scheduler::CurrentPlace() const {
  if (current_ == nullptr) return {"world", "-"};
  return {current_->group_->path(), current_->name_};
}

void Scheduler::CheckNotKilled() {
  if (current_ != nullptr && current_->kill_requested_) throw ActorKilled();
}

WakeReason Scheduler::Block(SimTime deadline) {
  Actor* actor = current_;
  SIM_CHECK(actor != nullptr, "Block called outside an actor (callbacks must not block)");
  CheckNotKilled();
  if (deadline != SimTime::Max()) Push(deadline, actor, (actor->wait_generation_ << 1) | 1);
  SwitchToScheduler(actor);
  CheckNotKilled();
  return actor->wake_reason_;
}

void Scheduler::Wake(Actor* actor) {
  SIM_CHECK(actor->outcome_ == ActorOutcome::kRunning, "waking finished actor {}", actor->name_);
  Push(now_, actor, actor->wait_generation_ << 1);
}

void Scheduler::YieldCurrent() {
  Actor* actor = current_;
  SIM_CHECK(actor != nullptr, "Yield outside an actor");
  Wake(actor);
  Block(SimTime::Max());
}

StopReason Scheduler::Run(RunLimits limits) {
  SIM_CHECK(current_ == nullptr, "Run called from inside an actor");
  Scheduler* previous = std::exchange(running_, this);
  const uint64_t budget_start = events_dispatched_;
  StopReason reason;
  while (true) {
    if (stop_requested_) {
      stop_requested_ = false;
      reason = StopReason::kStopped;
      break;
    }
    if (heap_.empty()) {
      reason = StopReason::kQuiet;
      break;
    }
    if (events_dispatched_ - budget_start >= limits.max_events) {
      reason = StopReason::kEventBudget;
      break;
    }
    if (heap_.front().time > limits.until.nanos()) {
      now_ = limits.until;
      reason = StopReason::kTimeLimit;
      break;
    }
    std::pop_heap(heap_.begin(), heap_.end(), Later());
    const Event event = heap_.back();
    heap_.pop_back();
    // Stale events (a timeout whose wait already ended, a cancelled timer)
    // are dropped without moving the clock.
    if (event.actor != nullptr) {
      Actor* actor = event.actor;
      if ((event.token >> 1) != actor->wait_generation_) continue;
      now_ = SimTime::FromNanos(event.time);
      ++actor->wait_generation_;
      actor->wake_reason_ = (event.token & 1) != 0 ? WakeReason::kTimeout : WakeReason::kNotified;
      ++events_dispatched_;
      Resume(actor);
    } else {
      const uint32_t slot = static_cast<uint32_t>(event.token >> 32);
      CallbackSlot& entry = callbacks_[slot];
      if (!entry.armed || entry.generation != static_cast<uint32_t>(event.token)) continue;
      now_ = SimTime::FromNanos(event.time);
      absl::AnyInvocable<void()> callback = std::move(entry.callback);
      entry.armed = false;
      entry.callback = nullptr;
      ++entry.generation;
      free_callback_slots_.push_back(slot);
      ++events_dispatched_;
      callback();
    }
  }
  running_ = previous;
  return reason;
}

// ---------------------------------------------------------------- waiting

bool WaitOn(WaiterList& list, SimTime deadline) {
  Scheduler* scheduler = Scheduler::Running();
  SIM_CHECK(scheduler != nullptr && scheduler->current() != nullptr, "WaitOn outside an actor");
  Waiter waiter;
  waiter.actor = scheduler->current();
  list.PushBack(&waiter);
  while (!waiter.notified) {
    if (scheduler->Block(deadline) == WakeReason::kTimeout) break;
  }
  return waiter.notified;
}

// Waking goes through the waiter's own scheduler, so that primitives can be
// notified from outside Run (a test's main body, a destructor).
void NotifyOne(WaiterList& list) {
  if (Waiter* waiter = list.PopFront()) {
    waiter->notified = true;
    waiter->actor->scheduler()->Wake(waiter->actor);
  }
}

void NotifyAll(WaiterList& list) {
  while (Waiter* waiter = list.PopFront()) {
    waiter->notified = true;
    waiter->actor->scheduler()->Wake(waiter->actor);
  }
}

// ---------------------------------------------------------------- this_actor

namespace this_actor {
namespace {
Scheduler& RunningScheduler() {
  Scheduler* scheduler = Scheduler::Running();
  SIM_CHECK(scheduler != nullptr, "no scheduler is running");
  return *scheduler;
}
}  // namespace

Actor& Self() {
  Actor* actor = RunningScheduler().current();
  SIM_CHECK(actor != nullptr, "this_actor used outside an actor");
  return *actor;
}

SimTime Now() { return RunningScheduler().Now(); }

void SleepUntil(SimTime deadline) {
  Scheduler& scheduler = RunningScheduler();
  if (deadline <= scheduler.Now()) {
    scheduler.YieldCurrent();
    return;
  }
  while (scheduler.Now() < deadline) scheduler.Block(deadline);
}

void SleepFor(SimDuration duration) { SleepUntil(RunningScheduler().Now() + duration); }

void Yield() { RunningScheduler().YieldCurrent(); }

}  // namespace this_actor
}  // namespace sim
