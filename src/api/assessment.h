// How a compute figure stands against the rules, and how the formulas are
// shown: the part an estimate and a metered run share, so both decide and
// print the same way.
#ifndef FLOPSMETER_API_ASSESSMENT_H_
#define FLOPSMETER_API_ASSESSMENT_H_

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "flopsmeter/estimate.h"
#include "flopsmeter/flops.h"
#include "flopsmeter/rules.h"

namespace flopsmeter {

struct Assessment {
  ComplianceFormula formula = ComplianceFormula::kDetailed;  // the one actually used
  Flop compliance_flop = 0;
  std::vector<RuleResult> regimes;
  std::vector<std::string> warnings;
};

// The figure of `which` in `f`.
Flop formula_figure(const FlopsEstimate& f, ComplianceFormula which);

// A run whose compute cannot be established from its counts.
struct UnknownModification {
  std::string reason;  // in words, for every verdict it leaves open
  std::optional<Flop> upper_bound;  // a figure known to be at least the compute (the hardware bound)
  std::string upper_bound_name;
};

// Evaluates every regime on `requested` (eu_6nd when the detailed count is
// unavailable, with a warning), naming the other formulas' figures. With
// `unknown`, the figures are not compared: each regime is undetermined unless
// the base alone or the upper bound decides it.
// Earlier modifications by the same modifier (RuleInput's fields).
struct PriorModifications {
  Flop flop = 0;
  std::string undetermined;  // non-empty: why part of them is unknown
};

Assessment assess(const FlopsEstimate& f, ComplianceFormula requested, const BaseCompute& base,
                  const PriorModifications& prior, const RuleSet& rules,
                  const std::optional<UnknownModification>& unknown = std::nullopt);

// {"flops": {...}, "flops_exact": {...}, "formulas": {...}}: each formula's
// figure, exact value, inputs, source and assumptions.
nlohmann::json formulas_json(const FlopsEstimate& f, uint64_t n_total_count, uint64_t n_trainable_count,
                             const Workload& workload);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_ASSESSMENT_H_
