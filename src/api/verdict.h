// What the rules' results mean for the person who ran (or plans) the job,
// said first: one headline per in-force regime that concerns the modifier,
// the base model's own exceedances as context, regimes not in force below;
// and the gate (`--fail-if-exceeds`) that decides a CI job's exit status on
// the same reading. Shared by the estimate, the run record and watch, so all
// three say and decide the same thing.
#ifndef FLOPSMETER_API_VERDICT_H_
#define FLOPSMETER_API_VERDICT_H_

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "flopsmeter/estimate.h"
#include "flopsmeter/rules.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

// One run's results, or one method's in an estimate.
struct RegimeOutcomes {
  std::string label;  // the method in an estimate ("lora"); "" for a run
  std::string formula;  // the compared formula ("detailed")
  std::vector<RuleResult> regimes;  // in the rules' order
  Flop tokens = 0;                  // the run's training tokens; 0: unknown
  bool modification_undetermined = false;
  std::string undetermined_reason;
};

// The headline block: the answer for each in-force regime that concerns the
// modifier (concerns_modifier()), what to do when a threshold would be
// crossed (tokens to cut), then context and the regimes not in force. Plain
// text, lines ending in '\n'; user-given text passes through printable().
std::string verdict_text(const std::vector<RegimeOutcomes>& outcomes);
// The headlines alone, for the JSON records: one string per line of the
// first part of verdict_text().
std::vector<std::string> verdict_headlines(const std::vector<RegimeOutcomes>& outcomes);

// An estimate's outcomes, one per method.
std::vector<RegimeOutcomes> estimate_outcomes(const EstimateReport& report);

// Which regimes a gate decides on.
struct GateSpec {
  // Empty: the modifier's own obligations: every in-force regime whose
  // threshold is a share of the base's compute (eu_modification), and every
  // other in-force regime that the base model does not exceed on its own
  // but the modification does (or might: an undetermined modification).
  std::vector<std::string> regime_ids;
};
// "" gives the default; otherwise a comma-separated list of regime ids of
// `rules`, or "all" (every regime in force). Errors name an unknown id and
// suggest the closest.
Result<GateSpec> parse_gate(std::string_view list, const RuleSet& rules);

// A regime that trips the gate: it exceeds, or its verdict is undetermined.
struct GateTrip {
  std::string regime_id;
  std::string label;    // the method, or ""
  std::string formula;  // the compared figure's formula, or what decided it
  Verdict verdict = Verdict::kExceeds;
  Flop compute_flop = 0;
  Fraction threshold;
  std::string threshold_basis;
  std::string reason;   // for an undetermined verdict
};
std::vector<GateTrip> gate_trips(const GateSpec& gate, const std::vector<RegimeOutcomes>& outcomes);
// "eu_modification (method full, formula detailed): 4.1e+22 FLOP exceeds the threshold 3.33e+22 FLOP (unknown_gpai)"
std::string gate_trip_text(const GateTrip& trip);
// The trips as JSON objects, for a record.
nlohmann::json gate_trips_json(const std::vector<GateTrip>& trips);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_VERDICT_H_
