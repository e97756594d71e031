// The ledger read back: its models, runs and lineages, and what a new run
// on one of its models starts from.
#include <algorithm>

#include "api/ledger_internal.h"
#include "api/report_format.h"
#include "api/verdict.h"
#include "core/json_doc.h"
#include "core/strict_fields.h"  // join
#include "core/suggest.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

Json sum_json(const ComputeSum& s) {
  return {{"flop", s.complete ? Json(to_decimal(s.known)) : Json()},
          {"known_part", to_decimal(s.known)},
          {"complete", s.complete},
          {"unknown_parts", s.unknown_parts}};
}

Json model_json_of(const LedgerState& state, const std::string& name) {
  const ModelSpec& m = state.models.at(name);
  Json runs = Json::array();
  for (const auto& [id, run] : state.runs)
    if (run.model == name) runs.push_back(id);
  return {{"name", name},
          {"entry", state.model_entries.at(name).index},
          {"kind", m.parents.empty() ? "base" : "derived"},
          {"organisation", m.organisation},
          {"parents", m.parents},
          {"how", m.how},
          {"systemic_risk", m.systemic_risk},
          {"pretraining",
           m.parents.empty() ? Json({{"flop", m.pretraining.flop ? Json(to_decimal(*m.pretraining.flop)) : Json()},
                                     {"source", m.pretraining.source},
                                     {"status", m.pretraining.status}})
                             : Json()},
          {"runs", runs},
          {"own_compute", sum_json(state.lineage.own(name))},
          {"cumulative_compute", sum_json(state.lineage.cumulative(name))}};
}

Status unknown_model(const LedgerState& state, const std::string& name) {
  std::vector<std::string> names;
  for (const auto& [n, unused] : state.models) names.push_back(n);
  std::vector<std::string> near = closest_names(name, names);
  return Status::NotFound("model '" + printable_text(name) + "' is not in the ledger" +
                          (near.empty() ? std::string(" (it has no models yet)") : "; closest: " + join(near, ", ")));
}

Json run_json_of(const LedgerState& state, const std::string& id) {
  const RunFigure& r = state.runs.at(id);
  const ParsedEntry& e = state.run_entries.at(id);
  return {{"run_id", id},
          {"entry", e.index},
          {"supersedes", e.supersedes ? Json(*e.supersedes) : Json()},
          {"model", r.model},
          {"status", r.status},
          {"imported", r.imported},
          {"formula", r.formula},
          {"compliance_flop", r.compliance_flop ? Json(to_decimal(*r.compliance_flop)) : Json()},
          {"time", e.time}};
}

// One ancestor of a lineage, with what it adds.
Json lineage_node(const LedgerState& state, const std::string& name) {
  Json node = model_json_of(state, name);
  node.erase("runs");
  Json runs = Json::array();
  for (const auto& [id, run] : state.runs)
    if (run.model == name) runs.push_back(run_json_of(state, id));
  node["runs"] = runs;
  return node;
}

// Every regime on the ledger's figures: `modification` FLOP of the
// organisation's own against its original model (`basis`); with
// `undetermined`, a part of it is unknown and the figure a lower bound.
std::vector<RuleResult> ledger_verdicts(const RuleSet& rules, const Ledger::Basis& basis, Flop modification,
                                        const std::string& undetermined) {
  RuleInput in;
  in.modification_flop = modification;
  in.base = basis.original;
  in.formula_name = "ledger";
  in.prior_modifications_undetermined = undetermined;
  return evaluate_rules(rules, in);
}

}  // namespace

