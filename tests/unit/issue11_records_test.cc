// Issue 11, part 3: records that a hostile or unlucky environment used to
// break. Each test reproduces a case that failed before the fix: two meters
// of one rank interleaving a journal, a planted symbolic link, type-confused
// journal fields that aborted the report, tampering that went unseen, a
// report that re-planned the model from other files, a resume that silently
// under-counted the final weights, and a full disk that killed training.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>

#include "api/journal.h"
#include "api/run_report.h"
#include "flopsmeter/meter.h"
#include "meter_support.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using testing::journal_path;
using testing::record_of;
using testing::TempDir;

// Runs metered by counts alone, with no progress line but the ones a test asks for.
MeterOptions counts_only(const std::string& run) { return testing::counts_only(run, 3600); }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A finished run of two segments' worth of lines: begin, checkpoint, end.
void finished_run(const std::string& run) {
  auto meter = Meter::Begin(counts_only(run));
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  (*meter)->add(100, 128, 1);
  (*meter)->add_sequences(128, 1);
  ASSERT_TRUE((*meter)->step(1).ok());
  ASSERT_TRUE((*meter)->checkpoint(1, "ckpt-1").ok());
  (*meter)->add(50, 64, 1);
  (*meter)->add_sequences(64, 1);
  ASSERT_TRUE((*meter)->end({}).ok());
}

// The journal's lines without their chain fields, for rewriting.
std::vector<nlohmann::json> bare_lines(const std::string& run) {
  auto contents = read_journal(journal_path(run));
  EXPECT_TRUE(contents.ok()) << contents.status().ToString();
  std::vector<nlohmann::json> lines;
  for (nlohmann::json line : contents->lines) {
    line.erase("seq");
    line.erase("prev");
    lines.push_back(std::move(line));
  }
  return lines;
}

// Rewrites the journal with `lines` under a valid hash chain, as anyone who
// can write the file can: the chain is tamper evidence, not a secret.
void rewrite_chained(const std::string& run, const std::vector<nlohmann::json>& lines) {
  std::filesystem::remove(journal_path(run));
  auto writer = JournalWriter::OpenLocked(journal_path(run));
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  ASSERT_TRUE(writer->ContinueAfter({}).ok());
  for (const nlohmann::json& line : lines) ASSERT_TRUE(writer->append(line).ok());
}

// ---------------------------------------------------------------- one writer

TEST(Issue11Records, ASecondMeterOfTheSameRankIsRefusedAtBegin) {
  TempDir dir;
  auto first = Meter::Begin(counts_only(dir.path()));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  MeterOptions again = counts_only(dir.path());
  again.resume = true;  // even a resume must not write while another meter does
  auto second = Meter::Begin(again);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("another process is writing this journal"), std::string::npos)
      << second.status().message();
  (*first)->add(10, 10, 1);
  ASSERT_TRUE((*first)->end({}).ok());
  EXPECT_EQ(record_of(dir.path())["exact"]["tokens_processed"], "10");
}

// Six processes begin in one directory at once (one output_dir, RANK unset):
// exactly one meters, the others are refused, and the journal reads back.
TEST(Issue11Records, MetersRacingForOneDirectoryLeaveOneReadableJournal) {
  TempDir dir;
  std::vector<pid_t> children;
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  for (int i = 0; i < 6; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      char byte;
      ::close(go[1]);
      if (::read(go[0], &byte, 1) < 0) _exit(4);  // all start together
      auto meter = Meter::Begin(counts_only(dir.path()));
      if (!meter.ok()) _exit(meter.status().message().find("another process") != std::string::npos ? 3 : 5);
      (*meter)->add(10, 10, 1);
      _exit((*meter)->end({}).ok() ? 0 : 6);
    }
    children.push_back(pid);
  }
  ::close(go[0]);
  ::close(go[1]);  // EOF releases every child at once
  int metered = 0;
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    const int code = WEXITSTATUS(status);
    // Losers are refused by the lock, or, coming after the winner ended,
    // by the journal it left (a run is not reused without resume).
    EXPECT_TRUE(code == 0 || code == 3 || code == 5) << code;
    metered += code == 0;
  }
  EXPECT_EQ(metered, 1);
  EXPECT_EQ(record_of(dir.path())["exact"]["tokens_processed"], "10");
}

