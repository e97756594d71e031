// A model's dossier from the ledger: the lineage view gives the verdicts
// and every sum (copied as the view states them, so the dossier and
// `ledger lineage` cannot disagree); each run's record is read back from
// its entry through that entry's inclusion proof.
#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "api/dossier_parts.h"
#include "api/report_format.h"
#include "core/merkle.h"
#include "core/strict_fields.h"  // join
#include "flopsmeter/version.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

Result<Json> parsed(const Result<std::string>& text, const std::string& what) {
  if (!text.ok()) return text.status();
  Json j = Json::parse(*text, nullptr, false);
  if (j.is_discarded()) return Status::Internal(what + ": not JSON");
  return j;
}

// The lineage's nodes from the model back to its bases, breadth first, each
// model once (a merge's shared ancestor too).
std::vector<DossierNode> lineage_nodes(const Json& view) {
  std::map<std::string, const Json*> by_name;
  for (const Json& n : view["nodes"]) by_name[json_text_at(n, {"name"})] = &n;
  std::set<std::string> own;
  for (const Json& m : json_at(view, {"modification", "own_models"})) own.insert(m.get<std::string>());
  std::vector<DossierNode> out;
  std::set<std::string> seen;
  std::deque<std::string> queue = {json_text_at(view, {"model"})};
  while (!queue.empty()) {
    const std::string name = queue.front();
    queue.pop_front();
    if (!seen.insert(name).second || !by_name.count(name)) continue;
    const Json& n = *by_name[name];
    DossierNode node;
    node.name = name;
    if (n["entry"].is_number_unsigned()) node.entry = n["entry"].get<uint64_t>();
    node.kind = json_text_at(n, {"kind"});
    node.organisation = json_text_at(n, {"organisation"});
    for (const Json& p : n["parents"]) node.parents.push_back(p.get<std::string>());
    node.how = json_text_at(n, {"how"});
    node.systemic_risk = json_at(n, {"systemic_risk"}).is_boolean() && n["systemic_risk"].get<bool>();
    node.own_model = own.count(name) > 0;
    node.own_compute = n["own_compute"];
    node.cumulative_compute = n["cumulative_compute"];
    for (const Json& r : n["runs"]) node.runs.push_back(json_text_at(r, {"run_id"}));
    if (node.kind == "base") {
      node.pretraining_source = json_text_at(n, {"pretraining", "status"});
      const std::string source = json_text_at(n, {"pretraining", "source"});
      if (!source.empty()) node.pretraining_source += ": " + source;
    }
    for (const std::string& p : node.parents) queue.push_back(p);
    out.push_back(std::move(node));
  }
  return out;
}

// A run of the lineage view, with its record read from its entry.
Result<DossierRun> ledger_run(Ledger& ledger, const Json& view_run, const std::string& model, Dossier& d) {
  const uint64_t entry = view_run["entry"].get<uint64_t>();
  const std::string where = "ledger entry " + std::to_string(entry);
  // The entry alone: the model's entry carries the inclusion proof, and a
  // proof per run would read the whole ledger once per run.
  FM_ASSIGN_OR_RETURN(const std::string entry_text, ledger.entry_json(entry));
  const Json stored = Json::parse(entry_text, nullptr, false);
  const Json record = Json::parse(json_text_at(stored, {"body", "record"}), nullptr, false);
  if (!record.is_object()) return Status::ParseError(where + ": its run record is not a JSON object");
  DossierRun run = run_of_record(record, where + " (run record)");
  run.entry = entry;
  run.model = model;
  run.time = json_text_at(view_run, {"time"});
  // The figure the ledger counts (an imported record's is recomputed there).
  run.compliance = view_run["compliance_flop"];
  run.formula = json_text_at(view_run, {"formula"});
  if (!run.gpus.empty()) {
    run.gpu_timeline_note = "the ledger holds the run's record, not its journals: the dossier of the run directory "
                            "draws its GPUs' utilisation and power over time";
  }
  d.evidence.push_back({"run " + run.run_id + ": record SHA-256", json_text_at(stored, {"body", "record_sha256"}),
                        where + ": body.record_sha256"});
  d.evidence.push_back({"run " + run.run_id + ": entry " + std::to_string(entry) + " leaf hash",
                        merkle::to_hex(merkle::leaf_hash(entry_text)) +
                            " (RFC 6962 leaf of the stored entry; verifying the ledger checks every leaf against "
                            "the signed heads)",
                        where});
  return run;
}

