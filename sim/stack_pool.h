// Fixed-size fiber stacks, mmap'd with a PROT_NONE guard page below each and
// recycled through a free list, so that spawning an actor costs no syscall
// once the pool is warm. A stack's pages become resident only when touched.
#pragma once

#include <cstddef>
#include <vector>

#include <boost/context/stack_context.hpp>

namespace sim {

class StackPool {
 public:
  // `usable_bytes` is rounded up to whole pages.
  explicit StackPool(size_t usable_bytes);
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  boost::context::stack_context Allocate();
  void Release(const boost::context::stack_context& stack);

  size_t usable_bytes() const { return usable_bytes_; }
  size_t outstanding() const { return outstanding_; }
  size_t pooled() const { return free_.size(); }

 private:
  size_t usable_bytes_;
  size_t mapping_bytes_;  // usable + guard page
  std::vector<void*> free_;  // lowest address of each free mapping
  size_t outstanding_ = 0;
};

// Boost.Context's StackAllocator concept over a StackPool.
struct PooledStackAllocator {
  StackPool* pool;
  boost::context::stack_context allocate() { return pool->Allocate(); }
  void deallocate(boost::context::stack_context& stack) noexcept { pool->Release(stack); }
};

}  // namespace sim
