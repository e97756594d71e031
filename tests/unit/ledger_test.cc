// The audit ledger through its API, on SQLite and on a real PostgreSQL
// server (the same suite; tests/ledger/with_postgres.sh runs the
// */postgresql half for ctest's ledger_postgresql): the lineage arithmetic,
// exact to the FLOP (and directly in src/core/lineage.h), the EU rule's
// summed and single-run readings, the estimate taking its basis from the
// ledger, idempotent runs, bad input refused with nothing written, and what
// verify and the inclusion proofs prove. Concurrency and killed writers are
// in ledger_stress_test.cc, the meter's use in ledger_meter_test.cc.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/lineage.h"
#include "flopsmeter/ledger.h"
#include "cli_support.h"
#include "ledger_support.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;
using testing::base_model;
using testing::CliRun;
using testing::run_cli;
using testing::Backend;
using testing::derived_model;
using testing::flop;
using testing::run_on;
using testing::run_record;
using testing::TempDir;

// ---------------------------------------------------------------------------
// The arithmetic alone (src/core/lineage.h)
// ---------------------------------------------------------------------------

LineageModel base_of(const std::string& name, const std::string& org, std::optional<Flop> pretraining) {
  return {name, org, {}, pretraining, false, {}};
}
LineageModel made_from(const std::string& name, const std::string& org, std::vector<std::string> parents,
                       std::vector<std::optional<Flop>> runs) {
  return {name, org, std::move(parents), std::nullopt, false, std::move(runs)};
}

Lineage build(std::vector<LineageModel> models) {
  Result<Lineage> l = Lineage::Build(std::move(models));
  EXPECT_TRUE(l.ok()) << l.status().ToString();
  return l.ok() ? *l : *Lineage::Build({});
}

TEST(LineageTest, CumulativeIsTheBasePlusEveryRunBehindTheModel) {
  const Lineage l = build({base_of("base", "Meta", flop("1000000000000000000000000")),
                           made_from("sft", "Acme", {"base"}, {flop("123456789012345678901")}),
                           made_from("dpo", "Acme", {"sft"}, {flop("98765432109876543210"), flop("11111111111111111111")})});
  EXPECT_EQ(to_decimal(l.own("dpo").known), "109876543220987654321");
  EXPECT_EQ(to_decimal(l.cumulative("sft").known), "1000123456789012345678901");
  const ComputeSum all = l.cumulative("dpo");
  EXPECT_EQ(to_decimal(all.known), "1000233333332233333333222");
  EXPECT_TRUE(all.complete);
  EXPECT_TRUE(all.unknown_parts.empty());
  EXPECT_EQ(l.ancestry("dpo"), (std::set<std::string>{"base", "sft", "dpo"}));
}

TEST(LineageTest, AMergeCountsASharedAncestorOnce) {
  const Lineage l = build({base_of("base", "Meta", flop("1000000000000000000000000")),
                           made_from("a", "Acme", {"base"}, {flop("100000000000000000000")}),
                           made_from("b", "Acme", {"base"}, {flop("200000000000000000000")}),
                           made_from("merged", "Acme", {"a", "b"}, {flop("5000000000000000000")})});
  EXPECT_EQ(to_decimal(l.cumulative("merged").known), "1000305000000000000000000");
  // Acme's own modifications: both fine-tunes and the merge, the base not.
  const Lineage::Modification m = l.modification("merged", "Acme");
  EXPECT_EQ(m.own_models, (std::set<std::string>{"a", "b", "merged"}));
  EXPECT_EQ(m.originals, std::set<std::string>{"base"});
  EXPECT_EQ(to_decimal(m.own_compute.known), "305000000000000000000");
  EXPECT_EQ(to_decimal(m.original_compute.known), "1000000000000000000000000");
  ASSERT_TRUE(m.largest_run);
  EXPECT_EQ(to_decimal(*m.largest_run), "200000000000000000000");
}

TEST(LineageTest, UnknownPartsMakeASumIncompleteAndAreNamed) {
  const Lineage l = build({base_of("mystery", "Other", std::nullopt),
                           made_from("sft", "Acme", {"mystery"}, {flop("7000"), std::nullopt, flop("3000")})});
  const ComputeSum own = l.own("sft");
  EXPECT_FALSE(own.complete);
  EXPECT_EQ(to_decimal(own.known), "10000") << "the known part is a lower bound";
  EXPECT_THAT(own.unknown_parts, ::testing::ElementsAre("sft: a run whose compute is undetermined"));
  const ComputeSum all = l.cumulative("sft");
  EXPECT_FALSE(all.complete);
  EXPECT_THAT(all.unknown_parts, ::testing::UnorderedElementsAre("mystery: pretraining compute unknown",
                                                                 "sft: a run whose compute is undetermined"));
  const Lineage::Modification m = l.modification("sft", "Acme");
  EXPECT_FALSE(m.original_compute.complete);
  ASSERT_TRUE(m.largest_run);
  EXPECT_EQ(to_decimal(*m.largest_run), "7000") << "the costliest run whose compute is known";
}

TEST(LineageTest, ModificationStopsAtTheNearestModelOfAnotherOrganisation) {
  const Lineage l = build({base_of("base", "Meta", flop("1000000000000000000000000")),
                           made_from("a-sft", "OrgA", {"base"}, {flop("1000000000000000000000")}),
                           made_from("b-sft", "OrgB", {"a-sft"}, {flop("200000000000000000000")}),
                           made_from("b-dpo", "OrgB", {"b-sft"}, {flop("300000000000000000000")})});
  const Lineage::Modification b = l.modification("b-dpo", "OrgB");
  EXPECT_EQ(b.originals, std::set<std::string>{"a-sft"});
  EXPECT_EQ(b.own_models, (std::set<std::string>{"b-sft", "b-dpo"}));
  EXPECT_EQ(to_decimal(b.original_compute.known), "1001000000000000000000000") << "A's cumulative compute";
  EXPECT_EQ(to_decimal(b.own_compute.known), "500000000000000000000") << "B's runs only";
  EXPECT_EQ(to_decimal(*b.largest_run), "300000000000000000000");
  // Org A modifying B's model: B's model is A's original, whole.
  const Lineage::Modification a = l.modification("b-dpo", "OrgA");
  EXPECT_EQ(a.originals, std::set<std::string>{"b-dpo"});
  EXPECT_TRUE(a.own_models.empty());
  EXPECT_EQ(to_decimal(a.own_compute.known), "0");
  EXPECT_EQ(to_decimal(a.original_compute.known), "1001500000000000000000000");
  EXPECT_FALSE(a.largest_run);
}

