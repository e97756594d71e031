// A recorded estimate's dossier (flopsmeter.estimate/1): the pre-training
// decision on file. Each method is a planned run: its compute by every
// formula, its verdicts, the chart of compute per method against the
// thresholds. Nothing was run, so no time or energy was measured.
#include "adapters/files.h"  // is_directory
#include "adapters/sha256.h"
#include "api/dossier_parts.h"
#include "api/report_format.h"
#include "core/json_doc.h"       // printable_text
#include "core/strict_fields.h"  // join
#include "flopsmeter/version.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

std::string estimate_model(const Json& estimate) {
  const std::string id = json_text_at(estimate, {"model", "id"});
  return id.empty() ? std::string("(model not named in the estimate)") : id;
}

// Each method's regimes, named by the method, into the verdicts.
void add_method_verdicts(Dossier& d, const Json& estimate, const std::string& path) {
  Json all = Json::array();
  for (const Json& m : json_at(estimate, {"methods"})) {
    for (Json r : json_at(m, {"regimes"})) {
      if (!r.is_object()) r = Json::object();  // left out by add_verdicts, with a warning
      r["name"] = "method " + json_text_at(m, {"method"}) + ": " + json_text_at(r, {"name"});
      all.push_back(std::move(r));
    }
  }
  add_verdicts(d, all, Json::array(), path + ": methods[].regimes");
}

DossierRun planned_run(const Json& method, const Json& estimate, const std::string& path) {
  DossierRun run;
  const std::string name = json_text_at(method, {"method"});
  run.run_id = "method " + name;
  run.model = estimate_model(estimate);
  run.status = "planned";
  run.formula = json_text_at(method, {"compliance_formula"});
  run.compliance = decimal_at(method, {"compliance_exact"});
  for (const char* f : {"eu_6nd", "peft_aware", "detailed"}) run.formulas[f] = decimal_at(method, {"flops_exact", f});
  const Json& bound = json_at(estimate, {"hardware_estimate", "flop"});
  run.formulas["hardware_bound"] = bound.is_number() ? bound : Json();
  run.record = method;
  run.source = path + ": methods[" + name + "]";
  return run;
}

// Training time as the estimate planned it: its GPUs and hours, when given.
void add_planned_time(Dossier& d, const Json& estimate, const std::string& path) {
  const Json& hw = json_at(estimate, {"hardware_estimate"});
  const char* time_ref = "Annex XI 2(d); Model Documentation Form: training time";
  if (json_at(hw, {"hours"}).is_number() && json_at(hw, {"gpus"}).is_number()) {
    const double hours = hw["hours"].get<double>(), gpus = hw["gpus"].get<double>();
    d.documentation.push_back(known_figure("training_time_wall_clock", "Training time (wall clock, planned)", time_ref,
                                           hours * 3600, "s", sci(hours, 3) + " h, as planned", path + ": hardware_estimate.hours"));
    d.documentation.push_back(known_figure("training_time_hardware_days", "Training time (hardware-days, planned)",
                                           time_ref, gpus * hours / 24, "days",
                                           sci(gpus * hours / 24, 3) + " GPU-days, as planned",
                                           path + ": hardware_estimate.gpus x hours"));
  } else {
    const char* why = "the estimate was made without GPUs and hours";
    d.documentation.push_back(
        missing_figure("training_time_wall_clock", "Training time (wall clock)", time_ref, "s", "not available", why));
    d.documentation.push_back(missing_figure("training_time_hardware_days", "Training time (hardware-days)", time_ref,
                                             "days", "not available", why));
  }
}

// Energy as planned: the planned GPU time at board power, when the estimate
// gives it; nothing was run, so nothing was measured.
void add_planned_energy(Dossier& d, const Json& estimate, const std::string& path) {
  const char* ref = "Annex XI 2(e); Model Documentation Form: energy used for training (MWh)";
  const Json& energy = json_at(estimate, {"hardware_estimate", "energy"});
  if (json_at(energy, {"mwh"}).is_number()) {
    const double mwh = energy["mwh"].get<double>();
    d.documentation.push_back(known_figure(
        "energy", "Energy used for training (planned, upper estimate)", ref, mwh, "MWh",
        "at most " + sci(mwh, 3) + " MWh as planned: " + json_text_at(energy, {"formula"}) +
            ", every planned GPU at its board's maximum power for all the planned hours; source: " +
            json_text_at(energy, {"source"}),
        path + ": hardware_estimate.energy"));
    return;
  }
  const std::string why = json_text_at(energy, {"reason"});
  d.documentation.push_back(missing_figure(
      "energy", "Energy used for training", ref, "MWh", "not available",
      "an estimate is made before training, so nothing was measured; " +
          (why.empty() ? std::string("and it was made without a catalog GPU, GPU count and hours to plan from")
                       : "and the planned energy cannot be estimated: " + why)));
}

void add_figures(Dossier& d, const Json& estimate, const std::string& path) {
  const char* ref = "Annex XI 2(d); Model Documentation Form: amount of computation used for training (FLOP)";
  for (const DossierRun& r : d.runs) {
    DossierFigure f = r.compliance.is_string()
                          ? known_figure("planned_compute", "Planned training compute, " + r.run_id, ref, r.compliance,
                                         "FLOP", flop_figure_text(r.compliance) + " (" + r.formula + ")", "")
                          : missing_figure("planned_compute", "Planned training compute, " + r.run_id, ref, "FLOP",
                                           "undetermined", "the estimate gives no compliance figure for it");
    f.source = r.source + ".compliance_exact";
    d.documentation.push_back(std::move(f));
  }
  const Json& params = json_at(estimate, {"model", "params_total"});
  d.documentation.push_back(
      params.is_number_unsigned()
          ? known_figure("parameters", "Parameters", "Annex XI 1(d); Model Documentation Form: number of parameters",
                         params, "parameters",
                         with_commas(params.get<uint64_t>()) + " (" + sci(params.get<double>(), 3) + ")",
                         path + ": model.params_total")
          : missing_figure("parameters", "Parameters", "Annex XI 1(d)", "parameters", "not available",
                           "the estimate gives no parameter count"));
  add_planned_time(d, estimate, path);
  add_planned_energy(d, estimate, path);
}

