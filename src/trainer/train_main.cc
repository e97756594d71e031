// flopsmeter-train: the native trainer's program, which `flopsmeter train`
// runs. It reads the same flag table as the CLI, so the two take the same
// options and print the same messages.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cli/exit_status.h"
#include "api/report_format.h"  // with_commas
#include "cli/flags.h"
#include "core/json_doc.h"  // printable_text
#include "trainer/rank_launcher.h"
#include "trainer/trainer.h"

namespace {

int fail(const std::string& message) {
  // A rank of several says which one it is.
  const char* rank = std::getenv("RANK");
  const char* world = std::getenv("WORLD_SIZE");
  const bool ranked = rank != nullptr && world != nullptr && std::string(world) != "1";
  std::cerr << "flopsmeter train: " << (ranked ? "rank " + flopsmeter::printable_text(rank) + ": " : "")
            << flopsmeter::printable_text(flopsmeter::cli::cli_spelling(message)) << "\n";
  return flopsmeter::cli::kExitError;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace flopsmeter::cli;
  const CommandDef* command = find_command("train");
  auto parsed = parse_args(*command, std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.ok()) return fail(parsed.status().message());
  if (parsed->help_long || parsed->help_short) {
    std::cout << (parsed->help_long ? long_help(*command) : short_help(*command));
    return kExitOk;
  }
  auto say = [](const std::string& line) {
    std::cout << flopsmeter::printable_text(cli_spelling(line)) << std::endl;
  };
  // The ranks run this program again, found where this one is.
  std::vector<std::string> self = {"/proc/self/exe"};
  self.insert(self.end(), argv + 1, argv + argc);
  auto launched = flopsmeter::launch_local_ranks(*parsed, self, say);
  if (!launched.ok()) return fail(launched.status().message());
  if (*launched) return **launched;
  std::vector<std::string> command_line = {"flopsmeter", "train"};
  command_line.insert(command_line.end(), argv + 1, argv + argc);
  auto report = flopsmeter::run_training(*parsed, command_line, say);
  if (!report.ok()) return fail(report.status().message());
  if (!report->leader) return kExitOk;  // rank 0 reports for the job
  std::printf("trained %s tokens in %.2f s (%.0f tokens/s)\n", flopsmeter::with_commas(report->tokens).c_str(),
              report->seconds, report->seconds > 0 ? static_cast<double>(report->tokens) / report->seconds : 0.0);
  std::fflush(stdout);
  if (!report->record_text.empty()) {
    std::cout << "\n" << cli_spelling(report->record_text);
    std::cout << "record: " << flopsmeter::printable_text(report->record_path) << "\n";
  }
  if (report->pretrained_base && !report->record_path.empty()) {
    // The meter reads every run as a modification; a base's own pretraining is recorded as the base's compute.
    const std::string run_dir = report->record_path.substr(0, report->record_path.rfind('/'));
    std::cout << "This run pretrained a base from scratch: the verdict above, which reads a run as a modification, "
                 "does not apply. Record the base with the compute it measured:\n  flopsmeter ledger register NAME "
                 "--pretrain-run "
              << flopsmeter::printable_text(run_dir) << "\n";
  }
  std::cout << "weights: " << flopsmeter::printable_text(report->saved) << " (" << report->status << ")\n";
  return kExitOk;
}
