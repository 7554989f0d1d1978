#include "sim/stack_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include "sim/check.h"

namespace sim {
namespace {
size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}
}  // namespace

StackPool::StackPool(size_t usable_bytes) {
  const size_t page = PageSize();
  usable_bytes_ = (usable_bytes + page - 1) / page * page;
  SIM_CHECK(usable_bytes_ >= 4 * page, "actor stack of {} bytes is too small", usable_bytes);
  mapping_bytes_ = usable_bytes_ + page;
}

StackPool::~StackPool() {
  SIM_CHECK(outstanding_ == 0, "{} stacks still in use when the pool is destroyed", outstanding_);
  for (void* base : free_) munmap(base, mapping_bytes_);
}

boost::context::stack_context StackPool::Allocate() {
  void* base;
  if (!free_.empty()) {
    base = free_.back();
    free_.pop_back();
  } else {
    base = mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    SIM_CHECK(base != MAP_FAILED, "mmap of a {}-byte actor stack failed", mapping_bytes_);
    // Stacks grow down: the guard page is the lowest one.
    SIM_CHECK(mprotect(base, PageSize(), PROT_NONE) == 0, "mprotect of a stack guard page failed");
  }
  ++outstanding_;
  boost::context::stack_context stack;
  stack.size = usable_bytes_;
  stack.sp = static_cast<char*>(base) + mapping_bytes_;
  return stack;
}

void StackPool::Release(const boost::context::stack_context& stack) {
  SIM_CHECK(outstanding_ > 0, "stack released twice");
  --outstanding_;
  free_.push_back(static_cast<char*>(stack.sp) - mapping_bytes_);
}

}  // namespace sim
