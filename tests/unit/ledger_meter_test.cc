// The meter and the ledger, on SQLite and on a real PostgreSQL server: a
// run appends its record when it ends, once; a run on a model of the ledger
// starts from its lineage (the original model's compute for the threshold,
// the organisation's earlier modifications summed into every regime and
// guarded by the budget); a resumed run keeps the basis it began with; and
// a record is refused when its run directory's journals no longer end where
// it pinned them.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "flopsmeter/ledger.h"
#include "flopsmeter/meter.h"
#include "ledger_support.h"
#include "meter_support.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;
using testing::base_model;
using testing::derived_model;
using testing::flop;
using testing::journal_path;
using testing::run_on;
using testing::run_record;

std::string contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

const RuleResult* regime(const RunRecord& record, const std::string& id) {
  for (const RuleResult& r : record.regimes)
    if (r.regime_id == id) return &r;
  ADD_FAILURE() << "no regime " << id;
  return nullptr;
}

class LedgerMeterTest : public testing::LedgerFixture {
 protected:
  // A run of a model known by its counts (1000 parameters, 10 trainable;
  // its compliance figure 6 N D: 6000 FLOP a token) that trains from `model` of the ledger and makes
  // `produces`, for `organisation`.
  MeterOptions Metered(const std::string& run, const std::string& model, const std::string& produces,
                       const std::string& organisation = "Acme") const {
    MeterOptions o = testing::counts_only(dir().path() + "/" + run);
    o.ledger = location();
    o.ledger_key = KeyPath();
    o.organisation = organisation;
    o.ledger_model = model;
    o.ledger_produces = produces;
    return o;
  }
  // Begins (or resumes) the run, trains `tokens` in one step, ends it.
  static RunRecord Train(const MeterOptions& o, uint64_t tokens, BudgetState* state = nullptr) {
    auto meter = Meter::Begin(o);
    EXPECT_TRUE(meter.ok()) << meter.status().ToString();
    if (!meter.ok()) return {};
    (*meter)->add(tokens, tokens, 1);
    auto s = (*meter)->step(1);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (state != nullptr && s.ok()) *state = *s;
    auto record = (*meter)->end({});
    EXPECT_TRUE(record.ok()) << record.status().ToString();
    return record.ok() ? *record : RunRecord{};
  }
  static void Appended(const Result<LedgerAppend>& appended) {
    EXPECT_TRUE(appended.ok()) << appended.status().ToString();
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, LedgerMeterTest, ::testing::ValuesIn(testing::backends()), testing::backend_name);

TEST_P(LedgerMeterTest, ARunAppendsItsRecordWhenItEndsAndOnlyOnce) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Appended(ledger->add_model(base_model("meta/base", "Meta", "3000000000000000000000")));
  const MeterOptions o = Metered("run", "meta/base", "acme/tiny");
  const RunRecord first = Train(o, 1000);
  ASSERT_TRUE(first.ledger_entry) << first.ledger_message;
  EXPECT_THAT(first.ledger_message, HasSubstr("recorded in the ledger as entry " + std::to_string(*first.ledger_entry)));
  const Json record = Json::parse(first.json);
  EXPECT_FALSE(record.contains("warnings") && record["warnings"].dump().find("ledger") != std::string::npos);

  const Json model = Parsed(ledger->model_json("acme/tiny"));
  EXPECT_EQ(model["model"]["organisation"], "Acme");
  EXPECT_EQ(model["model"]["parents"], Json::array({"meta/base"}));
  ASSERT_EQ(model["runs"].size(), 1u);
  EXPECT_EQ(model["runs"][0]["run_id"], record["run_id"]);
  EXPECT_EQ(model["runs"][0]["entry"], *first.ledger_entry);
  EXPECT_EQ(model["runs"][0]["compliance_flop"], "6000000");
  EXPECT_EQ(record["compliance"]["exact"], "6000000");

