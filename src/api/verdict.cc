#include "api/verdict.h"

#include <algorithm>
#include <optional>

#include "api/report_format.h"
#include "core/json_doc.h"
#include "core/strict_fields.h"
#include "core/suggest.h"

namespace flopsmeter {
namespace {

// What a verdict means, in the regime's own words where the rules give them.
std::string outcome_phrase(const RuleResult& r) {
  if (!r.outcome.empty()) return r.outcome;
  return std::string(r.exceeds ? "exceeds" : "stays below") + " the " + r.regime_id + " threshold";
}

std::string threshold_text(const RuleResult& r) {
  std::string basis;
  if (r.threshold_basis == "known_one_third") basis = "from the base model's known compute";
  if (r.threshold_basis == "unknown_gpai") basis = "base compute unknown: 1e23/3";
  if (r.threshold_basis == "unknown_systemic_risk") basis = "base compute unknown, systemic-risk base: 1e25/3";
  return "the " + sci(r.threshold.to_double(), 3) + " FLOP threshold" + (basis.empty() ? "" : " (" + basis + ")");
}

// The figure a result compares, named: "4.1e+22 FLOP (detailed)", or for a
// cumulative regime "cumulative 1.2e+24 FLOP (base and modifications)".
std::string compared_figure(const RuleResult& r, const RegimeOutcomes& o) {
  std::string figure = sci(r.compute_flop, 3) + " FLOP";
  if (r.compute_basis == ComputeBasis::kCumulative) figure = "cumulative " + figure;
  const std::string by = o.modification_undetermined ? r.decided_by : o.formula;
  return figure + (by.empty() ? "" : " (" + by + ")");
}

// One outcome's answer for a concerning regime, without the regime's name.
std::string answer(const RuleResult& r, const RegimeOutcomes& o) {
  if (r.verdict == Verdict::kUndetermined) {
    if (!r.open_for_base) {
      return "UNDETERMINED: " + o.undetermined_reason + "; nothing can be concluded until the compute is known";
    }
    const std::string known = o.modification_undetermined
                                  ? "; this run's compute is undetermined too"
                                  : ": the known part, " + compared_figure(r, o) + ", is " +
                                        percent(r.fraction_of_threshold) + " of " + threshold_text(r);
    return "depends on the base model's compute, which is unknown" + known +
           "; give the base model's compute (PRETRAIN_FLOPS) to decide";
  }
  std::string text = outcome_phrase(r) + "; " + compared_figure(r, o);
  if (!r.exceeds) {
    text += " is " + percent(r.fraction_of_threshold) + " of " + threshold_text(r);
  } else {
    const double over = r.fraction_of_threshold - 1.0;
    text += " exceeds " + threshold_text(r) + (over > 0 ? " by " + percent(over) : std::string());
    if (r.tokens_to_cut && o.tokens > 0) {
      text += "; to stay below, cut at least " + with_commas(*r.tokens_to_cut) + " training tokens (" +
              percent(to_double(*r.tokens_to_cut) / to_double(o.tokens)) + " of them)";
    } else if (r.compute_basis == ComputeBasis::kCumulative) {
      text += "; the base model and earlier modifications already take it there, cutting this run cannot";
    }
  }
  if (r.single_run_flop) {
    text += "; summed over your earlier modifications (the cautious reading): this run alone, " +
            sci(*r.single_run_flop, 3) + " FLOP, " + (r.single_run_exceeds ? "exceeds it" : "would not");
  }
  if (r.within_error_margin) {
    text += "; WITHIN the Guidelines' 30% error margin of the threshold: document the method and its uncertainty";
  }
  if (o.modification_undetermined && r.determinate) {
    text += " (the compliance figure itself is undetermined: " + o.undetermined_reason + ")";
  }
  return text;
}

std::string regime_heading(const RuleResult& r) {
  return (r.jurisdiction.empty() ? std::string() : printable_text(r.jurisdiction) + " ") + r.regime_id;
}

// The index of every regime in the first outcome's order; all outcomes of
// one report share the rules, so their regimes line up.
size_t regime_count(const std::vector<RegimeOutcomes>& outcomes) {
  return outcomes.empty() ? 0 : outcomes.front().regimes.size();
}

bool any_concerns(const std::vector<RegimeOutcomes>& outcomes, size_t i) {
  return std::any_of(outcomes.begin(), outcomes.end(),
                     [i](const RegimeOutcomes& o) { return concerns_modifier(o.regimes[i]); });
}

// One line for every method of an estimate when they come to the same
// answer with nothing of their own to add (no cut, no error margin): the
// outcome once, each method's figure after it. nullopt otherwise.
std::optional<std::string> shared_answer(const std::vector<RegimeOutcomes>& outcomes, size_t i) {
  const RuleResult& first = outcomes.front().regimes[i];
  std::string figures;
  for (const RegimeOutcomes& o : outcomes) {
    const RuleResult& r = o.regimes[i];
    if (r.verdict != first.verdict || r.open_for_base != first.open_for_base || r.tokens_to_cut ||
        r.within_error_margin || o.modification_undetermined || r.compute_basis != first.compute_basis) {
      return std::nullopt;
    }
    figures += (figures.empty() ? "" : ", ") + printable_text(o.label) + " " + sci(r.compute_flop, 3) + " (" +
               percent(r.fraction_of_threshold) + ")";
  }
  const std::string what = "each method's " +
                           std::string(first.compute_basis == ComputeBasis::kCumulative ? "cumulative " : "") +
                           "FLOP (" + outcomes.front().formula + ") and its share of " + threshold_text(first) + ": " +
                           figures;
  if (first.open_for_base) {
    return "depends on the base model's compute, which is unknown; give it (PRETRAIN_FLOPS) to decide. Known so far, " +
           what;
  }
  if (first.verdict == Verdict::kUndetermined) return std::nullopt;
  return outcome_phrase(first) + " with every method; " + what;
}

// The first part: the answer for each concerning regime. A run whose
// compute is unknown says so once, for every regime it leaves open.
std::vector<std::string> headline_lines(const std::vector<RegimeOutcomes>& outcomes) {
  std::vector<std::string> lines;
  if (outcomes.size() == 1 && outcomes.front().modification_undetermined) {
    std::vector<std::string> open;
    for (const RuleResult& r : outcomes.front().regimes)
      if (concerns_modifier(r) && !r.determinate && !r.open_for_base) open.push_back(r.regime_id);
    if (!open.empty()) {
      lines.push_back("UNDETERMINED (" + join(open, ", ") + "): " + outcomes.front().undetermined_reason +
                      "; no verdict can be reached on these until the compute is known");
    }
  }
  for (size_t i = 0; i < regime_count(outcomes); ++i) {
    if (!any_concerns(outcomes, i)) continue;
    const RuleResult& first = outcomes.front().regimes[i];
    if (outcomes.size() == 1) {
      if (outcomes.front().modification_undetermined && !first.determinate && !first.open_for_base) continue;  // said above
      lines.push_back(regime_heading(first) + ": " + answer(first, outcomes.front()));
      continue;
    }
    if (const std::optional<std::string> shared = shared_answer(outcomes, i)) {
      lines.push_back(regime_heading(first) + ": " + *shared);
      continue;
    }
    lines.push_back(regime_heading(first) + ":");
    for (const RegimeOutcomes& o : outcomes) {
      lines.push_back("  " + printable_text(o.label) + ": " + answer(o.regimes[i], o));
    }
  }
  return lines;
}

}  // namespace

std::vector<std::string> verdict_headlines(const std::vector<RegimeOutcomes>& outcomes) {
  return headline_lines(outcomes);
}

std::vector<RegimeOutcomes> estimate_outcomes(const EstimateReport& report) {
  std::vector<RegimeOutcomes> outcomes;
  for (const MethodEstimate& m : report.methods) {
    outcomes.push_back({method_name(m.plan.spec.kind), compliance_formula_name(m.compliance_formula), m.regimes,
                        m.flops.tokens, false, ""});
  }
  return outcomes;
}

std::string verdict_text(const std::vector<RegimeOutcomes>& outcomes) {
  std::string out;
  for (const std::string& line : headline_lines(outcomes)) out += line + "\n";
  // Context: in-force thresholds the base model exceeds on its own.
  for (size_t i = 0; i < regime_count(outcomes); ++i) {
    const RuleResult& r = outcomes.front().regimes[i];
    if (!r.in_force || any_concerns(outcomes, i)) continue;
    out += "context: the base model alone exceeds " + regime_heading(r) + "'s " +
           sci(r.threshold.to_double(), 3) + " FLOP threshold; that is its provider's matter, not a result of "
           "this modification\n";
  }
  std::string reference;
  for (size_t i = 0; i < regime_count(outcomes); ++i) {
    const RuleResult& r = outcomes.front().regimes[i];
    if (r.in_force) continue;
    reference += "  " + r.regime_id + " [" + regime_status_name(r.status) + "] " + sci(r.threshold.to_double(), 3) +
                 " FLOP, " + compute_basis_name(r.compute_basis) + ":";
    const bool alike = std::all_of(outcomes.begin(), outcomes.end(),
                                   [&](const RegimeOutcomes& o) { return o.regimes[i].verdict == r.verdict; });
    if (alike) {
      reference += std::string(" ") + verdict_name(r.verdict);
    } else {
      for (const RegimeOutcomes& o : outcomes) {
        reference += " " + printable_text(o.label) + "=" + verdict_name(o.regimes[i].verdict);
      }
    }
    reference += "\n";
  }
  if (!reference.empty()) out += "not in force (for reference only):\n" + reference;
  return out;
}

Result<GateSpec> parse_gate(std::string_view list, const RuleSet& rules) {
  GateSpec gate;
  if (list.empty()) return gate;
  std::vector<std::string> known;
  for (const Regime& r : rules.regimes) known.push_back(r.id);
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string id(list.substr(start, comma - start));
    start = comma + 1;
    if (id == "all") {
      for (const Regime& r : rules.regimes)
        if (r.status == RegimeStatus::kInForce) gate.regime_ids.push_back(r.id);
      continue;
    }
    if (find_regime(rules, id) == nullptr) {
      const std::vector<std::string> near = closest_names(id, known);
      return Status::InvalidArgument("unknown regime '" + printable(id) + "' to gate on" +
                                     (near.empty() ? "" : "; did you mean " + join(near, ", ") + "?") +
                                     " (regimes: " + join(known, ", ") + ", or all)");
    }
    gate.regime_ids.push_back(id);
  }
  return gate;
}