TEST(LineageTest, AnOrganisationsOwnBaseIsNotAModification) {
  LineageModel base = base_of("base", "Acme", flop("9000"));
  base.systemic_risk = true;
  const Lineage l = build({base, made_from("sft", "Acme", {"base"}, {flop("10")})});
  const Lineage::Modification m = l.modification("sft", "Acme");
  EXPECT_TRUE(m.originals.empty()) << "Acme made the whole line";
  EXPECT_EQ(to_decimal(m.own_compute.known), "10");
  EXPECT_FALSE(m.original_systemic_risk) << "no original model, no designation of one";
  EXPECT_TRUE(l.modification("sft", "Other").original_systemic_risk);
}

TEST(LineageTest, BuildRefusesAnUnknownParentACycleAndATwiceRegisteredName) {
  Result<Lineage> l = Lineage::Build({made_from("orphan", "Acme", {"ghost"}, {})});
  ASSERT_FALSE(l.ok());
  EXPECT_THAT(l.status().message(), HasSubstr("'orphan' names the parent 'ghost'"));
  l = Lineage::Build({made_from("x", "Acme", {"y"}, {}), made_from("y", "Acme", {"z"}, {}),
                      made_from("z", "Acme", {"x"}, {})});
  ASSERT_FALSE(l.ok());
  EXPECT_THAT(l.status().message(), HasSubstr("lineage cycle"));
  l = Lineage::Build({base_of("twice", "A", flop("1")), base_of("twice", "B", flop("2"))});
  ASSERT_FALSE(l.ok());
  EXPECT_THAT(l.status().message(), HasSubstr("'twice' is registered twice"));
}

// ---------------------------------------------------------------------------
// Through the API, on both backends
// ---------------------------------------------------------------------------

class LedgerApiTest : public testing::LedgerFixture {
 protected:
  // Appends and expects it to work; the append.
  static LedgerAppend Ok(const Result<LedgerAppend>& appended) {
    EXPECT_TRUE(appended.ok()) << appended.status().ToString();
    return appended.ok() ? *appended : LedgerAppend{};
  }
  // Expects `appended` to fail with `code`, its message holding `names`.
  static void Refused(const Result<LedgerAppend>& appended, StatusCode code, const std::string& names) {
    ASSERT_FALSE(appended.ok()) << "appended entry " << appended->index;
    EXPECT_EQ(appended.status().code(), code) << appended.status().ToString();
    EXPECT_THAT(appended.status().message(), HasSubstr(names));
  }

  // Runs `body` (refused appends) and expects neither the entries nor the
  // head to have changed.
  void ExpectNothingWritten(Ledger& ledger, const std::function<void()>& body) {
    const uint64_t entries = EntryCount();
    auto head = [&ledger] {
      Result<std::string> h = ledger.head_json();
      return h.ok() ? *h : h.status().ToString();
    };
    const std::string before = head();
    body();
    EXPECT_EQ(EntryCount(), entries);
    EXPECT_EQ(head(), before);
  }

  Json Lineage(Ledger& ledger, const std::string& model) { return Parsed(ledger.lineage_json(model)); }
  static Json Regime(const Json& regimes, const std::string& id) {
    for (const Json& r : regimes)
      if (r["id"] == id) return r;
    ADD_FAILURE() << "no regime " << id;
    return Json();
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, LedgerApiTest, ::testing::ValuesIn(testing::backends()), testing::backend_name);

TEST_P(LedgerApiTest, BaseThenSftThenASecondRunAddUpExactly) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", "1000000000000000000000000")));
  Ok(ledger->add_run(run_record("run-sft", "123456789012345678901"),
                     run_on("acme/sft", derived_model("acme/sft", "Acme", {"meta/base"}))));
  Ok(ledger->add_run(run_record("run-dpo-1", "98765432109876543210"),
                     run_on("acme/dpo", derived_model("acme/dpo", "Acme", {"acme/sft"}, "dpo"))));
  Ok(ledger->add_run(run_record("run-dpo-2", "11111111111111111111"), run_on("acme/dpo")));

  const Json sft = Parsed(ledger->model_json("acme/sft"))["model"];
  EXPECT_EQ(sft["kind"], "derived");
  EXPECT_EQ(sft["cumulative_compute"]["flop"], "1000123456789012345678901");
  const Json lineage = Lineage(*ledger, "acme/dpo");
  EXPECT_EQ(lineage["cumulative_compute"]["flop"], "1000233333332233333333222");
  EXPECT_EQ(lineage["cumulative_compute"]["complete"], true);
  ASSERT_EQ(lineage["nodes"].size(), 3u);
  for (const Json& node : lineage["nodes"]) {
    if (node["name"] == "acme/dpo") {
      EXPECT_EQ(node["own_compute"]["flop"], "109876543220987654321");
      EXPECT_EQ(node["runs"].size(), 2u);
    }
  }
  // Acme's modifications (both models) against Meta's base: 2.3e20 of 1e24/3.
  EXPECT_EQ(lineage["modification"]["own_compute"]["flop"], "233333332233333333222");
  EXPECT_EQ(lineage["modification"]["originals"], Json::array({"meta/base"}));
  const Json eu = Regime(lineage["regimes"], "eu_modification");
  EXPECT_EQ(eu["compute_exact"], "233333332233333333222");
  EXPECT_EQ(eu["threshold_basis"], "known_one_third");
  EXPECT_EQ(eu["verdict"], "below");
  // The cumulative regimes count the base too.
  EXPECT_EQ(Regime(lineage["regimes"], "eu_gpai_indicative")["compute_exact"], "1000233333332233333333222");
  EXPECT_EQ(lineage["modification"]["single_run_reading"]["flop"], "123456789012345678901");
}

