// The runtime meter, as a training job and an auditor see it: counts that
// add up exactly, a journal that survives a kill and shows an edit, resumes
// that count nothing twice, ranks that add up, a budget that stops in time.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>

#include "api/meter_options.h"
#include "api/run_report.h"
#include "flopsmeter/meter.h"
#include "meter_support.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using testing::counts_only;
using testing::journal_path;
using testing::record_of;
using testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

// Runs `body` in a child process that must end with die(): killed without
// ending the meter (or running any destructor), as a SIGKILL or a preempted
// node leaves it.
void die() { ::kill(::getpid(), SIGKILL); }

void in_killed_child(const std::function<void()>& body) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    body();
    _exit(5);  // body() did not die()
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
}

TEST(Meter, EndWritesTheRecordWithExactTokensAndTheAwsFields) {
  TempDir dir;
  auto meter = Meter::Begin(counts_only(dir.path()));
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  (*meter)->add(700, 1024, 1);
  (*meter)->add(300, 512, 1);
  auto rec = (*meter)->end({});
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->tokens, 1000u);
  auto j = nlohmann::json::parse(std::ifstream(dir.path() + "/flops_meter.json"));
  EXPECT_EQ(j["schema"], "flopsmeter.run/3");
  EXPECT_EQ(j["N_total"], 1000);
  EXPECT_EQ(j["N_trainable"], 10);
  EXPECT_EQ(j["exact"]["tokens_processed"], "1000");
  EXPECT_TRUE(j["tokens_processed"].is_number_unsigned()) << "an integer, as the AWS toolkit wrote it";
  EXPECT_EQ(j["tokens_processed"], 1000);
  EXPECT_EQ(j["tokens"]["spent"]["positions"], "1536");
  EXPECT_EQ(j["tokens"]["spent"]["padding"], "536");
  // (4 x 1000 + 2 x 10) x 1000, the AWS formula with post-wrap counts.
  EXPECT_EQ(j["exact"]["Flops_architecture"], "4020000");
  EXPECT_EQ(j["flops_exact"]["eu_6nd"], "6000000");
  EXPECT_EQ(j["threshold_type"], "unknown_gpai");
  EXPECT_NEAR(j["threshold_value"].get<double>(), 1e23 / 3, 1e8);
  EXPECT_EQ(j["status"], "completed");
  EXPECT_TRUE(j["complete"].get<bool>());
  EXPECT_TRUE(j["Flops_hardware"].is_null());
  EXPECT_TRUE(j["flops"]["detailed"].is_null()) << "no model config, no detailed count";
}

