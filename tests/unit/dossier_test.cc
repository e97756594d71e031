// The compliance dossier (issue 13): its figures are the ledger's views'
// and the run record's exactly, a figure nobody measured says so instead of
// 0, every verdict reaches the Markdown and HTML forms, and user text
// (model names, commands) cannot become markup.
#include <array>
#include <fstream>
#include <map>
#include <thread>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/dossier.h"
#include "api/journal.h"
#include "api/dossier_render.h"
#include "flopsmeter/ledger.h"
#include "flopsmeter/meter.h"
#include "ledger_support.h"
#include "meter_support.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;
using testing::base_model;
using testing::derived_model;
using testing::run_on;
using testing::run_record;

class DossierTest : public testing::LedgerFixture {
 protected:
  static void Ok(const Result<LedgerAppend>& appended) { ASSERT_TRUE(appended.ok()) << appended.status().ToString(); }

  // A real metered run (1000 parameters, 6000 FLOP a token under 6ND) on
  // `model` of the ledger that makes `produces`: the meter appends its
  // record when it ends. Returns the run directory.
  std::string Metered(const std::string& name, const std::string& model, const std::string& produces,
                      uint64_t tokens) const {
    const std::string run = dir().path() + "/" + name;
    MeterOptions o = testing::counts_only(run);
    o.ledger = location();
    o.ledger_key = KeyPath();
    o.organisation = "Acme";
    o.ledger_model = model;
    o.ledger_produces = produces;
    o.command = {"python3", "train.py", "--name", "\"><img src=x onerror=alert(1)>"};
    auto meter = Meter::Begin(o);
    EXPECT_TRUE(meter.ok()) << meter.status().ToString();
    if (!meter.ok()) return run;
    (*meter)->add(tokens, tokens, 1);
    EXPECT_TRUE((*meter)->step(1).ok());
    EXPECT_TRUE((*meter)->end({}).ok());
    return run;
  }

  static Dossier Made(Result<Dossier> d) {
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(*d) : Dossier{};
  }

  static const Json& Figure(const Json& dossier, const std::string& id) {
    for (const Json& f : dossier["documentation"])
      if (f["id"] == id) return f;
    ADD_FAILURE() << "no documentation figure " << id;
    static const Json kNone;
    return kNone;
  }
};