// The compute figures of the lineage view, as it states them.
DossierFigure sum_figure(const std::string& id, const std::string& label, const std::string& reference,
                         const Json& sum, const std::string& source) {
  if (json_at(sum, {"complete"}).is_boolean() && sum["complete"].get<bool>()) {
    return known_figure(id, label, reference, sum["flop"], "FLOP", flop_figure_text(sum["flop"]), source);
  }
  std::vector<std::string> parts;
  for (const Json& p : json_at(sum, {"unknown_parts"})) parts.push_back(p.get<std::string>());
  DossierFigure f = missing_figure(id, label, reference, "FLOP", "undetermined",
                                   "at least " + flop_figure_text(json_at(sum, {"known_part"})) + "; unknown: " +
                                       join(parts, "; "));
  f.source = source;
  return f;
}

void add_compute_figures(Dossier& d, const Json& view) {
  const std::string at = "ledger lineage view of " + d.subject;
  const Json& m = view["modification"];
  d.documentation.push_back(sum_figure(
      "training_compute", "Training compute (cumulative: base and every modification behind it)",
      "Annex XI 2(d); Model Documentation Form: amount of computation used for training (FLOP)",
      view["cumulative_compute"], at + ": cumulative_compute"));
  d.documentation.push_back(sum_figure("modification_compute",
                                       "Modification compute (the organisation's own, summed)",
                                       "Guidelines paras 60-61", m["own_compute"], at + ": modification.own_compute"));
  if (json_at(m, {"originals"}).empty()) {  // no other organisation's model behind it: nothing to compare with, not 0
    d.documentation.push_back(missing_figure("original_compute", "Original model's compute", "Guidelines paras 60-61",
                                             "FLOP", "not applicable",
                                             "the organisation made the whole line, its base included"));
  } else {
    d.documentation.push_back(sum_figure("original_compute", "Original model's compute", "Guidelines paras 60-61",
                                         m["original_compute"], at + ": modification.original_compute"));
  }
  if (m["single_run_reading"].is_object()) {
    const Json& s = m["single_run_reading"];
    d.documentation.push_back(known_figure("costliest_single_run", "Costliest single run (the other reading)", "",
                                           s["flop"], "FLOP",
                                           flop_figure_text(s["flop"]) + ": " + json_text_at(s, {"verdict"}),
                                           at + ": modification.single_run_reading"));
  }
}

void add_dependencies(Dossier& d) {
  for (const DossierNode& n : d.lineage) {
    if (n.name == d.subject) continue;
    d.dependencies.push_back(n.name + " (" + n.kind + (n.how.empty() ? "" : ", " + n.how) + ", " + n.organisation +
                             (n.entry ? ", ledger entry " + std::to_string(*n.entry) : "") + ")");
  }
  d.documentation.push_back(known_figure("model_dependencies", "Model dependencies",
                                         "Model Documentation Form: model dependencies", d.dependencies, "",
                                         d.dependencies.empty() ? "none: a base model" : join(d.dependencies, "; "),
                                         "ledger lineage view: nodes"));
}

// Cumulative compute after each run, in the ledger's order of time.
void add_timeline(Dossier& d) {
  std::optional<double> base = 0.0;
  for (const DossierNode& n : d.lineage) {
    if (n.kind != "base") continue;
    std::optional<double> f = flop_double(json_at(n.own_compute, {"flop"}));
    base = base && f ? std::optional(*base + *f) : std::nullopt;
  }
  std::set<std::string> own;
  for (const DossierNode& n : d.lineage)
    if (n.own_model) own.insert(n.name);
  std::vector<const DossierRun*> runs;
  for (const DossierRun& r : d.runs) runs.push_back(&r);
  std::stable_sort(runs.begin(), runs.end(), [](const DossierRun* a, const DossierRun* b) { return a->time < b->time; });
  double modification = 0;
  std::optional<double> cumulative = base;
  bool complete = true;
  for (const DossierRun* r : runs) {
    const std::optional<double> flop = flop_double(r->compliance);
    complete = complete && flop.has_value();  // an undetermined run adds what is known of it: nothing
    if (own.count(r->model)) modification += flop.value_or(0);
    if (cumulative) *cumulative += flop.value_or(0);
    d.timeline.push_back({r->run_id, r->time, modification, cumulative, complete});
  }
}

