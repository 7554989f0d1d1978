#include "sim/check.h"

#include <cstdio>
#include <cstdlib>

namespace sim {
namespace {
CheckContext* g_check_context = nullptr;
bool g_failing = false;
}  // namespace

void SetCheckContext(CheckContext* context) { g_check_context = context; }
CheckContext* GetCheckContext() { return g_check_context; }

void CheckFailed(const char* file, int line, const char* condition, const std::string& message) {
  std::fflush(stdout);
  std::fprintf(stderr, "SIM_CHECK failed at %s:%d: %s: %s\n", file, line, condition,
               message.c_str());
  // A check that fails while describing a failure must not recurse forever.
  if (!g_failing && g_check_context != nullptr) {
    g_failing = true;
    const std::string what = fmt::format("{}:{}: {}: {}", file, line, condition, message);
    g_check_context->DescribeFailure(what);
  }
  std::fflush(stderr);
  std::_Exit(kInternalFailureExitCode);
}

}  // namespace sim