TEST_P(DossierTest, FiguresAreTheLedgerViewsExactly) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", "3000000000000000000000")));
  Metered("sft", "meta/base", "acme/sft", 5000);
  Metered("sft2", "acme/sft", "acme/sft2", 700);
  const Json view = Parsed(ledger->lineage_json("acme/sft2"));
  const Json d = Json::parse(dossier_json(Made(dossier_for_model(*ledger, "acme/sft2"))));

  EXPECT_EQ(d["schema"], "flopsmeter.dossier/1");
  EXPECT_EQ(d["subject"]["name"], "acme/sft2");
  // The compute figures, as the view states them (decimal strings).
  EXPECT_EQ(Figure(d, "training_compute")["value"], view["cumulative_compute"]["flop"]);
  EXPECT_EQ(Figure(d, "modification_compute")["value"], view["modification"]["own_compute"]["flop"]);
  EXPECT_EQ(Figure(d, "original_compute")["value"], view["modification"]["original_compute"]["flop"]);
  EXPECT_EQ(Figure(d, "modification_compute")["value"], "34200000") << "6 x 1000 x (5000 + 700)";
  EXPECT_EQ(Figure(d, "parameters")["value"], 1000);
  // Every node's own and cumulative sum, and every run's figure and entry.
  ASSERT_EQ(d["lineage"].size(), view["nodes"].size());
  EXPECT_EQ(d["lineage"][0]["name"], "acme/sft2") << "the subject first";
  size_t runs = 0;
  for (const Json& node : view["nodes"]) {
    for (const Json& mine : d["lineage"]) {
      if (mine["name"] != node["name"]) continue;
      EXPECT_EQ(mine["own_compute"], node["own_compute"]) << node["name"];
      EXPECT_EQ(mine["cumulative_compute"], node["cumulative_compute"]) << node["name"];
      EXPECT_EQ(mine["entry"], node["entry"]) << node["name"];
    }
    for (const Json& r : node["runs"]) {
      ++runs;
      bool found = false;
      for (const Json& mine : d["runs"]) {
        if (mine["run_id"] != r["run_id"]) continue;
        found = true;
        EXPECT_EQ(mine["compliance_flop"], r["compliance_flop"]);
        EXPECT_EQ(mine["entry"], r["entry"]);
        EXPECT_EQ(mine["formulas"]["eu_6nd"], r["compliance_flop"]) << "counts only: 6ND is the compliance formula";
      }
      EXPECT_TRUE(found) << r["run_id"];
    }
  }
  EXPECT_EQ(runs, 2u);
  EXPECT_EQ(d["runs"].size(), runs);
  // The verdicts: the view's regimes, in force first with eu_modification leading.
  const Json& in_force = d["verdict"]["in_force"];
  ASSERT_FALSE(in_force.empty());
  EXPECT_EQ(in_force[0]["regime"], "eu_modification");
  EXPECT_EQ(in_force.size() + d["verdict"]["not_in_force"].size(), view["regimes"].size());
  for (const Json& r : view["regimes"]) {
    const Json& list = r["in_force"].get<bool>() ? in_force : d["verdict"]["not_in_force"];
    bool found = false;
    for (const Json& v : list) {
      if (v["regime"] != r["id"]) continue;
      found = true;
      EXPECT_EQ(v["verdict"], r["verdict"]);
      EXPECT_EQ(v["compute_exact"], r["compute_exact"]);
      EXPECT_EQ(v["threshold_exact"], r["threshold_exact"]);
      EXPECT_EQ(v["threshold_basis"], r["threshold_basis"]);
      EXPECT_EQ(v["within_30pct_error_margin"], r["within_error_margin"]);
    }
    EXPECT_TRUE(found) << r["id"];
  }
  EXPECT_EQ(d["verdict"]["headlines"], view["verdict"]["headlines"]);
  // The evidence: the ledger's head, and a proof of the model's entry that checks.
  EXPECT_EQ(d["evidence"]["signed_head"], Parsed(ledger->head_json()));
  EXPECT_EQ(d["evidence"]["inclusion_proof"]["index"], d["lineage"][0]["entry"]);
  EXPECT_TRUE(verify_inclusion_proof(d["evidence"]["inclusion_proof"].dump(), "").ok());
  // The timeline ends at the view's sums.
  const Json& last = d["timeline"].back();
  EXPECT_EQ(last["complete"], true);
  EXPECT_DOUBLE_EQ(last["modification_flop"].get<double>(), 34200000.0);
  EXPECT_NEAR(last["cumulative_flop"].get<double>(), 3000000000000034200000.0, 1e9);
}

TEST_P(DossierTest, EnergyNobodyMeasuredIsNotAvailableWithTheReasonNeverZero) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", std::nullopt)));
  Metered("sft", "meta/base", "acme/sft", 100);
  const Json d = Json::parse(dossier_json(Made(dossier_for_model(*ledger, "acme/sft"))));
  const Json& energy = Figure(d, "energy");
  EXPECT_TRUE(energy["value"].is_null());
  EXPECT_EQ(energy["text"], "not available");
  EXPECT_THAT(energy["reason"].get<std::string>(), HasSubstr("no GPU energy was measured"));
  // The base's compute is unknown: the cumulative figure is undetermined, not the known part.
  const Json& compute = Figure(d, "training_compute");
  EXPECT_TRUE(compute["value"].is_null());
  EXPECT_EQ(compute["text"], "undetermined");
  EXPECT_THAT(compute["reason"].get<std::string>(), HasSubstr("at least 6.00e+05 FLOP"));
  EXPECT_TRUE(d["runs"][0]["gpus"].empty());
  for (const Json& f : d["documentation"]) {
    if (f["value"].is_null()) {
      EXPECT_FALSE(f["reason"].get<std::string>().empty()) << f["id"];
    }
    EXPECT_NE(f["value"], "0") << f["id"];
  }
}

