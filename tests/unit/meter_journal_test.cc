// When the meter writes its journal: progress lines come from a background
// thread at the interval, never from the training thread's step(), so a job
// killed between steps still leaves its counts on disk, and long lines
// (thousands of distinct sequence lengths) are spaced out.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "flopsmeter/meter.h"
#include "meter_support.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using testing::counts_only;
using testing::TempDir;

std::vector<nlohmann::json> journal_lines(const std::string& run) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(run + "/journal-rank0.jsonl");
  for (std::string text; std::getline(in, text);) lines.push_back(nlohmann::json::parse(text));
  return lines;
}

size_t progress_lines(const std::string& run) {
  size_t n = 0;
  for (const nlohmann::json& line : journal_lines(run)) n += line["kind"] == "progress" ? 1 : 0;
  return n;
}

// Polls for up to 20 s (a loaded machine), returning whether `done` held.
template <typename Done>
bool eventually(Done done) {
  for (int i = 0; i < 400; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

TEST(MeterJournal, CountsReachTheDiskAtTheIntervalWithoutAnyStepCall) {
  TempDir dir;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto meter = Meter::Begin(counts_only(dir.path(), 0.1));
    if (!meter.ok()) _exit(3);
    (*meter)->add(123, 200, 1);
    const bool written = eventually([&] {
      for (const nlohmann::json& line : journal_lines(dir.path()))
        if (line["kind"] == "progress" && line["tokens"] == 123) return true;
      return false;
    });
    if (!written) _exit(4);
    ::kill(::getpid(), SIGKILL);  // no end(), no destructor: a preempted node
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exit " << WEXITSTATUS(status) << " (4: no progress line with the tokens)";
  auto record = report_run(dir.path(), {});
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  const auto j = nlohmann::json::parse(record->json);
  EXPECT_EQ(j["status"], "crashed");
  EXPECT_EQ(j["exact"]["tokens_processed"], "123");
}

TEST(MeterJournal, StepWritesNoLineOfItsOwnBetweenIntervals) {
  TempDir dir;
  auto meter = Meter::Begin(counts_only(dir.path(), 3600));
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  for (uint64_t step = 1; step <= 200; ++step) {
    (*meter)->add(10, 16, 1);
    ASSERT_TRUE((*meter)->step(step).ok());
  }
  EXPECT_EQ(journal_lines(dir.path()).size(), 1u) << "only the begin line: no journal I/O on the training thread";
  ASSERT_TRUE((*meter)->end({}).ok());
  const auto lines = journal_lines(dir.path());
  EXPECT_EQ(lines.back()["kind"], "end");
  EXPECT_EQ(lines.back()["tokens"], 2000);
  EXPECT_EQ(lines.back()["step"], 200);
}

TEST(MeterJournal, LinesWithManyDistinctLengthsAreSpacedOut) {
  TempDir dir;
  auto meter = Meter::Begin(counts_only(dir.path(), 0.05));
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  // Varlen attention: every length from 1 to 8192 once, a ~70 KiB line.
  for (uint64_t len = 1; len <= 8192; ++len) (*meter)->add_sequences(len, 1);
  (*meter)->add(8192 * 4097, 8192 * 4097, 1);
  ASSERT_TRUE(eventually([&] { return progress_lines(dir.path()) >= 1; }));
  // At 1 KiB/s the next line is over a minute away, not 0.05 s.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(progress_lines(dir.path()), 1u);
  // A checkpoint is never delayed.
  ASSERT_TRUE((*meter)->checkpoint(1, "ckpt-1").ok());
  EXPECT_EQ(journal_lines(dir.path()).back()["kind"], "checkpoint");
  auto rec = (*meter)->end({});
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  const auto j = nlohmann::json::parse(rec->json);
  EXPECT_EQ(j["exact"]["tokens_processed"], std::to_string(8192 * 4097));
}

// A crash can only leave the last line unterminated; a complete last line
// that fails its hash was changed, and the record says so as a warning.
TEST(MeterJournal, AnEditedLastLineIsAWarningNotATornLine) {
  for (const bool edited : {false, true}) {
    TempDir dir;
    {
      auto meter = Meter::Begin(counts_only(dir.path(), 3600));
      ASSERT_TRUE(meter.ok()) << meter.status().ToString();
      (*meter)->add(100, 100, 1);
      ASSERT_TRUE((*meter)->flush().ok());
      (*meter)->add(900, 900, 1);
    }  // freed without end(): a last progress line with 1000 tokens
    const std::string path = dir.path() + "/journal-rank0.jsonl";
    std::string text;
    {
      std::ifstream in(path);
      text.assign(std::istreambuf_iterator<char>(in), {});
    }
    const size_t last = text.rfind("\"tokens\":1000");
    ASSERT_NE(last, std::string::npos);
    if (edited) {
      text.replace(last, 14, "\"tokens\":9000");  // the line stays complete
    } else {
      text.resize(text.size() - 20);  // a crash while writing: no newline
    }
    std::ofstream(path, std::ios::trunc) << text;
    auto record = report_run(dir.path(), {});
    ASSERT_TRUE(record.ok()) << record.status().ToString();
    const auto j = nlohmann::json::parse(record->json);
    EXPECT_EQ(j["exact"]["tokens_processed"], "100") << "the dropped line's counts are not taken";
    const std::string warnings = j["warnings"].dump(), notes = j["notes"].dump();
    if (edited) {
      EXPECT_NE(warnings.find("damaged or edited"), std::string::npos) << warnings;
    } else {
      EXPECT_EQ(warnings.find("damaged or edited"), std::string::npos) << warnings;
      EXPECT_NE(notes.find("torn last journal line"), std::string::npos) << notes;
    }
  }
}

}  // namespace
}  // namespace flopsmeter
