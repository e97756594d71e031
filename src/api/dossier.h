// The compliance dossier: what a compliance officer signs, gathered from
// one source into one structure, every figure with where it comes from (a
// ledger entry's index, or a field of a run record or a journal). Three
// renderers (dossier_render.h) turn it into JSON (flopsmeter.dossier/1),
// Markdown and one self-contained HTML page.
//
//   auto ledger = flopsmeter::Ledger::Open(options, false);
//   auto d = flopsmeter::dossier_for_model(**ledger, "acme/llama-sft");
//   std::string html = flopsmeter::dossier_html(*d);
//
// A figure nobody can establish is never 0: its value is null, its text
// says "undetermined" or "not available", and `reason` says why.
#ifndef FLOPSMETER_API_DOSSIER_H_
#define FLOPSMETER_API_DOSSIER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "flopsmeter/ledger.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

inline constexpr const char* kDossierSchema = "flopsmeter.dossier/1";

// One figure, traceable.
struct DossierFigure {
  std::string id;         // stable key, e.g. "training_compute"
  std::string label;      // for people, e.g. "Training compute (cumulative)"
  std::string reference;  // the documentation field it answers ("Annex XI 2(d)"); may be ""
  nlohmann::json value;   // machine value (a decimal string of FLOP, a number); null when not established
  std::string unit;       // "FLOP", "MWh", "s", "parameters", ...
  std::string text;       // as shown: "3.21e+22 FLOP", "not available", "undetermined"
  std::string source;     // "ledger entry 7: record compliance.exact"
  std::string reason;     // why it is not established; "" when it is
};

// One regime's answer.
struct DossierVerdict {
  std::string regime_id;
  std::string name;
  std::string status;     // "in_force", "revoked", "vetoed", "not_confirmed", ...
  bool in_force = false;
  std::string verdict;    // "below", "exceeds", "undetermined"
  std::string headline;   // the sentence the record or the lineage view gives; may be ""
  std::string compute_basis;  // "modification" or "cumulative"
  std::string compute_exact;  // FLOP compared (decimal); a lower bound when undetermined
  double compute_flop = 0;
  std::string threshold_exact;  // Fraction::to_string()
  double threshold_flop = 0;
  std::string threshold_basis;  // "known_one_third", "unknown_gpai", "absolute", ...
  std::string margin_kind;      // "headroom" (below/undetermined) or "excess" (exceeds)
  std::string margin_exact;     // FLOP (decimal)
  bool within_error_margin = false;  // within the Guidelines' 30% of the threshold
  std::string explanation;
  std::vector<std::string> warnings;
  std::string source;
};

// A run's segment: one process lifetime of one rank.
struct DossierSegment {
  uint64_t rank = 0;
  uint64_t segment = 0;
  std::string status;
  std::string started_at;
  std::string last_line_at;
  std::string tokens_spent;            // decimal
  std::string tokens_not_in_weights;   // decimal
  std::string reason;                  // why some of it is in no saved weights; "" when all is
};

// One GPU of one rank's segment, as NVML sampled it (the record's
// hardware.gpus[]).
struct DossierGpu {
  uint64_t rank = 0;
  uint64_t segment = 0;
  uint64_t index = 0;       // NVML index
  std::string name;         // nvmlDeviceGetName
  double attributed_seconds = 0;
  std::optional<double> mean_utilization;  // 0..1
  std::optional<double> mean_power_w;      // energy / attributed seconds
  std::optional<double> max_power_w;
  std::optional<double> energy_j;
  std::string energy_method;  // "counter", "power_integral", "unavailable"
};

// A GPU over one stretch of a segment, from two journal lines' cumulative
// totals (the sampler's): what the chart of utilisation and power over time
// draws. Exact for the stretch, since the totals are cumulative.
struct DossierGpuInterval {
  uint64_t rank = 0;
  uint64_t segment = 0;
  uint64_t index = 0;  // NVML index
  std::string name;
  double t_end = 0;    // the later line's time, Unix seconds
  double seconds = 0;  // time attributed to the job within the stretch
  std::optional<double> utilization;  // 0..1, the stretch's share of attributed time a kernel ran
  std::optional<double> power_w;      // energy / attributed seconds; none without an energy measurement
};