// ---------------------------------------------------------------- symlinks

TEST(Issue11Records, AJournalPlantedAsASymbolicLinkIsRefusedAndItsTargetUntouched) {
  TempDir dir;
  const std::string outside = dir.path() + "/outside.txt";
  std::ofstream(outside) << "not a journal\n";
  for (const bool resume : {false, true}) {
    const std::string run = dir.path() + (resume ? "/resumed" : "/new");
    std::filesystem::create_directories(run);
    std::filesystem::create_symlink(outside, journal_path(run));
    MeterOptions o = counts_only(run);
    o.resume = resume;
    auto meter = Meter::Begin(o);
    ASSERT_FALSE(meter.ok());
    EXPECT_NE(meter.status().message().find("is a symbolic link"), std::string::npos) << meter.status().message();
    EXPECT_EQ(slurp(outside), "not a journal\n");
    auto report = report_run(run, {});
    ASSERT_FALSE(report.ok());
    EXPECT_NE(report.status().message().find("is a symbolic link"), std::string::npos);
  }
}

// ---------------------------------------------------------------- fields

// Every field of every line, given a value of the wrong type (each field two
// of the wrong types, in turn, so that every type meets every field across
// the lines) or removed, under a valid chain: the report, merge and a resume
// answer with an error naming the file, line and field, or read the run;
// they never abort, and a refused merge writes nothing. (fuzz/meter_fuzz
// goes on from here with any bytes.)
TEST(Issue11Records, TypeConfusedFieldsAreErrorsNamingTheFieldNeverAborts) {
  TempDir dir;
  const std::string good = dir.path() + "/good";
  finished_run(good);
  const std::vector<nlohmann::json> lines = bare_lines(good);
  const std::vector<nlohmann::json> wrong = {"text", -3, 2.5, true, nullptr, nlohmann::json::array({1, "x"}),
                                             nlohmann::json::object({{"k", 1}})};
  int refused = 0, read = 0;
  size_t field = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    for (const auto& [key, value] : lines[i].items()) {
      ++field;
      for (const size_t w : {field % wrong.size(), (field + 3) % wrong.size(), wrong.size()}) {
        std::vector<nlohmann::json> changed = lines;
        if (w == wrong.size()) {
          changed[i].erase(key);
        } else {
          if (wrong[w] == value) continue;
          changed[i][key] = wrong[w];
        }
        const std::string run = dir.path() + "/case";
        std::filesystem::remove_all(run);
        std::filesystem::create_directories(run);
        rewrite_chained(run, changed);
        auto report = report_run(run, {});
        if (report.ok()) {
          ++read;
          continue;
        }
        ++refused;
        EXPECT_NE(report.status().message().find("journal-rank0.jsonl"), std::string::npos)
            << key << ": " << report.status().message();
        const std::string target = dir.path() + "/merged";
        std::filesystem::remove_all(target);
        auto merged = merge_runs({run}, target, {});
        EXPECT_FALSE(merged.ok()) << key;
        EXPECT_FALSE(std::filesystem::exists(target + "/journal-rank0.jsonl")) << key << ": a shard was copied";
        MeterOptions resume = counts_only(run);
        resume.resume = true;
        auto meter = Meter::Begin(resume);
        if (meter.ok()) {
          (void)(*meter)->end({});  // refused or read; either way, no abort
        }
      }
    }
  }
  EXPECT_GT(refused, 30);  // most confusions matter; the rest are ignored fields
  EXPECT_GT(read, 0);
}