TEST(Meter, AddingFromManyThreadsLosesNothing) {
  TempDir dir;
  auto meter = Meter::Begin(counts_only(dir.path()));
  ASSERT_TRUE(meter.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        (*meter)->add(3, 4, 1);
        (*meter)->add_sequences(static_cast<uint64_t>(100 + (i + t) % 3000), 1);
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE((*meter)->end({}).ok());
  auto j = record_of(dir.path());
  EXPECT_EQ(j["tokens"]["spent"]["tokens"], "240000");
  EXPECT_EQ(j["tokens"]["spent"]["micro_batches"], 80000);
  EXPECT_EQ(j["tokens"]["distinct_sequence_lengths"], 3000);
}

TEST(Meter, TheDetailedFormulaUsesTheSequencesAdded) {
  TempDir dir;
  MeterOptions o;
  o.run_dir = dir.path();
  o.model = "gpt2";
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  (*meter)->add(4096, 4096, 4);
  (*meter)->add_sequences(1024, 4);
  ASSERT_TRUE((*meter)->end({}).ok());
  auto j = record_of(dir.path());
  ASSERT_TRUE(j["flops"]["detailed"].is_number());
  EXPECT_GT(j["flops"]["detailed"].get<double>(), j["flops"]["eu_6nd"].get<double>() * 0.5);
  EXPECT_EQ(j["compliance"]["formula"], "detailed");
  EXPECT_EQ(j["formulas"]["detailed"]["inputs"]["executed_positions"], "4096");
}

TEST(Meter, AKilledJobLeavesAValidRecordUpToItsLastJournalLine) {
  TempDir dir;
  in_killed_child([&] {
    auto meter = Meter::Begin(counts_only(dir.path()));
    if (!meter.ok()) _exit(3);
    (*meter)->add(100, 128, 1);
    (void)(*meter)->checkpoint(10, "ckpt-10");
    (*meter)->add(50, 64, 1);
    (void)(*meter)->flush();
    (*meter)->add(7, 8, 1);  // after the last line: lost with the process
    die();
  });
  auto j = record_of(dir.path());
  EXPECT_EQ(j["status"], "crashed");
  EXPECT_FALSE(j["complete"].get<bool>());
  EXPECT_EQ(j["exact"]["tokens_processed"], "150");
  ASSERT_TRUE(j.contains("notes"));
  EXPECT_NE(j["notes"].dump().find("no end line"), std::string::npos);
}

TEST(Meter, ResumingFromACheckpointCountsNothingTwiceAndFlagsTheLostCompute) {
  TempDir dir;
  in_killed_child([&] {
    auto meter = Meter::Begin(counts_only(dir.path()));
    if (!meter.ok()) _exit(3);
    (*meter)->add(100, 100, 1);
    (void)(*meter)->checkpoint(10, "ckpt-10");
    (*meter)->add(40, 40, 1);  // spent, then lost: the job restarts from step 10
    (void)(*meter)->flush();
    die();
  });
  MeterOptions o = counts_only(dir.path());
  o.resume = true;
  o.resume_step = 10;
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  (*meter)->add(60, 60, 1);
  ASSERT_TRUE((*meter)->end({}).ok());
  auto j = record_of(dir.path());
  EXPECT_EQ(j["exact"]["tokens_processed"], "200");             // 100 + 40 + 60 spent
  EXPECT_EQ(j["tokens"]["in_final_weights"]["tokens"], "160");  // 100 + 60
  EXPECT_EQ(j["tokens"]["not_in_final_weights"], "40");
  EXPECT_EQ(j["segments"].size(), 2u);
  EXPECT_EQ(j["segments"][0]["not_in_final_weights"]["tokens"], "40");
  EXPECT_EQ(j["segments"][0]["not_in_final_weights"]["reason"], "segment 2 resumed from its checkpoint at step 10");
  EXPECT_EQ(j["segments"][1]["not_in_final_weights"]["tokens"], "0");
  EXPECT_TRUE(j["segments"][1]["not_in_final_weights"]["reason"].is_null());
  EXPECT_EQ(j["segments"][1]["resumed_from"]["step"], 10);
  EXPECT_TRUE(j["segments"][1]["resumed_from"]["exact"].get<bool>());
  EXPECT_EQ(j["status"], "completed");
  auto text = run_record_to_text(j.dump());
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_NE(text->find("tokens                  200 spent, 160 in the final weights\n"
                       "  not in the weights    40 tokens of segment 1 (rank 0): segment 2 "
                       "resumed from its checkpoint at step 10\n"),
            std::string::npos)
      << *text;
}

// An integration that counts the products it executes (the native trainer)
// journals them; the record sums the segments spent and sets each formula
// beside them. A killed segment's count is its last line's.
TEST(Meter, ExecutedProductsAreJournaledSummedOverSegmentsAndSetBesideTheFormulas) {
  TempDir dir;
  in_killed_child([&] {
    MeterOptions o = counts_only(dir.path());
    o.model = "gpt2";
    auto meter = Meter::Begin(o);
    if (!meter.ok()) _exit(3);
    (*meter)->add(100, 128, 1);
    (*meter)->add_sequences(128, 1);
    (*meter)->set_executed({1000, 2000, 30});
    (void)(*meter)->checkpoint(10, "ckpt-10");
    (*meter)->set_executed({1500, 3000, 45});  // never journaled: lost with the process
    die();
  });
  MeterOptions o = counts_only(dir.path());
  o.model = "gpt2";
  o.resume = true;
  o.resume_step = 10;
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  (*meter)->add(100, 128, 1);
  (*meter)->add_sequences(128, 1);
  (*meter)->set_executed({(Flop{1} << 70), 7, 0});  // past 64 bits: journaled as a decimal string
  ASSERT_TRUE((*meter)->end({}).ok());
  auto j = record_of(dir.path());
  ASSERT_TRUE(j["executed"].is_object()) << j.dump();
  EXPECT_EQ(j["executed"]["forward"], to_decimal((Flop{1} << 70) + 1000));
  EXPECT_EQ(j["executed"]["backward"], "2007");
  EXPECT_EQ(j["executed"]["recompute"], "30");
  EXPECT_EQ(j["executed"]["trained"], to_decimal((Flop{1} << 70) + 3007));
  const double detailed = j["flops"]["detailed"].get<double>();
  const double trained = j["executed"]["trained_flop"].get<double>();
  EXPECT_NEAR(j["executed"]["formula_error_pct"]["detailed"].get<double>(), 100 * (detailed - trained) / trained, 1e-9);
  EXPECT_TRUE(j["executed"]["hardware_bound_over_executed"].is_null());  // no GPU sampled
  auto text = run_record_to_text(j.dump());
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("  executed              1.18e+21 FLOP forward + backward (recompute 30)"), std::string::npos)
      << *text;
}

TEST(Meter, ExecutedIsNullWhenTheIntegrationDoesNotCountIt) {
  TempDir dir;
  auto meter = Meter::Begin(counts_only(dir.path()));
  ASSERT_TRUE(meter.ok());
  (*meter)->add(10, 10, 1);
  ASSERT_TRUE((*meter)->end({}).ok());
  EXPECT_TRUE(record_of(dir.path())["executed"].is_null());
}

// The budget guard of a resumed run compares what the record will say: the
// detailed formula over every segment's tokens, sequence lengths and
// micro-batches, not the earlier segments' tokens alone.
TEST(Meter, AResumedRunsFigureForTheBudgetIsTheRecordsSpentFigure) {
  TempDir dir;
  MeterOptions o;
  o.run_dir = dir.path();
  o.model = "gpt2";
  in_killed_child([&] {
    auto meter = Meter::Begin(o);
    if (!meter.ok()) _exit(3);
    (*meter)->add(3000, 4096, 4);
    (*meter)->add_sequences(1024, 4);
    (void)(*meter)->checkpoint(10, "ckpt-10");
    (*meter)->add(700, 1024, 1);  // spent, then lost with the crash
    (*meter)->add_sequences(1024, 1);
    (void)(*meter)->flush();
    die();
  });
  o.resume = true;
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  (*meter)->add(2000, 2048, 2);
  (*meter)->add_sequences(1024, 2);
  auto state = (*meter)->step(12);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  ASSERT_TRUE((*meter)->end({}).ok());
  auto j = record_of(dir.path());
  EXPECT_EQ(j["exact"]["tokens_processed"], "5700");
  EXPECT_EQ(j["compliance"]["formula"], "detailed");
  EXPECT_EQ(j["compliance"]["exact"], to_decimal(state->compute_flop));
}

