// What a metered run trains and what its compute comes to: resolved once at
// begin and again when a report reads the run back, by the same code.
#ifndef FLOPSMETER_API_RUN_ACCOUNTING_H_
#define FLOPSMETER_API_RUN_ACCOUNTING_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "flopsmeter/catalog.h"
#include "flopsmeter/estimate.h"
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

// Where a run's model comes from.
enum class ModelSource {
  kAsGiven,   // options.model, falling back to RUN_DIR/model_config.json when it is gone (begin)
  kRecorded,  // RUN_DIR/model_config.json first, the copy made at begin (reports)
};

// Loads the model, plans options.method on it and cross-checks the
// trainer's counts. Errors: the model cannot be loaded and no counts were
// given; the method does not apply to the model.
Result<RunAccounting> resolve_accounting(const MeterOptions& options, const Catalog& catalog,
                                         ModelSource source = ModelSource::kAsGiven);

// What a run's figures rest on, pinned in every segment's begin line (its
// "accounting"): the counts, the base compute, the config's SHA-256, and a
// fingerprint of the formulas (each one's figure for a single sequence at a
// few lengths: the formulas are fixed costs per sequence of a length plus
// per pass, so equal fingerprints mean equal figures for any counts).
nlohmann::json accounting_pins(const RunAccounting& accounting, const MeterOptions& options);
// What differs between pins taken then and now, in words; empty when they
// agree (pins from before a field existed do not count as differing).
std::vector<std::string> pin_differences(const nlohmann::json& then, const nlohmann::json& now);

// All formulas for `workload`, with N from `accounting`.
Result<FlopsEstimate> run_flops(const RunAccounting& accounting, const Workload& workload);

// The compliance formula's figure for a run's counts, cheap enough for every
// step of the budget guard: the detailed count is linear in the executed
// sequences (a fixed cost per sequence of each length) and in the forward
// passes, so the per-length costs are worked out once per distinct length
// and summed. Equal to assess()'s compliance figure on run_flops() for the
// same counts, except that a mixture-of-experts layer, whose per-expert share
// the formula rounds up once over the whole workload, is rounded up here per
// length: never below it (the guard's figure must be an upper bound), and at
// most a few FLOP per distinct length above.
class ComplianceCounter {
 public:
  // The kernel, checkpointing and compliance formula of `options`.
  ComplianceCounter(const RunAccounting& accounting, const MeterOptions& options);
  // `tokens` (non-padding), `sequences` executed by length, `micro_batches`
  // (0: unknown, one pass per sequence as the formula assumes).
  Result<Flop> figure(Flop tokens, const std::map<uint64_t, uint64_t>& sequences, uint64_t micro_batches);

 private:
  Result<Flop> detailed_total(uint64_t length, uint64_t micro_batches);

  const RunAccounting& accounting_;
  AttentionKernel kernel_;
  bool gradient_checkpointing_;
  CheckpointMode checkpoint_mode_;
  ComplianceFormula requested_;
  std::map<uint64_t, Flop> per_sequence_;  // detailed FLOP of one sequence of each length, passes apart
  std::optional<Flop> per_pass_;           // detailed FLOP of one forward pass as such (DoRA's weight norm)
};

// The budget in FLOP, exact: --budget, or --budget-fraction times
// `threshold`, computed on the fraction's shortest decimal (0.9 is 9/10,
// not the double nearest it) and rounded down, less the earlier
// modifications (options.prior_modifications, down to 0), since the rule
// sums them with this run; nullopt without a budget.
// Errors: kOverflow when the product needs more than 128 bits.
Result<std::optional<Flop>> budget_limit(const MeterOptions& options, const ModificationThreshold& threshold);
// The shortest decimal that reads back to `fraction`, e.g. "0.9".
std::string budget_fraction_decimal(double fraction);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_RUN_ACCOUNTING_H_
