// ChildProcess and SignalInbox: a command run as a shell runs it (exit
// status, 128 + signal, 127 / 126), held until run(), in its own process
// group, signalled as a group with a graceful escalation, leaking no file
// descriptor and no zombie.
#include "adapters/child_process.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace flopsmeter {
namespace {

using ::testing::HasSubstr;

class ChildProcessTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

  static std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& argv) {
    auto child = ChildProcess::Prepare(argv);
    EXPECT_TRUE(child.ok()) << child.status().ToString();
    if (!child.ok()) return nullptr;
    Status run = (*child)->run();
    EXPECT_TRUE(run.ok()) << run.ToString();
    return std::move(*child);
  }

  // Polls for a file the child writes, up to 10 s.
  static bool WaitForFile(const std::string& path) {
    for (int i = 0; i < 1000; ++i) {
      if (std::filesystem::exists(path)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  flopsmeter::testing::TempDir dir_;
};

TEST_F(ChildProcessTest, ExitStatusPassesThrough) {
  auto child = Start({"sh", "-c", "exit 3"});
  ASSERT_NE(child, nullptr);
  auto exit = child->wait();
  ASSERT_TRUE(exit.ok()) << exit.status().ToString();
  EXPECT_EQ(exit->status, 3);
  EXPECT_EQ(exit->signal, 0);
  EXPECT_EQ(child->wait()->status, 3) << "asking again gives the same answer";
}

TEST_F(ChildProcessTest, DeathBySignalIs128PlusTheSignal) {
  auto child = Start({"sh", "-c", "kill -9 $$"});
  ASSERT_NE(child, nullptr);
  auto exit = child->wait();
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->status, 128 + SIGKILL);
  EXPECT_EQ(exit->signal, SIGKILL);
}

TEST_F(ChildProcessTest, CommandNotFoundIs127AndNothingIsForked) {
  auto child = ChildProcess::Prepare({"fm-no-such-command-anywhere"});
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(child.status().message(), "fm-no-such-command-anywhere: command not found");
  EXPECT_EQ(exit_status_for_spawn_error(child.status()), kExitCommandNotFound);

  auto missing_path = ChildProcess::Prepare({Path("absent")});
  ASSERT_FALSE(missing_path.ok());
  EXPECT_EQ(exit_status_for_spawn_error(missing_path.status()), 127);
  EXPECT_THAT(missing_path.status().message(), HasSubstr("No such file or directory"));
}

TEST_F(ChildProcessTest, NotExecutableIs126) {
  std::ofstream(Path("script.sh")) << "#!/bin/sh\nexit 0\n";
  ::chmod(Path("script.sh").c_str(), 0644);
  auto not_executable = ChildProcess::Prepare({Path("script.sh")});
  ASSERT_FALSE(not_executable.ok());
  EXPECT_EQ(exit_status_for_spawn_error(not_executable.status()), kExitCannotExecute);
  EXPECT_THAT(not_executable.status().message(), HasSubstr("Permission denied"));

  auto directory = ChildProcess::Prepare({dir_.path()});
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(exit_status_for_spawn_error(directory.status()), 126);
  EXPECT_THAT(directory.status().message(), HasSubstr("is a directory"));
}

TEST_F(ChildProcessTest, AnExecFailureAfterRunIs126) {
  // Executable bits, but neither a binary nor a script: execve says ENOEXEC.
  std::ofstream(Path("garbage")) << "\x7f\x01\x02 not a program\n";
  ::chmod(Path("garbage").c_str(), 0755);
  auto child = ChildProcess::Prepare({Path("garbage")});
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  Status run = (*child)->run();
  ASSERT_FALSE(run.ok());
  EXPECT_THAT(run.message(), HasSubstr("cannot execute"));
  auto exit = (*child)->wait();
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->status, kExitCannotExecute);
}

TEST_F(ChildProcessTest, ThePidIsKnownBeforeTheCommandRunsAndAnUnrunCommandNeverRuns) {
  const std::string marker = Path("ran");
  pid_t pid = 0;
  {
    auto child = ChildProcess::Prepare({"sh", "-c", "touch \"$0\"", marker});
    ASSERT_TRUE(child.ok());
    pid = (*child)->pid();
    ASSERT_GT(pid, 0);
    EXPECT_EQ(::kill(pid, 0), 0) << "the child exists";
    EXPECT_EQ(::getpgid(pid), pid) << "in a process group of its own";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1) << "reaped: no zombie";
  EXPECT_EQ(errno, ECHILD);
}

TEST_F(ChildProcessTest, AnAbandonedRunningChildIsKilledAndReaped) {
  pid_t pid = 0;
  {
    auto child = Start({"sleep", "30"});
    ASSERT_NE(child, nullptr);
    pid = child->pid();
  }
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST_F(ChildProcessTest, PollSaysRunningThenHowItEnded) {
  auto child = Start({"sleep", "30"});
  ASSERT_NE(child, nullptr);
  auto running = child->poll();
  ASSERT_TRUE(running.ok());
  EXPECT_FALSE(running->has_value());
  ASSERT_TRUE(child->signal_group(SIGTERM).ok());
  auto exit = child->wait();
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->signal, SIGTERM);

  auto quick = Start({"sh", "-c", "exit 5"});
  ASSERT_NE(quick, nullptr);
  std::optional<ChildExit> ended;
  for (int i = 0; i < 1000 && !ended; ++i) {
    auto polled = quick->poll();
    ASSERT_TRUE(polled.ok());
    ended = *polled;
    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, 5);
  EXPECT_TRUE(quick->signal_group(SIGTERM).ok()) << "a reaped child's group is no longer signalled";
}