TEST(Meter, ARunIdIsAPlainTokenAndADirectoryHoldsOneRun) {
  TempDir dir;
  MeterOptions o = counts_only(dir.path());
  o.run_id = "job-1";
  {
    auto meter = Meter::Begin(o);
    ASSERT_TRUE(meter.ok()) << meter.status().ToString();
    EXPECT_EQ((*meter)->run_id(), "job-1");
  }
  TempDir other;
  MeterOptions another = counts_only(other.path());
  another.run_id = "job-2";
  std::filesystem::copy_file(dir.path() + "/run.json", other.path() + "/run.json");
  auto refused = Meter::Begin(another);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("belongs to run 'job-1', not to run-id 'job-2'"), std::string::npos)
      << refused.status().message();
  o.resume = true;
  o.run_id = "job-2";
  auto resumed = Meter::Begin(o);
  ASSERT_FALSE(resumed.ok()) << "a resume under another run id";
  EXPECT_NE(resumed.status().message().find("journal-rank0.jsonl belongs to run 'job-1'"), std::string::npos);

  OptionMap flags;
  flags.values["run"] = dir.path();
  flags.values["n-total"] = "1000";
  flags.values["run-id"] = "../x";
  auto invalid = meter_options_from_map(flags);
  ASSERT_FALSE(invalid.ok());
  EXPECT_NE(invalid.status().message().find("option \"run-id\" '../x': expected 1 to 128 letters"), std::string::npos)
      << invalid.status().message();
}

TEST(Meter, ARunDirectoryIsNotReusedWithoutResume) {
  TempDir dir;
  {
    auto meter = Meter::Begin(counts_only(dir.path()));
    ASSERT_TRUE(meter.ok());
    ASSERT_TRUE((*meter)->end({}).ok());
  }
  auto again = Meter::Begin(counts_only(dir.path()));
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("option \"resume\""), std::string::npos);
}

TEST(Meter, AnEditedJournalLineIsReportedWithFileAndLine) {
  TempDir dir;
  {
    auto meter = Meter::Begin(counts_only(dir.path()));
    ASSERT_TRUE(meter.ok());
    (*meter)->add(123, 123, 1);
    ASSERT_TRUE((*meter)->flush().ok());
    ASSERT_TRUE((*meter)->end({}).ok());
  }
  std::ifstream in(journal_path(dir.path()));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t at = text.find("\"tokens\":123");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 12, "\"tokens\":12 ");
  std::ofstream(journal_path(dir.path())) << text;
  auto r = report_run(dir.path(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kParseError);
  EXPECT_NE(r.status().message().find("journal-rank0.jsonl:2:"), std::string::npos) << r.status().message();
}

TEST(Meter, ATornLastLineIsDroppedAndCutBeforeTheNextSegmentAppends) {
  TempDir dir;
  in_killed_child([&] {
    auto meter = Meter::Begin(counts_only(dir.path()));
    if (!meter.ok()) _exit(3);
    (*meter)->add(10, 10, 1);
    (void)(*meter)->checkpoint(1, "c1");
    die();
  });
  std::ofstream(journal_path(dir.path()), std::ios::app) << "{\"kind\":\"progress\",\"tok";
  auto j = record_of(dir.path());
  EXPECT_TRUE(j["provenance"]["journals"]["0"]["torn_tail_dropped"].get<bool>());
  MeterOptions o = counts_only(dir.path());
  o.resume = true;
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  ASSERT_TRUE((*meter)->end({}).ok());
  j = record_of(dir.path());
  EXPECT_FALSE(j["provenance"]["journals"]["0"]["torn_tail_dropped"].get<bool>());
  EXPECT_EQ(j["exact"]["tokens_processed"], "10");
}

TEST(Meter, RanksInSeparateProcessesAddUpInTheRecord) {
  TempDir dir;
  for (uint32_t rank = 1; rank < 3; ++rank) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      MeterOptions o = counts_only(dir.path());
      o.rank = rank;
      o.world_size = 3;
      auto meter = Meter::Begin(o);
      if (!meter.ok()) _exit(3);
      (*meter)->add(rank * 100, rank * 100, 1);
      _exit((*meter)->end({}).ok() ? 0 : 4);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_EQ(WEXITSTATUS(status), 0);
  }
  MeterOptions o = counts_only(dir.path());
  o.world_size = 3;
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  (*meter)->add(5, 5, 1);
  auto rec = (*meter)->end({});
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->tokens, 305u);
  EXPECT_TRUE(rec->complete);
  auto text = run_record_to_text(rec->json);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("ranks                   3 data-parallel, every rank's journal read\n"), std::string::npos) << *text;
}

