// `flopsmeter completion bash|zsh`: shell completion generated from the flag
// table (flags.cc), so it names exactly the commands and flags the parser
// takes. zsh loads the bash function through its bashcompinit.
#include <string>

#include "cli/commands.h"
#include "cli/flags.h"
#include "core/json_doc.h"  // printable_text

namespace flopsmeter::cli {
namespace {

// "--flag" for each of `names`, space-separated, then the help flags.
std::string flag_words(const std::vector<std::string>& names) {
  std::string words;
  for (const std::string& n : names) words += "--" + n + " ";
  return words + "-h --help";
}

// The flags that take a value: after one, complete a file name.
std::string value_flags() {
  std::string words;
  for (const FlagDef& f : all_flags())
    if (!f.value.empty()) words += (words.empty() ? "--" : "|--") + f.name;
  return words + "|-o";
}

std::string bash_script() {
  std::string top, ledger, cases;
  for (const CommandDef& c : all_commands()) {
    const bool in_ledger = c.name.rfind("ledger ", 0) == 0;
    (in_ledger ? ledger : top) += (in_ledger ? c.name.substr(7) : c.name) + " ";
    cases += "    \"" + c.name + "\") words=\"" + flag_words(c.flags) + "\" ;;\n";
  }
  top += "ledger help";
  return "# flopsmeter completion for bash (flopsmeter completion bash), generated from its flag table.\n"
         "_flopsmeter() {\n"
         "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} command=\"\" words i\n"
         "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "    case ${COMP_WORDS[i]} in\n"
         "      -*) ;;\n"
         "      *) if [[ -z $command ]]; then command=${COMP_WORDS[i]};\n"
         "         elif [[ $command == ledger && ${COMP_WORDS[i-1]} == ledger ]]; then command=\"ledger ${COMP_WORDS[i]}\"; fi ;;\n"
         "    esac\n"
         "  done\n"
         "  case $prev in " + value_flags() + ") COMPREPLY=($(compgen -f -- \"$cur\")); return ;; esac\n"
         "  if [[ -z $command ]]; then COMPREPLY=($(compgen -W \"" + top + " --help --version\" -- \"$cur\")); return; fi\n"
         "  if [[ $command == ledger ]]; then COMPREPLY=($(compgen -W \"" + ledger + "--help\" -- \"$cur\")); return; fi\n"
         "  case $command in\n" + cases +
         "    *) words=\"\" ;;\n"
         "  esac\n"
         "  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"$words\" -- \"$cur\")); else COMPREPLY=($(compgen -f -- \"$cur\")); fi\n"
         "}\n"
         "complete -o filenames -F _flopsmeter flopsmeter\n";
}

}  // namespace

Result<int> run_completion(const ParsedArgs& a, std::string& out) {
  const std::string& shell = a.positional.front();
  if (shell == "bash") {
    out = bash_script();
  } else if (shell == "zsh") {
    out = "# flopsmeter completion for zsh (flopsmeter completion zsh): the bash function through bashcompinit.\n"
          "autoload -U +X bashcompinit && bashcompinit\n" +
          bash_script();
  } else {
    return Status::InvalidArgument("completion for '" + printable_text(shell) + "': bash or zsh");
  }
  return kExitOk;
}

}  // namespace flopsmeter::cli