TEST_P(DossierTest, MeasuredEnergyIsSummedOverTheRunsWithItsMethod) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", "3000000000000000000000")));
  auto record = [](const std::string& id, double mwh) {
    Json r = Json::parse(run_record(id, "1000000"));
    r["energy"] = {{"mwh", mwh}, {"methods", {"counter"}}};
    r["hardware"] = {{"gpus",
                      {{{"rank", 0}, {"segment", 1}, {"index", 3}, {"name", "NVIDIA H100 80GB HBM3"},
                        {"attributed_seconds", 100.0}, {"mean_utilization", 0.8}, {"max_power_w", 700.0},
                        {"energy_j", mwh * 3.6e9}, {"energy_method", "counter"}}}}};
    return r.dump();
  };
  Ok(ledger->add_run(record("a", 0.0125), run_on("acme/sft", derived_model("acme/sft", "Acme", {"meta/base"}))));
  Ok(ledger->add_run(record("b", 0.0075), run_on("acme/sft")));
  const Json d = Json::parse(dossier_json(Made(dossier_for_model(*ledger, "acme/sft"))));
  const Json& energy = Figure(d, "energy");
  ASSERT_TRUE(energy["value"].is_number()) << energy;
  EXPECT_DOUBLE_EQ(energy["value"].get<double>(), 0.02);
  EXPECT_THAT(energy["text"].get<std::string>(), HasSubstr("measured by NVML (counter)"));
  // Each sampled GPU with its mean power (energy over the time attributed to the job), and its chart.
  ASSERT_EQ(d["runs"].size(), 2u);
  for (const Json& run : d["runs"]) {
    ASSERT_EQ(run["gpus"].size(), 1u);
    EXPECT_EQ(run["gpus"][0]["index"], 3);
    EXPECT_DOUBLE_EQ(run["gpus"][0]["mean_power_w"].get<double>(), run["gpus"][0]["energy_j"].get<double>() / 100);
  }
  EXPECT_THAT(dossier_html(Made(dossier_for_model(*ledger, "acme/sft"))), HasSubstr("<title id=\"chart-gpus-title\">"));
  // These records give no N_total: the parameters are not available, and say why.
  EXPECT_TRUE(Figure(d, "parameters")["value"].is_null());
  EXPECT_THAT(Figure(d, "parameters")["reason"].get<std::string>(), HasSubstr("N_total"));
}

TEST_P(DossierTest, EnergyNvmlMeasuredForSomeGpusIsTheRecordsUpperEstimateOrNotAvailableNeverThePartialSum) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", "3000000000000000000000")));
  auto record = [](const std::string& id, const Json& energy) {
    Json r = Json::parse(run_record(id, "1000000"));
    r["energy"] = energy;
    return r.dump();
  };
  const Json estimated = {{"mwh", nullptr},
                          {"methods", {"counter", "unavailable"}},
                          {"estimate", {{"mwh", 0.25}, {"joules", 0.25 * 3.6e9}, {"reason", nullptr}}}};
  Ok(ledger->add_run(record("a", estimated), run_on("acme/sft", derived_model("acme/sft", "Acme", {"meta/base"}))));
  Ok(ledger->add_run(record("b", {{"mwh", 0.5}, {"methods", {"counter"}}}), run_on("acme/sft")));
  Json d = Json::parse(dossier_json(Made(dossier_for_model(*ledger, "acme/sft"))));
  Json energy = Figure(d, "energy");
  ASSERT_TRUE(energy["value"].is_number()) << energy;
  EXPECT_DOUBLE_EQ(energy["value"].get<double>(), 0.75);
  EXPECT_THAT(energy["label"].get<std::string>(), HasSubstr("upper estimate"));
  EXPECT_THAT(energy["text"].get<std::string>(), AllOf(HasSubstr("at most 7.50e-01 MWh"), HasSubstr("E = P x t")));
  EXPECT_THAT(energy["source"].get<std::string>(), HasSubstr("energy.estimate.mwh"));

  // A record that sums the measured GPUs alone (written before estimates):
  // the sum is not the run's energy.
  Ok(ledger->add_run(record("c", {{"mwh", 0.1}, {"methods", {"counter", "unavailable"}}}), run_on("acme/sft")));
  d = Json::parse(dossier_json(Made(dossier_for_model(*ledger, "acme/sft"))));
  energy = Figure(d, "energy");
  EXPECT_TRUE(energy["value"].is_null()) << energy;
  EXPECT_THAT(energy["reason"].get<std::string>(), HasSubstr("run c: NVML measured only some of its GPUs"));

  // An estimate that could not be made says why.
  const Json unestimated = {{"mwh", nullptr},
                            {"methods", {"unavailable"}},
                            {"estimate", {{"mwh", nullptr}, {"joules", nullptr}, {"reason", "no estimate for GPU X"}}}};
  Ok(ledger->add_model(derived_model("acme/other", "Acme", {"meta/base"})));
  Ok(ledger->add_run(record("d", unestimated), run_on("acme/other")));
  energy = Figure(Json::parse(dossier_json(Made(dossier_for_model(*ledger, "acme/other")))), "energy");
  EXPECT_TRUE(energy["value"].is_null()) << energy;
  EXPECT_THAT(energy["reason"].get<std::string>(), HasSubstr("no estimate for GPU X"));
}

