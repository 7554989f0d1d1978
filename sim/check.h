// SIM_CHECK guards the simulator's and the models' own invariants. It is on in
// every build. On failure it prints the condition, the seed, the simulated
// time, the running group and the tail of the trace, flushes the trace files,
// and exits with code 3 ("internal failure"). A property of the system under
// test is NOT a SIM_CHECK: that goes through sim/properties.h and never stops
// the run.
#pragma once

#include <string>
#include <string_view>

#include "fmt/format.h"

namespace sim {

// Whoever runs a simulation registers one of these, so that a failed check can
// say where it happened. At most one is registered at a time.
class CheckContext {
 public:
  virtual ~CheckContext() = default;
  // Writes seed, time, group and trace tail to stderr, and flushes trace sinks.
  virtual void DescribeFailure(std::string_view message) = 0;
};

void SetCheckContext(CheckContext* context);
CheckContext* GetCheckContext();

// Exit code of every internal failure, shared with the CLI's contract.
inline constexpr int kInternalFailureExitCode = 3;

[[noreturn]] void CheckFailed(const char* file, int line, const char* condition,
                              const std::string& message);

}  // namespace sim

#define SIM_CHECK(condition, ...)                                                   \
  do {                                                                              \
    if (__builtin_expect(!(condition), 0)) {                                        \
      ::sim::CheckFailed(__FILE__, __LINE__, #condition, ::fmt::format(__VA_ARGS__)); \
    }                                                                               \
  } while (0)

#define SIM_UNREACHABLE(...) ::sim::CheckFailed(__FILE__, __LINE__, "unreachable", ::fmt::format(__VA_ARGS__))
