// BR's and the wrapper's log lines as trace events, with the upstream
// words, so that a failing seed's trace reads like the logs:
//   BrLog actor=initializer msg="No snapshot found. BackupBucket is empty"
#pragma once

#include <string>
#include <string_view>

#include "sim/trace.h"

namespace model::br {

inline void Log(std::string_view actor, std::string_view message) {
  sim::TraceEvent("BrLog").Detail("actor", actor).Detail("msg", message);
}
// Fatalf: logged, then the process exits (the caller returns kFatalExit).
inline void LogFatal(std::string_view actor, std::string_view message) {
  sim::TraceEvent("BrFatal").Detail("actor", actor).Detail("msg", message);
}
inline constexpr int kFatalExit = 1;  // logrus Fatalf: os.Exit(1)

}  // namespace model::br