// Rank 0 waits for the ranks whose journals share its directory, and not
// for a rank whose journal is on another node's disk (merged later).
TEST(Meter, EndWaitsForRanksInItsDirectoryOnly) {
  TempDir dir;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // rank 1, here; still training when rank 0 ends
    MeterOptions o = counts_only(dir.path());
    o.rank = 1;
    o.world_size = 3;
    auto meter = Meter::Begin(o);
    if (!meter.ok()) _exit(3);
    (void)!::write(ready[1], "x", 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    (*meter)->add(100, 100, 1);
    _exit((*meter)->end({}).ok() ? 0 : 4);
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  MeterOptions o = counts_only(dir.path());
  o.world_size = 3;  // rank 2 is on another node
  o.end_wait_s = 120;
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  (*meter)->add(5, 5, 1);
  const auto start = std::chrono::steady_clock::now();
  auto rec = (*meter)->end({});
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(rec->tokens, 105u) << "rank 1's end line was waited for";
  EXPECT_FALSE(rec->complete) << "rank 2's journal is not here";
  auto text = run_record_to_text(rec->json);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("ranks                   3 data-parallel, no journal from rank(s) 2\n"), std::string::npos) << *text;
  EXPECT_LT(waited, 60) << "not the whole end-wait for a journal that is elsewhere";
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(Meter, MergeJoinsShardsKeptInSeparateDirectoriesAndRefusesAnotherRun) {
  TempDir a, b, target, other;
  for (auto [dir, rank] : {std::pair{&a, 0u}, std::pair{&b, 1u}}) {
    MeterOptions o = counts_only(dir->path());
    o.rank = rank;
    o.world_size = 2;
    o.end_wait_s = 0;
    o.run_id = "job-4711";  // node-local directories: the job's id makes them one run
    auto meter = Meter::Begin(o);
    ASSERT_TRUE(meter.ok()) << meter.status().ToString();
    (*meter)->add(10 + rank, 10 + rank, 1);
    ASSERT_TRUE((*meter)->end({}).ok());
  }
  auto merged = merge_runs({a.path(), b.path()}, target.path() + "/all", {});
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(merged->tokens, 21u);
  EXPECT_TRUE(merged->complete);
  {
    auto meter = Meter::Begin(counts_only(other.path()));
    ASSERT_TRUE(meter.ok());
    ASSERT_TRUE((*meter)->end({}).ok());
  }
  auto refused = merge_runs({a.path(), other.path()}, target.path() + "/mixed", {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("belongs to run"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(target.path() + "/mixed")) << "a refused merge writes nothing";
}

TEST(Meter, TheBudgetWarnsAt50_80_90PercentAndStopsBeforeTheStepThatWouldCross) {
  TempDir dir;
  MeterOptions o = counts_only(dir.path());
  // 6 x 1000 x D ... peft_aware (4 x 1000 + 2 x 10) = 4020 FLOP per token.
  o.compliance_formula = ComplianceFormula::kPeftAware;
  o.budget_flop = 4020 * 1000;
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok());
  std::vector<std::string> warnings;
  uint64_t step = 0;
  Flop spent = 0;
  while (true) {
    (*meter)->add(95, 100, 1);
    auto s = (*meter)->step(++step);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    spent = s->compute_flop;
    for (auto& w : s->new_warnings) warnings.push_back(w);
    if (s->stop) break;
    ASSERT_LT(step, 100u);
  }
  EXPECT_LE(spent, Flop{4020 * 1000});
  EXPECT_GT(spent + 4020 * 95, Flop{4020 * 1000}) << "stopped a step early, not several";
  ASSERT_EQ(warnings.size(), 3u);
  EXPECT_NE(warnings[0].find("50.0%"), std::string::npos);
  EndOptions stopped;
  stopped.status = "stopped_by_budget";
  auto rec = (*meter)->end(stopped);
  ASSERT_TRUE(rec.ok());
  auto j = nlohmann::json::parse(rec->json);
  EXPECT_TRUE(j["budget"]["stopped_by_budget"].get<bool>());
  ASSERT_EQ(j["budget"]["events"].size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(j["budget"]["events"][i]["kind"], "budget_warning");
  EXPECT_EQ(j["budget"]["events"][3]["kind"], "budget_stop");
  EXPECT_EQ(j["budget"]["events"][3]["rank"], 0);
  EXPECT_EQ(j["budget"]["events"][3]["segment"], 1);
  EXPECT_EQ(j["events"], nlohmann::json::array());
}

TEST(Meter, AResumeWithoutACheckpointIsAnEventOutsideTheBudgetsEvents) {
  TempDir dir;
  MeterOptions o = counts_only(dir.path());
  o.budget_flop = Flop{1} << 100;
  in_killed_child([&] {
    auto meter = Meter::Begin(o);
    if (!meter.ok()) _exit(3);
    (*meter)->add(10, 10, 1);
    (void)(*meter)->flush();
    die();
  });
  o.resume = true;
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  (*meter)->add(5, 5, 1);
  ASSERT_TRUE((*meter)->end({}).ok());
  auto j = record_of(dir.path());
  EXPECT_EQ(j["budget"]["events"], nlohmann::json::array());
  ASSERT_EQ(j["events"].size(), 1u);
  EXPECT_EQ(j["events"][0]["kind"], "resume_without_checkpoint");
  EXPECT_EQ(j["events"][0]["segment"], 2);
  EXPECT_EQ(j["tokens"]["not_in_final_weights"], "10");
  EXPECT_NE(j["segments"][0]["not_in_final_weights"]["reason"].get<std::string>().find("no later segment resumed"),
            std::string::npos);
}

TEST(Meter, AnInterruptedOrBudgetStoppedTailAfterTheLastCheckpointIsNotInTheFinalWeights) {
  for (const char* status : {"interrupted", "stopped_by_budget", "failed"}) {
    TempDir dir;
    auto meter = Meter::Begin(counts_only(dir.path()));
    ASSERT_TRUE(meter.ok());
    (*meter)->add(100, 100, 1);
    ASSERT_TRUE((*meter)->checkpoint(10, "ckpt-10").ok());
    (*meter)->add(40, 40, 1);
    EndOptions end;
    end.status = status;
    end.global_step = 14;
    ASSERT_TRUE((*meter)->end(end).ok());
    auto j = record_of(dir.path());
    EXPECT_EQ(j["tokens"]["spent"]["tokens"], "140") << status;
    EXPECT_EQ(j["tokens"]["in_final_weights"]["tokens"], "100") << status;
    EXPECT_EQ(j["tokens"]["not_in_final_weights"], "40") << status;
    EXPECT_EQ(j["segments"][0]["not_in_final_weights"]["reason"],
              std::string(status) + " after its last checkpoint (step 10): the final weights are that checkpoint's");
  }
  // Completed: the trainer saved the final weights, so the tail is in them.
  TempDir dir;
  auto meter = Meter::Begin(counts_only(dir.path()));
  ASSERT_TRUE(meter.ok());
  (*meter)->add(100, 100, 1);
  ASSERT_TRUE((*meter)->checkpoint(10, "ckpt-10").ok());
  (*meter)->add(40, 40, 1);
  ASSERT_TRUE((*meter)->end({}).ok());
  EXPECT_EQ(record_of(dir.path())["tokens"]["not_in_final_weights"], "0");
}

TEST(Meter, AnUnfinishedSegmentWithoutACheckpointCountsInFullWithANote) {
  TempDir dir;
  auto meter = Meter::Begin(counts_only(dir.path()));
  ASSERT_TRUE(meter.ok());
  (*meter)->add(100, 100, 1);
  EndOptions end;
  end.status = "interrupted";
  ASSERT_TRUE((*meter)->end(end).ok());
  auto j = record_of(dir.path());
  EXPECT_EQ(j["tokens"]["in_final_weights"]["tokens"], "100");
  EXPECT_EQ(j["tokens"]["not_in_final_weights"], "0");
  EXPECT_NE(j["notes"].dump().find("without a checkpoint line"), std::string::npos) << j["notes"];
}

TEST(Meter, ABudgetFractionIsExactRationalArithmeticOnItsDecimal) {
  // 0.5 x 1e23/3 is 16666666666666666666666.67; through a double it came to
  // 16666666666666665967616.
  for (auto [fraction, decimal, budget] : {std::tuple{0.5, "0.5", "16666666666666666666666"},
                                           std::tuple{0.9, "0.9", "30000000000000000000000"},
                                           std::tuple{0.7, "0.7", "23333333333333333333333"}}) {
    TempDir dir;
    MeterOptions o = counts_only(dir.path());
    o.budget_fraction = fraction;
    auto meter = Meter::Begin(o);
    ASSERT_TRUE(meter.ok());
    (*meter)->add(10, 10, 1);
    ASSERT_TRUE((*meter)->end({}).ok());
    auto j = record_of(dir.path());
    EXPECT_EQ(j["budget"]["fraction_exact"], decimal);
    EXPECT_EQ(j["budget"]["budget_exact"], budget) << decimal;
    EXPECT_EQ(j["exact"]["threshold_value_rational"],
              (nlohmann::json{{"num", "100000000000000000000000"}, {"den", "3"}}));
  }
}

TEST(RunRecord, NumbersAreTheCorrectlyRoundedValuesOfTheExactIntegers) {
  // Just above 2^64 and near 2^100, where adding the two 64-bit halves as
  // doubles rounds twice: the low half rounds onto a tie, which then goes to
  // even, down, while the exact value is above the tie.
  const Flop above_2_64 = (Flop{1} << 64) + (Flop{1} << 63) + (Flop{1} << 11) + 1;
  const double above_2_64_rounded = std::ldexp(1.0, 64) + std::ldexp(1.0, 63) + std::ldexp(1.0, 12);
  const Flop near_2_100 = (Flop{1} << 100) + (Flop{1} << 63) + (Flop{1} << 47) + 1;
  const double near_2_100_rounded = std::ldexp(1.0, 100) + std::ldexp(1.0, 63) + std::ldexp(1.0, 48);
  auto two_halves = [](Flop v) {  // the naive conversion, which rounds twice
    return static_cast<double>(static_cast<uint64_t>(v >> 64)) * std::ldexp(1.0, 64) +
           static_cast<double>(static_cast<uint64_t>(v));
  };
  EXPECT_NE(two_halves(above_2_64), above_2_64_rounded) << "the case must round twice the naive way";
  EXPECT_NE(two_halves(near_2_100), near_2_100_rounded);
  EXPECT_EQ(to_double(above_2_64), above_2_64_rounded);
  EXPECT_EQ(to_double(near_2_100), near_2_100_rounded);
  // Ties go to even; below 2^64 the conversion is the hardware's.
  EXPECT_EQ(to_double((Flop{1} << 64) + (Flop{1} << 11)), std::ldexp(1.0, 64));
  EXPECT_EQ(to_double((Flop{1} << 64) + 3 * (Flop{1} << 11)), std::ldexp(1.0, 64) + std::ldexp(1.0, 13));
  EXPECT_EQ(to_double(~Flop{0}), std::ldexp(1.0, 128));
  EXPECT_EQ(to_double(Flop{UINT64_MAX}), std::ldexp(1.0, 64));
  EXPECT_EQ(to_double(0), 0.0);

  TempDir dir;
  MeterOptions o = counts_only(dir.path());
  o.n_total = o.n_trainable = 7'000'000'000;
  o.budget_flop = above_2_64;
  o.pretrain = BaseCompute{};
  o.pretrain->flop = near_2_100;
  o.pretrain->source = "test";
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  (*meter)->add(1'000'000'010'489, 1'000'000'010'489, 1);  // 42000000440538000000000 FLOP by both formulas
  ASSERT_TRUE((*meter)->end({}).ok());
  auto j = record_of(dir.path());
  EXPECT_EQ(j["budget"]["budget_flop"].get<double>(), above_2_64_rounded);
  EXPECT_EQ(j["Flops_original"].get<double>(), near_2_100_rounded);
  EXPECT_EQ(j["base_model_compute"]["flop"].get<double>(), near_2_100_rounded);
  const double flop = 42000000440538000000000.0;  // the compiler rounds a literal correctly
  ASSERT_EQ(j["exact"]["Flops_architecture"], "42000000440538000000000");
  EXPECT_NE(two_halves(Flop{42000000440538} * 1'000'000'000), flop) << "the case must round twice the naive way";
  EXPECT_EQ(j["Flops_architecture"].get<double>(), flop);
  EXPECT_EQ(j["flops"]["peft_aware"].get<double>(), flop);
  EXPECT_EQ(j["flops"]["eu_6nd"].get<double>(), flop);
  EXPECT_EQ(j["compliance"]["flop"].get<double>(), flop);
  for (const auto& regime : j["regimes"]) {
    if (regime["compute_exact"] == "42000000440538000000000") {
      EXPECT_EQ(regime["compute_flop"].get<double>(), flop) << regime["id"];
    }
  }
}

TEST(RunRecord, EveryKeyIsPresentWithNullForUnknown) {
  TempDir dir;
  auto meter = Meter::Begin(counts_only(dir.path()));
  ASSERT_TRUE(meter.ok());
  ASSERT_TRUE((*meter)->end({}).ok());  // no tokens: no detailed count, no headroom in tokens
  auto j = record_of(dir.path());
  ASSERT_TRUE(j["flops_exact"].contains("detailed"));
  EXPECT_TRUE(j["flops_exact"]["detailed"].is_null());
  for (const auto& regime : j["regimes"]) {
    ASSERT_TRUE(regime.contains("headroom_tokens_exact")) << regime["id"];
    EXPECT_EQ(regime["headroom_tokens"].is_null(), regime["headroom_tokens_exact"].is_null()) << regime["id"];
    EXPECT_TRUE(regime["threshold_rational"].contains("den")) << regime["id"];
  }
  for (const char* key : {"recipe", "model_config"}) {
    ASSERT_TRUE(j["provenance"].contains(key)) << key;
    EXPECT_TRUE(j["provenance"][key].is_null()) << key;
  }
  EXPECT_EQ(j["provenance"]["datasets"], nlohmann::json::array());
  EXPECT_TRUE(j["budget"].is_null());
  EXPECT_TRUE(j["gpu_rank"].is_null()) << "no GPU was sampled";
}

TEST(RunRecord, ProvenanceHasTheEffectiveOptionsByFlagName) {
  TempDir dir;
  MeterOptions o = counts_only(dir.path());
  o.budget_fraction = 0.25;
  o.job_name = "job-7";
  o.command = {"train.py", "--lr", "1e-4"};
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok());
  ASSERT_TRUE((*meter)->end({}).ok());
  const nlohmann::json options = record_of(dir.path())["provenance"]["options"];
  EXPECT_EQ(options["budget-fraction"], 0.25);
  EXPECT_EQ(options["job-name"], "job-7");
  EXPECT_EQ(options["n-total"], 1000);
  EXPECT_EQ(options["sample-hz"], 10.0) << "defaults are part of the effective options";
  EXPECT_FALSE(options.contains("command")) << "provenance.command holds it";
  auto back = meter_options_from_json(options.dump(), "provenance.options");
  EXPECT_TRUE(back.ok()) << back.status().ToString();
}

TEST(RunRecord, RanksThatDisagreeOnTheWorldSizeAreNamedInAWarning) {
  TempDir dir;
  for (uint32_t rank : {1u, 2u}) {
    MeterOptions o = counts_only(dir.path());
    o.rank = rank;
    o.world_size = 3;
    auto meter = Meter::Begin(o);
    ASSERT_TRUE(meter.ok()) << meter.status().ToString();
    (*meter)->add(10, 10, 1);
    ASSERT_TRUE((*meter)->end({}).ok());
  }
  MeterOptions o = counts_only(dir.path());
  o.world_size = 2;
  o.end_wait_s = 0;
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok());
  (*meter)->add(5, 5, 1);
  auto rec = (*meter)->end({});
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  auto j = nlohmann::json::parse(rec->json);
  EXPECT_EQ(j["exact"]["tokens_processed"], "25") << "every journal present still counts";
  EXPECT_NE(j["warnings"].dump().find("disagree on the world size (rank 0 says 2; ranks 1, 2 say 3)"),
            std::string::npos)
      << j["warnings"];
  EXPECT_EQ(j["segments"][1]["world_size"], 3);
}

TEST(RunRecord, TheTokenSourceIsRecordedAndWatchLeavesMicroBatchesUnknown) {
  TempDir meter_run;
  {
    auto meter = Meter::Begin(counts_only(meter_run.path()));
    ASSERT_TRUE(meter.ok());
    (*meter)->add(10, 10, 1);
    ASSERT_TRUE((*meter)->end({}).ok());
  }
  auto j = record_of(meter_run.path());
  EXPECT_EQ(j["tokens"]["source"], "meter");
  EXPECT_EQ(j["tokens"]["spent"]["micro_batches"], 1);

  // As `flopsmeter watch` feeds it: cumulative tokens, micro-batches unknown.
  TempDir watched;
  MeterOptions o = counts_only(watched.path());
  o.token_source = "watch";
  in_killed_child([&] {
    auto meter = Meter::Begin(o);
    if (!meter.ok()) _exit(3);
    (*meter)->add(10, 10, 0);
    (void)(*meter)->flush();
    die();
  });
  j = record_of(watched.path());
  EXPECT_EQ(j["tokens"]["source"], "watch") << "killed before its end line named the file";
  EXPECT_TRUE(j["tokens"]["spent"]["micro_batches"].is_null());
  EXPECT_TRUE(j["segments"][0]["spent"]["micro_batches"].is_null());
  o.resume = true;
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok());
  (*meter)->add(20, 20, 0);
  EndOptions end;
  end.token_source = "trainer_state.json";
  ASSERT_TRUE((*meter)->end(end).ok());
  j = record_of(watched.path());
  EXPECT_EQ(j["tokens"]["source"], "trainer_state.json");
  EXPECT_TRUE(j["tokens"]["spent"]["micro_batches"].is_null());
  EXPECT_TRUE(j["tokens"]["in_final_weights"]["micro_batches"].is_null());
}

TEST(RunRecord, ARankThatLeavesSamplingToLocalRank0SaysSo) {
  TempDir dir;
  MeterOptions o = counts_only(dir.path());
  o.rank = 1;
  o.world_size = 2;
  o.local_rank = 1;
  o.nvml = true;
  o.nvml_library = dir.path() + "/no-such-libnvidia-ml.so";  // never loaded: local rank 0 samples
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  ASSERT_TRUE((*meter)->end({}).ok());
  auto j = record_of(dir.path());
  EXPECT_EQ(j["hardware"]["sampler"], "sampled by local rank 0 of this node");
  ASSERT_EQ(j["hardware"]["samplers"].size(), 1u);
  EXPECT_EQ(j["hardware"]["samplers"][0]["rank"], 1);
  EXPECT_EQ(j["hardware"]["samplers"][0]["state"], "sampled by local rank 0 of this node");
  EXPECT_TRUE(j["hardware"]["samplers"][0]["hz"].is_null());
  EXPECT_TRUE(j["gpu_rank"].is_null());
}

TEST(Meter, PendingDevicePositionsCountAsTokensForTheBudgetUntilSynced) {
  TempDir dir;
  MeterOptions o = counts_only(dir.path());
  o.compliance_formula = ComplianceFormula::kEu6nd;
  o.budget_flop = Flop{6000} * 1'000'000;
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok());
  (*meter)->add_positions(512, 1);
  auto before = (*meter)->step(1);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->compute_flop, Flop{6000} * 512);
  (*meter)->sync_tokens(300);
  ASSERT_TRUE((*meter)->end({}).ok());
  EXPECT_EQ(record_of(dir.path())["exact"]["tokens_processed"], "300");
}