Result<LedgerState> read_ledger_state(LedgerStore& store) {
  std::vector<ParsedEntry> all;
  for (const char* kind : {"model", "run", "annotation"}) {
    FM_ASSIGN_OR_RETURN(std::vector<StoredEntry> stored, store.entries_of_kind(kind));
    for (const StoredEntry& s : stored) {
      FM_ASSIGN_OR_RETURN(ParsedEntry e, parse_entry(s));
      all.push_back(std::move(e));
    }
  }
  LedgerState state;
  state.model_entries = current_entries(all, EntryKind::kModel);
  for (const auto& [name, e] : state.model_entries) {
    FM_ASSIGN_OR_RETURN(ModelSpec m, model_of(e));
    state.models.emplace(name, std::move(m));
  }
  state.run_entries = current_entries(all, EntryKind::kRun);
  for (const auto& [id, e] : state.run_entries) {
    FM_ASSIGN_OR_RETURN(RunFigure r, run_figure(e));
    if (!state.models.count(r.model)) {
      state.orphans.push_back("entry " + std::to_string(e.index) + " (run " + printable_text(id) + "): its model '" +
                              printable_text(r.model) + "' was superseded and is not registered again, so the run "
                              "counts nowhere until it is");
      continue;
    }
    state.runs.emplace(id, std::move(r));
  }
  std::vector<LineageModel> models;
  for (const auto& [name, m] : state.models) {
    LineageModel l{name, m.organisation, m.parents, m.pretraining.flop, m.systemic_risk, {}};
    for (const auto& [id, run] : state.runs)
      if (run.model == name) l.runs.push_back(run.compliance_flop);
    models.push_back(std::move(l));
  }
  FM_ASSIGN_OR_RETURN(state.lineage, Lineage::Build(std::move(models)));
  return state;
}

Result<Ledger::Basis> basis_in(const LedgerState& state, const std::string& model, const std::string& organisation) {
  if (!state.models.count(model)) return unknown_model(state, model);
  const Lineage::Modification m = state.lineage.modification(model, organisation);
  Ledger::Basis b;
  std::string originals;
  for (const std::string& o : m.originals) {
    originals += (originals.empty() ? "" : ", ") + o + " (entry " + std::to_string(state.model_entries.at(o).index) + ")";
  }
  if (m.original_compute.complete && !m.originals.empty()) b.original.flop = m.original_compute.known;
  b.original.systemic_risk = m.original_systemic_risk;
  b.original.source = "ledger: cumulative compute of the original model " + originals;
  b.own_modifications = m.own_compute.known;
  if (!m.own_compute.complete) b.own_modifications_undetermined = join(m.own_compute.unknown_parts, "; ");
  b.explanation = "original model (the nearest made by another organisation than '" + printable_text(organisation) +
                  "'): " + (originals.empty() ? std::string("none: the organisation made the whole line") : originals) +
                  ", cumulative " + (m.original_compute.complete ? sci(m.original_compute.known, 3) + " FLOP"
                                                                 : std::string("unknown (") +
                                                                       join(m.original_compute.unknown_parts, "; ") + ")") +
                  "; the organisation's own modifications since: " + sci(m.own_compute.known, 3) + " FLOP over " +
                  std::to_string(m.own_models.size()) + " model(s)" +
                  (m.own_compute.complete ? "" : ", some undetermined (" + join(m.own_compute.unknown_parts, "; ") + ")");
  return b;
}

Result<std::string> models_view(const LedgerState& state) {
  Json models = Json::array();
  for (const auto& [name, unused] : state.models) models.push_back(model_json_of(state, name));
  return Json({{"schema", "flopsmeter.ledger_models/1"}, {"models", models}, {"warnings", state.orphans}}).dump(2) +
         "\n";
}

