// The runtime meter, as a training job and an auditor see it: counts that
// add up exactly, a journal that survives a kill and shows an edit, resumes
// that count nothing twice, ranks that add up, a budget that stops in time.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "api/meter_options.h"
#include "flopsmeter/meter.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using testing::TempDir;

MeterOptions counts_only(const std::string& run) {
  MeterOptions o;
  o.run_dir = run;
  o.model_name = "tiny";
  o.n_total = 1000;
  o.n_trainable = 10;
  return o;
}

nlohmann::json record_of(const std::string& run) {
  auto r = report_run(run, {});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? nlohmann::json::parse(r->json) : nlohmann::json();
}

std::string journal_path(const std::string& run, int rank = 0) {
  return run + "/journal-rank" + std::to_string(rank) + ".jsonl";
}

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
  EXPECT_EQ(j["schema"], "flopsmeter.run/1");
  EXPECT_EQ(j["N_total"], 1000);
  EXPECT_EQ(j["N_trainable"], 10);
  EXPECT_EQ(j["exact"]["tokens_processed"], "1000");
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
  EXPECT_EQ(j["tokens"]["lost_to_crashes"], "40");
  EXPECT_EQ(j["segments"].size(), 2u);
  EXPECT_EQ(j["segments"][1]["resumed_from"]["step"], 10);
  EXPECT_TRUE(j["segments"][1]["resumed_from"]["exact"].get<bool>());
  EXPECT_EQ(j["status"], "completed");
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
  EXPECT_NE(again.status().message().find("--resume"), std::string::npos);
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
}

TEST(Meter, MergeJoinsShardsKeptInSeparateDirectoriesAndRefusesAnotherRun) {
  TempDir a, b, target, other;
  for (auto [dir, rank] : {std::pair{&a, 0u}, std::pair{&b, 1u}}) {
    MeterOptions o = counts_only(dir->path());
    o.rank = rank;
    o.world_size = 2;
    o.end_wait_s = 0;
    if (rank == 1) {  // the same run: its id travels with the shared run.json
      std::filesystem::copy_file(a.path() + "/run.json", b.path() + "/run.json");
    }
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
  EXPECT_EQ(j["budget"]["events"].size(), 4u);
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
  EXPECT_NE(typed.status().message().find("--n-total"), std::string::npos);
  auto no_counts = meter_options_from_json(R"({"run": "r"})", "opts");
  ASSERT_FALSE(no_counts.ok());
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
}
#endif

}  // namespace
}  // namespace flopsmeter