void add_lineage(Dossier& d, const Json& estimate, const std::string& path) {
  const DossierNode base = base_node(estimate_model(estimate), json_at(estimate, {"base_model_compute"}));
  d.dependencies.push_back(base_dependency(base));
  d.documentation.push_back(known_figure("model_dependencies", "Model dependencies",
                                         "Model Documentation Form: model dependencies", d.dependencies, "",
                                         d.dependencies.front(), path + ": model.id, base_model_compute"));
  DossierNode planned;
  planned.name = "(the planned fine-tune of " + base.name + ")";
  planned.kind = "derived";
  planned.parents = {base.name};
  planned.own_model = true;
  for (const DossierRun& r : d.runs) planned.runs.push_back(r.run_id);
  d.lineage = {planned, base};
  const std::optional<double> base_flop = flop_double(json_at(base.own_compute, {"flop"}));
  for (const DossierRun& r : d.runs) {
    const std::optional<double> m = flop_double(r.compliance);
    d.timeline.push_back(
        {r.run_id, "", m.value_or(0), base_flop && m ? std::optional(*base_flop + *m) : std::nullopt, m.has_value()});
  }
}

void add_evidence(Dossier& d, const Json& estimate, const std::string& text, const std::string& path) {
  d.evidence.push_back({"estimate file SHA-256", sha256_hex(text), path});
  d.evidence.push_back({"tool version", json_text_at(estimate, {"tool", "version"}), path + ": tool.version"});
  d.evidence.push_back({"rules version", d.rules_version, path + ": rules_version"});
  const Json& provenance = json_at(estimate, {"provenance"});
  if (const std::string made = json_text_at(provenance, {"made_at"}); !made.empty()) {
    d.evidence.push_back({"estimate made at", made, path + ": provenance.made_at"});
  }
  std::vector<std::string> words;
  for (const Json& w : json_at(provenance, {"command"}))
    if (w.is_string()) words.push_back(w.get<std::string>());
  if (!words.empty()) d.evidence.push_back({"command line", join(words, " "), path + ": provenance.command"});
  for (const Json& f : json_at(provenance, {"files"})) {
    d.evidence.push_back({json_text_at(f, {"role"}) + " SHA-256 (" + json_text_at(f, {"path"}) + ")",
                          json_text_at(f, {"sha256"}), path + ": provenance.files"});
  }
  std::vector<std::string> sources;
  for (const Json& s : json_at(estimate, {"data_sources"}))
    if (s.is_string() && s.get<std::string>().rfind("builtin:models/", 0) != 0) sources.push_back(s.get<std::string>());
  if (!sources.empty()) d.evidence.push_back({"data files (besides the model catalog)", join(sources, ", "), path + ": data_sources"});
  d.evidence_note = "an estimate is a plan: it carries no run, journal or signed ledger head unless it was recorded "
                    "in the ledger (then the model's dossier lists it)";
  std::vector<std::string> assumptions;
  for (const Json& a : json_at(estimate, {"workload", "assumptions"}))
    if (a.is_string()) assumptions.push_back(a.get<std::string>());
  d.methodology.push_back("How tokens were planned: D = " + json_text_at(estimate, {"workload", "tokens_exact"}) +
                          " training tokens over every epoch" +
                          (assumptions.empty() ? std::string(".") : "; assumptions: " + join(assumptions, "; ") + "."));
}

Result<Dossier> estimate_dossier_of(const std::string& text, const std::string& path) {
  const Json estimate = Json::parse(text, nullptr, false);
  if (json_text_at(estimate, {"schema"}) != "flopsmeter.estimate/1") {
    return Status::InvalidArgument(printable_text(path) + ": not a flopsmeter estimate (schema flopsmeter.estimate/1)");
  }
  Dossier d;
  d.subject_kind = "estimate";
  d.subject = "planned fine-tune of " + estimate_model(estimate) + " (" + path + ")";
  d.tool_version = FLOPSMETER_VERSION_STRING;
  d.rules_version = json_text_at(estimate, {"rules_version"});
  add_method_verdicts(d, estimate, path);
  for (const Json& m : json_at(estimate, {"methods"}))
    if (m.is_object()) d.runs.push_back(planned_run(m, estimate, path));
  add_figures(d, estimate, path);
  add_lineage(d, estimate, path);
  d.methodology = methodology_text(d);
  add_evidence(d, estimate, text, path);
  return d;
}

}  // namespace

Result<Dossier> dossier_for_estimate(const std::string& estimate_json, const std::string& label) {
  // An estimate is read field by field; anything that still throws is a bug.
  try {
    return estimate_dossier_of(estimate_json, label);
  } catch (const nlohmann::json::exception& e) {
    return Status::Internal("dossier of " + label + ": " + e.what());
  }
}

Result<Dossier> dossier_for_file(const std::string& path) {
  if (is_directory(path)) return dossier_for_run(path);
  FM_ASSIGN_OR_RETURN(std::string text, read_ledger_document(path));
  if (json_text_at(Json::parse(text, nullptr, false), {"schema"}) != "flopsmeter.estimate/1") {
    return dossier_for_run(path);  // a run record, or refused as one, naming the file
  }
  return dossier_for_estimate(text, path);
}

}  // namespace flopsmeter