TEST_P(DossierTest, AHostileModelNameCommandAndNoteRenderAsText) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", "3000000000000000000000")));
  const std::string hostile = "<script>alert(1)</script>";
  Metered("x", "meta/base", hostile, 100);
  const Json model = Parsed(ledger->model_json(hostile));
  Ok(ledger->annotate(model["model"]["entry"].get<uint64_t>(), "reviewed <b onmouseover=alert(2)>ok</b>", false));
  const Dossier d = Made(dossier_for_model(*ledger, hostile));
  const std::string html = dossier_html(d);
  EXPECT_THAT(html, HasSubstr("reviewed &lt;b onmouseover=alert(2)&gt;ok&lt;/b&gt;")) << "the note, as text";
  EXPECT_THAT(html, Not(HasSubstr("<b ")));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(html, HasSubstr("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;")) << "the command line, as text";
  const std::string md = dossier_markdown(d);
  EXPECT_THAT(md, Not(HasSubstr("<script")));
  EXPECT_THAT(md, Not(HasSubstr("<img")));
  EXPECT_THAT(md, Not(HasSubstr("<b ")));
  EXPECT_THAT(md, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_EQ(Json::parse(dossier_json(d))["subject"]["name"], hostile) << "JSON keeps the name exactly";
}

TEST_P(DossierTest, MarkdownAndHtmlCarryEveryVerdictAndTheHtmlFetchesNothing) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  // A small base: a 1e6-token run exceeds a third of it, so both verdicts appear.
  Ok(ledger->add_model(base_model("meta/base", "Meta", "9000000000")));
  Metered("sft", "meta/base", "acme/sft", 1000000);
  const Dossier d = Made(dossier_for_model(*ledger, "acme/sft"));
  ASSERT_FALSE(d.verdicts.empty());
  EXPECT_EQ(d.verdicts.front().regime_id, "eu_modification");
  EXPECT_EQ(d.verdicts.front().verdict, "exceeds");
  const std::string html = dossier_html(d), md = dossier_markdown(d);
  for (const std::vector<DossierVerdict>* list : {&d.verdicts, &d.not_in_force}) {
    for (const DossierVerdict& v : *list) {
      EXPECT_THAT(html, HasSubstr(html_escaped(v.regime_id))) << v.regime_id;
      std::string escaped;  // Markdown escapes the underscores
      for (char c : v.regime_id) escaped += c == '_' ? std::string("\\_") : std::string(1, c);
      EXPECT_THAT(md, HasSubstr(escaped)) << v.regime_id;
    }
  }
  // The verdict's word once, stressed, then its figures ("EXCEEDS: 1.6e+11 ...").
  EXPECT_THAT(html, HasSubstr("<strong>EXCEEDS</strong>: "));
  EXPECT_THAT(html, HasSubstr("<strong>BELOW</strong>: "));
  EXPECT_THAT(html, Not(HasSubstr("</strong> EXCEEDS")));
  EXPECT_THAT(html, Not(HasSubstr("</strong> below")));
  EXPECT_THAT(md, HasSubstr("EXCEEDS: "));
  EXPECT_THAT(md, HasSubstr("BELOW: "));
  // One self-contained file: no script, nothing fetched, charts with text alternatives.
  // (Attributes as markup writes them: user text with src= is escaped, its quotes too.)
  for (const char* fetch : {"<script", "src=\"", "href=\"", "url(", "@import", "<link"})
    EXPECT_THAT(html, Not(HasSubstr(fetch))) << fetch;
  EXPECT_THAT(html, HasSubstr("@media print"));
  EXPECT_THAT(html, HasSubstr("<th scope=\"col\">"));
  for (const char* chart : {"chart-cumulative", "chart-runs", "chart-formulas"})
    EXPECT_THAT(html, HasSubstr("<title id=\"" + std::string(chart) + "-title\">")) << chart;
}