TEST(Issue11Records, CountsThatGoDownWithinASegmentAreRefused) {
  TempDir dir;
  finished_run(dir.path());
  std::vector<nlohmann::json> lines = bare_lines(dir.path());
  lines.back()["tokens"] = 20;  // the end line said 150; the checkpoint line 100
  rewrite_chained(dir.path(), lines);
  auto report = report_run(dir.path(), {});
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("go down within segment 1"), std::string::npos)
      << report.status().message();
}

// ---------------------------------------------------------------- tamper evidence

// Lines removed from the end, or counts rewritten with the chain recomputed,
// pass the chain; against the record that pinned the journal's last line
// they show, in the record's integrity block, its warnings and the text.
TEST(Issue11Records, ARewrittenOrTruncatedJournalShowsAgainstTheRecordThatPinnedIt) {
  for (const bool truncate : {true, false}) {
    TempDir dir;
    finished_run(dir.path());  // writes flops_meter.json, pinning the end line
    std::vector<nlohmann::json> lines = bare_lines(dir.path());
    if (truncate) {
      lines.pop_back();  // reads as a crash without the record
    } else {
      for (nlohmann::json& line : lines) {
        if (line.contains("tokens")) line["tokens"] = line["tokens"].get<uint64_t>() / 10;
      }
    }
    rewrite_chained(dir.path(), lines);
    const nlohmann::json j = record_of(dir.path());
    ASSERT_EQ(j["integrity"]["problems"].size(), 1u) << j["integrity"].dump();
    EXPECT_NE(j["integrity"]["problems"][0].get<std::string>().find("no longer holds"), std::string::npos);
    EXPECT_NE(j["warnings"].dump().find("integrity: "), std::string::npos);
    auto text = run_record_to_text(j.dump());
    ASSERT_TRUE(text.ok());
    EXPECT_NE(text->find("\nINTEGRITY: "), std::string::npos) << *text;
  }
}

// An edited (complete but failing) last line is dropped at resume; the
// resume says so in its own begin line, so the warning outlives the line.
TEST(Issue11Records, AnEditedLastLineDroppedAtResumeStaysAWarning) {
  TempDir dir;
  {
    auto meter = Meter::Begin(counts_only(dir.path()));
    ASSERT_TRUE(meter.ok());
    (*meter)->add(100, 100, 1);
    ASSERT_TRUE((*meter)->checkpoint(5, "ckpt-5").ok());
    (*meter)->add(900, 900, 1);
    ASSERT_TRUE((*meter)->flush().ok());
  }  // freed without end: the last line is a progress line
  std::string text = slurp(journal_path(dir.path()));
  const size_t at = text.rfind("\"tokens\":1000");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 13, "\"tokens\":9000");
  std::ofstream(journal_path(dir.path()), std::ios::trunc) << text;
  MeterOptions o = counts_only(dir.path());
  o.resume = true;
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  ASSERT_TRUE((*meter)->end({}).ok());  // the edited line is gone from the file now
  const nlohmann::json j = record_of(dir.path());
  EXPECT_NE(j["warnings"].dump().find("damaged or edited after it was written"), std::string::npos)
      << j["warnings"].dump();
}

// ---------------------------------------------------------------- pinned accounting

