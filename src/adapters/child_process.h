// Running a command as a child process the way a shell would, for
// `flopsmeter watch`: found on PATH, exit status passed through (128 +
// signal when a signal ended it, 127 when the command is not found, 126 when
// it cannot be executed), signals forwarded, nothing left behind.
//
//   auto child = ChildProcess::Prepare({"python", "train.py"});
//   if (!child.ok()) return exit_status_for_spawn_error(child.status());
//   pid_t pid = (*child)->pid();          // known before the command runs
//   FM_RETURN_IF_ERROR((*child)->run());  // now it runs
//   ChildExit exit = *(*child)->wait();
//
// Process group. The child is the leader of a process group of its own, and
// signals for it go to that whole group, so a job's workers (torchrun, a
// shell's children) get them too. A terminal's Ctrl-C reaches only the
// foreground group, which holds `watch` but not the command: `watch`
// forwards it, and the command sees it exactly once. The price is that the
// command is in a background group of the terminal: it may write to the
// terminal, but reading from it stops it (SIGTTIN); give it input with
// `< FILE`. The group is only signalled while the child is not yet reaped,
// so its id cannot have been reused by an unrelated group.
//
// Errors name the command. Nothing here throws. POSIX only (Linux, macOS).
//
// Thread safety: a ChildProcess must not be used by two threads at once.
// Only one SignalInbox may exist at a time (it owns the process's handlers).
#ifndef FLOPSMETER_ADAPTERS_CHILD_PROCESS_H_
#define FLOPSMETER_ADAPTERS_CHILD_PROCESS_H_

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "flopsmeter/status.h"

namespace flopsmeter {

// Shell conventions for a command that never ran.
inline constexpr int kExitCommandNotFound = 127;
inline constexpr int kExitCannotExecute = 126;

// How a child ended.
struct ChildExit {
  int status = 0;  // its exit code, or 128 + the signal that ended it (as a shell reports it)
  int signal = 0;  // the signal that ended it; 0 when it exited
};

// The exit status a shell gives a command that could not be started:
// 127 for kNotFound, 126 otherwise (permission, not an executable).
int exit_status_for_spawn_error(const Status& status);

// How long a graceful stop waits before escalating: SIGINT first, SIGTERM
// after `before_sigterm`, SIGKILL `before_sigkill` after that. A training
// job saving a checkpoint on SIGINT needs time, hence the generous defaults.
struct StopGrace {
  std::chrono::duration<double> before_sigterm{30.0};
  std::chrono::duration<double> before_sigkill{30.0};
};

class ChildProcess {
 public:
  // Finds argv[0] as execvp would (PATH search unless it contains a '/')
  // and forks a child in a new process group that waits, before executing
  // anything, until run(): its pid is known (e.g. to attribute GPUs to it)
  // before the command starts, and a command never run() never starts.
  // Errors: kNotFound when argv[0] is not found (exit status 127),
  // kInvalidArgument when it is found but is not an executable file or
  // permission is denied (126), kIoError when fork or pipe fail.
  static Result<std::unique_ptr<ChildProcess>> Prepare(const std::vector<std::string>& argv);

  // Kills and reaps a child that is still running (an abandoned child must
  // not outlive its owner unmetered); a child never run() exits unexecuted.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::vector<std::string>& argv() const { return argv_; }

  // Lets the child execute the command and waits until it has (or failed
  // to). When execution fails (e.g. "exec format error") returns
  // kInvalidArgument naming the command; the child has then exited with
  // 126 and wait() says so.
  Status run();

  // Non-blocking: how the child ended, or nullopt while it runs. Notices
  // when it is stopped (see stopped_by()).
  Result<std::optional<ChildExit>> poll();
  // Blocks until the child ends.
  Result<ChildExit> wait();

  // The signal that stopped the child when it is stopped (SIGTTIN when it
  // read from the terminal, SIGTSTP when forwarded), else 0.
  int stopped_by() const { return stopped_by_; }

  // Sends `signal` to the child's process group; a stopped group is also
  // continued so that a terminating signal takes effect. No-op once the
  // child has been reaped.
  Status signal_group(int signal);

  // A graceful stop: SIGINT to the group now, escalated by advance_stop().
  Status begin_stop(StopGrace grace = {});
  // Sends SIGTERM or SIGKILL when their time has come; call it regularly.
  Status advance_stop();
  bool stopping() const { return stop_started_.has_value(); }

 private:
  ChildProcess(std::vector<std::string> argv, pid_t pid, int gate_fd, int exec_error_fd)
      : argv_(std::move(argv)), pid_(pid), gate_fd_(gate_fd), exec_error_fd_(exec_error_fd) {}
  // Records a waitpid() status; returns the exit once the child has ended.
  std::optional<ChildExit> record(int wait_status);

  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  int gate_fd_ = -1;        // write end: one byte lets the child exec, EOF makes it exit
  int exec_error_fd_ = -1;  // read end: the child's errno when exec fails, EOF when it succeeded
  std::optional<ChildExit> exit_;
  int stopped_by_ = 0;
  StopGrace grace_;
  std::optional<std::chrono::steady_clock::time_point> stop_started_;
  int stop_signals_sent_ = 0;  // 1: SIGINT, 2: SIGTERM, 3: SIGKILL
};

// Signals delivered to this process, queued through a self-pipe so that a
// loop can wait for them and for a timeout at once, and act on them outside
// the signal handler. Handlers are installed for `signals` on Install() and
// the previous dispositions restored on destruction; a signal ignored at
// Install() stays ignored (under nohup, SIGHUP must not reach the job).
// Children never inherit the handlers (ChildProcess resets every handled
// signal to its default before it executes).
class SignalInbox {
 public:
  // Errors: kIoError when the pipe or a handler cannot be set up.
  static Result<std::unique_ptr<SignalInbox>> Install(const std::vector<int>& signals);
  ~SignalInbox();
  SignalInbox(const SignalInbox&) = delete;
  SignalInbox& operator=(const SignalInbox&) = delete;

  // The signals received since the last call, in arrival order, waiting up
  // to `timeout` for the first one.
  std::vector<int> wait(std::chrono::milliseconds timeout);

 private:
  SignalInbox(int read_fd, int write_fd) : read_fd_(read_fd), write_fd_(write_fd) {}

  int read_fd_ = -1;
  int write_fd_ = -1;
  std::vector<std::pair<int, struct sigaction>> saved_;  // signal, previous disposition
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_CHILD_PROCESS_H_
