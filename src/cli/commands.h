// The CLI commands: each turns parsed flags into one public-API call and
// prints the result. Data goes to stdout, diagnostics to stderr.
#ifndef FLOPSMETER_CLI_COMMANDS_H_
#define FLOPSMETER_CLI_COMMANDS_H_

#include <string>

#include "cli/exit_status.h"
#include "cli/flags.h"
#include "flopsmeter/meter.h"
#include "flopsmeter/status.h"

namespace flopsmeter::cli {

// Runs `command`; writes its output to `out`. Returns the exit code, or an
// error Status the caller prints.
Result<int> run_command(const CommandDef& command, const ParsedArgs& args, std::string& out);

// `flopsmeter watch` (watch_command.cc): returns COMMAND's exit status, or
// when that is 0, the record's (record_exit_status()).
Result<int> run_watch(const ParsedArgs& a, std::string& out);
// train_command.cc: runs flopsmeter-train, the libtorch trainer built beside this program.
Result<int> run_train(const ParsedArgs& a, std::string& out);

// `flopsmeter dossier MODEL|RUN_DIR` (dossier_command.cc).
Result<int> run_dossier(const ParsedArgs& a, std::string& out);
Result<int> run_completion(const ParsedArgs& a, std::string& out);
// `estimate --html FILE`: the estimate's dossier as HTML, written atomically.
Status write_estimate_html(const std::string& path, const std::string& estimate_json);

// `flopsmeter export` (export_command.cc).
Result<int> run_export(const ParsedArgs& a, std::string& out);

// `flopsmeter ledger ...` and `verify-proof` (ledger_command.cc).
Result<int> run_ledger_command(const CommandDef& command, const ParsedArgs& a, std::string& out);

// The exit status a run record gives: the gate's (--fail-if-exceeds), else
// kExitUndetermined when the run's compute is unknown and a verdict that
// concerns the modifier is left open; each said on stderr.
Result<int> record_exit_status(const ParsedArgs& a, const RunRecord& record);

}  // namespace flopsmeter::cli

#endif  // FLOPSMETER_CLI_COMMANDS_H_
