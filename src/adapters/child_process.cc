#include "adapters/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace flopsmeter {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Both ends close on exec, so the command inherits neither.
Status make_pipe(int fds[2], bool nonblocking) {
  if (::pipe(fds) != 0) return Status::IoError("cannot create a pipe: " + errno_text(errno));
  for (int i = 0; i < 2; ++i) {
    ::fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    if (nonblocking) ::fcntl(fds[i], F_SETFL, ::fcntl(fds[i], F_GETFL) | O_NONBLOCK);
  }
  return Status::Ok();
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// The file execvp would run for `name`, checked here so that "command not
// found" is known before anything is forked or metered.
Result<std::string> resolve_command(const std::string& name) {
  if (name.empty()) return Status::NotFound("'': command not found");
  auto check = [](const std::string& path) -> Status {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return Status::NotFound(path + ": " + errno_text(errno));
    if (S_ISDIR(st.st_mode)) return Status::InvalidArgument(path + ": is a directory");
    if (::access(path.c_str(), X_OK) != 0) return Status::InvalidArgument(path + ": " + errno_text(errno));
    return Status::Ok();
  };
  if (name.find('/') != std::string::npos) {
    FM_RETURN_IF_ERROR(check(name));
    return name;
  }
  const char* path_env = std::getenv("PATH");
  const std::string search = path_env != nullptr ? path_env : "/bin:/usr/bin";  // glibc's default
  bool denied = false;
  size_t begin = 0;
  while (begin <= search.size()) {
    size_t end = search.find(':', begin);
    if (end == std::string::npos) end = search.size();
    const std::string dir = search.substr(begin, end - begin);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;  // an empty entry is the cwd
    Status found = check(candidate);
    if (found.ok()) return candidate;
    // Like execvp: a match that cannot be executed is remembered, the search goes on.
    if (found.code() == StatusCode::kInvalidArgument) denied = true;
    begin = end + 1;
  }
  if (denied) return Status::InvalidArgument(name + ": permission denied");
  return Status::NotFound(name + ": command not found");
}

// In the forked child, before exec: only async-signal-safe calls.
[[noreturn]] void child_main(const char* path, char* const* argv, int gate_fd, int exec_error_fd,
                             const sigset_t& original_mask) {
  ::setpgid(0, 0);
  // Our handlers would write into the parent's signal pipe; the command
  // starts with default dispositions (ignored signals stay ignored, as in a shell).
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction current{};
    if (::sigaction(sig, nullptr, &current) != 0) continue;
    if (current.sa_handler == SIG_DFL || current.sa_handler == SIG_IGN) continue;
    struct sigaction default_action{};
    default_action.sa_handler = SIG_DFL;
    ::sigemptyset(&default_action.sa_mask);
    ::sigaction(sig, &default_action, nullptr);
  }
  ::sigprocmask(SIG_SETMASK, &original_mask, nullptr);
  char go = 0;
  ssize_t n = 0;
  do {
    n = ::read(gate_fd, &go, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) ::_exit(kExitCannotExecute);  // cancelled: the command never runs
  ::execve(path, argv, environ);
  const int err = errno;
  if (::write(exec_error_fd, &err, sizeof err) < 0) {
  }
  ::_exit(kExitCannotExecute);
}

}  // namespace

int exit_status_for_spawn_error(const Status& status) {
  return status.code() == StatusCode::kNotFound ? kExitCommandNotFound : kExitCannotExecute;
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::Prepare(const std::vector<std::string>& argv) {
  if (argv.empty()) return Status::InvalidArgument("no command given");
  FM_ASSIGN_OR_RETURN(const std::string path, resolve_command(argv.front()));
  // Built before fork: the child may only make async-signal-safe calls.
  std::vector<char*> c_argv;
  for (const std::string& arg : argv) c_argv.push_back(const_cast<char*>(arg.c_str()));
  c_argv.push_back(nullptr);

  int gate[2] = {-1, -1};
  int exec_error[2] = {-1, -1};
  FM_RETURN_IF_ERROR(make_pipe(gate, false));
  if (Status s = make_pipe(exec_error, false); !s.ok()) {
    close_fd(gate[0]);
    close_fd(gate[1]);
    return s;
  }
  // Signals stay blocked across fork so that no handler of ours runs in the
  // child before it has reset them.
  sigset_t all, original;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &original);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(gate[1]);
    ::close(exec_error[0]);
    child_main(path.c_str(), c_argv.data(), gate[0], exec_error[1], original);
  }
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &original, nullptr);
  close_fd(gate[0]);
  close_fd(exec_error[1]);
  if (pid < 0) {
    close_fd(gate[1]);
    close_fd(exec_error[0]);
    return Status::IoError(argv.front() + ": cannot fork: " + errno_text(fork_errno));
  }
  // Also here, so the group exists whichever process runs first.
  ::setpgid(pid, pid);
  return std::unique_ptr<ChildProcess>(new ChildProcess(argv, pid, gate[1], exec_error[0]));
}

ChildProcess::~ChildProcess() {
  close_fd(gate_fd_);
  close_fd(exec_error_fd_);
  if (!exit_ && pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    int wait_status = 0;
    while (::waitpid(pid_, &wait_status, 0) < 0 && errno == EINTR) {
    }
  }
}