TEST_P(LedgerApiTest, AMergeOfTwoFineTunesCountsTheirSharedBaseOnce) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", "1000000000000000000000000")));
  Ok(ledger->add_run(run_record("a", "100000000000000000000"),
                     run_on("acme/a", derived_model("acme/a", "Acme", {"meta/base"}))));
  Ok(ledger->add_run(run_record("b", "200000000000000000000"),
                     run_on("acme/b", derived_model("acme/b", "Acme", {"meta/base"}))));
  Ok(ledger->add_model(derived_model("acme/merged", "Acme", {"acme/a", "acme/b"}, "merge")));
  const Json lineage = Lineage(*ledger, "acme/merged");
  EXPECT_EQ(lineage["cumulative_compute"]["flop"], "1000300000000000000000000") << "not 2e24 + ...";
  EXPECT_EQ(lineage["nodes"].size(), 4u);
  EXPECT_EQ(lineage["modification"]["own_compute"]["flop"], "300000000000000000000");
  EXPECT_EQ(lineage["modification"]["original_compute"]["flop"], "1000000000000000000000000");
}

TEST_P(LedgerApiTest, UnknownPretrainingLeavesTheCumulativeIncompleteAndNamesIt) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("other/base", "Other", std::nullopt)));
  Ok(ledger->add_run(run_record("r", "4000"), run_on("acme/sft", derived_model("acme/sft", "Acme", {"other/base"}))));
  const Json lineage = Lineage(*ledger, "acme/sft");
  const Json& cumulative = lineage["cumulative_compute"];
  EXPECT_EQ(cumulative["complete"], false);
  EXPECT_TRUE(cumulative["flop"].is_null());
  EXPECT_EQ(cumulative["known_part"], "4000");
  EXPECT_EQ(cumulative["unknown_parts"], Json::array({"other/base: pretraining compute unknown"}));
  const Json eu = Regime(lineage["regimes"], "eu_modification");
  EXPECT_EQ(eu["threshold_basis"], "unknown_gpai");
  EXPECT_EQ(eu["verdict"], "below");
  EXPECT_EQ(Regime(lineage["regimes"], "eu_gpai_indicative")["verdict"], "undetermined");
}

TEST_P(LedgerApiTest, AnUndeterminedRunLeavesTheVerdictOpenUnlessTheKnownPartExceeds) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", "3000000000000000000000")));  // threshold 1e21
  Ok(ledger->add_run(run_record("known", "600000000000000000000"),
                     run_on("acme/sft", derived_model("acme/sft", "Acme", {"meta/base"}))));
  Ok(ledger->add_run(run_record("watched", std::nullopt, "completed"), run_on("acme/sft")));
  Json lineage = Lineage(*ledger, "acme/sft");
  EXPECT_EQ(lineage["modification"]["own_compute"]["complete"], false);
  EXPECT_EQ(lineage["modification"]["own_compute"]["known_part"], "600000000000000000000");
  EXPECT_EQ(lineage["modification"]["own_compute"]["unknown_parts"],
            Json::array({"acme/sft: a run whose compute is undetermined"}));
  EXPECT_EQ(Regime(lineage["regimes"], "eu_modification")["verdict"], "undetermined");
  auto basis = ledger->basis_for("acme/sft", "Acme");
  ASSERT_TRUE(basis.ok()) << basis.status().ToString();
  EXPECT_EQ(to_decimal(basis->own_modifications), "600000000000000000000");
  EXPECT_THAT(basis->own_modifications_undetermined, HasSubstr("acme/sft"));

  // A further known run takes the known part past 1e21: exceeds, whatever
  // the undetermined run cost.
  Ok(ledger->add_run(run_record("more", "400000000000000000001"), run_on("acme/sft")));
  lineage = Lineage(*ledger, "acme/sft");
  EXPECT_EQ(lineage["modification"]["own_compute"]["known_part"], "1000000000000000000001");
  EXPECT_EQ(Regime(lineage["regimes"], "eu_modification")["verdict"], "exceeds");
}

TEST_P(LedgerApiTest, AnotherOrganisationsDerivedModelIsTheOriginalModel) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", "1000000000000000000000000")));
  Ok(ledger->add_run(run_record("a1", "1000000000000000000000"),
                     run_on("a/sft", derived_model("a/sft", "OrgA", {"meta/base"}))));
  Ok(ledger->add_run(run_record("b1", "200000000000000000000"),
                     run_on("b/sft", derived_model("b/sft", "OrgB", {"a/sft"}))));
  Ok(ledger->add_run(run_record("b2", "300000000000000000000"),
                     run_on("b/dpo", derived_model("b/dpo", "OrgB", {"b/sft"}))));

  const Json lineage = Lineage(*ledger, "b/dpo");
  const Json& m = lineage["modification"];
  EXPECT_EQ(m["originals"], Json::array({"a/sft"}));
  EXPECT_EQ(m["own_models"], Json::array({"b/dpo", "b/sft"}));
  EXPECT_EQ(m["original_compute"]["flop"], "1001000000000000000000000") << "A's cumulative compute";
  EXPECT_EQ(m["own_compute"]["flop"], "500000000000000000000") << "B's runs only";
  // The summed reading beside the single-run one (the costliest run).
  EXPECT_EQ(m["single_run_reading"]["flop"], "300000000000000000000");
  EXPECT_EQ(m["single_run_reading"]["verdict"], "below");
  const Json eu = Regime(lineage["regimes"], "eu_modification");
  EXPECT_EQ(eu["compute_exact"], "500000000000000000000");
  EXPECT_EQ(eu["threshold_exact"], (Fraction{flop("1001000000000000000000000"), 3}.to_string()));

  auto b = ledger->basis_for("b/dpo", "OrgB");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_TRUE(b->original.flop);
  EXPECT_EQ(to_decimal(*b->original.flop), "1001000000000000000000000");
  EXPECT_EQ(to_decimal(b->own_modifications), "500000000000000000000");
  EXPECT_THAT(b->explanation, HasSubstr("a/sft (entry"));
  // A new run by OrgA on B's model: B's model whole is A's original.
  auto a = ledger->basis_for("b/dpo", "OrgA");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(to_decimal(*a->original.flop), "1001500000000000000000000");
  EXPECT_EQ(to_decimal(a->own_modifications), "0");
  EXPECT_EQ(ledger->basis_for("nobody/model", "OrgA").status().code(), StatusCode::kNotFound);
}