// The report reads the model from the run directory's copy of its config,
// and refuses when the figures would not be the ones metered.
TEST(Issue11Records, AReportUsesThePinnedModelAndRefusesWhenItsFiguresChanged) {
  TempDir dir;
  const std::string run = dir.path() + "/run";
  MeterOptions o;
  o.run_dir = run;
  o.model = "gpt2";
  o.journal_interval_s = 3600;
  {
    auto meter = Meter::Begin(o);
    ASSERT_TRUE(meter.ok()) << meter.status().ToString();
    (*meter)->add(1000, 1024, 1);
    (*meter)->add_sequences(1024, 1);
    ASSERT_TRUE((*meter)->end({}).ok());
  }
  const nlohmann::json before = record_of(run);
  // Another model answering to the same name at report time is refused, not
  // re-planned: a catalog override that makes gpt2 larger.
  const std::string data = dir.path() + "/data";
  std::filesystem::create_directories(data + "/models");
  nlohmann::json bigger = nlohmann::json::parse(slurp(testing::source_path("data/models/openai-community__gpt2.json")));
  bigger["config"]["n_layer"] = 24;
  bigger.erase("published_params");
  std::ofstream(data + "/models/openai-community__gpt2.json") << bigger.dump();
  ReportOptions other;
  other.data_dir = data;
  auto refused = report_run(run, other);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("cannot be reported as it was metered"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(record_of(run)["exact"]["compliance_flop"], before["exact"]["compliance_flop"]);
}

TEST(Issue11Records, AResumeThatWouldCountDifferentlyIsRefused) {
  TempDir dir;
  MeterOptions o = counts_only(dir.path());
  {
    auto meter = Meter::Begin(o);
    ASSERT_TRUE(meter.ok());
    (*meter)->add(10, 10, 1);
    ASSERT_TRUE((*meter)->checkpoint(1, "c").ok());
  }
  o.resume = true;
  o.n_total = 2000;  // another model
  auto meter = Meter::Begin(o);
  ASSERT_FALSE(meter.ok());
  EXPECT_NE(meter.status().message().find("would count differently from how it began: N_total: 1000 then, 2000 now"),
            std::string::npos)
      << meter.status().message();
}

// ---------------------------------------------------------------- under-counts

// The trainer saved a checkpoint at step 20 and the process died before the
// meter journaled it: the resume from step 20 counts the earlier segment to
// its last line at or before it (step 15), and the record says so.
TEST(Issue11Records, AResumeFromAnUnjournaledCheckpointIsAnUnderCountEvent) {
  TempDir dir;
  {
    auto meter = Meter::Begin(counts_only(dir.path()));
    ASSERT_TRUE(meter.ok());
    (*meter)->add(100, 100, 1);
    ASSERT_TRUE((*meter)->checkpoint(10, "ckpt-10").ok());
    (*meter)->add(50, 50, 1);
    ASSERT_TRUE((*meter)->step(15).ok());
    ASSERT_TRUE((*meter)->flush().ok());
    (*meter)->add(60, 60, 1);
    ASSERT_TRUE((*meter)->step(22).ok());
    ASSERT_TRUE((*meter)->flush().ok());
  }  // ckpt-20 was saved in between, and never journaled
  MeterOptions o = counts_only(dir.path());
  o.resume = true;
  o.resume_step = 20;
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  (*meter)->add(5, 5, 1);
  ASSERT_TRUE((*meter)->end({}).ok());
  const nlohmann::json j = record_of(dir.path());
  bool found = false;
  for (const auto& e : j["events"]) {
    if (e["kind"] != "undercount") continue;
    found = true;
    const std::string m = e["message"];
    EXPECT_NE(m.find("resumed at step 20 with no checkpoint line there"), std::string::npos) << m;
    EXPECT_NE(m.find("line at step 15 (150 tokens)"), std::string::npos) << m;
    EXPECT_NE(m.find("its next line, at step 22, had 210 tokens"), std::string::npos) << m;
  }
  EXPECT_TRUE(found) << j["events"].dump();
  EXPECT_NE(j["warnings"].dump().find("tokens.in_final_weights is short"), std::string::npos);
  EXPECT_EQ(j["exact"]["tokens_processed"], "215");  // spent: every line of both segments
}

// ---------------------------------------------------------------- full disk

// A journal that cannot be written (RLIMIT_FSIZE stands in for a full disk:
// writes past the limit fail with EFBIG) never fails a step: the counts stay
// in memory, and the first line that can be written again carries them,
// with an event saying how many lines were missed.
TEST(Issue11Records, AFullDiskNeverFailsAStepAndTheRecordSaysWhatWasNotJournaled) {
  TempDir dir;
  std::signal(SIGXFSZ, SIG_IGN);
  auto meter = Meter::Begin(counts_only(dir.path()));
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  (*meter)->add(100, 100, 1);
  ASSERT_TRUE((*meter)->flush().ok());
  struct rlimit original;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &original), 0);
  struct rlimit full = original;
  full.rlim_cur = std::filesystem::file_size(journal_path(dir.path()));
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &full), 0);
  (*meter)->add(200, 200, 1);
  auto state = (*meter)->step(2);
  EXPECT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_FALSE((*meter)->flush().ok());
  EXPECT_FALSE((*meter)->checkpoint(2, "ckpt-2").ok());
  (*meter)->add(300, 300, 1);
  state = (*meter)->step(3);
  EXPECT_TRUE(state.ok()) << state.status().ToString();
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &original), 0);  // space again
  ASSERT_TRUE((*meter)->flush().ok());
  ASSERT_TRUE((*meter)->end({}).ok());
  const nlohmann::json j = record_of(dir.path());
  EXPECT_EQ(j["exact"]["tokens_processed"], "600");  // nothing lost
  const std::string warnings = j["warnings"].dump();
  EXPECT_NE(warnings.find("journal line(s) could not be written"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("the checkpoint at step 2 (ckpt-2) could not be journaled"), std::string::npos) << warnings;
}