Status ChildProcess::run() {
  if (gate_fd_ < 0) return Status::Internal("ChildProcess::run() called twice");
  const char go = 1;
  ssize_t written = 0;
  do {
    written = ::write(gate_fd_, &go, 1);
  } while (written < 0 && errno == EINTR);
  const int write_errno = errno;
  close_fd(gate_fd_);
  if (written != 1) {
    close_fd(exec_error_fd_);
    return Status::IoError(argv_.front() + ": cannot start: " + errno_text(write_errno));
  }
  // EOF: exec succeeded (the pipe closed on exec); an int: its errno.
  int exec_errno = 0;
  ssize_t n = 0;
  do {
    n = ::read(exec_error_fd_, &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  close_fd(exec_error_fd_);
  if (n != static_cast<ssize_t>(sizeof exec_errno)) return Status::Ok();
  if (Result<ChildExit> ended = wait(); !ended.ok()) return ended.status();
  return Status::InvalidArgument(argv_.front() + ": cannot execute: " + errno_text(exec_errno));
}

std::optional<ChildExit> ChildProcess::record(int wait_status) {
  if (WIFEXITED(wait_status)) {
    exit_ = ChildExit{WEXITSTATUS(wait_status), 0};
  } else if (WIFSIGNALED(wait_status)) {
    exit_ = ChildExit{128 + WTERMSIG(wait_status), WTERMSIG(wait_status)};
  } else if (WIFSTOPPED(wait_status)) {
    stopped_by_ = WSTOPSIG(wait_status);
  } else if (WIFCONTINUED(wait_status)) {
    stopped_by_ = 0;
  }
  if (exit_) stopped_by_ = 0;
  return exit_;
}

Result<std::optional<ChildExit>> ChildProcess::poll() {
  while (!exit_) {
    int wait_status = 0;
    const pid_t r = ::waitpid(pid_, &wait_status, WNOHANG | WUNTRACED | WCONTINUED);
    if (r == 0) break;
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::Internal(argv_.front() + ": cannot wait for pid " + std::to_string(pid_) + ": " +
                              errno_text(errno));
    }
    record(wait_status);
  }
  return exit_;
}

Result<ChildExit> ChildProcess::wait() {
  while (!exit_) {
    int wait_status = 0;
    if (::waitpid(pid_, &wait_status, 0) < 0) {
      if (errno == EINTR) continue;
      return Status::Internal(argv_.front() + ": cannot wait for pid " + std::to_string(pid_) + ": " +
                              errno_text(errno));
    }
    record(wait_status);
  }
  return *exit_;
}

Status ChildProcess::signal_group(int signal) {
  if (exit_) return Status::Ok();
  if (::kill(-pid_, signal) != 0 && errno != ESRCH) {
    return Status::IoError(argv_.front() + ": cannot send signal " + std::to_string(signal) + ": " +
                           errno_text(errno));
  }
  // A stopped process keeps a terminating signal pending until continued.
  if (stopped_by_ != 0 && signal != SIGCONT && signal != SIGSTOP && signal != SIGTSTP) {
    ::kill(-pid_, SIGCONT);
  }
  return Status::Ok();
}

Status ChildProcess::begin_stop(StopGrace grace) {
  if (stopping()) return Status::Ok();
  grace_ = grace;
  stop_started_ = std::chrono::steady_clock::now();
  stop_signals_sent_ = 1;
  return signal_group(SIGINT);
}

Status ChildProcess::advance_stop() {
  if (!stopping() || exit_) return Status::Ok();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - *stop_started_;
  if (stop_signals_sent_ == 1 && elapsed >= grace_.before_sigterm) {
    stop_signals_sent_ = 2;
    return signal_group(SIGTERM);
  }
  if (stop_signals_sent_ == 2 && elapsed >= grace_.before_sigterm + grace_.before_sigkill) {
    stop_signals_sent_ = 3;
    return signal_group(SIGKILL);
  }
  return Status::Ok();
}

namespace {

int g_inbox_write_fd = -1;  // the live SignalInbox's pipe, for the handler

extern "C" void queue_signal(int signal) {
  const int saved_errno = errno;
  const unsigned char byte = static_cast<unsigned char>(signal);
  if (::write(g_inbox_write_fd, &byte, 1) < 0) {
    // A full pipe already holds signals enough to wake the loop.
  }
  errno = saved_errno;
}

}  // namespace

Result<std::unique_ptr<SignalInbox>> SignalInbox::Install(const std::vector<int>& signals) {
  if (g_inbox_write_fd >= 0) return Status::Internal("only one SignalInbox may exist at a time");
  int fds[2] = {-1, -1};
  FM_RETURN_IF_ERROR(make_pipe(fds, true));
  std::unique_ptr<SignalInbox> inbox(new SignalInbox(fds[0], fds[1]));
  g_inbox_write_fd = fds[1];
  for (int signal : signals) {
    struct sigaction action{};
    action.sa_handler = queue_signal;
    ::sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    struct sigaction previous{};
    if (::sigaction(signal, &action, &previous) != 0) {
      return Status::IoError("cannot handle signal " + std::to_string(signal) + ": " + errno_text(errno));
    }
    inbox->saved_.emplace_back(signal, previous);
    // Ignored when we started (nohup, a shell's background job): it stays
    // ignored, here and in the children, as a shell would keep it.
    if (previous.sa_handler == SIG_IGN) ::sigaction(signal, &previous, nullptr);
  }
  return inbox;
}

SignalInbox::~SignalInbox() {
  for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) ::sigaction(it->first, &it->second, nullptr);
  g_inbox_write_fd = -1;
  close_fd(read_fd_);
  close_fd(write_fd_);
}

std::vector<int> SignalInbox::wait(std::chrono::milliseconds timeout) {
  struct pollfd readable{read_fd_, POLLIN, 0};
  ::poll(&readable, 1, static_cast<int>(timeout.count()));  // EINTR: a signal came, read it below
  std::vector<int> received;
  unsigned char buffer[64];
  ssize_t n = 0;
  while ((n = ::read(read_fd_, buffer, sizeof buffer)) > 0) {
    for (ssize_t i = 0; i < n; ++i) received.push_back(buffer[i]);
  }
  return received;
}

}  // namespace flopsmeter
