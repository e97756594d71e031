// The CLI's command and flag table. One definition per flag drives the
// parser, `-h` (one line per flag) and `--help` (full prose and an example),
// so they cannot drift apart; a test checks the table (no duplicate names,
// every command has an example).
#ifndef FLOPSMETER_CLI_FLAGS_H_
#define FLOPSMETER_CLI_FLAGS_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/option_map.h"
#include "flopsmeter/status.h"

namespace flopsmeter::cli {

struct FlagDef {
  std::string name;       // without dashes, e.g. "lora-r"
  std::string value;      // placeholder such as "N"; empty for a switch
  std::string category;   // heading in the help
  std::string summary;    // one line for -h
  std::string details;    // prose for --help (may be empty)
};

struct CommandDef {
  std::string name;
  std::string summary;             // one line
  std::string usage;               // e.g. "flopsmeter inspect MODEL [options]"
  std::string description;         // paragraph(s) for --help
  std::vector<std::string> flags;  // names into all_flags()
  std::vector<std::string> examples;
  size_t positional_min = 0;
  size_t positional_max = 0;
  const char* exit_status = nullptr;  // --help's "Exit status:" when not kExitStatusText
};

const std::vector<FlagDef>& all_flags();
const std::vector<CommandDef>& all_commands();
const FlagDef* find_flag(const std::string& name);
const CommandDef* find_command(const std::string& name);

// Parsed command line of one command.
// Flags are an OptionMap (flag -> value, "" for a switch), read by the same
// code as the C ABI's JSON options.
struct ParsedArgs : OptionMap {
  std::vector<std::string> positional;
  bool help_short = false;  // -h
  bool help_long = false;   // --help
  std::vector<std::string> command_line;  // as typed, program name first: for records
};

// Errors name the flag and suggest the closest known ones.
Result<ParsedArgs> parse_args(const CommandDef& command, const std::vector<std::string>& args);

// The library's messages name options as `option "lora-r"` (core/option_ref.h);
// the CLI shows each one it has as its flag, --lora-r.
std::string cli_spelling(std::string_view text);

std::string short_help(const CommandDef& command);
std::string long_help(const CommandDef& command);
std::string top_level_help(bool long_form);
// The subcommands of a group (`flopsmeter ledger --help`).
std::string group_help(const std::string& group);

}  // namespace flopsmeter::cli

#endif  // FLOPSMETER_CLI_FLAGS_H_