Result<std::string> model_view(LedgerStore& store, const LedgerState& state, const std::string& name) {
  if (!state.models.count(name)) return unknown_model(state, name);
  Json out = {{"schema", "flopsmeter.ledger_model/1"}, {"model", model_json_of(state, name)}};
  Json runs = Json::array();
  for (const auto& [id, run] : state.runs)
    if (run.model == name) runs.push_back(run_json_of(state, id));
  out["runs"] = runs;
  // Estimates about it, and notes and exports about its entries.
  Json estimates = Json::array(), notes = Json::array(), exports = Json::array();
  FM_ASSIGN_OR_RETURN(std::vector<StoredEntry> stored, store.entries_about("estimate", name));
  for (const StoredEntry& s : stored) estimates.push_back({{"entry", s.index}});
  std::vector<uint64_t> own = {state.model_entries.at(name).index};
  for (const auto& [id, run] : state.runs)
    if (run.model == name) own.push_back(state.run_entries.at(id).index);
  for (uint64_t index : own) {
    for (const char* kind : {"annotation", "export"}) {
      FM_ASSIGN_OR_RETURN(std::vector<StoredEntry> about, store.entries_about(kind, std::to_string(index)));
      for (const StoredEntry& s : about) {
        FM_ASSIGN_OR_RETURN(ParsedEntry e, parse_entry(s));
        Json item = e.body;
        item["entry"] = e.index;
        item["time"] = e.time;
        (std::string(kind) == "export" ? exports : notes).push_back(item);
      }
    }
  }
  out["estimates"] = estimates;
  out["annotations"] = notes;
  out["exports"] = exports;
  return out.dump(2) + "\n";
}

Result<std::string> runs_view(const LedgerState& state, const std::string& model) {
  if (!model.empty() && !state.models.count(model)) return unknown_model(state, model);
  Json runs = Json::array();
  for (const auto& [id, run] : state.runs)
    if (model.empty() || run.model == model) runs.push_back(run_json_of(state, id));
  return Json({{"schema", "flopsmeter.ledger_runs/1"}, {"runs", runs}}).dump(2) + "\n";
}

Result<std::string> lineage_view(const LedgerState& state, const std::string& name, const Catalog& catalog) {
  if (!state.models.count(name)) return unknown_model(state, name);
  const ModelSpec& model = state.models.at(name);
  Json nodes = Json::array();
  for (const std::string& n : state.lineage.ancestry(name)) nodes.push_back(lineage_node(state, n));
  const Lineage::Modification m = state.lineage.modification(name, model.organisation);
  // The regimes on the ledger's figures: the organisation's own
  // modifications (summed) against its original model.
  FM_ASSIGN_OR_RETURN(Ledger::Basis basis, basis_in(state, name, model.organisation));
  const std::string& undetermined = basis.own_modifications_undetermined;
  const std::vector<RuleResult> results =
      ledger_verdicts(catalog.rules(), basis, basis.own_modifications, undetermined);
  Json regimes = Json::array();
  for (const RuleResult& r : results) regimes.push_back(regime_record_json(r));
  const RegimeOutcomes outcome{"", "the runs' compliance figures, summed", results, 0, !undetermined.empty(),
                               undetermined};
  Json single = Json();
  if (m.largest_run && m.own_compute.known != *m.largest_run) {
    for (const RuleResult& r : ledger_verdicts(catalog.rules(), basis, *m.largest_run, "")) {
      if (r.regime_id != "eu_modification") continue;
      single = {{"flop", to_decimal(*m.largest_run)},
                {"verdict", verdict_name(r.verdict)},
                {"note", "the costliest single run alone, the other reading of several modifications by one modifier "
                         "(the Guidelines do not settle which applies)"}};
    }
  }
  return Json({{"schema", "flopsmeter.ledger_lineage/1"},
               {"model", name},
               {"organisation", model.organisation},
               {"nodes", nodes},
               {"cumulative_compute", sum_json(state.lineage.cumulative(name))},
               {"modification",
                {{"own_models", m.own_models},
                 {"originals", m.originals},
                 {"own_compute", sum_json(m.own_compute)},
                 {"original_compute", sum_json(m.original_compute)},
                 {"original_systemic_risk", m.original_systemic_risk},
                 {"reading", "summed: every modification the organisation made since the original model (the "
                             "cautious reading)"},
                 {"single_run_reading", single},
                 {"explanation", basis.explanation}}},
               {"regimes", regimes},
               {"verdict", {{"headlines", verdict_headlines({outcome})}, {"text", verdict_text({outcome})}}},
               {"rules_version", catalog.rules().data_version},
               {"warnings", state.orphans}})
             .dump(2) +
         "\n";
}

}  // namespace flopsmeter
