#include "api/run_accounting.h"

#include <charconv>
#include <cmath>

#include "adapters/files.h"

namespace flopsmeter {

Result<RunAccounting> resolve_accounting(const MeterOptions& options, const Catalog& catalog) {
  RunAccounting a;
  if (!options.model.empty()) {
    auto loaded = load_model(options.model, catalog);
    const std::string snapshot = join_path(options.run_dir, kModelConfigSnapshot);
    if (!loaded.ok() && is_regular_file(snapshot)) {
      a.notes.push_back("model '" + options.model + "' could not be loaded now (" + loaded.status().message() +
                        "); the run directory's copy of its config.json was used");
      loaded = load_model(snapshot, catalog);
    }
    if (loaded.ok()) {
      a.loaded = std::move(*loaded);
      if (a.loaded->source_kind == "checkpoint") {
        a.config_file = join_path(a.loaded->source, "config.json");
      } else if (a.loaded->source_kind == "config") {
        a.config_file = a.loaded->source;
      }
      auto plan = plan_training(a.loaded->model, options.method);
      if (!plan.ok()) return plan.status().WithContext("method " + std::string(method_name(options.method.kind)));
      a.plan = std::move(*plan);
    } else if (!options.n_total) {
      return loaded.status();
    } else {
      a.notes.push_back("model '" + options.model + "' could not be loaded (" + loaded.status().message() +
                        "); the formulas use the trainer's counts and the detailed count is unavailable");
    }
  }
  if (options.n_total) {
    a.n_total = *options.n_total;
    a.n_trainable = options.n_trainable.value_or(*options.n_total);
    a.counts_source = "trainer";
    if (!options.n_trainable) a.notes.push_back("N_trainable not given: every parameter counted as trainable");
    if (a.plan && (a.plan->params_all != a.n_total || a.plan->params_trainable != a.n_trainable)) {
      a.notes.push_back("the trainer counts N_total " + std::to_string(a.n_total) + ", N_trainable " +
                        std::to_string(a.n_trainable) + "; planning " + method_name(options.method.kind) +
                        " on the model config gives " + std::to_string(a.plan->params_all) + " and " +
                        std::to_string(a.plan->params_trainable) +
                        ": eu_6nd and peft_aware use the trainer's counts, the detailed count the plan's");
    }
  } else {
    a.n_total = a.plan->params_all;
    a.n_trainable = a.plan->params_trainable;
    a.counts_source = "planned from the model config";
  }
  // Base compute: the user's figure wins; then the catalog's; else unknown.
  const CatalogModel* entry = a.loaded && a.loaded->catalog_entry ? &*a.loaded->catalog_entry : nullptr;
  if (options.pretrain) {
    a.base = *options.pretrain;
    a.base_status = "given";
  } else if (entry != nullptr && entry->pretraining.flop) {
    a.base.flop = entry->pretraining.flop;
    a.base.source = entry->pretraining.source +
                    (entry->pretraining.method.empty() ? "" : " (" + entry->pretraining.method + ")");
    a.base_status = "catalog: " + entry->pretraining.status;
  } else {
    a.base_status = "unknown";
  }
  a.base.systemic_risk = options.base_systemic_risk || (entry != nullptr && entry->systemic_risk_designated);
  return a;
}

Result<FlopsEstimate> run_flops(const RunAccounting& a, const Workload& workload) {
  FlopsEstimate e;
  if (a.plan && (workload.tokens > 0 || !workload.sequences.empty())) {
    FM_ASSIGN_OR_RETURN(e, estimate_flops(a.loaded->model, *a.plan, workload));
    if (!e.detailed.available && workload.sequences.empty()) {
      e.detailed.unavailable_reason = "the integration reported no sequence lengths";
    }
  } else {
    e.detailed.unavailable_reason = a.plan ? "no tokens yet" : "no model config (--model); the detailed count needs the architecture";
  }
  // eu_6nd and peft_aware with the counts the trainer reported.
  e.tokens = workload.tokens;
  Flop six_n = 0, four_n = 0, two_t = 0, per_token = 0;
  const bool fits = checked_mul(6, a.n_total, &six_n) && checked_mul(six_n, e.tokens, &e.eu_6nd) &&
                    checked_mul(4, a.n_total, &four_n) && checked_mul(2, a.n_trainable, &two_t) &&
                    checked_add(four_n, two_t, &per_token) && checked_mul(per_token, e.tokens, &e.peft_aware);
  if (!fits) return Status::Overflow("6ND exceeds 128 bits; check the token count");
  return e;
}

std::string budget_fraction_decimal(double fraction) {
  char text[400];  // enough for any double in fixed notation
  const std::to_chars_result written = std::to_chars(text, text + sizeof text, fraction, std::chars_format::fixed);
  return std::string(text, written.ptr);
}

Result<std::optional<Flop>> budget_limit(const MeterOptions& options, const ModificationThreshold& threshold) {
  if (options.budget_flop) return std::optional<Flop>(*options.budget_flop);
  if (!options.budget_fraction) return std::optional<Flop>();
  const std::string decimal = budget_fraction_decimal(*options.budget_fraction);
  Fraction fraction;
  bool after_point = false;
  for (char c : decimal) {
    if (c == '.') {
      after_point = true;
      continue;
    }
    if (!checked_mul(fraction.num, 10, &fraction.num) || !checked_add(fraction.num, Flop(c - '0'), &fraction.num) ||
        (after_point && !checked_mul(fraction.den, 10, &fraction.den))) {
      return Status::Overflow("budget-fraction " + decimal + ": too many decimal places for an exact budget");
    }
  }
  Fraction budget;
  if (!checked_mul(fraction, threshold.threshold_flop, &budget)) {
    return Status::Overflow("budget-fraction " + decimal + " x the threshold " + threshold.threshold_flop.to_string() +
                            " does not fit in 128 bits");
  }
  return std::optional<Flop>(floor(budget));
}

}  // namespace flopsmeter
