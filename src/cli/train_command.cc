// `flopsmeter train` is the native trainer, a separate program
// (flopsmeter-train) so that this one never links libtorch: it runs the
// trainer built beside it with the same arguments, which it has already
// checked against the flag table.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "cli/commands.h"

namespace flopsmeter::cli {

Result<int> run_train(const ParsedArgs& a, std::string&) {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return Status::IoError("cannot find this program's directory: " + ec.message());
  const std::string trainer = (self.parent_path() / "flopsmeter-train").string();
  if (access(trainer.c_str(), X_OK) != 0) {
    return Status::NotFound("the native trainer (" + trainer +
                            ") is not built: it needs libtorch (Debian's libtorch-dev; scripts/setup.sh installs it), "
                            "found when flopsmeter is configured (cmake -DFM_TRAINER=ON insists on it)");
  }
  std::vector<std::string> args = {trainer};
  // The arguments after `train`, as given.
  args.insert(args.end(), a.command_line.begin() + 2, a.command_line.end());
  std::vector<char*> argv;
  for (std::string& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  execv(trainer.c_str(), argv.data());
  return Status::IoError("cannot run " + trainer + ": " + std::strerror(errno));
}

}  // namespace flopsmeter::cli
