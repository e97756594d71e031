// Running the built flopsmeter CLI (FM_CLI_PATH) from a test, for what only
// the command line does (merging a recipe with flags, the ledger's defaults).
#ifndef FLOPSMETER_TESTS_UNIT_CLI_SUPPORT_H_
#define FLOPSMETER_TESTS_UNIT_CLI_SUPPORT_H_

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace flopsmeter::testing {

struct CliRun {
  int status = -1;
  std::string out, err;
};

// Runs the flopsmeter CLI with `args` in a clean environment (HOME in
// `dir`, no FLOPSMETER_* or PRETRAIN_FLOPS), its output in files.
inline CliRun run_cli(const std::vector<std::string>& args, const TempDir& dir) {
  const std::string out = dir.path() + "/cli.out", err = dir.path() + "/cli.err";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o < 0 || e < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0) ::_exit(126);
    ::setenv("HOME", dir.path().c_str(), 1);
    for (const char* v : {"FLOPSMETER_LEDGER", "FLOPSMETER_LEDGER_KEY", "FLOPSMETER_ORGANISATION", "PRETRAIN_FLOPS",
                          "XDG_DATA_HOME", "XDG_CONFIG_HOME"}) {
      ::unsetenv(v);
    }
    std::vector<char*> argv = {const_cast<char*>(FM_CLI_PATH)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(FM_CLI_PATH, argv.data());
    ::_exit(127);
  }
  CliRun r;
  int status = 0;
  if (::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) r.status = WEXITSTATUS(status);
  std::ifstream o(out), e(err);
  std::stringstream os, es;
  os << o.rdbuf();
  es << e.rdbuf();
  r.out = os.str();
  r.err = es.str();
  return r;
}

}  // namespace flopsmeter::testing

#endif  // FLOPSMETER_TESTS_UNIT_CLI_SUPPORT_H_