// The issue's headline: earlier modifications of 3.333e22 FLOP by one
// organisation on a base of unknown compute (threshold 1e23/3); a further
// small LoRA run takes the sum past the threshold, though no run alone does.
TEST_P(LedgerApiTest, ASmallRunAfterLargeEarlierModificationsExceedsOnTheSum) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("qwen/base", "Qwen", std::nullopt)));
  Ok(ledger->add_run(run_record("big", "33330000000000000000000"),
                     run_on("acme/m1", derived_model("acme/m1", "Acme", {"qwen/base"}))));
  EXPECT_EQ(Regime(Lineage(*ledger, "acme/m1")["regimes"], "eu_modification")["verdict"], "below");
  Ok(ledger->add_run(run_record("lora", "5000000000000000000"),
                     run_on("acme/m2", derived_model("acme/m2", "Acme", {"acme/m1"}, "lora"))));
  const Json lineage = Lineage(*ledger, "acme/m2");
  const Json eu = Regime(lineage["regimes"], "eu_modification");
  EXPECT_EQ(eu["threshold_basis"], "unknown_gpai");
  EXPECT_EQ(eu["compute_exact"], "33335000000000000000000");
  EXPECT_EQ(eu["verdict"], "exceeds");
  EXPECT_EQ(lineage["modification"]["single_run_reading"]["flop"], "33330000000000000000000");
  EXPECT_EQ(lineage["modification"]["single_run_reading"]["verdict"], "below");
  EXPECT_THAT(lineage["modification"]["reading"].get<std::string>(), HasSubstr("summed"));
}

// --- The estimate, by the CLI (FM_CLI_PATH), with its basis from the ledger --

// The key made on first use at the default path is written only by an
// append that succeeds: a refused one leaves no key file behind.
TEST_P(LedgerApiTest, ARefusedAppendMakesNoDefaultKey) {
  const std::string key = dir().path() + "/.config/flopsmeter/ledger.key";
  const CliRun refused =
      run_cli({"ledger", "register", "acme/x", "--parents", "ghost/base", "--organisation", "Acme", "--ledger",
               location()},
              dir());
  EXPECT_EQ(refused.status, 2);
  EXPECT_THAT(refused.err, HasSubstr("its parent 'ghost/base' is not in the ledger"));
  EXPECT_FALSE(std::filesystem::exists(key)) << "a refused register wrote a signing key";
  const CliRun made = run_cli({"ledger", "register", "ghost/base", "--pretrain-unknown", "--organisation", "Ghost",
                               "--ledger", location()},
                              dir());
  ASSERT_EQ(made.status, 0) << made.err;
  EXPECT_THAT(made.out, HasSubstr("made a new signing key"));
  EXPECT_TRUE(std::filesystem::exists(key));
}

TEST_P(LedgerApiTest, TheEstimateSaysExceedsWithTheLedgerAsWithPriorModifications) {
  {
    auto ledger = Open();
    ASSERT_NE(ledger, nullptr);
    Ok(ledger->add_model(base_model("qwen/base", "Qwen", std::nullopt)));
    Ok(ledger->add_run(run_record("big", "33330000000000000000000"),
                       run_on("acme/m1", derived_model("acme/m1", "Acme", {"qwen/base"}))));
  }
  // A LoRA run of 2e9 tokens on a 0.5B model: about 5e18 FLOP, far below
  // the threshold alone, and past it on top of 3.333e22.
  const std::vector<std::string> job = {"estimate", "--model", "Qwen/Qwen2.5-0.5B", "--method", "lora",
                                        "--tokens", "2e9", "--json"};
  std::vector<std::string> with_ledger = job, with_prior = job;
  for (const char* a : {"--ledger", location().c_str(), "--ledger-model", "acme/m1", "--organisation", "Acme"}) {
    with_ledger.push_back(a);
  }
  with_prior.insert(with_prior.end(), {"--prior-modifications", "33330000000000000000000"});
  for (const auto& args : {with_ledger, with_prior}) {
    SCOPED_TRACE(args[args.size() - 2]);
    const CliRun run = run_cli(args, dir());
    ASSERT_EQ(run.status, 0) << run.err;
    const Json estimate = Json::parse(run.out);
    ASSERT_EQ(estimate["methods"].size(), 1u);
    const Json& lora = estimate["methods"][0];
    const Flop own = flop(lora["compliance_exact"].get<std::string>());
    EXPECT_GT(own, flop("3400000000000000000"));
    EXPECT_LT(own, flop("10000000000000000000"));
    const Json eu = Regime(lora["regimes"], "eu_modification");
    EXPECT_EQ(eu["threshold_basis"], "unknown_gpai");
    EXPECT_EQ(eu["compute_exact"], to_decimal(flop("33330000000000000000000") + own)) << "the sum";
    EXPECT_EQ(eu["verdict"], "exceeds");
    EXPECT_EQ(eu["single_run_exceeds"], false) << "this run alone is below";
  }
  // A ledger model of another organisation: Acme's modifications are not
  // OrgB's, so for OrgB the run alone counts (against acme/m1's unknown
  // cumulative compute).
  std::vector<std::string> other = with_ledger;
  other[other.size() - 1] = "OrgB";
  const CliRun run = run_cli(other, dir());
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(Regime(Json::parse(run.out)["methods"][0]["regimes"], "eu_modification")["verdict"], "below");
}

// --- Idempotency and supersession ---------------------------------------

TEST_P(LedgerApiTest, TheSameRecordTwiceChangesNothing) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", "1000")));
  const std::string record = run_record("run-1", "500");
  const RunSpec spec = run_on("acme/sft", derived_model("acme/sft", "Acme", {"meta/base"}));
  const LedgerAppend first = Ok(ledger->add_run(record, spec));
  EXPECT_FALSE(first.no_change);
  const uint64_t size = EntryCount();
  const LedgerAppend again = Ok(ledger->add_run(record, spec));
  EXPECT_TRUE(again.no_change);
  EXPECT_EQ(again.index, first.index);
  EXPECT_EQ(again.tree_size, size);
  EXPECT_EQ(EntryCount(), size);
  // From another process's handle, with the model now known: the same.
  auto other = Open("second-writer");
  ASSERT_NE(other, nullptr);
  const LedgerAppend third = Ok(other->add_run(record, run_on("acme/sft")));
  EXPECT_TRUE(third.no_change);
  EXPECT_EQ(third.index, first.index);
  EXPECT_EQ(Parsed(ledger->runs_json(""))["runs"].size(), 1u);
}

