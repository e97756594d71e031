// The CLI commands: each turns parsed flags into one public-API call and
// prints the result. Data goes to stdout, diagnostics to stderr.
#ifndef FLOPSMETER_CLI_COMMANDS_H_
#define FLOPSMETER_CLI_COMMANDS_H_

#include <string>

#include "cli/flags.h"
#include "flopsmeter/status.h"

namespace flopsmeter::cli {

// Exit codes, documented in every --help.
inline constexpr int kExitOk = 0;
inline constexpr int kExitExceeded = 1;
inline constexpr int kExitError = 2;

// Runs `command`; writes its output to `out`. Returns the exit code, or an
// error Status the caller prints.
Result<int> run_command(const CommandDef& command, const ParsedArgs& args, std::string& out);

// `flopsmeter watch` (watch_command.cc): returns COMMAND's exit status.
Result<int> run_watch(const ParsedArgs& a, std::string& out);

}  // namespace flopsmeter::cli

#endif  // FLOPSMETER_CLI_COMMANDS_H_
