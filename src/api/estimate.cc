#include "flopsmeter/estimate.h"

#include <algorithm>
#include <sstream>

#include "api/assessment.h"
#include "api/report_format.h"
#include "api/verdict.h"
#include "core/strict_fields.h"
#include "flopsmeter/version.h"

namespace flopsmeter {
namespace {

constexpr uint64_t kDefaultSeqLen = 2048;

uint64_t ceil_div(uint64_t a, uint64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

Result<Workload> build_workload(const EstimateRequest& r, const Model& model, const TokenCountReport* dataset,
                                std::vector<std::string>& notes) {
  if (r.epochs == 0) return Status::InvalidArgument("--epochs must be at least 1");
  const int sources = (r.tokens_per_epoch ? 1 : 0) + (r.samples ? 1 : 0) + (dataset ? 1 : 0);
  if (sources > 1) return Status::InvalidArgument("give one of --tokens, --samples or --dataset, not several");
  if (sources == 0) {
    return Status::InvalidArgument("no workload: give --dataset FILES, --tokens N, or --samples N with --seq-len L");
  }
  if (dataset) {
    if (r.seq_len) return Status::InvalidArgument("--seq-len does not apply to --dataset (use --max-length)");
    Workload w;
    w.kernel = r.kernel;
    w.gradient_checkpointing = r.gradient_checkpointing;
    if (!checked_mul(dataset->tokens, r.epochs, &w.tokens)) return Status::Overflow("dataset tokens x epochs overflows");
    for (const auto& [length, count] : dataset->sequences) w.sequences[length] = count * r.epochs;
    notes.push_back("D counted exactly from the dataset: " + with_commas(dataset->tokens) + " trained-on tokens in " +
                    with_commas(dataset->samples) + " samples per epoch (" + with_commas(dataset->skipped) +
                    " malformed records skipped); sequences as laid out (" + layout_name(dataset->layout) + ")");
    for (const std::string& n : dataset->notes) notes.push_back("dataset: " + n);
    if (r.epochs > 1) notes.push_back(std::to_string(r.epochs) + " epochs: D counts every epoch");
    if (r.micro_batch_size > 0) {
      const uint64_t micro_per_epoch = ceil_div(dataset->rows, r.micro_batch_size);
      w.micro_batches = micro_per_epoch * r.epochs;
      const uint64_t per_step =
          std::max<uint64_t>(1, r.gradient_accumulation) * std::max<uint64_t>(1, r.data_parallel);
      w.optimizer_steps = ceil_div(micro_per_epoch, per_step) * r.epochs;
    }
    return w;
  }
  uint64_t seq = 0;
  if (r.seq_len) {
    if (*r.seq_len == 0) return Status::InvalidArgument("--seq-len must be positive");
    seq = *r.seq_len;
  } else if (r.samples) {
    return Status::InvalidArgument("--samples needs --seq-len (tokens per sample)");
  } else {
    seq = kDefaultSeqLen;
    if (model.arch.max_position_embeddings > 0) seq = std::min<uint64_t>(seq, model.arch.max_position_embeddings);
    notes.push_back("sequence length not given: " + std::to_string(seq) +
                    " assumed for the attention term (--seq-len sets it)");
  }
  Workload w;
  w.kernel = r.kernel;
  w.gradient_checkpointing = r.gradient_checkpointing;
  uint64_t sequences_per_epoch = 0;
  if (r.samples) {
    if (*r.samples == 0) return Status::InvalidArgument("--samples must be positive");
    sequences_per_epoch = *r.samples;
    w.sequences[seq] = *r.samples * r.epochs;
    w.tokens = static_cast<Flop>(*r.samples) * seq * r.epochs;
    notes.push_back("every sample assumed to fill --seq-len " + std::to_string(seq) +
                    " tokens (an upper bound; `--dataset` counts them exactly)");
  } else {
    Flop d = *r.tokens_per_epoch;
    if (d == 0) return Status::InvalidArgument("--tokens must be positive");
    Flop full = d / seq, rest = d % seq;
    if (full > 0) w.sequences[seq] += static_cast<uint64_t>(full) * r.epochs;
    if (rest > 0) w.sequences[static_cast<uint64_t>(rest)] += r.epochs;
    sequences_per_epoch = static_cast<uint64_t>(full + (rest > 0 ? 1 : 0));
    w.tokens = d * r.epochs;
    notes.push_back("tokens packed into sequences of " + std::to_string(seq) + " (" +
                    std::to_string(sequences_per_epoch) + " per epoch)");
  }
  if (r.epochs > 1) notes.push_back(std::to_string(r.epochs) + " epochs: D counts every epoch");
  if (r.micro_batch_size > 0) {
    uint64_t micro_per_epoch = ceil_div(sequences_per_epoch, r.micro_batch_size);
    w.micro_batches = micro_per_epoch * r.epochs;
    uint64_t per_step = std::max<uint64_t>(1, r.gradient_accumulation) * std::max<uint64_t>(1, r.data_parallel);
    w.optimizer_steps = ceil_div(micro_per_epoch, per_step) * r.epochs;
    notes.push_back("micro-batch " + std::to_string(r.micro_batch_size) + ", gradient accumulation " +
                    std::to_string(r.gradient_accumulation) + ", data-parallel ranks " + std::to_string(r.data_parallel) +
                    ": " + std::to_string(w.optimizer_steps) + " optimizer steps");
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
  if (request.methods.empty()) return Status::InvalidArgument("no method given (--method full,lora,...)");
  EstimateReport report;
  report.request = request;
  FM_ASSIGN_OR_RETURN(report.model, load_model(request.model, catalog));
  const Model& model = report.model.model;
  report.params = count_parameters(model);
  if (request.dataset) {
    TokenCountRequest dataset = *request.dataset;
    // The tokenizer travels with a checkpoint directory.
    if (dataset.tokenizer.empty() && report.model.source_kind == "checkpoint") dataset.tokenizer = request.model;
    if (dataset.tokenizer.empty()) {
      return Status::InvalidArgument("--dataset needs --tokenizer PATH (the model is not a directory holding one)");
    }
    FM_ASSIGN_OR_RETURN(TokenCountReport counted, count_tokens(dataset));
    report.dataset = std::move(counted);
  }
  FM_ASSIGN_OR_RETURN(report.workload, build_workload(request, model, report.dataset ? &*report.dataset : nullptr,
                                                      report.workload_assumptions));
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
    FM_ASSIGN_OR_RETURN(m.flops, estimate_flops(model, m.plan, report.workload));
    Assessment a = assess(m.flops, request.compliance_formula, report.base, request.prior_modifications,
                          catalog.rules());
    m.compliance_formula = a.formula;
    m.compliance_flop = a.compliance_flop;
    m.regimes = std::move(a.regimes);
    m.warnings = std::move(a.warnings);
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
      return Status::InvalidArgument("the hardware estimate needs --gpus N and --hours H with --gpu or --peak-flops");
    }
    if (request.peak_flop_per_s) {
      FM_ASSIGN_OR_RETURN(report.hardware, hardware_estimate(*request.peak_flop_per_s, request.gpu_count, request.hours,
                                                             request.utilization, "--peak-flops"));
    } else {
      FM_ASSIGN_OR_RETURN(const GpuSpec* gpu, find_gpu(catalog.gpus(), request.gpu));
      FM_ASSIGN_OR_RETURN(report.hardware, hardware_estimate(*gpu, request.dtype, request.gpu_count, request.hours,
                                                             request.utilization));
    }
  }
  return report;
}

std::string estimate_to_json(const EstimateReport& r) {
  nlohmann::json methods = nlohmann::json::array();
  for (const MethodEstimate& m : r.methods) {
    nlohmann::json regimes = nlohmann::json::array();
    for (const RuleResult& rr : m.regimes) regimes.push_back(rule_result_json(rr));
    nlohmann::json adapters = nlohmann::json::array();
    for (const Adapter& a : m.plan.adapters) {
      adapters.push_back({{"module", a.module_path}, {"r", a.r}, {"in", a.in_features}, {"out", a.out_features},
                          {"params", a.lora_params + a.magnitude_params}});
    }
    nlohmann::json j = {
        {"method", method_name(m.plan.spec.kind)},
        {"params_trainable", m.plan.params_trainable},
        {"params_all", m.plan.params_all},
        {"trainable_fraction", static_cast<double>(m.plan.params_trainable) / static_cast<double>(m.plan.params_all)},
        {"adapters", adapters.size()},
        {"tokens", number(r.workload.tokens)},
        {"tokens_exact", to_decimal(r.workload.tokens)},
        {"compliance_formula", compliance_formula_name(m.compliance_formula)},
        {"compliance_flop", number(m.compliance_flop)},
        {"compliance_exact", to_decimal(m.compliance_flop)},
        {"regimes", regimes},
        {"notes", m.plan.notes},
        {"warnings", m.warnings},
    };
    j.update(formulas_json(m.flops, m.plan.params_all, m.plan.params_trainable, r.workload));
    if (m.aws) {
      j["aws_compat"] = {{"threshold_type", m.aws->threshold_type},
                         {"threshold_value", m.aws->threshold_value},
                         {"effective_threshold_flop", m.aws->effective_threshold_flop},
                         {"exceeds_30pct", m.aws->exceeds_30pct ? nlohmann::json(*m.aws->exceeds_30pct) : nlohmann::json()},
                         {"pct_of_pretrain", m.aws->pct_of_pretrain ? nlohmann::json(*m.aws->pct_of_pretrain) : nlohmann::json()},
                         {"note", "the AWS toolkit's rule (0.30, 3.3e22), reproduced for comparison; not the Guidelines' rule"}};
    }
    methods.push_back(j);
  }
  nlohmann::json base = {{"status", r.base_status}, {"systemic_risk", r.base.systemic_risk}};
  base["flop"] = r.base.flop ? number(*r.base.flop) : nlohmann::json();
  if (r.base.flop) base["exact"] = to_decimal(*r.base.flop);
  base["source"] = r.base.source;
  nlohmann::json out = {
      {"schema", "flopsmeter.estimate/1"},
      {"tool", {{"name", "flopsmeter"}, {"version", FLOPSMETER_VERSION_STRING}}},
      {"model", model_json(r.model, r.params)},
      {"workload",
       {{"tokens", number(r.workload.tokens)},
        {"tokens_exact", to_decimal(r.workload.tokens)},
        {"executed_positions", to_decimal(r.workload.executed_positions())},
        {"epochs", r.request.epochs},
        {"attention_kernel", attention_kernel_name(r.workload.kernel)},
        {"gradient_checkpointing", r.workload.gradient_checkpointing},
        {"micro_batches", r.workload.micro_batches},
        {"optimizer_steps", r.workload.optimizer_steps},
        {"assumptions", r.workload_assumptions}}},
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
                                {"note", "planning figure: U = 1 is the upper bound; the Guidelines' worked examples "
                                         "(Annex A.3) assume U = 0.5 as typical; pass --utilization to use another"}};
  }
  return json_text(out);
}

std::string estimate_to_text(const EstimateReport& r) {
  std::ostringstream o;
  // The answer first: what each method would make of the person running it.
  o << verdict_text(estimate_outcomes(r)) << "\n";
  const Model& m = r.model.model;
  o << "Model      " << m.id << " (" << m.arch.model_type << ", " << r.model.source_kind << ")\n";
  o << "Parameters " << with_commas(r.params.total) << " total";
  if (r.params.active_per_token != r.params.total) o << ", " << with_commas(r.params.active_per_token) << " active per token";
  o << "\n";
  o << "Workload   D = " << with_commas(r.workload.tokens) << " tokens; attention "
    << attention_kernel_name(r.workload.kernel) << (r.workload.gradient_checkpointing ? "; gradient checkpointing" : "")
    << "\n";
  for (const std::string& a : r.workload_assumptions) o << "           - " << a << "\n";
  o << "Base       " << (r.base.flop ? sci(*r.base.flop) + " FLOP (" + r.base_status + ": " + r.base.source + ")"
                                    : std::string("pretraining compute unknown"))
    << (r.base.systemic_risk ? ", systemic-risk base" : "") << "\n";
  o << "EU modification threshold " << sci(r.eu_threshold.threshold_flop.to_double(), 3) << " FLOP ("
    << r.eu_threshold.basis << ")\n\n";

  char row[256];
  std::snprintf(row, sizeof row, "%-9s %15s %9s %10s %10s %10s  %-16s %s\n", "method", "trainable", "share",
                "eu_6nd", "peft_aware", "detailed", "EU modif.", "headroom");
  o << row;
  for (const MethodEstimate& me : r.methods) {
    const RuleResult* eu = nullptr;
    for (const RuleResult& rr : me.regimes)
      if (rr.regime_id == "eu_modification") eu = &rr;
    std::string verdict = eu ? (eu->exceeds ? "EXCEEDS" : "below") + std::string(" ") + percent(eu->fraction_of_threshold)
                             : "-";
    std::string headroom = eu && eu->headroom_tokens ? sci(*eu->headroom_tokens) + " tokens" : "-";
    std::snprintf(row, sizeof row, "%-9s %15s %9s %10s %10s %10s  %-16s %s\n", method_name(me.plan.spec.kind),
                  with_commas(me.plan.params_trainable).c_str(),
                  percent(static_cast<double>(me.plan.params_trainable) / static_cast<double>(me.plan.params_all)).c_str(),
                  sci(me.flops.eu_6nd).c_str(), sci(me.flops.peft_aware).c_str(),
                  me.flops.detailed.available ? sci(me.flops.detailed.total()).c_str() : "n/a", verdict.c_str(),
                  headroom.c_str());
    o << row;
  }
  o << "\nRegimes (compared figure: " << compliance_formula_name(r.methods.front().compliance_formula) << ")\n";
  for (size_t i = 0; i < r.methods.front().regimes.size(); ++i) {
    const RuleResult& first = r.methods.front().regimes[i];
    o << "  " << first.regime_id << " [" << regime_status_name(first.status) << "] threshold "
      << sci(first.threshold.to_double(), 3) << " (" << first.threshold_basis << ", "
      << compute_basis_name(first.compute_basis) << "):";
    for (const MethodEstimate& me : r.methods) {
      const RuleResult& rr = me.regimes[i];
      o << " " << method_name(me.plan.spec.kind) << "=" << (rr.exceeds ? "EXCEEDS" : (rr.determinate ? "below" : "below?"));
    }
    o << "\n";
  }
  bool indeterminate = false;
  for (const MethodEstimate& me : r.methods)
    for (const RuleResult& rr : me.regimes) indeterminate = indeterminate || !rr.determinate;
  if (indeterminate) {
    o << "  (below? = below on the known part; the cumulative figure needs the base model's compute)\n";
  }
  // Caveats common to every method are printed once.
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
  if (r.hardware) {
    o << "\nHardware estimate (planning): " << r.hardware->formula << "\n  peak: " << r.hardware->source << "\n";
  }
  o << "\nEU explanation: " << r.eu_threshold.explanation << "\n";
  o << "Details, formulas and sources: --json. Rules data " << r.rules_version << ".\n";
  return o.str();
}

}  // namespace flopsmeter