  // The record again, by hand from its run directory: nothing new.
  const uint64_t size = EntryCount();
  auto file = read_run_record_file(o.run_dir);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->text, first.json);
  RunSpec spec = run_on("acme/tiny");
  spec.run_dir = file->run_dir;
  auto again = ledger->add_run(file->text, spec);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->no_change);
  EXPECT_EQ(again->index, *first.ledger_entry);
  EXPECT_EQ(EntryCount(), size);

  // The run resumed and ended again: its new record supersedes the first.
  MeterOptions resumed = o;
  resumed.resume = true;
  const RunRecord second = Train(resumed, 500);
  ASSERT_TRUE(second.ledger_entry) << second.ledger_message;
  EXPECT_GT(*second.ledger_entry, *first.ledger_entry);
  EXPECT_THAT(second.ledger_message, HasSubstr("superseding entry " + std::to_string(*first.ledger_entry)));
  EXPECT_EQ(EntryCount(), size + 1);
  const Json runs = Parsed(ledger->runs_json("acme/tiny"))["runs"];
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["compliance_flop"], "9000000");
  EXPECT_EQ(Parsed(ledger->lineage_json("acme/tiny"))["cumulative_compute"]["flop"], to_decimal(flop("3000000000000000000000") + 9000000));
}

TEST_P(LedgerMeterTest, ARunOnADerivedModelCountsTheLineagesModificationsAndThreshold) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Appended(ledger->add_model(base_model("meta/base", "Meta", "3000000000000000000000")));  // threshold 1e21
  Appended(ledger->add_run(run_record("sft", "400000000000000000000"),
                               run_on("acme/sft", derived_model("acme/sft", "Acme", {"meta/base"}))));
  MeterOptions o = Metered("run", "acme/sft", "acme/sft2");
  o.budget_fraction = 0.9;
  BudgetState state;
  const RunRecord record = Train(o, 1000, &state);
  EXPECT_EQ(state.threshold_flop.to_string(), "1000000000000000000000") << "a third of the original's cumulative";
  const RuleResult* eu = regime(record, "eu_modification");
  ASSERT_NE(eu, nullptr);
  EXPECT_EQ(to_decimal(eu->compute_flop), to_decimal(flop("400000000000000000000") + 6000000))
      << "the earlier modification and this run";
  ASSERT_TRUE(eu->single_run_flop);
  EXPECT_EQ(to_decimal(*eu->single_run_flop), "6000000");
  EXPECT_EQ(eu->threshold.to_string(), "1000000000000000000000");
  EXPECT_EQ(eu->threshold_basis, "known_one_third");
  const RuleResult* cumulative = regime(record, "eu_gpai_indicative");
  ASSERT_NE(cumulative, nullptr);
  EXPECT_EQ(to_decimal(cumulative->compute_flop), to_decimal(flop("3400000000000000000000") + 6000000));
  EXPECT_THAT(record.json, HasSubstr("from the ledger (model 'acme/sft')"));
  // The lineage now holds this run too.
  EXPECT_EQ(Parsed(ledger->lineage_json("acme/sft2"))["modification"]["own_compute"]["flop"],
            to_decimal(flop("400000000000000000000") + 6000000));
}

// The budget guards the lineage's sum: with 0.9 of the threshold and
// earlier modifications at 0.95 of it, the first step is told to stop.
TEST_P(LedgerMeterTest, TheBudgetFractionGuardsTheSumWithTheEarlierModifications) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Appended(ledger->add_model(base_model("meta/base", "Meta", "3000000000000000000000")));  // threshold 1e21
  Appended(ledger->add_run(run_record("sft", "950000000000000000000"),
                               run_on("acme/sft", derived_model("acme/sft", "Acme", {"meta/base"}))));
  MeterOptions o = Metered("run", "acme/sft", "acme/sft2");
  o.budget_fraction = 0.9;
  BudgetState state;
  Train(o, 1000, &state);
  EXPECT_TRUE(state.stop) << "0.95 of the threshold is spent already, past the 0.9 allowed";
  // With room left (0.9 of 1e21 less 4e20 = 5e20), the same run goes on.
  Appended(ledger->add_run(run_record("sft-b", "400000000000000000000"),
                               run_on("acme/sft-b", derived_model("acme/sft-b", "Acme", {"meta/base"}))));
  MeterOptions roomy = Metered("run-b", "acme/sft-b", "acme/sft-b2");
  roomy.budget_fraction = 0.9;
  Train(roomy, 1000, &state);
  EXPECT_FALSE(state.stop);
  ASSERT_TRUE(state.budget_flop);
  EXPECT_EQ(to_decimal(*state.budget_flop), "500000000000000000000");
}