TEST_P(LedgerApiTest, AnotherRecordOfTheSameRunSupersedesTheFirstAndBothStay) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", "1000000")));
  const RunSpec spec = run_on("acme/sft", derived_model("acme/sft", "Acme", {"meta/base"}));
  const LedgerAppend crashed = Ok(ledger->add_run(run_record("run-1", "500", "crashed"), spec));
  const LedgerAppend reported = Ok(ledger->add_run(run_record("run-1", "700", "completed"), spec));
  EXPECT_FALSE(reported.no_change);
  ASSERT_TRUE(reported.superseded);
  EXPECT_EQ(*reported.superseded, crashed.index);
  EXPECT_GT(reported.index, crashed.index);

  const Json runs = Parsed(ledger->runs_json("acme/sft"))["runs"];
  ASSERT_EQ(runs.size(), 1u) << runs.dump(2);
  EXPECT_EQ(runs[0]["entry"], reported.index);
  EXPECT_EQ(runs[0]["supersedes"], crashed.index);
  EXPECT_EQ(runs[0]["compliance_flop"], "700");
  EXPECT_EQ(runs[0]["status"], "completed");
  EXPECT_EQ(Lineage(*ledger, "acme/sft")["cumulative_compute"]["flop"], "1000700") << "the current record only";
  // The superseded entry stays in the ledger, provably.
  auto proof = ledger->prove_json(crashed.index);
  ASSERT_TRUE(proof.ok()) << proof.status().ToString();
  EXPECT_THAT(Json::parse(*proof)["entry"].get<std::string>(), HasSubstr("crashed"));
  EXPECT_TRUE(verify_inclusion_proof(*proof, "").ok());
  // The first record again is a re-report too: it supersedes the second.
  const LedgerAppend back = Ok(ledger->add_run(run_record("run-1", "500", "crashed"), spec));
  EXPECT_EQ(back.superseded, std::optional<uint64_t>(reported.index));
  EXPECT_EQ(Lineage(*ledger, "acme/sft")["cumulative_compute"]["flop"], "1000500");
}

TEST_P(LedgerApiTest, ASupersedingAnnotationRemovesAModelAndLetsItBeRegisteredAgain) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  const LedgerAppend wrong = Ok(ledger->add_model(base_model("meta/base", "Meta", "1000")));
  Ok(ledger->add_model(base_model("other/base", "Other", "5")));
  const LedgerAppend note = Ok(ledger->annotate(wrong.index, "a note, not a correction", false));
  EXPECT_EQ(Parsed(ledger->models_json())["models"].size(), 2u);
  const Json shown = Parsed(ledger->model_json("meta/base"));
  ASSERT_EQ(shown["annotations"].size(), 1u);
  EXPECT_EQ(shown["annotations"][0]["entry"], note.index);

  Ok(ledger->annotate(wrong.index, "the figure was a typo", true));
  const Json models = Parsed(ledger->models_json())["models"];
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0]["name"], "other/base");
  EXPECT_EQ(ledger->model_json("meta/base").status().code(), StatusCode::kNotFound);
  // The correction: the name is free again, with the right figure.
  const LedgerAppend corrected = Ok(ledger->add_model(base_model("meta/base", "Meta", "2000")));
  EXPECT_GT(corrected.index, wrong.index);
  EXPECT_EQ(Parsed(ledger->model_json("meta/base"))["model"]["cumulative_compute"]["flop"], "2000");
  EXPECT_EQ(ledger->annotate(99999, "about nothing", true).status().code(), StatusCode::kNotFound);
}

// --- Bad input: a clear error naming what is at fault, and nothing written -

TEST_P(LedgerApiTest, ModelsThatCannotBeRegisteredAreRefusedByName) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", "1000")));
  ExpectNothingWritten(*ledger, [&] {
    Refused(ledger->add_run(run_record("r", "1"), run_on("acme/unknown")), StatusCode::kInvalidArgument,
            "model 'acme/unknown' is not in the ledger");
    Refused(ledger->add_model(derived_model("acme/x", "Acme", {"ghost/base"})), StatusCode::kInvalidArgument,
            "model 'acme/x': its parent 'ghost/base' is not in the ledger");
    Refused(ledger->add_run(run_record("r", "1"), run_on("acme/y", derived_model("acme/y", "Acme", {"meta/base", "ghost"}))),
            StatusCode::kInvalidArgument, "its parent 'ghost' is not in the ledger");
    Refused(ledger->add_model(derived_model("acme/loop", "Acme", {"acme/loop"})), StatusCode::kInvalidArgument,
            "model 'acme/loop' names itself as its parent");
    Refused(ledger->add_model(base_model("meta/base", "Meta", "1001")), StatusCode::kInvalidArgument,
            "model 'meta/base' is already in the ledger (entry 1) with other figures");
    ModelSpec no_figure = base_model("x/base", "X", std::nullopt);
    no_figure.pretraining.status = "";
    Refused(ledger->add_model(no_figure), StatusCode::kInvalidArgument, "base model 'x/base'");
    // The figure's status is a closed set, and matches whether there is a figure.
    ModelSpec odd_status = base_model("x/base", "X", "1000");
    odd_status.pretraining.status = "rumoured";
    Refused(ledger->add_model(odd_status), StatusCode::kInvalidArgument, "pretraining status 'rumoured' with a figure");
    ModelSpec unknown_with_figure = base_model("x/base", "X", "1000");
    unknown_with_figure.pretraining.status = "unknown";
    Refused(ledger->add_model(unknown_with_figure), StatusCode::kInvalidArgument, "pretraining status 'unknown' with a");
    ModelSpec given_without_figure = base_model("x/base", "X", std::nullopt);
    given_without_figure.pretraining.status = "given";
    Refused(ledger->add_model(given_without_figure), StatusCode::kInvalidArgument,
            "pretraining status 'given' without a figure");
    Refused(ledger->add_model(base_model("", "X", "1")), StatusCode::kInvalidArgument, "a model needs a name");
  });
  // The same model again is no change, not an error.
  const LedgerAppend same = Ok(ledger->add_model(base_model("meta/base", "Meta", "1000")));
  EXPECT_TRUE(same.no_change);
  EXPECT_EQ(same.index, 1u);
}