// One run, as its record (and the ledger entry holding it) says.
struct DossierRun {
  std::string run_id;
  std::optional<uint64_t> entry;  // the ledger entry; nullopt for a run directory
  std::string model;
  std::string status;
  std::string time;               // the ledger entry's time, else the record's ended_at
  std::string formula;            // the compliance formula
  nlohmann::json compliance;      // decimal string or null (undetermined)
  nlohmann::json in_final_weights;  // decimal string or null
  // The formulas side by side: eu_6nd, peft_aware, detailed (decimal
  // strings or null) and hardware_bound (a number or null).
  nlohmann::json formulas = nlohmann::json::object();
  std::vector<DossierSegment> segments;
  std::vector<DossierGpu> gpus;   // empty: no GPU was sampled
  // Utilisation and power over time, where the run's journals are at hand
  // (a run directory); gpu_timeline_note says why there is none otherwise.
  std::vector<DossierGpuInterval> gpu_timeline;
  std::string gpu_timeline_note;
  nlohmann::json record;          // the record as written (for the figures and evidence drawn from it)
  std::string source;             // "ledger entry 9 (run record)" or "RUN_DIR/flops_meter.json"
};

// A model of the lineage.
struct DossierNode {
  std::string name;
  std::optional<uint64_t> entry;
  std::string kind;               // "base" or "derived"
  std::string organisation;
  std::vector<std::string> parents;
  std::string how;
  bool systemic_risk = false;
  bool own_model = false;         // one of the organisation's own modifications
  nlohmann::json own_compute;     // the lineage view's sum objects, as it gives them
  nlohmann::json cumulative_compute;
  std::vector<std::string> runs;  // run ids
  std::string pretraining_source;  // a base: where its figure comes from
};

// An item of evidence.
struct DossierEvidence {
  std::string label;
  std::string value;
  std::string source;
};

// A point of the cumulative-compute chart: after a run (or segment).
struct DossierPoint {
  std::string label;  // the run id (or segment)
  std::string time;
  double modification_flop = 0;  // the organisation's own compute so far
  std::optional<double> cumulative_flop;  // nullopt while the base compute is unknown
  // False once a run so far is undetermined: the figures are then the
  // known part, a lower bound.
  bool complete = true;
};

struct Dossier {
  std::string subject_kind;   // "model", "run" or "estimate"
  std::string subject;        // the model's name, the run directory, the estimate file
  std::string organisation;
  std::string tool_version;
  std::string rules_version;
  std::vector<std::string> headlines;       // the verdict, in lines, first
  std::vector<DossierVerdict> verdicts;     // in force; eu_modification first
  std::vector<DossierVerdict> not_in_force; // revoked, vetoed, not confirmed
  std::vector<DossierFigure> documentation; // Annex XI and the Model Documentation Form
  std::vector<std::string> dependencies;    // model dependencies (the lineage's bases and parents)
  std::vector<std::string> methodology;     // paragraphs
  std::vector<DossierNode> lineage;         // from the model back to its bases
  std::vector<DossierRun> runs;
  std::vector<DossierPoint> timeline;
  std::vector<DossierEvidence> evidence;
  nlohmann::json signed_head;       // flopsmeter.tree_head/1, null without a ledger
  nlohmann::json inclusion_proof;   // flopsmeter.inclusion_proof/1 of the model's entry, or null
  std::string evidence_note;        // why there is no head or proof; "" when there is
  std::vector<std::string> warnings;
};

// The dossier of model `name` in `ledger`: its lineage, verdicts, runs (read
// back from their entries) and the signed head with the model entry's
// inclusion proof. Errors: kNotFound for a model the ledger lacks (naming
// the closest), the ledger's own errors.
Result<Dossier> dossier_for_model(Ledger& ledger, const std::string& name);

// The dossier of one run: `path` is a run directory or its flops_meter.json.
// Errors name the file: missing, not a record (its schema), malformed.
Result<Dossier> dossier_for_run(const std::string& path);

// The dossier of an estimate's JSON (flopsmeter.estimate/1), `label`
// naming it (a file, or "the estimate"): each method a planned run against
// the thresholds. Errors: kInvalidArgument for another document.
Result<Dossier> dossier_for_estimate(const std::string& estimate_json, const std::string& label);

// The dossier of what the file at `path` is: a run directory, a run record
// (as dossier_for_run), or a recorded estimate (flopsmeter.estimate/1: the
// pre-training decision, each method a planned run against the thresholds).
// Errors name the file.
Result<Dossier> dossier_for_file(const std::string& path);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_DOSSIER_H_