TEST_P(LedgerMeterTest, AnotherOrganisationsModelIsTheOriginalWhoseCumulativeSetsTheThreshold) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Appended(ledger->add_model(base_model("meta/base", "Meta", "3000000000000000000000")));
  Appended(ledger->add_run(run_record("a", "3000000000000000000000"),
                               run_on("a/sft", derived_model("a/sft", "OrgA", {"meta/base"}))));
  BudgetState state;
  const RunRecord record = Train(Metered("run", "a/sft", "b/sft", "OrgB"), 1000, &state);
  EXPECT_EQ(state.threshold_flop.to_string(), "2000000000000000000000") << "(3e21 + 3e21) / 3";
  const RuleResult* eu = regime(record, "eu_modification");
  ASSERT_NE(eu, nullptr);
  EXPECT_EQ(to_decimal(eu->compute_flop), "6000000") << "OrgA's run is not OrgB's modification";
  EXPECT_FALSE(eu->single_run_flop);
  const Json b = Parsed(ledger->model_json("b/sft"))["model"];
  EXPECT_EQ(b["organisation"], "OrgB");
  EXPECT_EQ(b["cumulative_compute"]["flop"], to_decimal(flop("6000000000000000000000") + 6000000));
}

// A run that began on a lineage counts as it began: a resume after the
// ledger grew keeps the earlier modifications of its begin line.
TEST_P(LedgerMeterTest, AResumedRunKeepsTheBasisItBeganWith) {
  {
    auto ledger = Open();
    ASSERT_NE(ledger, nullptr);
    Appended(ledger->add_model(base_model("meta/base", "Meta", "3000000000000000000000")));
    Appended(ledger->add_run(run_record("sft", "400000000000000000000"),
                                 run_on("acme/sft", derived_model("acme/sft", "Acme", {"meta/base"}))));
  }
  const MeterOptions o = Metered("run", "acme/sft", "acme/sft2");
  const pid_t pid = testing::fork_child([&]() -> Status {
    FM_ASSIGN_OR_RETURN(std::unique_ptr<Meter> meter, Meter::Begin(o));
    meter->add(1000, 1000, 1);
    FM_RETURN_IF_ERROR(meter->checkpoint(10, "ckpt-10"));
    ::kill(::getpid(), SIGKILL);  // no end, no destructor: a preempted job
    return Status();
  });
  ASSERT_EQ(testing::wait_child(pid), 128 + SIGKILL);
  // Meanwhile the organisation records another run on the same model.
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Appended(ledger->add_run(run_record("sft-fix", "100000000000000000000"), run_on("acme/sft")));

  MeterOptions resumed = o;
  resumed.resume = true;
  resumed.resume_step = 10;
  const RunRecord record = Train(resumed, 500);
  const RuleResult* eu = regime(record, "eu_modification");
  ASSERT_NE(eu, nullptr);
  EXPECT_EQ(to_decimal(eu->compute_flop), to_decimal(flop("400000000000000000000") + 9000000))
      << "4e20 as at begin, not 5e20";
  EXPECT_THAT(record.json, HasSubstr("the ledger basis this run began with"));
  // A new run starts from the ledger as it is now.
  const RunRecord fresh = Train(Metered("run-2", "acme/sft", "acme/sft3"), 1000);
  eu = regime(fresh, "eu_modification");
  ASSERT_NE(eu, nullptr);
  EXPECT_EQ(to_decimal(eu->compute_flop), to_decimal(flop("500000000000000000000") + 6000000));
}