TEST_F(ChildProcessTest, GroupSignalsReachGrandchildren) {
  const std::string got = Path("got");
  // The subshell is a grandchild; the outer shell dies of SIGTERM in `wait`.
  auto child = Start({"sh", "-c",
                      "(trap 'echo term > \"$0\"; exit 0' TERM; touch \"$0.ready\"; "
                      "while :; do sleep 0.05; done) & wait; exit 9",
                      got});
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(WaitForFile(got + ".ready"));
  ASSERT_TRUE(child->signal_group(SIGTERM).ok());
  auto exit = child->wait();
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->status, 128 + SIGTERM);
  ASSERT_TRUE(WaitForFile(got));
  EXPECT_EQ(Read(got), "term\n");
}

TEST_F(ChildProcessTest, GracefulStopEscalatesFromSigintToSigtermToSigkill) {
  const StopGrace quick{std::chrono::milliseconds(100), std::chrono::milliseconds(100)};
  struct Case {
    std::string traps;
    int ended_by;
  };
  for (const Case& c : {Case{"", SIGINT}, Case{"trap '' INT;", SIGTERM}, Case{"trap '' INT TERM;", SIGKILL}}) {
    const std::string ready = Path("ready" + std::to_string(c.ended_by));
    auto child = Start({"sh", "-c", c.traps + " touch \"$0\"; while :; do sleep 0.02; done", ready});
    ASSERT_NE(child, nullptr);
    ASSERT_TRUE(WaitForFile(ready));
    ASSERT_TRUE(child->begin_stop(quick).ok());
    EXPECT_TRUE(child->stopping());
    std::optional<ChildExit> ended;
    for (int i = 0; i < 500 && !ended; ++i) {
      ASSERT_TRUE(child->advance_stop().ok());
      auto polled = child->poll();
      ASSERT_TRUE(polled.ok());
      ended = *polled;
      if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(ended.has_value()) << c.traps;
    EXPECT_EQ(ended->signal, c.ended_by) << c.traps;
    EXPECT_EQ(ended->status, 128 + c.ended_by) << c.traps;
  }
}

// The descriptors of this process that a child inherits (no FD_CLOEXEC).
std::set<std::string> InheritableDescriptors() {
  std::set<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const std::string name = entry.path().filename().string();
    const int fd = std::stoi(name);
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) == 0) out.insert(name);
  }
  return out;
}

TEST_F(ChildProcessTest, TheCommandInheritsNoDescriptorOfOurs) {
  if (!std::filesystem::exists("/proc/self/fd")) GTEST_SKIP() << "needs /proc";
  auto inbox = SignalInbox::Install({SIGUSR1});
  ASSERT_TRUE(inbox.ok());
  auto child = Start({"sleep", "30"});
  ASSERT_NE(child, nullptr);
  // run() returns as the command starts executing; the dynamic loader's
  // descriptors come and go, a leaked one stays.
  const std::set<std::string> expected = InheritableDescriptors();
  std::set<std::string> child_fds;
  for (int i = 0; i < 200 && child_fds != expected; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    child_fds.clear();
    for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(child->pid()) + "/fd")) {
      child_fds.insert(entry.path().filename().string());
    }
  }
  EXPECT_EQ(child_fds, expected);
}

TEST(SignalInbox, QueuesSignalsAndRestoresTheHandlers) {
  struct sigaction before{};
  ASSERT_EQ(::sigaction(SIGUSR2, nullptr, &before), 0);
  {
    auto inbox = SignalInbox::Install({SIGUSR1, SIGUSR2});
    ASSERT_TRUE(inbox.ok()) << inbox.status().ToString();
    EXPECT_FALSE(SignalInbox::Install({SIGUSR1}).ok()) << "one at a time";
    EXPECT_TRUE((*inbox)->wait(std::chrono::milliseconds(0)).empty());
    ::raise(SIGUSR2);
    ::raise(SIGUSR1);
    EXPECT_THAT((*inbox)->wait(std::chrono::milliseconds(1000)), ::testing::ElementsAre(SIGUSR2, SIGUSR1));
    EXPECT_TRUE((*inbox)->wait(std::chrono::milliseconds(0)).empty());
  }
  struct sigaction after{};
  ASSERT_EQ(::sigaction(SIGUSR2, nullptr, &after), 0);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
}

TEST(SignalInbox, ASignalIgnoredAtTheStartStaysIgnored) {
  struct sigaction ignore{};
  ignore.sa_handler = SIG_IGN;
  struct sigaction before{};
  ASSERT_EQ(::sigaction(SIGUSR1, &ignore, &before), 0);
  {
    auto inbox = SignalInbox::Install({SIGUSR1, SIGUSR2});
    ASSERT_TRUE(inbox.ok());
    struct sigaction now{};
    ASSERT_EQ(::sigaction(SIGUSR1, nullptr, &now), 0);
    EXPECT_EQ(now.sa_handler, SIG_IGN);
    ::raise(SIGUSR1);
    EXPECT_TRUE((*inbox)->wait(std::chrono::milliseconds(0)).empty());
  }
  ::sigaction(SIGUSR1, &before, nullptr);
}

TEST(SignalInbox, WakesOnAChildsExit) {
  auto inbox = SignalInbox::Install({SIGCHLD});
  ASSERT_TRUE(inbox.ok());
  auto child = ChildProcess::Prepare({"sh", "-c", "exit 0"});
  ASSERT_TRUE(child.ok());
  ASSERT_TRUE((*child)->run().ok());
  std::vector<int> received;
  for (int i = 0; i < 50 && received.empty(); ++i) received = (*inbox)->wait(std::chrono::milliseconds(200));
  EXPECT_THAT(received, ::testing::Contains(SIGCHLD));
  EXPECT_EQ((*child)->wait()->status, 0);
}

}  // namespace
}  // namespace flopsmeter
