// flopsmeter's command-line entry point: dispatch, help and exit codes. The
// commands themselves are thin shells over the public API (commands.cc).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/flags.h"
#include "core/json_doc.h"  // printable_text
#include "core/suggest.h"
#include "flopsmeter/version.h"

namespace {

// Messages quote file names, arguments and file contents: printed with
// control characters escaped, so that none can move the cursor or forge a
// line of output.
int fail(const std::string& message) {
  std::cerr << "flopsmeter: " << flopsmeter::printable_text(flopsmeter::cli::cli_spelling(message)) << "\n";
  return flopsmeter::cli::kExitError;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace flopsmeter::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << top_level_help(false);
    return kExitError;
  }
  // A copy: `args` loses its first elements below.
  const std::string first = args.front();
  if (first == "-h" || first == "--help" || first == "help") {
    if (first == "help" && args.size() > 1) {
      if (const CommandDef* c = find_command(args[1])) {
        std::cout << long_help(*c);
        return kExitOk;
      }
    }
    std::cout << top_level_help(first != "-h");
    return kExitOk;
  }
  if (first == "--version" || first == "-V" || first == "version") {
    std::cout << "flopsmeter " << FLOPSMETER_VERSION_STRING << "\n";
    return kExitOk;
  }
  // A command of two words (`ledger add`): the group, then its subcommand.
  std::string name = first;
  if (first == "ledger") {
    if (args.size() < 2) {  // a usage error: the help on stderr, like the top level's
      std::cerr << group_help("ledger");
      return kExitError;
    }
    if (args[1] == "-h" || args[1] == "--help") {
      std::cout << group_help("ledger");
      return kExitOk;
    }
    name = first + " " + args[1];
    args.erase(args.begin());
  }
  const CommandDef* command = find_command(name);
  if (command == nullptr && first == "ledger") {
    std::vector<std::string> names;
    for (const CommandDef& c : all_commands())
      if (c.name.rfind("ledger ", 0) == 0) names.push_back(c.name.substr(7));
    std::vector<std::string> near = flopsmeter::closest_names(args.front(), names, 1);
    // A suggestion only for a likely typo, not for any word at all.
    if (!near.empty() && flopsmeter::edit_distance(flopsmeter::ascii_lower(args.front()), near[0]) >
                             std::max<size_t>(2, near[0].size() / 3)) {
      near.clear();
    }
    return fail("unknown ledger command '" + args.front() + "'" +
                (near.empty() ? "" : "; did you mean 'ledger " + near[0] + "'?") +
                " (flopsmeter ledger --help lists them)");
  }
  if (command == nullptr) {
    std::vector<std::string> names;
    for (const CommandDef& c : all_commands()) names.push_back(c.name);
    std::vector<std::string> near = flopsmeter::closest_names(first, names, 1);
    return fail("unknown command '" + first + "'" + (near.empty() ? "" : "; did you mean '" + near[0] + "'?") +
                " (flopsmeter --help lists the commands)");
  }
  args.erase(args.begin());
  auto parsed = parse_args(*command, args);
  if (!parsed.ok()) return fail(parsed.status().message());
  parsed->command_line.assign(argv, argv + argc);
  if (parsed->help_long) {
    std::cout << long_help(*command);
    return kExitOk;
  }
  if (parsed->help_short) {
    std::cout << short_help(*command);
    return kExitOk;
  }
  std::string out;
  auto code = run_command(*command, *parsed, out);
  if (!code.ok()) return fail(code.status().message());
  out = cli_spelling(out);
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (std::fflush(stdout) != 0) return kExitError;  // e.g. a closed pipe
  return *code;
}