// A record is checked against the journals of its run directory: they must
// end where the record pinned them.
TEST_P(LedgerMeterTest, ARecordWhoseJournalsNoLongerEndWhereItPinnedThemIsRefused) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Appended(ledger->add_model(base_model("meta/base", "Meta", "3000000000000000000000")));
  const std::string run = dir().path() + "/plain-run";
  {
    auto meter = Meter::Begin(testing::counts_only(run));
    ASSERT_TRUE(meter.ok()) << meter.status().ToString();
    (*meter)->add(1000, 1000, 1);
    ASSERT_TRUE((*meter)->checkpoint(1, "ckpt-1").ok());
    ASSERT_TRUE((*meter)->end({}).ok());
  }
  auto file = read_run_record_file(run);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const std::string journal = journal_path(run);
  const std::string intact = contents(journal);
  RunSpec spec = run_on("acme/run", derived_model("acme/run", "Acme", {"meta/base"}));
  spec.run_dir = run;
  const uint64_t size = EntryCount();
  auto refused = [&](const std::string& why) {
    SCOPED_TRACE(why);
    auto appended = ledger->add_run(file->text, spec);
    ASSERT_FALSE(appended.ok()) << "appended entry " << appended->index;
    EXPECT_EQ(appended.status().code(), StatusCode::kInvalidArgument) << appended.status().ToString();
    EXPECT_THAT(appended.status().message(), HasSubstr(journal));
    EXPECT_THAT(appended.status().message(), HasSubstr("report the run again"));
    EXPECT_EQ(EntryCount(), size);
  };

  // Its last line cut off.
  write(journal, intact.substr(0, intact.rfind('\n', intact.size() - 2) + 1));
  refused("truncated");
  // A line appended that the record never saw.
  write(journal, intact + R"({"kind":"progress","tokens":"5"})" + "\n");
  refused("a line appended");
  // Lines the run itself wrote after the record: it was resumed (and
  // killed), so this record no longer tells all it spent.
  write(journal, intact);
  const pid_t pid = testing::fork_child([&]() -> Status {
    MeterOptions o = testing::counts_only(run);
    o.resume = true;
    FM_ASSIGN_OR_RETURN(std::unique_ptr<Meter> meter, Meter::Begin(o));
    meter->add(7000, 7000, 1);
    FM_RETURN_IF_ERROR(meter->flush());
    ::kill(::getpid(), SIGKILL);
    return Status();
  });
  ASSERT_EQ(testing::wait_child(pid), 128 + SIGKILL);
  refused("the run went on");

  // As written, the record goes in.
  write(journal, intact);
  auto appended = ledger->add_run(file->text, spec);
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  EXPECT_EQ(Parsed(ledger->runs_json("acme/run"))["runs"][0]["compliance_flop"], "6000000");
}

// The record's figures are plain JSON beside a hash-chained journal: one
// edited to say less than its journals say is refused, naming the field.
TEST_P(LedgerMeterTest, ARecordWhoseFiguresAreNotItsJournalsIsRefused) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Appended(ledger->add_model(base_model("meta/base", "Meta", "3000000000000000000000")));
  const std::string run = dir().path() + "/edited-run";
  {
    auto meter = Meter::Begin(testing::counts_only(run));
    ASSERT_TRUE(meter.ok()) << meter.status().ToString();
    (*meter)->add(1000, 1000, 1);
    ASSERT_TRUE((*meter)->end({}).ok());
  }
  auto file = read_run_record_file(run);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  RunSpec spec = run_on("acme/edited", derived_model("acme/edited", "Acme", {"meta/base"}));
  spec.run_dir = run;
  const Json written = Json::parse(file->text);
  const uint64_t size = EntryCount();
  const auto refused = [&](const std::string& field, const std::function<void(Json&)>& edit) {
    SCOPED_TRACE(field);
    Json edited = written;
    edit(edited);
    auto appended = ledger->add_run(edited.dump(2), spec);
    ASSERT_FALSE(appended.ok()) << "appended entry " << appended->index;
    EXPECT_EQ(appended.status().code(), StatusCode::kInvalidArgument) << appended.status().ToString();
    EXPECT_THAT(appended.status().message(), HasSubstr("the record's " + field));
    EXPECT_THAT(appended.status().message(), HasSubstr("edited"));
    EXPECT_EQ(EntryCount(), size);
  };
  refused("tokens_processed", [](Json& r) { r["tokens_processed"] = 100; });
  refused("compliance.exact", [](Json& r) { r["compliance"]["exact"] = "600000"; });
  refused("status", [](Json& r) { r["status"] = "stopped_by_budget"; });

  auto appended = ledger->add_run(file->text, spec);
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
}

}  // namespace
}  // namespace flopsmeter