TEST_P(LedgerApiTest, RecordsThatAreNotRunRecordsAreRefused) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", "1000")));
  const RunSpec spec = run_on("acme/sft", derived_model("acme/sft", "Acme", {"meta/base"}));
  ExpectNothingWritten(*ledger, [&] {
    Refused(ledger->add_run("{\"schema\": \"flopsmeter.run/3\", ", spec), StatusCode::kInvalidArgument,
            "the record is not a JSON object");
    Refused(ledger->add_run("[1, 2]", spec), StatusCode::kInvalidArgument, "the record is not a JSON object");
    Refused(ledger->add_run(R"({"schema": "flopsmeter.estimate/1", "run_id": "r"})", spec),
            StatusCode::kInvalidArgument, "not a flopsmeter run record");
    Refused(ledger->add_run(R"({"run_id": "r", "tokens_processed": 5})", spec), StatusCode::kInvalidArgument,
            "not a flopsmeter run record");
    Refused(ledger->add_run(R"({"schema": "flopsmeter.run/3", "compliance": {}})", spec),
            StatusCode::kInvalidArgument, "the record has no run_id");
    Refused(ledger->add_run(R"({"schema": "flopsmeter.run/3", "run_id": 7})", spec), StatusCode::kInvalidArgument,
            "the record has no run_id");
    Refused(ledger->add_estimate(R"({"schema": "flopsmeter.run/3"})", "meta/base"), StatusCode::kInvalidArgument,
            "not an estimate");
  });
}

TEST_P(LedgerApiTest, ABatchWithOneBadRunWritesNothingAndNamesIt) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", "1000")));
  std::vector<Ledger::RunToAdd> batch;
  for (int i = 1; i <= 5; ++i) {
    const std::string id = "run-" + std::to_string(i);
    batch.push_back({run_record(id, std::to_string(i * 10)),
                     run_on("acme/sft", derived_model("acme/sft", "Acme", {"meta/base"})), id + ".json"});
  }
  std::vector<Ledger::RunToAdd> unknown_model = batch, not_json = batch;
  unknown_model[2].run = run_on("acme/nowhere");
  not_json[2].record_json = "not json";
  for (auto& r : not_json) r.label.clear();
  ExpectNothingWritten(*ledger, [&] {
    auto added = ledger->add_runs(unknown_model);
    ASSERT_FALSE(added.ok());
    EXPECT_THAT(added.status().message(), HasSubstr("run-3.json"));
    EXPECT_THAT(added.status().message(), HasSubstr("'acme/nowhere' is not in the ledger"));
    added = ledger->add_runs(not_json);
    ASSERT_FALSE(added.ok());
    EXPECT_THAT(added.status().message(), HasSubstr("run 3"));
    EXPECT_THAT(added.status().message(), HasSubstr("not a JSON object"));
  });
  EXPECT_EQ(ledger->model_json("acme/sft").status().code(), StatusCode::kNotFound)
      << "the model the first runs registered went with them";
  // The good batch: five runs under one head.
  auto added = ledger->add_runs(batch);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  ASSERT_EQ(added->size(), 5u);
  for (const LedgerAppend& a : *added) EXPECT_EQ(a.tree_size, added->back().index + 1);
  EXPECT_EQ(Parsed(ledger->runs_json("acme/sft"))["runs"].size(), 5u);
  EXPECT_EQ(Lineage(*ledger, "acme/sft")["cumulative_compute"]["flop"], "1150");
}

// Re-registering a superseded model's name must not close a lineage cycle:
// its parents are not necessarily older than the name.
TEST_P(LedgerApiTest, ACorrectedModelCannotNameItsOwnDescendantAsParent) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  const LedgerAppend a = Ok(ledger->add_model(base_model("acme/a", "Acme", "1000")));
  Ok(ledger->add_model(derived_model("acme/b", "Acme", {"acme/a"})));
  Ok(ledger->add_model(derived_model("acme/c", "Acme", {"acme/b"})));
  Ok(ledger->annotate(a.index, "acme/a was registered wrongly", true));
  ExpectNothingWritten(*ledger, [&] {
    Refused(ledger->add_model(derived_model("acme/a", "Acme", {"acme/c"})), StatusCode::kInvalidArgument,
            "lineage cycle");
  });
  // Registered again as what it is, the lineage reads back.
  Ok(ledger->add_model(base_model("acme/a", "Acme", "2000")));
  EXPECT_EQ(Lineage(*ledger, "acme/c")["cumulative_compute"]["flop"], "2000");
}

TEST_P(LedgerApiTest, AMissingKeyAtAGivenPathIsAnErrorNamingItAndNothingIsWritten) {
  LedgerOptions o = Options();
  o.key_path = dir().path() + "/keys/absent.key";
  auto ledger = Ledger::Open(o, true);
  ASSERT_TRUE(ledger.ok()) << "reading needs no key: " << ledger.status().ToString();
  auto appended = (*ledger)->add_model(base_model("meta/base", "Meta", "1000"));
  ASSERT_FALSE(appended.ok());
  EXPECT_THAT(appended.status().message(), HasSubstr(o.key_path));
  EXPECT_FALSE(std::filesystem::exists(o.key_path)) << "a key at a path the user gave is never made unasked";
  EXPECT_EQ(EntryCount(), 0u);
  EXPECT_TRUE(Parsed((*ledger)->models_json())["models"].empty());
}