TEST(MeterOptions, JsonKeysAreTheFlagNamesAndUnknownKeysNameTheClosest) {
  auto bad = meter_options_from_json(R"({"run": "r", "n-total": 5, "lora_r": 8})", "opts");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("did you mean \"lora-r\""), std::string::npos) << bad.status().message();
  auto typed = meter_options_from_json(R"({"run": "r", "n-total": "x"})", "opts");
  ASSERT_FALSE(typed.ok());
  EXPECT_NE(typed.status().message().find("option \"n-total\""), std::string::npos);
  auto no_counts = meter_options_from_json(R"({"run": "r"})", "opts");
  ASSERT_FALSE(no_counts.ok());
}

// A JSON number is read as the caller wrote it: 3e23 (a double, as a
// binding sends a float) is exactly 3 x 10^23, and an integer past 64 bits
// (which the JSON parser keeps as a double) is not padded with %.17g's digits.
TEST(MeterOptions, JsonNumbersAreReadAsWritten) {
  const Flop three_e23 = Flop{3} * 100000000000 * 1000000000000;
  for (const char* figure : {"3e23", "300000000000000000000000"}) {
    auto o = meter_options_from_json(
        std::string(R"({"run": "r", "n-total": 5, "pretrain-flops": )") + figure + "}", "opts");
    ASSERT_TRUE(o.ok()) << o.status().ToString();
    ASSERT_TRUE(o->pretrain && o->pretrain->flop) << figure;
    EXPECT_EQ(to_decimal(*o->pretrain->flop), to_decimal(three_e23)) << figure;
  }
}

