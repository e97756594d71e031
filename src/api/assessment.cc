#include "api/assessment.h"

#include "api/report_format.h"

namespace flopsmeter {

Flop formula_figure(const FlopsEstimate& f, ComplianceFormula which) {
  switch (which) {
    case ComplianceFormula::kDetailed: return f.detailed.total();
    case ComplianceFormula::kEu6nd: return f.eu_6nd;
    case ComplianceFormula::kPeftAware: return f.peft_aware;
  }
  return f.eu_6nd;
}

Assessment assess(const FlopsEstimate& f, ComplianceFormula requested, const BaseCompute& base,
                  const PriorModifications& prior, const RuleSet& rules,
                  const std::optional<UnknownModification>& unknown) {
  Assessment a;
  a.formula = requested;
  if (a.formula == ComplianceFormula::kDetailed && !f.detailed.available) {
    a.formula = ComplianceFormula::kEu6nd;
    a.warnings.push_back("detailed formula unavailable (" + f.detailed.unavailable_reason +
                         "); the regimes compare eu_6nd instead");
  }
  a.compliance_flop = formula_figure(f, a.formula);
  RuleInput in;
  in.modification_flop = a.compliance_flop;
  in.base = base;
  in.prior_modifications_flop = prior.flop;
  in.prior_modifications_undetermined = prior.undetermined;
  in.tokens = f.tokens;
  in.formula_name = compliance_formula_name(a.formula);
  if (unknown) {
    in.modification_undetermined = true;
    in.undetermined_reason = unknown->reason;
    in.modification_upper_bound = unknown->upper_bound;
    in.upper_bound_name = unknown->upper_bound_name;
  }
  for (ComplianceFormula other : {ComplianceFormula::kDetailed, ComplianceFormula::kEu6nd, ComplianceFormula::kPeftAware}) {
    if (other == a.formula) continue;
    if (other == ComplianceFormula::kDetailed && !f.detailed.available) continue;
    in.other_formulas.emplace_back(compliance_formula_name(other), formula_figure(f, other));
  }
  a.regimes = evaluate_rules(rules, in);
  return a;
}

nlohmann::json formulas_json(const FlopsEstimate& f, uint64_t n_total_count, uint64_t n_trainable_count,
                             const Workload& workload) {

  nlohmann::json flops = {{"eu_6nd", number(f.eu_6nd)}, {"peft_aware", number(f.peft_aware)}};
  nlohmann::json exact = {{"eu_6nd", to_decimal(f.eu_6nd)}, {"peft_aware", to_decimal(f.peft_aware)}};
  std::string n_total = to_decimal(n_total_count), n_train = to_decimal(n_trainable_count),
              d = to_decimal(f.tokens);
  nlohmann::json formulas = {
      {"eu_6nd",
       {{"formula", "6 x N_total x D"},
        {"inputs", {{"N_total", n_total}, {"D", d}}},
        {"source", "Commission GPAI Guidelines C(2025) 5045, Annex A.2.2"},
        {"assumptions", {"N_total counts adapters (parameters after the PEFT wrap)", "D = training tokens, all epochs"}}}},
      {"peft_aware",
       {{"formula", "(4 x N_total + 2 x N_trainable) x D"},
        {"inputs", {{"N_total", n_total}, {"N_trainable", n_train}, {"D", d}}},
        {"source", "AWS Fine-Tuning FLOPs Meter (flops_meter.py), with N counted after the PEFT wrap"},
        {"assumptions", {"forward 2N and input-gradient 2N for every parameter; weight gradients only for trainable"}}}},
  };
  if (f.detailed.available) {
    const DetailedFlops& dd = f.detailed;
    flops["detailed"] = number(dd.total());
    exact["detailed"] = to_decimal(dd.total());
    formulas["detailed"] = {
        {"formula", "forward + backward, matmul by matmul over the architecture"},
        {"forward", to_decimal(dd.forward)},
        {"backward", to_decimal(dd.backward)},
        {"forward_attention", to_decimal(dd.forward_attention)},
        {"backward_attention", to_decimal(dd.backward_attention)},
        {"adapter_forward", to_decimal(dd.adapter_forward)},
        {"reported_separately",
         {{"recompute", to_decimal(dd.recompute)}, {"optimizer", to_decimal(dd.optimizer)}}},
        {"inputs",
         {{"executed_positions", to_decimal(workload.executed_positions())},
          {"attention_kernel", attention_kernel_name(workload.kernel)},
          {"gradient_checkpointing", workload.gradient_checkpointing}}},
        {"source",
         "flopsmeter docs/formulas.md, section 4; checked against PyTorch profiler counts (docs/formulas.md, "
         "section 4.10)"},
        {"assumptions", dd.assumptions},
    };
  } else {
    flops["detailed"] = nullptr;
    formulas["detailed"] = {{"unavailable", f.detailed.unavailable_reason}};
  }
  return {{"flops", flops}, {"flops_exact", exact}, {"formulas", formulas}};
}

}  // namespace flopsmeter
