// The dossier's methodology text (Model Documentation Form: methodology;
// Guidelines Annex A.2: "document assumptions, method and uncertainties"),
// generated from what the records and the lineage say, never boilerplate
// about figures they lack.
#include <set>

#include "api/dossier_parts.h"
#include "api/report_format.h"
#include "core/strict_fields.h"  // join
#include "flopsmeter/exact.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

// How a record's token source counted (the record schema's tokens.source).
std::string token_source_text(const std::string& source) {
  if (source == "meter") {
    return "counted by the meter inside the training loop: the tokens of every micro-batch the integration "
           "reported (padding counted apart), per rank, summed over ranks and segments";
  }
  if (source == "trainer_state.json") {
    return "read by watching the job from outside: the trainer's num_input_tokens_seen in its trainer_state.json";
  }
  if (source == "token file") return "read by watching the job from outside: the cumulative count the job wrote";
  if (source == "watch") return "read by watching the job, with no end line saying from which file";
  return "not counted (no token source): the run's compute is undetermined unless a hardware bound decides";
}

std::string formulas_paragraph(const Dossier& d, std::vector<std::string>& assumptions) {
  std::set<std::string> formulas, said;
  std::string out;
  for (const DossierRun& r : d.runs) {
    if (r.formula.empty() || !formulas.insert(r.formula).second) continue;
    const Json& f = json_at(r.record, {"formulas", r.formula.c_str()});
    const std::string expr = json_text_at(f, {"formula"});
    out += (out.empty() ? "" : " ") + std::string("The regimes compare the ") + r.formula + " figure" +
           (expr.empty() ? " (the record names the formula only)" : ": " + expr) +
           (json_text_at(f, {"source"}).empty() ? "" : ", after " + json_text_at(f, {"source"})) + ".";
    for (const Json& a : json_at(f, {"assumptions"})) {
      const std::string line = a.get<std::string>() + " (" + r.formula + "; source: " +
                               (json_text_at(f, {"source"}).empty() ? "the run record" : json_text_at(f, {"source"})) +
                               ")";
      if (said.insert(line).second) assumptions.push_back(line);
    }
  }
  if (out.empty()) return "No run is recorded, so no training formula applies; the figures are the base models' own.";
  return out + " Every operation counts equally whatever its floating-point precision (Guidelines Annex A.2); "
               "the other formulas are shown beside it for comparison.";
}

std::string base_paragraph(const Dossier& d) {
  std::vector<std::string> bases;
  for (const DossierNode& n : d.lineage) {
    if (n.kind != "base") continue;
    const Json& flop = json_at(n.own_compute, {"flop"});
    bases.push_back(n.name + ": " + (flop.is_string() ? flop_figure_text(flop) : std::string("unknown")) +
                    (n.pretraining_source.empty() ? "" : " (" + n.pretraining_source + ")"));
  }
  if (bases.empty()) return "";
  return "Base model pretraining compute: " + join(bases, "; ") +
         ". Where it is unknown the Guidelines' defaults decide the modification threshold (para 61: one third of "
         "1e23 FLOP for a general-purpose base, of 1e25 FLOP for one with systemic risk), and cumulative figures are "
         "lower bounds.";
}

std::string tokens_paragraph(const Dossier& d) {
  if (d.subject_kind == "estimate") return "";  // planned tokens: the estimate's workload says (dossier_estimate.cc)
  std::vector<std::string> parts;
  Flop discarded = 0;
  for (const DossierRun& r : d.runs) {
    const std::string source = json_text_at(r.record, {"tokens", "source"});
    const std::string spent = json_text_at(r.record, {"tokens", "spent", "tokens"});
    if (source.empty() && spent.empty()) {
      parts.push_back("run " + r.run_id + ": its record gives no token counts");
      continue;
    }
    parts.push_back("run " + r.run_id + ": " + (spent.empty() ? "?" : spent) + " tokens spent, " +
                    token_source_text(source));
    Result<Flop> lost = parse_exact_integer(json_text_at(r.record, {"tokens", "not_in_final_weights"}), "tokens");
    if (lost.ok()) discarded += *lost;
  }
  if (parts.empty()) return "";
  return "How tokens were counted (D is every training token of every epoch, padding excluded): " + join(parts, "; ") +
         ". Compute spent and not kept in the final weights (a crashed segment's steps after its last checkpoint, "
         "redone after a resume) is counted, the conservative figure: " + with_commas(discarded) +
         " such tokens in these runs.";
}

std::string uncertainty_paragraph(const Dossier& d) {
  std::vector<std::string> close;
  for (const DossierVerdict& v : d.verdicts)
    if (v.within_error_margin) close.push_back(v.regime_id);
  return "Uncertainty: the Guidelines accept any method accurate within an overall error margin of 30% (Annex "
         "A.2). " +
         (close.empty() ? std::string("No figure in force lies within 30% of its threshold.")
                        : "Within 30% of the threshold, so that the method's error could change the verdict: " +
                              join(close, ", ") + ".") +
         " The 6ND estimate neglects attention, which the Guidelines allow for large dense transformers; the "
         "detailed count includes it. A hardware bound (datasheet peak x sampled time, utilisation 1), where NVML "
         "sampled the GPUs, is an upper bound on executed FLOP, not an estimate.";
}

std::string lineage_paragraph(const Dossier& d) {
  if (d.subject_kind != "model") return "";
  return "Lineage: the cumulative compute adds the base's pretraining and every modification behind the model, "
         "a shared ancestor counted once (Guidelines Annex A.1, recital 111). The modification compared with one "
         "third of the original model's compute (paras 60-61) sums every modification " +
         (d.organisation.empty() ? std::string("the organisation") : d.organisation) +
         " made since the nearest ancestor another organisation made: the cautious reading, since the Guidelines do "
         "not settle whether several modifications by one modifier add up; the costliest single run is shown beside "
         "it. Recomputation of activations (gradient checkpointing) is left out, as Annex A.1 allows.";
}

}  // namespace

std::vector<std::string> methodology_text(const Dossier& d) {
  std::vector<std::string> assumptions;
  std::vector<std::string> out = {formulas_paragraph(d, assumptions)};
  if (!assumptions.empty()) out.push_back("Assumptions: " + join(assumptions, "; ") + ".");
  for (std::string p : {base_paragraph(d), lineage_paragraph(d), tokens_paragraph(d), uncertainty_paragraph(d)})
    if (!p.empty()) out.push_back(std::move(p));
  return out;
}

}  // namespace flopsmeter
