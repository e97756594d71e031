#include "trainer/rank_launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "adapters/child_process.h"
#include "adapters/environment.h"
#include "core/option_ref.h"

namespace flopsmeter {
namespace {

// A TCP port free on the loopback now, for rank 0's store (torchrun picks
// its default port the same way).
Result<uint16_t> free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Status::IoError(std::string("cannot open a socket for the ranks' meeting port: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0;
  const int error = errno;
  ::close(fd);
  if (!ok) return Status::IoError(std::string("cannot find a free port for the ranks to meet: ") + std::strerror(error));
  return ntohs(address.sin_port);
}

// The launcher names itself to its ranks, so a rank knows it was started by
// this launcher (and not by torchrun or a shell, whose lifetimes are theirs).
constexpr const char* kLauncherVariable = "FLOPSMETER_LAUNCHER_PID";

// A rank of this launcher stops as after SIGTERM, with a checkpoint, when
// the launcher is gone (killed outright, so it could pass nothing on),
// rather than train on unwatched. Linux only.
void stop_with_launcher() {
#ifdef __linux__
  const std::string launcher = env_variable(kLauncherVariable);
  if (launcher.empty()) return;
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (std::to_string(::getppid()) != launcher) std::raise(SIGTERM);  // it died before the request
#endif
}

// Starts every rank, each gated until all are prepared.
Result<std::vector<std::unique_ptr<ChildProcess>>> start_ranks(uint64_t count, uint16_t port,
                                                               const std::vector<std::string>& argv) {
  std::vector<std::unique_ptr<ChildProcess>> ranks;
  const std::string world = std::to_string(count);
  ::setenv("WORLD_SIZE", world.c_str(), 1);
  ::setenv("LOCAL_WORLD_SIZE", world.c_str(), 1);
  ::setenv("MASTER_ADDR", "127.0.0.1", 1);
  ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
  ::setenv(kLauncherVariable, std::to_string(::getpid()).c_str(), 1);
  for (uint64_t r = 0; r < count; ++r) {
    const std::string rank = std::to_string(r);
    ::setenv("RANK", rank.c_str(), 1);  // inherited at the fork in Prepare
    ::setenv("LOCAL_RANK", rank.c_str(), 1);
    FM_ASSIGN_OR_RETURN(std::unique_ptr<ChildProcess> child, ChildProcess::Prepare(argv));
    ranks.push_back(std::move(child));
  }
  for (const char* name :
       {"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", kLauncherVariable}) {
    ::unsetenv(name);
  }
  for (auto& child : ranks) FM_RETURN_IF_ERROR(child->run());
  return ranks;
}

// Waits for every rank; passes signals on, and stops the rest once one fails.
int wait_for_ranks(std::vector<std::unique_ptr<ChildProcess>>& ranks, SignalInbox& inbox,
                   const std::function<void(const std::string&)>& say) {
  std::vector<bool> ended(ranks.size(), false);
  size_t running = ranks.size();
  int status = 0;
  while (running > 0) {
    for (int signal : inbox.wait(std::chrono::milliseconds(200))) {
      if (signal == SIGCHLD) continue;  // only wakes the loop
      for (size_t i = 0; i < ranks.size(); ++i) {
        if (!ended[i]) (void)ranks[i]->signal_group(signal);
      }
    }
    for (size_t i = 0; i < ranks.size(); ++i) {
      if (ended[i]) continue;
      Result<std::optional<ChildExit>> exit = ranks[i]->poll();
      if (exit.ok() && !*exit) {
        (void)ranks[i]->advance_stop();
        continue;
      }
      ended[i] = true;
      --running;
      const int rank_status = exit.ok() ? (*exit)->status : 1;
      if (rank_status == 0 || status != 0) continue;
      status = rank_status;
      say("rank " + std::to_string(i) + " ended with status " + std::to_string(rank_status) +
          (running > 0 ? ": stopping the other ranks" : ""));
      for (size_t j = 0; j < ranks.size(); ++j) {
        if (!ended[j]) (void)ranks[j]->begin_stop(StopGrace{std::chrono::seconds(10), std::chrono::seconds(10)});
      }
    }
  }
  return status;
}

}  // namespace

Result<std::optional<int>> launch_local_ranks(const OptionMap& o, const std::vector<std::string>& argv,
                                              const std::function<void(const std::string&)>& say) {
  const bool is_rank = !env_variable("RANK").empty();
  if (is_rank) stop_with_launcher();
  if (!o.has("nproc-per-node")) return std::optional<int>();
  FM_ASSIGN_OR_RETURN(uint64_t count, option_uint(o, "nproc-per-node"));
  if (count == 0) return Status::InvalidArgument(option_ref("nproc-per-node") + " must be at least 1");
  if (is_rank) {
    // Already a rank of a launcher (torchrun, or this one): its count must agree.
    const std::string local_world = env_variable("LOCAL_WORLD_SIZE");
    if (local_world != std::to_string(count)) {
      return Status::InvalidArgument(option_ref("nproc-per-node") + " " + std::to_string(count) +
                                     " under a launcher that started " +
                                     (local_world.empty() ? std::string("its own ranks") : local_world + " per node") +
                                     " (RANK is set): the launcher starts the ranks; leave " +
                                     option_ref("nproc-per-node") + " out");
    }
    return std::optional<int>();
  }
  if (count == 1) return std::optional<int>();
  FM_ASSIGN_OR_RETURN(uint16_t port, free_port());
  // Handlers before the ranks exist, so no signal meant for them is lost.
  FM_ASSIGN_OR_RETURN(std::unique_ptr<SignalInbox> inbox, SignalInbox::Install({SIGCHLD, SIGINT, SIGTERM, SIGHUP}));
  FM_ASSIGN_OR_RETURN(std::vector<std::unique_ptr<ChildProcess>> ranks, start_ranks(count, port, argv));
  return std::optional<int>(wait_for_ranks(ranks, *inbox, say));
}

}  // namespace flopsmeter