// What the ledger holds about the model besides its runs: the estimates
// on file (the pre-training decision), notes and exports about its entries.
Status add_ledger_notes(Ledger& ledger, Dossier& d) {
  FM_ASSIGN_OR_RETURN(Json view, parsed(ledger.model_json(d.subject), "model " + d.subject));
  const std::string at = "ledger model view of " + d.subject;
  for (const Json& e : json_at(view, {"estimates"})) {
    const std::string entry = std::to_string(e["entry"].get<uint64_t>());
    d.evidence.push_back({"estimate on file", "ledger entry " + entry, at + ": estimates"});
  }
  for (const Json& a : json_at(view, {"annotations"})) {
    d.evidence.push_back({"note (entry " + std::to_string(a["entry"].get<uint64_t>()) + ") about entry " +
                              std::to_string(a["about"].get<uint64_t>()),
                          json_text_at(a, {"text"}), at + ": annotations"});
  }
  for (const Json& x : json_at(view, {"exports"})) {
    d.evidence.push_back({"exported (entry " + std::to_string(x["entry"].get<uint64_t>()) + ")",
                          json_text_at(x, {"url"}) + " (version " + json_text_at(x, {"version"}) + ")",
                          at + ": exports"});
  }
  return Status::Ok();
}

Status add_evidence(Ledger& ledger, Dossier& d) {
  const DossierNode& model = d.lineage.front();
  FM_ASSIGN_OR_RETURN(d.signed_head, parsed(ledger.head_json(), "the ledger's head"));
  FM_ASSIGN_OR_RETURN(d.inclusion_proof, parsed(ledger.prove_json(*model.entry), "the model's inclusion proof"));
  const std::string entry = std::to_string(*model.entry);
  d.evidence.insert(d.evidence.begin(),
                    {{"model entry", entry, "ledger lineage view: nodes[].entry"},
                     {"signed ledger head", "size " + std::to_string(d.signed_head["size"].get<uint64_t>()) +
                                                ", root " + json_text_at(d.signed_head, {"root"}) + ", signed by " +
                                                json_text_at(d.signed_head, {"key_id"}) + " at " +
                                                json_text_at(d.signed_head, {"time"}),
                      "ledger head"},
                     {"inclusion proof of entry " + entry,
                      verify_inclusion_proof(d.inclusion_proof.dump(), "").ok()
                          ? "checked: the entry's leaf hash and audit path lead to the signed head's root"
                          : "FAILED to check against the signed head",
                      "ledger: inclusion proof of entry " + entry}});
  return Status::Ok();
}

Result<Dossier> model_dossier(Ledger& ledger, const std::string& name) {
  FM_ASSIGN_OR_RETURN(Json view, parsed(ledger.lineage_json(name), "lineage of " + name));
  Dossier d;
  d.subject_kind = "model";
  d.subject = name;
  d.organisation = json_text_at(view, {"organisation"});
  d.tool_version = FLOPSMETER_VERSION_STRING;
  d.rules_version = json_text_at(view, {"rules_version"});
  add_verdicts(d, view["regimes"], json_at(view, {"verdict", "headlines"}), "ledger lineage view of " + name);
  d.lineage = lineage_nodes(view);
  if (d.lineage.empty() || !d.lineage.front().entry) return Status::Internal("lineage of " + name + ": no node for it");
  for (const Json& n : view["nodes"]) {
    for (const Json& r : n["runs"]) {
      FM_ASSIGN_OR_RETURN(DossierRun run, ledger_run(ledger, r, json_text_at(n, {"name"}), d));
      d.runs.push_back(std::move(run));
    }
  }
  add_compute_figures(d, view);
  std::vector<const DossierRun*> runs;
  for (const DossierRun& r : d.runs) runs.push_back(&r);
  add_run_documentation(d, runs);
  add_dependencies(d);
  add_timeline(d);
  FM_RETURN_IF_ERROR(add_evidence(ledger, d));
  FM_RETURN_IF_ERROR(add_ledger_notes(ledger, d));
  for (const DossierRun& r : d.runs) add_run_evidence(d, r);
  for (const Json& w : json_at(view, {"warnings"})) d.warnings.push_back(w.get<std::string>());
  d.methodology = methodology_text(d);
  return d;
}

}  // namespace

Result<Dossier> dossier_for_model(Ledger& ledger, const std::string& name) {
  // The views are the ledger's own documents: a field of another type is a
  // bug there, answered as an error rather than an exception.
  try {
    return model_dossier(ledger, name);
  } catch (const nlohmann::json::exception& e) {
    return Status::Internal("dossier of " + name + ": " + e.what());
  }
}

}  // namespace flopsmeter
