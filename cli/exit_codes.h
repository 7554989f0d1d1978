// The CLI's exit codes: a contract with scripts and CI.
#pragma once

namespace cli {
inline constexpr int kExitPass = 0;
inline constexpr int kExitViolation = 1;  // a property was violated
inline constexpr int kExitBadInput = 2;   // bad usage or input: one line on stderr
inline constexpr int kExitInternal = 3;   // a SIM_CHECK or an I/O failure of our own
}  // namespace cli