TEST_P(DossierTest, ARunDirectoryGivesTheRecordsFiguresAndSaysItHasNoSignedHead) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", "3000000000000000000000")));
  const std::string run = Metered("sft", "meta/base", "acme/sft", 250);
  const Json record = testing::read_json(run + "/flops_meter.json");
  const Json d = Json::parse(dossier_json(Made(dossier_for_run(run))));
  EXPECT_EQ(d["subject"]["kind"], "run");
  EXPECT_EQ(Figure(d, "modification_compute")["value"], record["compliance"]["exact"]);
  EXPECT_EQ(Figure(d, "modification_compute")["value"], "1500000");
  EXPECT_EQ(d["runs"][0]["run_id"], record["run_id"]);
  EXPECT_EQ(d["verdict"]["headlines"], record["verdict"]["headlines"]);
  EXPECT_TRUE(d["evidence"]["signed_head"].is_null());
  EXPECT_THAT(d["evidence"]["note"].get<std::string>(), HasSubstr("no signed ledger head"));
  bool journal_hash = false;
  for (const Json& e : d["evidence"]["items"])
    journal_hash = journal_hash || e["value"].get<std::string>().rfind(
                                       record["provenance"]["journals"]["0"]["last_sha256"].get<std::string>(), 0) == 0;
  EXPECT_TRUE(journal_hash) << "the journal's pinned last line";

  const std::string other = dir().file("other/flops_meter.json", R"({"schema": "flopsmeter.estimate/1"})");
  Result<Dossier> refused = dossier_for_run(other);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr(other));
  EXPECT_THAT(refused.status().message(), HasSubstr("not a flopsmeter run record"));
}

TEST_P(DossierTest, AnOrganisationsOwnBaseHasNoOriginalModelRatherThanAZeroOne) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("acme/base", "Acme", "3000000000000000000000")));
  Metered("sft", "acme/base", "acme/sft", 100);
  const Json d = Json::parse(dossier_json(Made(dossier_for_model(*ledger, "acme/sft"))));
  const Json& original = Figure(d, "original_compute");
  EXPECT_TRUE(original["value"].is_null());
  EXPECT_EQ(original["text"], "not applicable");
  EXPECT_THAT(original["reason"].get<std::string>(), HasSubstr("made the whole line"));
  EXPECT_EQ(Figure(d, "model_dependencies")["value"], Json::array({"acme/base (base, Acme, ledger entry 1)"}));
}

