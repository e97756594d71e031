#include "api/run_accounting.h"

#include <charconv>
#include <cmath>

#include "adapters/files.h"
#include "adapters/sha256.h"
#include "api/report_format.h"
#include "core/json_doc.h"

namespace flopsmeter {

Result<RunAccounting> resolve_accounting(const MeterOptions& options, const Catalog& catalog, ModelSource source) {
  RunAccounting a;
  if (!options.model.empty()) {
    const std::string snapshot = join_path(options.run_dir, kModelConfigSnapshot);
    const bool recorded = source == ModelSource::kRecorded && is_regular_file(snapshot);
    Result<LoadedModel> loaded = load_model(recorded ? snapshot : options.model, catalog);
    if (!loaded.ok() && !recorded && is_regular_file(snapshot)) {
      a.notes.push_back("model '" + printable_text(options.model) + "' could not be loaded now (" +
                        loaded.status().message() + "); the run directory's copy of its config.json was used");
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
      a.notes.push_back("model '" + printable_text(options.model) + "' could not be loaded (" + loaded.status().message() +
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
    e.detailed.unavailable_reason = a.plan ? "no tokens yet" : "no model config (option \"model\"); the detailed count needs the architecture";
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

namespace {

// Single-sequence lengths whose figures fingerprint the formulas: short and
// long, odd and even, past the sliding windows of the models that have them.
constexpr uint64_t kProbeLengths[] = {1, 7, 128, 1000, 4096, 32771};

nlohmann::json probe_json(const RunAccounting& a, const MeterOptions& options) {
  nlohmann::json probe = nlohmann::json::object();
  for (uint64_t length : kProbeLengths) {
    Workload w;
    w.sequences[length] = 1;
    w.tokens = length;
    w.kernel = options.kernel;
    w.gradient_checkpointing = options.gradient_checkpointing;
    w.checkpoint_mode = options.checkpoint_mode;
    w.micro_batches = 1;
    Result<FlopsEstimate> f = run_flops(a, w);
    if (!f.ok()) return nullptr;
    probe[std::to_string(length)] = {{"eu_6nd", to_decimal(f->eu_6nd)},
                                     {"peft_aware", to_decimal(f->peft_aware)},
                                     {"detailed", f->detailed.available ? nlohmann::json(to_decimal(f->detailed.total()))
                                                                        : nlohmann::json()}};
  }
  return probe;
}

}  // namespace

nlohmann::json accounting_pins(const RunAccounting& a, const MeterOptions& options) {
  nlohmann::json config_sha256;
  if (!a.config_file.empty()) {
    if (Result<FileDigest> d = sha256_file(a.config_file); d.ok()) config_sha256 = d->sha256;
  }
  return {{"n_total", a.n_total},
          {"n_trainable", a.n_trainable},
          {"counts_source", a.counts_source},
          {"notes", a.notes},
          {"base",
           {{"flop", a.base.flop ? nlohmann::json(to_decimal(*a.base.flop)) : nlohmann::json()},
            {"source", a.base.source},
            {"status", a.base_status},
            {"systemic_risk", a.base.systemic_risk}}},
          {"model_config_sha256", config_sha256},
          {"probe", probe_json(a, options)}};
}

std::vector<std::string> pin_differences(const nlohmann::json& then, const nlohmann::json& now) {
  std::vector<std::string> out;
  auto differ = [&](const nlohmann::json& a, const nlohmann::json& b, const char* key, const std::string& what) {
    if (!a.is_object() || !b.is_object() || !a.contains(key) || !b.contains(key) || a[key] == b[key]) return;
    out.push_back(what + ": " + printable_text(a[key].dump()) + " then, " + printable_text(b[key].dump()) + " now");
  };
  differ(then, now, "n_total", "N_total");
  differ(then, now, "n_trainable", "N_trainable");
  // The base's figure and designation decide; where it was read from (the
  // variable or the option of the same value) does not.
  if (then.contains("base") && now.contains("base")) {
    differ(then["base"], now["base"], "flop", "the base model's compute");
    differ(then["base"], now["base"], "systemic_risk", "the base model's systemic-risk designation");
  }
  // A catalog model has no config file: only two hashes can differ.
  if (then.value("model_config_sha256", nlohmann::json()).is_string() &&
      now.value("model_config_sha256", nlohmann::json()).is_string()) {
    differ(then, now, "model_config_sha256", "the model config's SHA-256");
  }
  differ(then, now, "probe", "the formulas' figures for the same sequences (the architecture or method resolves differently)");
  return out;
}

ComplianceCounter::ComplianceCounter(const RunAccounting& accounting, const MeterOptions& options)
    : accounting_(accounting),
      kernel_(options.kernel),
      gradient_checkpointing_(options.gradient_checkpointing),
      checkpoint_mode_(options.checkpoint_mode),
      requested_(options.compliance_formula) {}

Result<Flop> ComplianceCounter::detailed_total(uint64_t length, uint64_t micro_batches) {
  Workload w;
  w.sequences[length] = 1;
  w.tokens = length;
  w.kernel = kernel_;
  w.gradient_checkpointing = gradient_checkpointing_;
  w.checkpoint_mode = checkpoint_mode_;
  w.micro_batches = micro_batches;
  FM_ASSIGN_OR_RETURN(FlopsEstimate f, run_flops(accounting_, w));
  return f.detailed.total();
}

Result<Flop> ComplianceCounter::figure(Flop tokens, const std::map<uint64_t, uint64_t>& sequences,
                                       uint64_t micro_batches) {
  const bool detailed = requested_ == ComplianceFormula::kDetailed && accounting_.plan &&
                        accounting_.loaded->model.known_architecture && !sequences.empty();
  if (!detailed) {
    // What assess() falls back to without the detailed count: 6ND.
    Flop per_token = 0, total = 0;
    const bool peft = requested_ == ComplianceFormula::kPeftAware;
    const bool fits = peft ? checked_mul(4, accounting_.n_total, &per_token) &&
                                 checked_add(per_token, Flop{2} * accounting_.n_trainable, &per_token)
                           : checked_mul(6, accounting_.n_total, &per_token);
    if (!fits || !checked_mul(per_token, tokens, &total)) return Status::Overflow("6ND exceeds 128 bits");
    return total;
  }
  if (!per_pass_) {
    FM_ASSIGN_OR_RETURN(const Flop one, detailed_total(1, 1));
    FM_ASSIGN_OR_RETURN(const Flop two, detailed_total(1, 2));
    per_pass_ = two - one;
  }
  Flop total = 0, passes = 0, cost = 0;
  for (const auto& [length, count] : sequences) {
    auto it = per_sequence_.find(length);
    if (it == per_sequence_.end()) {
      FM_ASSIGN_OR_RETURN(const Flop one, detailed_total(length, 1));
      it = per_sequence_.emplace(length, one - *per_pass_).first;
    }
    passes += count;
    if (!checked_mul(it->second, count, &cost) || !checked_add(total, cost, &total)) {
      return Status::Overflow("the detailed FLOP count exceeds 128 bits");
    }
  }
  if (micro_batches > 0) passes = micro_batches;
  if (!checked_mul(*per_pass_, passes, &cost) || !checked_add(total, cost, &total)) {
    return Status::Overflow("the detailed FLOP count exceeds 128 bits");
  }
  return total;
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
  // The threshold is compared with the modifier's modifications summed: the
  // earlier ones (the ledger's lineage, prior-modifications) have used their
  // part of the fraction already.
  const Flop limit = floor(budget);
  return std::optional<Flop>(limit - std::min(limit, options.prior_modifications));
}

}  // namespace flopsmeter
