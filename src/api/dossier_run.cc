// One run's dossier from its record (flops_meter.json), as the meter or
// `report` wrote it: no ledger, so no signed head; every figure is a field
// of the record, named as its source.
#include "api/dossier_parts.h"
#include "api/report_format.h"
#include "api/run_report.h"  // kRecordFileName
#include "adapters/files.h"  // join_path
#include "core/json_doc.h"  // printable_text
#include "flopsmeter/version.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

Result<Json> read_record(const std::string& path, std::string& file, std::string& run_dir) {
  FM_ASSIGN_OR_RETURN(RunRecordFile f, read_run_record_file(path));
  file = f.run_dir == path ? join_path(path, kRecordFileName) : path;
  run_dir = f.run_dir;
  Json record = Json::parse(f.text, nullptr, false);
  if (!record.is_object()) return Status::ParseError(printable_text(file) + ": not a JSON object");
  const std::string schema = json_text_at(record, {"schema"});
  if (schema.rfind("flopsmeter.run/", 0) != 0) {
    return Status::InvalidArgument(
        printable_text(file) + ": not a flopsmeter run record (schema '" + printable_text(schema) +
        "'); an AWS toolkit record carries no verdicts: record it in the ledger as imported and take the dossier "
        "of the model it made");
  }
  return record;
}

// The compute this run adds, and the cumulative figure the record's
// cumulative regimes compare (base, earlier modifications and this run).
void add_compute_figures(Dossier& d, const Json& record, const std::string& file) {
  const char* ref = "Annex XI 2(d); Model Documentation Form: amount of computation used for training (FLOP)";
  const Json& exact = d.runs.front().compliance;  // the record's figure, if it is one
  if (exact.is_string()) {
    d.documentation.push_back(known_figure("modification_compute", "Training compute of this run (the modification)",
                                           ref, exact, "FLOP", flop_figure_text(exact) + " (" +
                                               json_text_at(record, {"compliance", "formula"}) + ")",
                                           file + ": compliance.exact"));
  } else {
    const std::string why = json_text_at(record, {"verdict", "undetermined_reason"});
    d.documentation.push_back(missing_figure("modification_compute", "Training compute of this run (the modification)",
                                             ref, "FLOP", "undetermined",
                                             why.empty() ? "the record's compliance figure is null" : why));
  }
  for (const DossierVerdict& v : d.verdicts) {
    if (v.compute_basis != "cumulative") continue;
    const bool open = v.verdict == "undetermined";
    DossierFigure f = open ? missing_figure("training_compute", "Training compute (cumulative)", ref, "FLOP",
                                            "undetermined",
                                            "at least " + flop_figure_text(Json(v.compute_exact)) +
                                                "; the base model's compute is not known (" +
                                                json_text_at(record, {"base_model_compute", "status"}) + ")")
                           : known_figure("training_compute", "Training compute (cumulative)", ref, v.compute_exact,
                                          "FLOP", flop_figure_text(Json(v.compute_exact)), "");
    f.source = file + ": regimes[" + v.regime_id + "].compute_exact";
    d.documentation.insert(d.documentation.begin(), f);
    return;
  }
}

// The run's base and what it made: a lineage of two.
void add_lineage(Dossier& d, const Json& record, const DossierRun& run) {
  DossierNode made;
  made.name = d.subject;
  made.kind = "derived";
  made.how = json_text_at(record, {"model", "method"});
  made.own_model = true;
  made.own_compute = {{"flop", run.compliance}, {"complete", run.compliance.is_string()}};
  made.runs = {run.run_id};
  std::string base_name = json_text_at(record, {"model", "ref"});
  if (base_name.empty()) base_name = json_text_at(record, {"model_name"});
  if (base_name.empty()) base_name = "(base model not named in the record)";
  const DossierNode base = base_node(base_name, json_at(record, {"base_model_compute"}));
  made.parents = {base.name};
  d.dependencies.push_back(base_dependency(base));
  d.documentation.push_back(known_figure("model_dependencies", "Model dependencies",
                                         "Model Documentation Form: model dependencies", d.dependencies, "",
                                         d.dependencies.front(), run.source + ": model.ref, base_model_compute"));
  d.lineage = {made, base};
  const std::optional<double> modification = flop_double(run.compliance);
  const std::optional<double> base_flop = flop_double(json_at(base.own_compute, {"flop"}));
  d.timeline.push_back({run.run_id, run.time, modification.value_or(0),
                        base_flop && modification ? std::optional(*base_flop + *modification) : std::nullopt,
                        modification.has_value()});
}

Result<Dossier> run_dossier(const std::string& path) {
  std::string file, run_dir;
  FM_ASSIGN_OR_RETURN(Json record, read_record(path, file, run_dir));
  Dossier d;
  d.subject_kind = "run";
  d.subject = path;
  d.tool_version = FLOPSMETER_VERSION_STRING;
  d.rules_version = json_text_at(record, {"provenance", "rules_version"});
  add_verdicts(d, json_at(record, {"regimes"}), json_at(record, {"verdict", "headlines"}), file);
  d.runs.push_back(run_of_record(record, file));
  add_gpu_timeline(d.runs.front(), run_dir);
  add_compute_figures(d, record, file);
  add_run_documentation(d, {&d.runs.front()});
  add_lineage(d, record, d.runs.front());
  add_run_evidence(d, d.runs.front());
  d.evidence_note = "a run directory carries no signed ledger head or inclusion proof; the dossier of the model "
                    "the run made, read from the ledger, has them";
  for (const Json& w : json_at(record, {"warnings"}))
    if (w.is_string()) d.warnings.push_back(w.get<std::string>());
  d.methodology = methodology_text(d);
  return d;
}

}  // namespace

Result<Dossier> dossier_for_run(const std::string& path) {
  // A record is read field by field with json_at(); anything that still
  // throws is a bug, answered as an error naming the run.
  try {
    return run_dossier(path);
  } catch (const nlohmann::json::exception& e) {
    return Status::Internal("dossier of " + path + ": " + e.what());
  }
}

}  // namespace flopsmeter