TEST_P(DossierTest, AnUndeterminedRunLeavesTheComputeAndTheVerdictOpenAndSaysWhy) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", "3000000000000000000000")));
  Ok(ledger->add_run(run_record("known", "1000000"), run_on("acme/sft", derived_model("acme/sft", "Acme", {"meta/base"}))));
  Ok(ledger->add_run(run_record("watched", std::nullopt), run_on("acme/sft")));
  const Dossier dossier = Made(dossier_for_model(*ledger, "acme/sft"));
  const Json d = Json::parse(dossier_json(dossier));
  const Json& modification = Figure(d, "modification_compute");
  EXPECT_TRUE(modification["value"].is_null());
  EXPECT_EQ(modification["text"], "undetermined");
  EXPECT_THAT(modification["reason"].get<std::string>(), HasSubstr("at least 1.00e+06 FLOP"));
  EXPECT_EQ(d["verdict"]["in_force"][0]["regime"], "eu_modification");
  EXPECT_EQ(d["verdict"]["in_force"][0]["verdict"], "undetermined");
  EXPECT_EQ(d["timeline"].back()["complete"], false) << "the chart's last point is a lower bound";
  EXPECT_THAT(dossier_html(dossier), HasSubstr("<strong>UNDETERMINED</strong>"));
}

TEST_P(DossierTest, AModelTheLedgerLacksIsNotFoundByName) {
  auto ledger = Open();
  ASSERT_NE(ledger, nullptr);
  Ok(ledger->add_model(base_model("meta/base", "Meta", "3000000000000000000000")));
  Result<Dossier> d = dossier_for_model(*ledger, "meta/bsae");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(d.status().message(), HasSubstr("'meta/bsae' is not in the ledger"));
  EXPECT_THAT(d.status().message(), HasSubstr("meta/base"));
}

INSTANTIATE_TEST_SUITE_P(Backends, DossierTest, ::testing::ValuesIn(testing::backends()), testing::backend_name);

// A metered run's journal continued with 150 lines of two GPUs' cumulative
// totals, as the sampler writes them: GPU 0 with an energy counter and a
// utilisation that changes every line, GPU 1 with neither energy nor (in
// one stretch) attributed time.
TEST(DossierGpuTimeline, TheJournalsGiveUtilisationAndPowerOverTimeExactlyAndBounded) {
  testing::TempDir dir;
  const std::string run = dir.path() + "/run";
  {
    auto meter = Meter::Begin(testing::counts_only(run));
    ASSERT_TRUE(meter.ok()) << meter.status().ToString();
    (*meter)->add(10, 10, 1);
    ASSERT_TRUE((*meter)->end({}).ok());
  }
  Json record = testing::read_json(run + "/flops_meter.json");
  record["hardware"]["gpus"] = Json::array();
  struct Cumulative { double seconds = 0, busy = 0, energy = 0; } gpu[2];
  std::vector<std::array<Cumulative, 2>> at;  // per written line
  {
    auto writer = JournalWriter::OpenLocked(testing::journal_path(run));
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    auto existing = read_journal(testing::journal_path(run));
    ASSERT_TRUE(existing.ok());
    ASSERT_TRUE(writer->ContinueAfter(*existing).ok());
    for (int line = 0; line < 150; ++line) {
      const double dt = 0.5 + 0.01 * line, util = (line % 10) / 10.0;
      gpu[0] = {gpu[0].seconds + dt, gpu[0].busy + util * dt, gpu[0].energy + (200 + line) * dt};
      if (line != 40) gpu[1] = {gpu[1].seconds + dt, gpu[1].busy + 0.25 * dt, 0};
      Json gpus = Json::array();
      for (int i = 0; i < 2; ++i) {
        gpus.push_back({{"index", i}, {"name", i == 0 ? "NVIDIA A100-SXM4-80GB" : "NVIDIA H100 80GB HBM3"},
                        {"attributed_seconds", gpu[i].seconds},
                        {"mean_utilization", gpu[i].seconds > 0 ? gpu[i].busy / gpu[i].seconds : 0.0},
                        {"energy_j", gpu[i].energy}, {"energy_method", i == 0 ? "counter" : "unavailable"}});
      }
      ASSERT_TRUE(writer->append({{"kind", "progress"}, {"segment", 1}, {"t", 1.8e9 + line}, {"gpus", gpus}}).ok());
      at.push_back({gpu[0], gpu[1]});
    }
  }
  record["hardware"]["gpus"] = {{{"rank", 0}, {"segment", 1}, {"index", 0}, {"attributed_seconds", gpu[0].seconds},
                                 {"energy_j", gpu[0].energy}, {"energy_method", "counter"}}};
  std::ofstream(run + "/flops_meter.json") << record.dump();

  Result<Dossier> d = dossier_for_run(run);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  const DossierRun& r = d->runs.front();
  EXPECT_EQ(r.gpu_timeline_note, "");
  for (uint64_t index : {0u, 1u}) {
    std::vector<const DossierGpuInterval*> stretches;
    for (const DossierGpuInterval& g : r.gpu_timeline)
      if (g.index == index) stretches.push_back(&g);
    // 149 stretches between 150 lines, every third line kept: 50, within the chart's 60.
    ASSERT_EQ(stretches.size(), 50u) << index;
    size_t from = 0;
    for (const DossierGpuInterval* g : stretches) {
      const size_t to = static_cast<size_t>(g->t_end - 1.8e9);
      const Cumulative& a = at[from][index];
      const Cumulative& b = at[to][index];
      EXPECT_DOUBLE_EQ(g->seconds, b.seconds - a.seconds) << index << " to line " << to;
      ASSERT_TRUE(g->utilization.has_value());
      EXPECT_NEAR(*g->utilization, (b.busy - a.busy) / (b.seconds - a.seconds), 1e-12);
      if (index == 0) {
        ASSERT_TRUE(g->power_w.has_value());
        EXPECT_NEAR(*g->power_w, (b.energy - a.energy) / (b.seconds - a.seconds), 1e-9);
      } else {
        EXPECT_FALSE(g->power_w.has_value()) << "no energy measured, so no power, never 0 W";
      }
      from = to;
    }
    EXPECT_EQ(from, 149u) << "the last line closes the last stretch";
  }
  const std::string html = dossier_html(*d), md = dossier_markdown(*d);
  EXPECT_THAT(html, HasSubstr("<title id=\"chart-gpu-timeline-title\">"));
  EXPECT_THAT(html, HasSubstr("data-series=\"gpu-utilization\""));
  EXPECT_THAT(html, HasSubstr("data-series=\"gpu-power\""));
  EXPECT_THAT(md, HasSubstr("### GPU utilisation and power over time"));
  const Json j = Json::parse(dossier_json(*d));
  EXPECT_EQ(j["runs"][0]["gpu_timeline"].size(), 100u);
}