// With the journal unwritable to the end, end() still makes the record from
// the meter's memory, and says so; a report from the journal alone later
// sees the segment as crashed at its last written line.
TEST(Issue11Records, AnEndLineThatCannotBeWrittenStillGivesTheRecord) {
  TempDir dir;
  std::signal(SIGXFSZ, SIG_IGN);
  auto meter = Meter::Begin(counts_only(dir.path()));
  ASSERT_TRUE(meter.ok());
  // A journal larger than the record, so that the record fits under the limit.
  for (uint64_t i = 1; i <= 4000; ++i) {
    (*meter)->add(1, 1, 1);
    (*meter)->add_sequences(i, 1);
    if (i % 400 == 0) {
      ASSERT_TRUE((*meter)->flush().ok());
    }
  }
  struct rlimit original;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &original), 0);
  struct rlimit full = original;
  full.rlim_cur = std::filesystem::file_size(journal_path(dir.path()));
  ASSERT_GT(full.rlim_cur, 32u << 10);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &full), 0);
  (*meter)->add(1000, 1000, 1);
  auto record = (*meter)->end({});
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &original), 0);
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  const nlohmann::json j = nlohmann::json::parse(record->json);
  EXPECT_EQ(j["exact"]["tokens_processed"], "5000");
  EXPECT_EQ(j["status"], "completed");
  EXPECT_NE(j["warnings"].dump().find("the end line could not be journaled"), std::string::npos);
  EXPECT_EQ(record_of(dir.path())["status"], "crashed");
}

// ---------------------------------------------------------------- escaping

TEST(Issue11Records, ControlCharactersInNamesAreEscapedInTheText) {
  TempDir dir;
  MeterOptions o = counts_only(dir.path());
  o.model_name = "evil\nEU: below\x1b[2J";
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok());
  (*meter)->add(10, 10, 1);
  auto record = (*meter)->end({});
  ASSERT_TRUE(record.ok());
  auto text = run_record_to_text(record->json);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->find("\nEU: below"), std::string::npos) << *text;
  EXPECT_EQ(text->find('\x1b'), std::string::npos);
  EXPECT_NE(text->find("evil\\x0aEU: below\\x1b[2J"), std::string::npos) << *text;
}

// A record damaged by hand prints what it has; it never throws.
TEST(Issue11Records, ADamagedRecordPrintsWhatItHas) {
  TempDir dir;
  finished_run(dir.path());
  nlohmann::json j = record_of(dir.path());
  for (const char* key : {"N_total", "segments", "budget", "compliance", "verdict", "warnings", "exact"}) {
    nlohmann::json damaged = j;
    damaged[key] = "wrong";
    EXPECT_TRUE(run_record_to_text(damaged.dump()).ok()) << key;
  }
}

}  // namespace
}  // namespace flopsmeter
