#include "sim/stack_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include "sim/check.h"

#ifdef ETCD_DST_ASAN
#include <sanitizer/asan_interface.h>
#endif

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
  for (void* base : free_) {
#ifdef ETCD_DST_ASAN
    ASAN_UNPOISON_MEMORY_REGION(static_cast<char*>(base) + PageSize(), usable_bytes_);
#endif
    munmap(base, mapping_bytes_);
  }
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
#ifdef ETCD_DST_ASAN
  // The frames that were live when the stack's last fiber ended (or when an
  // earlier mapping at this address was unmapped) leave their redzones
  // poisoned in ASan's shadow; uninstrumented code never clears them, and a
  // later instrumented access there is misreported. A fresh fiber starts
  // with a clean stack.
  ASAN_UNPOISON_MEMORY_REGION(static_cast<char*>(base) + PageSize(), usable_bytes_);
#endif
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
