#include "flopsmeter/estimate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "adapters/files.h"  // is_regular_file, join_path
#include "api/assessment.h"
#include "api/estimate_evidence.h"
#include "api/estimate_workload.h"
#include "api/report_format.h"
#include "api/verdict.h"
#include "core/json_doc.h"
#include "core/strict_fields.h"
#include "flopsmeter/version.h"

namespace flopsmeter {
namespace {

// The batch of a dataset's samples: the micro-batch size, which the dataset
// request may carry instead; 0 when neither gives one.
Result<uint64_t> dataset_batch_size(const EstimateRequest& r) {
  const std::optional<uint64_t>& padded = r.dataset->batch_size;
  if (padded && r.micro_batch_size > 0 && *padded != r.micro_batch_size) {
    return Status::InvalidArgument("the dataset's batch (" + std::to_string(*padded) + ") and the micro-batch size (" +
                                   std::to_string(r.micro_batch_size) +
                                   ") differ; both are the trainer's per_device_train_batch_size");
  }
  return r.micro_batch_size > 0 ? r.micro_batch_size : padded.value_or(0);
}

// The order that executes the most, assessed like the expected figure; the
// in-force verdicts it would change become a warning.
WorstCase assess_worst_case(FlopsEstimate flops, const EstimateRequest& request, const BaseCompute& base,
                            const RuleSet& rules, MethodEstimate& m) {
  WorstCase w;
  Assessment a = assess(flops, request.compliance_formula, base,
                        {request.prior_modifications, request.prior_modifications_undetermined}, rules);
  w.flops = std::move(flops);
  w.compliance_flop = a.compliance_flop;
  for (size_t i = 0; i < a.regimes.size() && i < m.regimes.size(); ++i) {
    const RuleResult& expected = m.regimes[i];
    if (expected.in_force && a.regimes[i].exceeds && !expected.exceeds) {
      w.changed_verdicts.push_back(expected.regime_id);
    }
  }
  if (!w.changed_verdicts.empty()) {
    m.warnings.push_back("in the sample order that executes the most, " + sci(w.compliance_flop) + " FLOP (" +
                         compliance_formula_name(a.formula) + ") would EXCEED " + join(w.changed_verdicts, ", ") +
                         ", which the expected " + sci(m.compliance_flop) + " FLOP does not");
  }
  return w;
}

}  // namespace

const char* compliance_formula_name(ComplianceFormula f) {
  switch (f) {
    case ComplianceFormula::kDetailed: return "detailed";
    case ComplianceFormula::kEu6nd: return "eu_6nd";
    case ComplianceFormula::kPeftAware: return "peft_aware";
  }
  return "detailed";
}

Result<ComplianceFormula> parse_compliance_formula(const std::string& name) {
  for (ComplianceFormula f : {ComplianceFormula::kDetailed, ComplianceFormula::kEu6nd, ComplianceFormula::kPeftAware})
    if (name == compliance_formula_name(f)) return f;
  return Status::InvalidArgument("unknown formula '" + printable(name) + "'; expected detailed, eu_6nd or peft_aware");
}

Result<EstimateReport> run_estimate(const EstimateRequest& request, const Catalog& catalog) {
  if (request.methods.empty()) return Status::InvalidArgument("no method given (option \"method\" full,lora,...)");
  EstimateReport report;
  report.request = request;
  // The model's own tokenizer counts a dataset when none is given: a Hub id
  // then needs its tokenizer files as well.
  const bool own_tokenizer = request.dataset && request.dataset->tokenizer.empty();
  Result<LoadedModel> loaded = load_model(request.model, catalog, {request.revision, own_tokenizer});
  if (!loaded.ok() && own_tokenizer && catalog.find_model(request.model).ok()) {
    // A catalog id is known without the Hub: only its tokenizer was missing.
    return Status::InvalidArgument("counting a dataset needs a tokenizer, and the model's own could not be fetched (" +
                                   loaded.status().message() + "); give the tokenizer's path");
  }
  FM_ASSIGN_OR_RETURN(report.model, std::move(loaded));
  const Model& model = report.model.model;
  report.params = count_parameters(model);
  EstimateRequest resolved = request;
  std::string tokenizer;
  if (request.dataset) {
    TokenCountRequest dataset = *request.dataset;
    // The tokenizer travels with the model's files (a checkpoint, a config's
    // directory, a Hub snapshot).
    const std::string& model_dir = report.model.model_dir;
    if (dataset.tokenizer.empty() && !model_dir.empty() && is_regular_file(join_path(model_dir, "tokenizer.json"))) {
      dataset.tokenizer = model_dir;
    }
    if (dataset.tokenizer.empty()) {
      return Status::InvalidArgument(
          "counting a dataset needs a tokenizer: " +
          (model_dir.empty() ? std::string("the model is a catalog id, with no files beside it")
                             : "no tokenizer.json in " + model_dir) +
          "; give the tokenizer's path");
    }
    FM_ASSIGN_OR_RETURN(resolved.micro_batch_size, dataset_batch_size(request));
    if (resolved.micro_batch_size > 0) dataset.batch_size = resolved.micro_batch_size;
    FM_ASSIGN_OR_RETURN(TokenCountReport counted, count_tokens(dataset));
    report.dataset = std::move(counted);
    tokenizer = dataset.tokenizer;
  }
  FM_RETURN_IF_ERROR(add_estimate_evidence(report, tokenizer));
  FM_ASSIGN_OR_RETURN(report.workload, build_workload(resolved, model, report.dataset ? &*report.dataset : nullptr));
  if (request.recipe) {
    for (const std::string& note : request.recipe->notes) report.workload.assumptions.push_back("recipe: " + note);
  }
  report.rules_version = catalog.rules().data_version;
  report.data_sources = catalog.sources();

  // Base compute: the user's figure wins; then the catalog's; else unknown.
  if (request.pretrain) {
    report.base = *request.pretrain;
    report.base_status = "given";
  } else if (report.model.catalog_entry && report.model.catalog_entry->pretraining.flop) {
    const PretrainingCompute& p = report.model.catalog_entry->pretraining;
    report.base.flop = p.flop;
    report.base.source = p.source + (p.method.empty() ? "" : " (" + p.method + ")");
    report.base_status = "catalog: " + p.status;
  } else {
    report.base_status = "unknown";
  }
  report.base.systemic_risk =
      request.base_systemic_risk || (report.model.catalog_entry && report.model.catalog_entry->systemic_risk_designated);
  FM_ASSIGN_OR_RETURN(report.eu_threshold, eu_modification_threshold(catalog.rules(), report.base));

  for (const MethodSpec& spec : request.methods) {
    MethodEstimate m;
    FM_ASSIGN_OR_RETURN(m.plan, plan_training(model, spec));
    FM_ASSIGN_OR_RETURN(WorkloadFlops flops, workload_flops(model, m.plan, report.workload));
    m.flops = std::move(flops.expected);
    Assessment a = assess(m.flops, request.compliance_formula, report.base,
                          {request.prior_modifications, request.prior_modifications_undetermined},
                          catalog.rules());
    m.compliance_formula = a.formula;
    m.compliance_flop = a.compliance_flop;
    m.regimes = std::move(a.regimes);
    m.warnings = std::move(a.warnings);
    if (flops.worst_case) {
      m.worst_case = assess_worst_case(std::move(*flops.worst_case), request, report.base, catalog.rules(), m);
    }
    if (request.aws_compat) {
      std::optional<double> pretrain;
      if (report.base.flop) pretrain = to_double(*report.base.flop);
      // The toolkit's own figure is (4 N_total + 2 N_trainable) D.
      m.aws = evaluate_aws_compat(to_double(m.flops.peft_aware), pretrain);
    }
    report.methods.push_back(std::move(m));
  }

  if (!request.gpu.empty() || request.peak_flop_per_s) {
    if (request.gpu_count == 0 || request.hours <= 0) {
      return Status::InvalidArgument("the hardware estimate needs option \"gpus\" N and option \"hours\" H with option \"gpu\" or option \"peak-flops\"");
    }
    if (request.peak_flop_per_s) {
      FM_ASSIGN_OR_RETURN(report.hardware, hardware_estimate(*request.peak_flop_per_s, request.gpu_count, request.hours,
                                                             request.utilization, "option \"peak-flops\""));
      report.hardware_energy_unavailable = "the GPU was given by its peak alone, so its board power is unknown";
    } else {
      FM_ASSIGN_OR_RETURN(const GpuSpec* gpu, find_gpu(catalog.gpus(), request.gpu));
      FM_ASSIGN_OR_RETURN(report.hardware, hardware_estimate(*gpu, request.dtype, request.gpu_count, request.hours,
                                                             request.utilization));
      Result<EnergyEstimate> energy =
          board_energy_estimate(*gpu, static_cast<double>(request.gpu_count) * request.hours * 3600.0);
      if (energy.ok()) {
        report.hardware_energy = *energy;
      } else {
        report.hardware_energy_unavailable = energy.status().message();
      }
    }
  }
  return report;
}

namespace {

// The counts of the workload that are whole numbers in every order: the
// worst case's when the expected one is fixed point.
const Workload& exact_shape(const EstimateWorkload& w) { return w.worst_case ? *w.worst_case : w.expected; }

// D: "696350", or "1392699/2 (~6.96e+05)" when a partial epoch's share is fractional.
std::string tokens_exact(const EstimateWorkload& w) { return w.tokens.to_string(); }

// Executed positions (padding included) in units of 2^-fraction_bits.
struct Positions {
  Flop units = 0;
  Flop tokens_units = 0;
  unsigned bits = 0;
  double padding_share() const {
    return units > tokens_units ? to_double(units - tokens_units) / to_double(units) : 0.0;
  }
  std::string text() const { return bits == 0 ? with_commas(units) : fixed_point_text(units, bits); }
  std::string json() const { return bits == 0 ? to_decimal(units) : fixed_point_text(units, bits, 3, false); }
};

Positions expected_positions(const EstimateWorkload& w) {
  return {w.expected.executed_positions(), w.expected.tokens, w.fraction_bits};
}

Positions worst_positions(const EstimateWorkload& w) {
  return {w.worst_case->executed_positions(), w.worst_case->tokens, 0};
}

// Epochs as given: 3, not 3.0.
nlohmann::json epochs_json(double epochs) {
  if (epochs == std::floor(epochs) && epochs < 0x1p53) return static_cast<uint64_t>(epochs);
  return epochs;
}

nlohmann::json schedule_json(const EstimateWorkload& w) {
  const EpochSchedule& s = w.schedule;
  return {{"unit", s.unit},
          {"units_per_epoch", s.units_per_epoch},
          {"batch_size", s.batch_size},
          {"batch_size_known", w.batch_size_known},
          {"micro_batches_per_step", s.per_step},
          {"batches_per_epoch", s.batches_per_epoch},
          {"steps_per_epoch", s.steps_per_epoch},
          {"max_steps", s.max_steps},
          {"whole_epochs", s.whole_epochs},
          {"partial_epoch_steps", s.partial_steps},
          {"partial_epoch_batches", s.partial_batches},
          {"arithmetic",
           {"batches_per_epoch = ceil(" + std::to_string(s.units_per_epoch) + " / " + std::to_string(s.batch_size) +
                ") = " + std::to_string(s.batches_per_epoch),
            "steps_per_epoch = max(ceil(" + std::to_string(s.batches_per_epoch) + " / " + std::to_string(s.per_step) +
                "), 1) = " + std::to_string(s.steps_per_epoch),
            s.steps_given ? "max_steps = " + std::to_string(s.max_steps) + " (given; it overrides the epochs)"
                          : "max_steps = ceil(" + epochs_json(s.epochs).dump() + " x " +
                                std::to_string(s.steps_per_epoch) + ") = " + std::to_string(s.max_steps) +
                                " (a double product, as Python computes it)",
            "whole_epochs = " + std::to_string(s.max_steps) + " div " + std::to_string(s.steps_per_epoch) + " = " +
                std::to_string(s.whole_epochs) + "; partial epoch = " + std::to_string(s.partial_steps) +
                " steps = " + std::to_string(s.partial_batches) + " batches",
            "D = " + std::to_string(s.whole_epochs) + " x epoch tokens + epoch tokens x " +
                std::to_string(s.partial_batches * s.batch_size) + " / " + std::to_string(s.units_per_epoch) +
                " = " + tokens_exact(w)}}};
}

nlohmann::json workload_json(const EstimateReport& r) {
  const EstimateWorkload& w = r.workload;
  const Workload& shape = exact_shape(w);
  const Positions expected = expected_positions(w);
  nlohmann::json j = {{"tokens", w.tokens.to_double()},
                      {"tokens_exact", tokens_exact(w)},
                      {"executed_positions", expected.json()},
                      {"padding_share", expected.padding_share()},
                      {"expected_over_shuffles", w.fraction_bits > 0},
                      {"fraction_bits", w.fraction_bits},
                      {"epochs", epochs_json(r.request.epochs)},
                      {"schedule", schedule_json(w)},
                      {"attention_kernel", attention_kernel_name(shape.kernel)},
                      {"gradient_checkpointing", shape.gradient_checkpointing},
                      {"micro_batches", shape.micro_batches},
                      {"optimizer_steps", shape.optimizer_steps},
                      {"assumptions", w.assumptions}};
  if (w.worst_case) {
    const Positions worst = worst_positions(w);
    j["worst_case"] = {{"tokens", number(w.worst_case->tokens)},
                       {"tokens_exact", to_decimal(w.worst_case->tokens)},
                       {"executed_positions", worst.json()},
                       {"padding_share", worst.padding_share()},
                       {"upper_bound", w.worst_case_is_bound}};
  } else {
    j["worst_case"] = nullptr;
  }
  if (r.dataset) {
    const TokenCountReport& d = *r.dataset;
    j["layout"] = {{"name", layout_name(d.layout)}};
    if (batches_are_padded(d.layout)) {
      j["layout"]["order"] = sample_order_name(d.order);
      j["layout"]["batch_size"] = d.batch_size;
      j["layout"]["batch_size_default"] = d.default_batch_size;
    }
    j["dataset_coverage"] = {{"records_counted", d.samples},
                             {"records_skipped", d.skipped},
                             {"d_covers", d.skipped > 0 ? "the counted records only" : "every record"}};
  }
  return j;
}

nlohmann::json aws_json(const AwsCompatResult& aws) {
  return {{"threshold_type", aws.threshold_type},
          {"threshold_value", aws.threshold_value},
          {"effective_threshold_flop", aws.effective_threshold_flop},
          {"exceeds_30pct", aws.exceeds_30pct ? nlohmann::json(*aws.exceeds_30pct) : nlohmann::json()},
          {"pct_of_pretrain", aws.pct_of_pretrain ? nlohmann::json(*aws.pct_of_pretrain) : nlohmann::json()},
          {"note", "the AWS toolkit's rule (0.30, 3.3e22), reproduced for comparison; not the Guidelines' rule"}};
}

nlohmann::json method_json(const EstimateReport& r, const MethodEstimate& m) {
  nlohmann::json regimes = nlohmann::json::array();
  for (const RuleResult& rr : m.regimes) regimes.push_back(rule_result_json(rr));
  nlohmann::json adapters = nlohmann::json::array();
  for (const Adapter& a : m.plan.adapters) {
    adapters.push_back({{"module", a.module_path}, {"r", a.r}, {"in", a.in_features}, {"out", a.out_features},
                        {"params", a.lora_params + a.magnitude_params}});
  }
  nlohmann::json j = {
      {"method", method_name(m.plan.spec.kind)},
      {"settings", method_settings_json(m.plan.spec)},
      {"params_trainable", m.plan.params_trainable},
      {"params_all", m.plan.params_all},
      {"trainable_fraction", static_cast<double>(m.plan.params_trainable) / static_cast<double>(m.plan.params_all)},
      {"adapters", adapters.size()},
      {"tokens", r.workload.tokens.to_double()},
      {"tokens_exact", tokens_exact(r.workload)},
      {"compliance_formula", compliance_formula_name(m.compliance_formula)},
      {"compliance_flop", number(m.compliance_flop)},
      {"compliance_exact", to_decimal(m.compliance_flop)},
      {"regimes", regimes},
      {"notes", m.plan.notes},
      {"warnings", m.warnings},
  };
  j.update(formulas_json(m.flops, m.plan.params_all, m.plan.params_trainable, exact_shape(r.workload)));
  if (r.workload.fraction_bits > 0) {
    // The inputs of the expected figures, rather than the worst case's.
    nlohmann::json& formulas = j["formulas"];
    for (const char* f : {"eu_6nd", "peft_aware"}) formulas[f]["inputs"]["D"] = tokens_exact(r.workload);
    if (formulas["detailed"].contains("inputs")) {
      formulas["detailed"]["inputs"]["executed_positions"] = expected_positions(r.workload).json();
    }
  }
  if (m.worst_case) {
    const WorstCase& w = *m.worst_case;
    nlohmann::json worst = formulas_json(w.flops, m.plan.params_all, m.plan.params_trainable, *r.workload.worst_case);
    j["worst_case"] = {{"flops", worst["flops"]},
                       {"flops_exact", worst["flops_exact"]},
                       {"compliance_flop", number(w.compliance_flop)},
                       {"compliance_exact", to_decimal(w.compliance_flop)},
                       {"changed_verdicts", w.changed_verdicts}};
  }
  if (m.aws) j["aws_compat"] = aws_json(*m.aws);
  return j;
}

}  // namespace

// The planned GPU time at board power, or null figures with the reason.
nlohmann::json hardware_energy_json(const EstimateReport& r) {
  if (!r.hardware_energy) {
    return {{"joules", nullptr}, {"mwh", nullptr}, {"formula", nullptr}, {"source", nullptr},
            {"reason", r.hardware_energy_unavailable}};
  }
  const EnergyEstimate& e = *r.hardware_energy;
  return {{"joules", e.joules}, {"mwh", e.joules / 3.6e9}, {"formula", e.formula}, {"source", e.source},
          {"reason", nullptr},
          {"note", "an upper estimate: every planned GPU at its board's maximum power for all the planned hours"}};
}

std::string estimate_to_json(const EstimateReport& r) {
  nlohmann::json methods = nlohmann::json::array();
  for (const MethodEstimate& m : r.methods) methods.push_back(method_json(r, m));
  nlohmann::json base = {{"status", r.base_status}, {"systemic_risk", r.base.systemic_risk}};
  base["flop"] = r.base.flop ? number(*r.base.flop) : nlohmann::json();
  if (r.base.flop) base["exact"] = to_decimal(*r.base.flop);
  base["source"] = r.base.source;
  nlohmann::json out = {
      {"schema", "flopsmeter.estimate/1"},
      {"tool", {{"name", "flopsmeter"}, {"version", FLOPSMETER_VERSION_STRING}}},
      {"provenance", estimate_provenance_json(r)},
      {"model", model_json(r.model, r.params)},
      {"workload", workload_json(r)},
      {"base_model_compute", base},
      {"eu_modification_threshold",
       {{"threshold_flop", r.eu_threshold.threshold_flop.to_double()},
        {"threshold_exact", r.eu_threshold.threshold_flop.to_string()},
        {"basis", r.eu_threshold.basis},
        {"explanation", r.eu_threshold.explanation}}},
      {"methods", methods},
      {"dataset", r.dataset ? token_count_json(*r.dataset) : nlohmann::json()},
      {"rules_version", r.rules_version},
      {"data_sources", r.data_sources},
  };
  if (r.hardware) {
    out["hardware_estimate"] = {{"flop", r.hardware->flop},
                                {"peak_flop_per_s", r.hardware->peak_flop_per_s},
                                {"gpus", r.hardware->gpus},
                                {"hours", r.hardware->hours},
                                {"utilization", r.hardware->utilization},
                                {"formula", r.hardware->formula},
                                {"source", r.hardware->source},
                                {"energy", hardware_energy_json(r)},
                                {"note", "planning figure: U = 1 is the upper bound; the Guidelines' worked examples "
                                         "(Annex A.3) assume U = 0.5 as typical; pass option \"utilization\" to use another"}};
  }
  return json_text(out);
}

namespace {

// "Dataset    train.jsonl: 1,920 records counted, 80 SKIPPED ...", with the
// skipped records' causes, so that what D covers is read first.
std::string dataset_text(const TokenCountReport& d) {
  std::string files;
  for (const std::string& f : d.files) files += (files.empty() ? "" : ", ") + printable_text(f);
  std::string out = "Dataset    " + files + ": " + with_commas(d.samples) + " records counted, ";
  if (d.skipped == 0) return out + "none skipped\n";
  out += with_commas(d.skipped) + " SKIPPED and not in D: D covers the counted records only\n";
  return out + skipped_text(d, "           skipped: ", "                    ");
}

std::string workload_text(const EstimateReport& r) {
  const EstimateWorkload& w = r.workload;
  const Workload& shape = exact_shape(w);
  std::string out = "Workload   D = " +
                    (w.tokens.den == 1 ? with_commas(w.tokens.num) + " tokens"
                                       : fixed_point_text(w.expected.tokens, w.fraction_bits) +
                                             " tokens (expected over shuffles)") +
                    "; attention " + attention_kernel_name(shape.kernel) +
                    (shape.gradient_checkpointing ? "; gradient checkpointing" : "") + "\n";
  const Positions expected = expected_positions(w);
  out += "           executed positions " + std::string(w.worst_case ? "expected " : "") + expected.text() + " (" +
         percent(expected.padding_share()) + " padding)";
  if (w.worst_case) {
    const Positions worst = worst_positions(w);
    out += "; " + std::string(w.worst_case_is_bound ? "at most " : "worst-case order ") + worst.text() + " (" +
           percent(worst.padding_share()) + " padding)";
  }
  out += "\n";
  if (r.request.recipe) {
    out += "           settings read from " + r.request.recipe->file + " (" + r.request.recipe->dialect + " recipe, " +
           std::to_string(r.request.recipe->settings.size()) + " settings)\n";
  }
  for (const std::string& a : w.assumptions) out += "           - " + a + "\n";
  return out;
}

// The AWS toolkit's verdict per method, as its record writes it.
std::string aws_text(const EstimateReport& r) {
  std::string out = "\nAWS toolkit's verdict (its rule on peft_aware: 0.30 of a known base of 1e23 or more, else "
                    "3.3e22; not the Guidelines' rule)\n";
  for (const MethodEstimate& me : r.methods) {
    const AwsCompatResult& a = *me.aws;
    char pct[32] = "null";
    if (a.pct_of_pretrain) std::snprintf(pct, sizeof pct, "%.3g", *a.pct_of_pretrain);
    char row[256];
    std::snprintf(row, sizeof row,
                  "  %-9s threshold_type %s, threshold_value %s, exceeds_30pct %s, pct_of_pretrain %s\n",
                  method_name(me.plan.spec.kind), a.threshold_type.c_str(), sci(a.threshold_value, 3).c_str(),
                  a.exceeds_30pct ? (*a.exceeds_30pct ? "true" : "false") : "null", pct);
    out += row;
  }
  return out;
}

std::string method_table(const EstimateReport& r) {
  const bool worst = r.workload.worst_case.has_value();
  auto row = [&](const std::string& method, const std::string& trainable, const std::string& share,
                 const std::string& eu_6nd, const std::string& peft_aware, const std::string& detailed,
                 const std::string& worst_figure, const std::string& verdict, const std::string& headroom) {
    char line[256];
    std::snprintf(line, sizeof line, "%-9s %15s %9s %10s %10s %10s", method.c_str(), trainable.c_str(), share.c_str(),
                  eu_6nd.c_str(), peft_aware.c_str(), detailed.c_str());
    std::string out = line;
    if (worst) {
      std::snprintf(line, sizeof line, " %10s", worst_figure.c_str());
      out += line;
    }
    std::snprintf(line, sizeof line, "  %-16s %s\n", verdict.c_str(), headroom.c_str());
    return out + line;
  };
  std::string out = row("method", "trainable", "share", "eu_6nd", "peft_aware", "detailed", "worst", "EU modif.",
                        "headroom");
  for (const MethodEstimate& me : r.methods) {
    const RuleResult* eu = nullptr;
    for (const RuleResult& rr : me.regimes)
      if (rr.regime_id == "eu_modification") eu = &rr;
    std::string verdict = eu ? (eu->exceeds ? "EXCEEDS" : "below") + std::string(" ") + percent(eu->fraction_of_threshold)
                             : "-";
    // Headroom before the threshold, or, past it, what to cut to get under.
    std::string headroom = "-";
    if (eu && eu->exceeds) {
      headroom = eu->tokens_to_cut ? "cut " + sci(*eu->tokens_to_cut) + " tokens" : "-";
    } else if (eu && eu->headroom_tokens) {
      headroom = sci(*eu->headroom_tokens) + " tokens";
    }
    out += row(method_name(me.plan.spec.kind), with_commas(me.plan.params_trainable),
               percent(static_cast<double>(me.plan.params_trainable) / static_cast<double>(me.plan.params_all)),
               sci(me.flops.eu_6nd), sci(me.flops.peft_aware),
               me.flops.detailed.available ? sci(me.flops.detailed.total()) : "n/a",
               me.worst_case ? sci(me.worst_case->compliance_flop) : "-", verdict, headroom);
  }
  if (worst) {
    out += std::string("(figures expected over shuffles; worst: the compared figure in the sample order that ") +
           (r.workload.worst_case_is_bound ? "executes the most, bounded" : "executes the most") + ")\n";
  }
  return out;
}

std::string notes_text(const EstimateReport& r);

}  // namespace

std::string estimate_to_text(const EstimateReport& r) {
  std::ostringstream o;
  // The answer first: what each method would make of the person running it.
  o << verdict_text(estimate_outcomes(r)) << "\n";
  const Model& m = r.model.model;
  o << "Model      " << printable_text(m.id) << " (" << m.arch.model_type << ", " << r.model.source_kind << ")\n";
  o << "Parameters " << with_commas(r.params.total) << " total";
  if (r.params.active_per_token != r.params.total) o << ", " << with_commas(r.params.active_per_token) << " active per token";
  o << "\n";
  if (r.dataset) o << dataset_text(*r.dataset);
  o << workload_text(r);
  o << "Base       " << (r.base.flop ? sci(*r.base.flop) + " FLOP (" + r.base_status + ": " + r.base.source + ")"
                                    : std::string("pretraining compute unknown"))
    << (r.base.systemic_risk ? ", systemic-risk base" : "") << "\n";
  o << "EU modification threshold " << sci(r.eu_threshold.threshold_flop.to_double(), 3) << " FLOP ("
    << r.eu_threshold.basis << ")\n\n";
  o << method_table(r);
  if (r.methods.front().aws) o << aws_text(r);
  o << notes_text(r);
  if (r.hardware) {
    o << "\nHardware estimate (planning): " << r.hardware->formula << "\n  peak: " << r.hardware->source << "\n";
  }
  o << "\nEU explanation: " << r.eu_threshold.explanation << "\n";
  o << "Details, formulas and sources: option \"json\". Rules data " << r.rules_version << ".\n";
  return o.str();
}

namespace {

// The regimes' caveats and the plans' notes: those common to every method
// once, then each method's own.
std::string notes_text(const EstimateReport& r) {
  std::ostringstream o;
  std::vector<std::vector<std::string>> per_method;
  for (const MethodEstimate& me : r.methods) {
    std::vector<std::string> lines;
    for (const RuleResult& rr : me.regimes)
      if (rr.in_force)
        for (const std::string& w : rr.warnings) lines.push_back(rr.regime_id + ": " + w);
    for (const std::string& w : me.warnings) lines.push_back(w);
    for (const std::string& n : me.plan.notes) lines.push_back(n);
    per_method.push_back(lines);
  }
  auto in_all = [&](const std::string& line) {
    return std::all_of(per_method.begin(), per_method.end(),
                       [&](const std::vector<std::string>& v) { return std::count(v.begin(), v.end(), line) > 0; });
  };
  std::vector<std::string> common;
  for (const std::string& l : per_method.front())
    if (in_all(l)) common.push_back(l);
  if (!common.empty()) {
    o << "\nNotes:\n";
    for (const std::string& l : common) o << "  - " << l << "\n";
  }
  for (size_t i = 0; i < r.methods.size(); ++i) {
    std::vector<std::string> own;
    for (const std::string& l : per_method[i])
      if (r.methods.size() == 1 || !in_all(l)) own.push_back(l);
    if (own.empty() || r.methods.size() == 1) continue;
    o << "\nNotes for " << method_name(r.methods[i].plan.spec.kind) << ":\n";
    for (const std::string& l : own) o << "  - " << l << "\n";
  }
  return o.str();
}

}  // namespace

}  // namespace flopsmeter