TEST(DossierGpuTimeline, ADamagedJournalLeavesTheTimelineOutAndSaysWhyWhileTheRecordStands) {
  testing::TempDir dir;
  const std::string run = dir.path() + "/run";
  {
    auto meter = Meter::Begin(testing::counts_only(run));
    ASSERT_TRUE(meter.ok()) << meter.status().ToString();
    (*meter)->add(10, 10, 1);
    ASSERT_TRUE((*meter)->step(1).ok());
    ASSERT_TRUE((*meter)->end({}).ok());
  }
  // A record that says a GPU was sampled, beside a journal edited in the middle.
  Json record = testing::read_json(run + "/flops_meter.json");
  record["hardware"]["gpus"] = {{{"rank", 0}, {"segment", 1}, {"index", 0}, {"name", "NVIDIA H100 80GB HBM3"},
                                 {"attributed_seconds", 1.0}, {"energy_method", "unavailable"}}};
  std::ofstream(run + "/flops_meter.json") << record.dump();
  std::ifstream in(testing::journal_path(run));
  std::string journal((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  journal.replace(journal.find("\"accounting\""), 12, "\"accountinG\"");  // the begin line
  std::ofstream(testing::journal_path(run)) << journal;
  Result<Dossier> d = dossier_for_run(run);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(d->runs.front().gpu_timeline.empty());
  EXPECT_THAT(d->runs.front().gpu_timeline_note, AllOf(HasSubstr("not drawn"), HasSubstr("journal-rank0.jsonl")));
  EXPECT_THAT(dossier_html(*d), HasSubstr("not drawn"));
}

}  // namespace
}  // namespace flopsmeter