std::vector<GateTrip> gate_trips(const GateSpec& gate, const std::vector<RegimeOutcomes>& outcomes) {
  std::vector<GateTrip> trips;
  for (const RegimeOutcomes& o : outcomes) {
    for (const RuleResult& r : o.regimes) {
      bool gated;
      if (!gate.regime_ids.empty()) {
        gated = std::find(gate.regime_ids.begin(), gate.regime_ids.end(), r.regime_id) != gate.regime_ids.end();
      } else {
        // A share of the base's compute is the modifier's own test; an
        // absolute one only when the modification (not the base) decides
        // it, and an unknown base leaves that open rather than tripping.
        const bool own_test = r.threshold_basis != "absolute" || r.compute_basis == ComputeBasis::kModification;
        gated = concerns_modifier(r) && !r.open_for_base && (own_test || r.exceeds || !r.determinate);
      }
      if (!gated || r.verdict == Verdict::kBelow) continue;
      GateTrip t;
      t.regime_id = r.regime_id;
      t.label = o.label;
      t.formula = o.modification_undetermined && !r.decided_by.empty() ? r.decided_by : o.formula;
      t.verdict = r.verdict;
      t.compute_flop = r.compute_flop;
      t.threshold = r.threshold;
      t.threshold_basis = r.threshold_basis;
      if (r.verdict == Verdict::kUndetermined) {
        t.reason = r.open_for_base ? "the base model's compute is unknown" : o.undetermined_reason;
      }
      trips.push_back(std::move(t));
    }
  }
  return trips;
}

std::string gate_trip_text(const GateTrip& t) {
  std::string where = t.label.empty() ? "" : "method " + printable_text(t.label) + ", ";
  std::string text = t.regime_id + " (" + where + "formula " + t.formula + "): ";
  if (t.verdict == Verdict::kUndetermined) return text + "undetermined: " + t.reason;
  return text + sci(t.compute_flop, 3) + " FLOP exceeds the threshold " + sci(t.threshold.to_double(), 3) +
         " FLOP (" + t.threshold_basis + ")";
}

nlohmann::json gate_trips_json(const std::vector<GateTrip>& trips) {
  nlohmann::json out = nlohmann::json::array();
  for (const GateTrip& t : trips) {
    out.push_back({{"regime", t.regime_id},
                   {"method", t.label.empty() ? nlohmann::json() : nlohmann::json(t.label)},
                   {"formula", t.formula},
                   {"verdict", verdict_name(t.verdict)},
                   {"compute_flop", to_double(t.compute_flop)},
                   {"threshold_flop", t.threshold.to_double()},
                   {"threshold_basis", t.threshold_basis},
                   {"reason", t.reason.empty() ? nlohmann::json() : nlohmann::json(t.reason)}});
  }
  return out;
}

}  // namespace flopsmeter