// An appending command opens with OpenCreatingOnAppend: the ledger file is
// made by its first append that succeeds, so a refused one leaves none.
TEST_P(LedgerApiTest, ARefusedFirstAppendCreatesNoLedgerFile) {
  if (!sqlite()) GTEST_SKIP() << "a PostgreSQL ledger is created when opened";
  LedgerOptions o = Options();
  o.location = dir().path() + "/not-yet/ledger.sqlite";
  auto ledger = Ledger::OpenCreatingOnAppend(o);
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  EXPECT_TRUE(Parsed((*ledger)->models_json())["models"].empty()) << "an empty ledger until then";
  Refused((*ledger)->add_model(derived_model("acme/x", "Acme", {"ghost/base"})), StatusCode::kInvalidArgument,
          "its parent 'ghost/base' is not in the ledger");
  EXPECT_FALSE(std::filesystem::exists(dir().path() + "/not-yet")) << "a refused append created the ledger";
  const LedgerAppend appended = Ok((*ledger)->add_model(base_model("ghost/base", "Ghost", std::nullopt)));
  EXPECT_EQ(appended.index, 1u) << "after the key's entry";
  // The ledger is now the file: the append's head is the file's, and it verifies.
  auto reader = Ledger::Open(o, false);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const Json verified = Parsed((*reader)->verify_json("", {}));
  EXPECT_EQ(verified["ok"], true);
  EXPECT_EQ(verified["entries"], 2);
  EXPECT_EQ(Json::parse(appended.head_json)["ledger_id"], verified["ledger_id"]);
  EXPECT_EQ(Parsed((*ledger)->models_json())["models"].size(), 1u) << "the same object reads the file now";
  Ok((*ledger)->add_model(base_model("other/base", "Other", "1000")));
  EXPECT_EQ(Parsed((*reader)->models_json())["models"].size(), 2u);
}

TEST_P(LedgerApiTest, AKeyOthersCanReadIsRefused) {
  auto ledger = Open();  // registers nothing yet
  ASSERT_NE(ledger, nullptr);
  for (mode_t mode : {0640, 0604, 0644}) {
    SCOPED_TRACE(mode);
    const std::string path = KeyPath("shared-" + std::to_string(mode));
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    LedgerOptions o = Options();
    o.key_path = path;
    auto exposed = Ledger::Open(o, false);
    ASSERT_TRUE(exposed.ok());
    auto appended = (*exposed)->add_model(base_model("meta/base", "Meta", "1000"));
    ASSERT_FALSE(appended.ok());
    EXPECT_EQ(appended.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(appended.status().message(), HasSubstr(path + ": a secret key must be readable by its owner alone"));
    EXPECT_EQ(EntryCount(), 0u);
  }
}

// --- Verify against a held head, and inclusion proofs --------------------

TEST_P(LedgerApiTest, VerifyProvesTheLedgerExtendsAHeldHeadAndCatchesATruncation) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", "1000")));
  const std::string early = *ledger->head_json();
  const uint64_t early_size = Json::parse(early)["size"];
  for (int i = 0; i < 6; ++i) Ok(ledger->add_model(base_model("m" + std::to_string(i), "Meta", "1")));
  const std::string late = *ledger->head_json();
  Json v = Verify(early);
  EXPECT_EQ(v["ok"], true) << v.dump(2);
  EXPECT_EQ(v["extends_held_head"]["extended"], true);
  EXPECT_FALSE(v["extends_held_head"]["consistency_proof"].empty());
  EXPECT_EQ(Verify(late)["extends_held_head"]["extended"], true) << "a ledger extends its own head";

  // Someone with the database cuts the tail and the heads over it and
  // fixes the size: the ledger alone looks whole, the held head does not.
  const std::string k = std::to_string(early_size);
  ASSERT_EQ(where_.RawSql("DELETE FROM ledger_entries WHERE entry_index >= " + k), "");
  ASSERT_EQ(where_.RawSql("DELETE FROM ledger_heads WHERE tree_size > " + k), "");
  ASSERT_EQ(where_.RawSql("UPDATE ledger_state SET tree_size = " + k), "");
  EXPECT_EQ(Verify()["ok"], true) << "consistent in itself";
  v = Verify(late);
  EXPECT_EQ(v["ok"], false);
  EXPECT_EQ(v["extends_held_head"]["extended"], false);
  ASSERT_EQ(v["held_head_problems"].size(), 1u);
  EXPECT_THAT(v["held_head_problems"][0].get<std::string>(),
              HasSubstr("holds " + k + " entries, but the head you hold"));
  EXPECT_THAT(v["held_head_problems"][0].get<std::string>(), HasSubstr("truncated"));
  // A head that is not one.
  EXPECT_FALSE(Open()->verify_json("{\"schema\": \"x\"}", {}).ok());
}

TEST_P(LedgerApiTest, AnEntryReadAloneIsTheOneItsProofCarries) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  for (int i = 0; i < 5; ++i) Ok(ledger->add_model(base_model("m" + std::to_string(i), "Meta", "1")));
  for (uint64_t index = 0; index < 6; ++index) {
    auto entry = ledger->entry_json(index);
    auto proof = ledger->prove_json(index);
    ASSERT_TRUE(entry.ok() && proof.ok()) << index;
    EXPECT_EQ(*entry, Json::parse(*proof)["entry"].get<std::string>()) << index;
  }
  auto past = ledger->entry_json(6);
  EXPECT_EQ(past.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(past.status().message(), HasSubstr("no entry 6"));
}

