// The command's exit statuses, documented in every --help.
#ifndef FLOPSMETER_CLI_EXIT_STATUS_H_
#define FLOPSMETER_CLI_EXIT_STATUS_H_

namespace flopsmeter::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitExceeded = 1;      // a gated regime is exceeded (--fail-if-exceeds)
inline constexpr int kExitError = 2;
inline constexpr int kExitUndetermined = 3;  // a verdict that matters could not be established

inline constexpr const char* kExitStatusText =
    "0 success; 1 --fail-if-exceeds and a gated regime is exceeded; 2 error; 3 a verdict that matters is "
    "undetermined (a run that trained without a token count, or a gated regime that cannot be decided). "
    "`watch` returns COMMAND's status when it is not 0.";

}  // namespace flopsmeter::cli

#endif  // FLOPSMETER_CLI_EXIT_STATUS_H_