TEST(MeterOptions, TheBeginLinesOptionsReadBackToTheSameOptions) {
  auto o = meter_options_from_json(R"({"run": "r", "model": "gpt2", "method": "lora", "lora-r": 16,
      "lora-targets": ["c_attn"], "attention": "flash_attention_2", "gradient-checkpointing": true,
      "budget-fraction": 0.9, "rank": 1, "world-size": 4, "nvml": true, "visible-devices": "0,1",
      "command": ["python", "train.py", "--a=1,2"], "pretrain-flops": "8.4e22"})", "opts");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  const std::string once = meter_options_json(*o).dump();
  auto back = meter_options_from_json(once, "again");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(meter_options_json(*back).dump(), once);
  EXPECT_EQ(back->command.back(), "--a=1,2");
  EXPECT_EQ(back->kernel, AttentionKernel::kFlash);
}

#ifdef FM_FAKE_NVML_PATH
TEST(Meter, SampledGpusGiveTheHardwareBoundAndEnergy) {
  TempDir dir;
  const std::string script = dir.path() + "/gpus.txt";
  std::ofstream(script) << "name=NVIDIA H100 80GB HBM3 | uuid=GPU-a | sm_clock=1980 | max_sm_clock=1980 | util=50"
                           " | power_mw=700000 | energy_mj_per_s=700000 | cc=9.0 | sm_count=132\n";
  ::setenv("FAKE_NVML_SCRIPT", script.c_str(), 1);
  MeterOptions o = counts_only(dir.path() + "/run");
  o.nvml = true;
  o.nvml_library = FM_FAKE_NVML_PATH;
  o.sample_hz = 100;
  auto meter = Meter::Begin(o);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  (*meter)->add(10, 10, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto rec = (*meter)->end({});
  ::unsetenv("FAKE_NVML_SCRIPT");
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  auto j = nlohmann::json::parse(rec->json);
  ASSERT_TRUE(j["Flops_hardware"].is_number()) << j["hardware"].dump();
  // At most 1070 TFLOP/s (132 x 4096 x 1980 MHz) for about 0.3 s.
  EXPECT_GT(j["Flops_hardware"].get<double>(), 0.1 * 1.07e15);
  EXPECT_LT(j["Flops_hardware"].get<double>(), 2.0 * 1.07e15);
  EXPECT_LE(j["hardware"]["utilization_weighted_flop"].get<double>(), j["Flops_hardware"].get<double>());
  EXPECT_GT(j["energy"]["joules"].get<double>(), 0.0);
  EXPECT_EQ(j["gpu_name"], "NVIDIA H100 80GB HBM3");
  ASSERT_EQ(j["hardware"]["samplers"].size(), 1u);
  const nlohmann::json& sampler = j["hardware"]["samplers"][0];
  EXPECT_EQ(sampler["state"], "sampled");
  EXPECT_EQ(sampler["hz"], 100.0);
  EXPECT_EQ(sampler["library"], FM_FAKE_NVML_PATH);
  EXPECT_TRUE(sampler["driver_version"].is_string());
  EXPECT_TRUE(sampler["notes"].is_array());
  EXPECT_EQ(j["gpu_rank"], 0);
}

// The record of a run metered on the GPUs of `script` (fake NVML), at 100 Hz for 0.3 s.
nlohmann::json RecordSampledOn(const std::string& dir, const std::string& gpus) {
  const std::string script = dir + "/gpus.txt";
  std::ofstream(script) << gpus;
  ::setenv("FAKE_NVML_SCRIPT", script.c_str(), 1);
  MeterOptions o = counts_only(dir + "/run");
  o.nvml = true;
  o.nvml_library = FM_FAKE_NVML_PATH;
  o.sample_hz = 100;
  auto meter = Meter::Begin(o);
  EXPECT_TRUE(meter.ok()) << meter.status().ToString();
  if (!meter.ok()) return {};
  (*meter)->add(10, 10, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto rec = (*meter)->end({});
  ::unsetenv("FAKE_NVML_SCRIPT");
  EXPECT_TRUE(rec.ok()) << rec.status().ToString();
  return rec.ok() ? nlohmann::json::parse(rec->json) : nlohmann::json();
}

TEST(RunRecord, EnergyOfGpusNvmlCouldNotMeasureIsEstimatedAtBoardPowerNeverSummedAsMeasured) {
  TempDir dir;
  const nlohmann::json j = RecordSampledOn(
      dir.path(),
      "name=NVIDIA A100-SXM4-80GB | uuid=GPU-a | sm_clock=1410 | max_sm_clock=1410 | util=50"
      " | power_mw=300000 | energy_mj_per_s=300000 | cc=8.0 | sm_count=108\n"
      "name=NVIDIA H100 80GB HBM3 | uuid=GPU-b | sm_clock=1980 | max_sm_clock=1980 | util=50 | cc=9.0 | sm_count=132\n");
  const nlohmann::json& energy = j["energy"];
  ASSERT_EQ(j["hardware"]["gpus"].size(), 2u) << j["hardware"].dump();
  // The measured sum covers one GPU of two: it is not the run's energy.
  EXPECT_TRUE(energy["joules"].is_null()) << energy;
  EXPECT_TRUE(energy["mwh"].is_null());
  EXPECT_EQ(energy["unmeasured_gpus"], 1);
  EXPECT_EQ(energy["methods"], nlohmann::json({"counter", "unavailable"}));
  double measured = 0, h100_seconds = 0;
  for (const nlohmann::json& g : j["hardware"]["gpus"]) {
    if (g["energy_method"] == "counter") measured += g["energy_j"].get<double>();
    if (g["name"] == "NVIDIA H100 80GB HBM3") h100_seconds = g["attributed_seconds"].get<double>();
  }
  EXPECT_GT(measured, 0.0);
  EXPECT_GT(h100_seconds, 0.0);
  EXPECT_DOUBLE_EQ(energy["measured_joules"].get<double>(), measured);
  const nlohmann::json& estimate = energy["estimate"];
  ASSERT_TRUE(estimate["joules"].is_number()) << estimate;
  EXPECT_DOUBLE_EQ(estimate["joules"].get<double>(), measured + 700 * h100_seconds);
  EXPECT_DOUBLE_EQ(estimate["mwh"].get<double>(), estimate["joules"].get<double>() / 3.6e9);
  ASSERT_EQ(estimate["estimated"].size(), 1u);
  EXPECT_THAT(estimate["estimated"][0]["gpu"].get<std::string>(), HasSubstr("NVIDIA H100 80GB HBM3"));
  EXPECT_THAT(estimate["estimated"][0]["source"].get<std::string>(), HasSubstr("https://"));
  EXPECT_THAT(estimate["method"].get<std::string>(), HasSubstr("upper estimate"));
  EXPECT_TRUE(estimate["reason"].is_null());
}

TEST(RunRecord, AnUnmeasuredGpuWithoutBoardPowerLeavesTheEnergyNotEstimatedWithTheReason) {
  TempDir dir;
  const nlohmann::json j = RecordSampledOn(dir.path(), "name=NVIDIA A10G | uuid=GPU-a | util=50 | cc=8.6 | sm_count=80\n");
  const nlohmann::json& energy = j["energy"];
  EXPECT_TRUE(energy["joules"].is_null()) << energy;
  EXPECT_EQ(energy["unmeasured_gpus"], 1);
  EXPECT_TRUE(energy["estimate"]["joules"].is_null()) << energy;
  EXPECT_THAT(energy["estimate"]["reason"].get<std::string>(),
              AllOf(HasSubstr("NVIDIA A10G"), HasSubstr("no board power")));
}

TEST(RunRecord, GpuRankIsTheLowestRankWithSampledGpus) {
  TempDir dir;
  const std::string script = dir.path() + "/gpus.txt";
  std::ofstream(script) << "driver=550.54.15\n"
                           "name=NVIDIA H100 80GB HBM3 | uuid=GPU-a | sm_clock=1980 | max_sm_clock=1980 | util=50"
                           " | power_mw=700000 | energy_mj_per_s=700000 | cc=9.0 | sm_count=132\n";
  ::setenv("FAKE_NVML_SCRIPT", script.c_str(), 1);
  // Rank 0 is local rank 1 of its node; rank 1 is that node's local rank 0 and samples.
  MeterOptions sampling = counts_only(dir.path() + "/run");
  sampling.rank = 1;
  sampling.world_size = 2;
  sampling.local_rank = 0;
  sampling.nvml = true;
  sampling.nvml_library = FM_FAKE_NVML_PATH;
  sampling.sample_hz = 100;
  MeterOptions other = sampling;
  other.rank = 0;
  other.local_rank = 1;
  auto rank1 = Meter::Begin(sampling);
  ASSERT_TRUE(rank1.ok()) << rank1.status().ToString();
  auto rank0 = Meter::Begin(other);
  ASSERT_TRUE(rank0.ok()) << rank0.status().ToString();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE((*rank1)->end({}).ok());
  auto rec = (*rank0)->end({});
  ::unsetenv("FAKE_NVML_SCRIPT");
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  auto j = nlohmann::json::parse(rec->json);
  EXPECT_EQ(j["gpu_rank"], 1);
  EXPECT_EQ(j["hardware"]["sampler"], "sampled");
  ASSERT_EQ(j["hardware"]["samplers"].size(), 2u);
  EXPECT_EQ(j["hardware"]["samplers"][0]["state"], "sampled by local rank 0 of this node");
  EXPECT_EQ(j["hardware"]["samplers"][1]["state"], "sampled");
  EXPECT_EQ(j["hardware"]["samplers"][1]["driver_version"], "550.54.15");
}
#endif

}  // namespace
}  // namespace flopsmeter
