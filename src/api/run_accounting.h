// What a metered run trains and what its compute comes to: resolved once at
// begin and again when a report reads the run back, by the same code.
#ifndef FLOPSMETER_API_RUN_ACCOUNTING_H_
#define FLOPSMETER_API_RUN_ACCOUNTING_H_

#include <optional>
#include <string>
#include <vector>

#include "flopsmeter/catalog.h"
#include "flopsmeter/flops.h"
#include "flopsmeter/load.h"
#include "flopsmeter/meter.h"
#include "flopsmeter/method.h"

namespace flopsmeter {

// The copy of the model's config.json a run directory keeps, so the
// detailed formula can be redone after the model files are gone.
inline constexpr const char* kModelConfigSnapshot = "model_config.json";

struct RunAccounting {
  std::optional<LoadedModel> loaded;  // when options.model resolves
  std::optional<TrainingPlan> plan;   // the method planned on it
  std::string config_file;            // the config.json it was read from; "" for a catalog id
  uint64_t n_total = 0;               // what the formulas use: the trainer's count when given
  uint64_t n_trainable = 0;
  std::string counts_source;          // "trainer" or "planned from the model config"
  BaseCompute base;                   // given, from the catalog, or unknown
  std::string base_status;            // "given", "catalog: published", "unknown"
  std::vector<std::string> notes;     // cross-checks and fallbacks worth stating
};

// Loads options.model (falling back to RUN_DIR/model_config.json when the
// original is gone), plans options.method on it and cross-checks the
// trainer's counts. Errors: the model cannot be loaded and no counts were
// given; the method does not apply to the model.
Result<RunAccounting> resolve_accounting(const MeterOptions& options, const Catalog& catalog);

// All formulas for `workload`, with N from `accounting`.
Result<FlopsEstimate> run_flops(const RunAccounting& accounting, const Workload& workload);

// The budget in FLOP, exact: --budget, or --budget-fraction times
// `threshold`, computed on the fraction's shortest decimal (0.9 is 9/10,
// not the double nearest it) and rounded down; nullopt without a budget.
// Errors: kOverflow when the product needs more than 128 bits.
Result<std::optional<Flop>> budget_limit(const MeterOptions& options, const ModificationThreshold& threshold);
// The shortest decimal that reads back to `fraction`, e.g. "0.9".
std::string budget_fraction_decimal(double fraction);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_RUN_ACCOUNTING_H_
