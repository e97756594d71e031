// What the dossier's sources share: a record's and a view's JSON read into
// the dossier's parts (verdicts, runs), the documentation fields drawn from
// runs, the methodology text and the evidence. Internal to the API.
#ifndef FLOPSMETER_API_DOSSIER_PARTS_H_
#define FLOPSMETER_API_DOSSIER_PARTS_H_

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/dossier.h"

namespace flopsmeter {

// The value at `path` in `j`, or null when any step is missing or of another
// type: records come in several generations (and the AWS toolkit's), and a
// field one lacks is a figure not available, never a crash.
const nlohmann::json& json_at(const nlohmann::json& j, std::initializer_list<const char*> path);
// A string field, or "".
std::string json_text_at(const nlohmann::json& j, std::initializer_list<const char*> path);

// An exact FLOP figure at `path`: a decimal string, else null (a damaged
// record's 12 or "12.5" is no figure).
nlohmann::json decimal_at(const nlohmann::json& j, std::initializer_list<const char*> path);

// "3.21e+22 FLOP" for a decimal string of FLOP (three significant figures,
// past the Code of Practice's two); "undetermined" for anything else.
std::string flop_figure_text(const nlohmann::json& decimal);
// A FLOP decimal as a double, for charts; nullopt when not a decimal.
std::optional<double> flop_double(const nlohmann::json& decimal);

// A lineage view's sum ({"flop", "complete", "known_part", ...}) in words:
// "3.21e+22 FLOP", or "undetermined (at least 1.00e+20 FLOP)".
std::string sum_figure_text(const nlohmann::json& sum);
// A verdict in one line for people: the verdict, compute against the
// threshold and its basis, the margin, the 30% flag. As plain text, or laid
// out by a form: `text` escapes the words, `figure` marks up each figure
// ("compute", "threshold", "margin") with its exact value (so the HTML can
// carry it for machines) and its text as shown.
struct SummaryForm {
  std::function<std::string(const std::string& text)> text;
  std::function<std::string(const char* field, const std::string& exact, const std::string& text)> figure;
  // The verdict's word (EXCEEDS, BELOW, UNDETERMINED), escaped: a form may
  // stress it; by default it is the text.
  std::function<std::string(const std::string& word)> word = nullptr;
};
std::string verdict_summary(const DossierVerdict& v);
std::string verdict_summary(const DossierVerdict& v, const SummaryForm& form);

// A table of the dossier as plain text (dossier_tables.cc): the Markdown
// and HTML forms lay it out, each escaping every cell for itself.
struct DossierTable {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
};
DossierTable not_in_force_table(const Dossier& d);
DossierTable documentation_table(const Dossier& d);  // HTML styles its own: a missing figure in italics
DossierTable lineage_table(const Dossier& d);
DossierTable runs_table(const Dossier& d);
DossierTable segments_table(const Dossier& d);
DossierTable gpus_table(const Dossier& d);
DossierTable gpu_timeline_table(const Dossier& d);  // no rows: nothing over time to show
DossierTable evidence_table(const Dossier& d);

// A figure that is established, and one that is not (value null).
DossierFigure known_figure(std::string id, std::string label, std::string reference, nlohmann::json value,
                           std::string unit, std::string text, std::string source);
DossierFigure missing_figure(std::string id, std::string label, std::string reference, std::string unit,
                             std::string text, std::string reason);

// The regimes of a record or a lineage view (rule_result_json objects) into
// verdicts: in force (eu_modification first, then the rules' order) and not
// in force; each with its headline from `headlines` (the verdict lines,
// "EU eu_modification: ..."). `source` names where they come from.
void add_verdicts(Dossier& d, const nlohmann::json& regimes, const nlohmann::json& headlines,
                  const std::string& source);

// A run record (flopsmeter.run/*) into a run; `source` names where it is.
DossierRun run_of_record(const nlohmann::json& record, const std::string& source);

// The run's GPU utilisation and power over time, from the journals in
// `run_dir` (dossier_gpu_timeline.cc): at most a chart's worth of stretches
// per GPU and segment. A journal that cannot be read leaves the timeline
// empty and gpu_timeline_note saying why; the record's figures stand.
void add_gpu_timeline(DossierRun& run, const std::string& run_dir);

// A base model as a run record or an estimate states it (its
// base_model_compute: exact, status, source, systemic_risk): its lineage
// node, and its line among the model dependencies.
DossierNode base_node(const std::string& name, const nlohmann::json& base_model_compute);
std::string base_dependency(const DossierNode& base);

// The documentation fields that come from the runs behind the subject:
// parameters (the latest run's), training time (wall clock and
// hardware-days) and energy, each over `runs` with its source.
void add_run_documentation(Dossier& d, const std::vector<const DossierRun*>& runs);

// The evidence a run carries: its id, entry, record hash, journals' pinned
// last lines, command, tool, data versions and files' SHA-256.
void add_run_evidence(Dossier& d, const DossierRun& run);

// The methodology text: formula, assumptions and their sources, the
// uncertainty, how tokens were counted, the lineage reading.
std::vector<std::string> methodology_text(const Dossier& d);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_DOSSIER_PARTS_H_