TEST_P(LedgerApiTest, AnInclusionProofChecksWithoutTheDatabaseAndCatchesEveryFlippedByte) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  for (int i = 0; i < 7; ++i) Ok(ledger->add_model(base_model("m" + std::to_string(i), "Meta", "1")));
  auto proof_text = ledger->prove_json(3);
  ASSERT_TRUE(proof_text.ok()) << proof_text.status().ToString();
  const Json proof = Json::parse(*proof_text);
  EXPECT_EQ(proof["index"], 3);
  EXPECT_EQ(proof["tree_size"], 8);
  auto checked = verify_inclusion_proof(*proof_text, "");
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  EXPECT_THAT(*checked, HasSubstr("entry 3 is in ledger"));
  const std::string signer = proof["head"]["public_key"];
  EXPECT_TRUE(verify_inclusion_proof(*proof_text, signer).ok());
  EXPECT_TRUE(verify_inclusion_proof(*proof_text, proof["head"]["key_id"]).ok());

  // The text with one character changed; a hex digit stays one.
  auto flipped = [](std::string text, size_t at) {
    const std::string digits = "0123456789abcdef";
    const size_t d = digits.find(text.at(at));
    text[at] = d == std::string::npos ? static_cast<char>(text[at] ^ 1) : digits[d ^ 1];
    return text;
  };
  Json bad = proof;
  bad["entry"] = flipped(proof["entry"], proof["entry"].get<std::string>().find("m2") + 1);
  auto refused = verify_inclusion_proof(bad.dump(), "");
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("audit path does not lead to the head's root"));
  // The leaf hash it states must be its entry's (it was once never checked).
  bad = proof;
  bad["leaf_hash"] = flipped(proof["leaf_hash"], 5);
  EXPECT_THAT(verify_inclusion_proof(bad.dump(), "").status().message(),
              HasSubstr("its leaf_hash is not the hash of its entry"));
  bad.erase("leaf_hash");
  EXPECT_EQ(verify_inclusion_proof(bad.dump(), "").status().code(), StatusCode::kParseError);
  for (size_t i = 0; i < proof["path"].size(); ++i) {
    bad = proof;
    bad["path"][i] = flipped(proof["path"][i], 17);
    EXPECT_FALSE(verify_inclusion_proof(bad.dump(), "").ok()) << "path element " << i;
  }
  bad = proof;
  bad["head"]["root"] = flipped(proof["head"]["root"], 0);
  EXPECT_THAT(verify_inclusion_proof(bad.dump(), "").status().message(), HasSubstr("signature does not verify"));
  bad = proof;
  bad["index"] = 4;
  EXPECT_FALSE(verify_inclusion_proof(bad.dump(), "").ok());

  // A trusted key that is not the signer's.
  auto stranger = generate_ledger_key(dir().path() + "/stranger.key");
  ASSERT_TRUE(stranger.ok());
  refused = verify_inclusion_proof(*proof_text, stranger->public_key);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("not by the trusted key " + stranger->key_id));
  // A head that names the stranger's key instead of its signer's.
  bad = proof;
  bad["head"]["public_key"] = stranger->public_key;
  bad["head"]["key_id"] = stranger->key_id;
  EXPECT_FALSE(verify_inclusion_proof(bad.dump(), signer).ok());
  EXPECT_FALSE(verify_inclusion_proof(bad.dump(), "").ok()) << "the old signature is not the stranger's";
  EXPECT_EQ(ledger->prove_json(8).status().code(), StatusCode::kNotFound);

  // The document form (verify-proof --json): a failed check is ok false
  // with the problem, the same words as the error above.
  auto document = inclusion_proof_check_json(*proof_text, signer);
  ASSERT_TRUE(document.ok()) << document.status().ToString();
  Json check = Json::parse(*document);
  EXPECT_EQ(check["schema"], "flopsmeter.proof_check/1");
  EXPECT_EQ(check["ok"], true);
  EXPECT_EQ(check["problem"], nullptr);
  EXPECT_EQ(check["index"], 3);
  EXPECT_EQ(check["leaf_hash"], proof["leaf_hash"]);
  EXPECT_EQ(check["trusted_key_id"], proof["head"]["key_id"]);
  bad = proof;
  bad["entry"] = flipped(proof["entry"], proof["entry"].get<std::string>().find("m2") + 1);
  document = inclusion_proof_check_json(bad.dump(), "");
  ASSERT_TRUE(document.ok()) << document.status().ToString();
  check = Json::parse(*document);
  EXPECT_EQ(check["ok"], false);
  EXPECT_EQ(check["message"], nullptr);
  EXPECT_THAT(check["problem"].get<std::string>(), HasSubstr("audit path does not lead to the head's root"));
  EXPECT_NE(check["leaf_hash"], proof["leaf_hash"]) << "recomputed from the altered entry";
  // A head that names its ledger, key or time in another form is no head.
  for (const char* field : {"ledger_id", "key_id", "time"}) {
    bad = proof;
    bad["head"][field] = proof["head"][field].get<std::string>() + "\n";
    EXPECT_EQ(inclusion_proof_check_json(bad.dump(), "").status().code(), StatusCode::kParseError) << field;
  }
}

// --- The ledger file itself (SQLite) ---------------------------------------

class LedgerFileTest : public ::testing::Test {
 protected:
  Status OpenError(const std::string& path, bool create) {
    LedgerOptions o;
    o.location = path;
    o.key_path = dir_.path() + "/absent.key";
    auto ledger = Ledger::Open(o, create);
    return ledger.ok() ? Status::Internal("opened") : ledger.status();
  }
  static std::string Contents(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  TempDir dir_;
};

TEST_F(LedgerFileTest, RandomBytesAreRefusedByNameAndLeftAsTheyWere) {
  std::string bytes(16384, '\0');
  std::mt19937 random(12);
  for (char& c : bytes) c = static_cast<char>(random());
  const std::string path = dir_.file("ledger.sqlite", bytes);
  for (bool create : {false, true}) {
    const Status s = OpenError(path, create);
    EXPECT_EQ(s.code(), StatusCode::kParseError) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr(path + ": not a SQLite database"));
  }
  EXPECT_EQ(Contents(path), bytes);
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
}

TEST_F(LedgerFileTest, AForeignDatabaseIsRefusedByNameAndLeftAsItWas) {
  const std::string path = dir_.path() + "/app.sqlite";
  ASSERT_EQ(testing::sqlite_sql(path, "CREATE TABLE ledger_entries_of_mine (x); INSERT INTO ledger_entries_of_mine "
                                      "VALUES (1)"),
            "");
  const std::string before = Contents(path);
  for (bool create : {false, true}) {
    const Status s = OpenError(path, create);
    EXPECT_EQ(s.code(), StatusCode::kParseError) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr(path + ": not a flopsmeter ledger"));
  }
  EXPECT_EQ(Contents(path), before);
  EXPECT_NE(testing::sqlite_sql(path, "SELECT * FROM ledger_entries"), "") << "no ledger table was added";
}

}  // namespace
}  // namespace flopsmeter
