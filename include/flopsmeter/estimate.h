// flopsmeter's estimate: before a job, the compute each training method would
// spend and where it stands under every regime, side by side.
//
//   flopsmeter::EstimateRequest req;
//   req.model = "meta-llama/Llama-3.2-3B-Instruct";
//   req.methods = {full, lora};
//   req.tokens_per_epoch = 50'000'000;
//   req.epochs = 3;
//   auto report = flopsmeter::run_estimate(req, catalog);
//   std::cout << flopsmeter::estimate_to_json(*report);
//
// Thread safety: pure apart from reading the model files named.
#ifndef FLOPSMETER_ESTIMATE_H_
#define FLOPSMETER_ESTIMATE_H_

#include <optional>
#include <string>
#include <vector>

#include "flopsmeter/catalog.h"
#include "flopsmeter/flops.h"
#include "flopsmeter/gpus.h"
#include "flopsmeter/load.h"
#include "flopsmeter/method.h"
#include "flopsmeter/rules.h"
#include "flopsmeter/tokens.h"

namespace flopsmeter {

// Which formula the regimes compare.
enum class ComplianceFormula { kDetailed, kEu6nd, kPeftAware };
const char* compliance_formula_name(ComplianceFormula f);  // "detailed", "eu_6nd", "peft_aware"
Result<ComplianceFormula> parse_compliance_formula(const std::string& name);

struct EstimateRequest {
  std::string model;                 // catalog id, config.json or checkpoint directory
  std::vector<MethodSpec> methods;   // at least one

  // Workload: tokens_per_epoch, or samples (each filling seq_len), or a
  // dataset counted exactly (its tokenizer defaults to the model directory's).
  std::optional<Flop> tokens_per_epoch;
  std::optional<TokenCountRequest> dataset;
  std::optional<uint64_t> samples;
  std::optional<uint64_t> seq_len;   // default: min(2048, max_position_embeddings), stated
  uint64_t epochs = 1;
  AttentionKernel kernel = AttentionKernel::kDense;
  bool gradient_checkpointing = false;
  uint64_t micro_batch_size = 0;     // 0: unknown
  uint64_t gradient_accumulation = 1;
  uint64_t data_parallel = 1;        // ranks sharing the batch

  // Base model compute: pretrain_flops (already validated) wins over the catalog.
  std::optional<BaseCompute> pretrain;
  bool base_systemic_risk = false;
  Flop prior_modifications = 0;      // earlier modifications of the lineage
  ComplianceFormula compliance_formula = ComplianceFormula::kDetailed;
  bool aws_compat = false;           // also report the AWS toolkit's verdict

  // Optional hardware-based planning estimate.
  std::string gpu;                   // catalog id or NVML name; empty: none
  std::optional<double> peak_flop_per_s;  // instead of a catalog GPU
  DType dtype = DType::kBf16;
  uint64_t gpu_count = 0;
  double hours = 0;
  double utilization = 1.0;
};

struct MethodEstimate {
  TrainingPlan plan;
  FlopsEstimate flops;
  ComplianceFormula compliance_formula = ComplianceFormula::kDetailed;  // the one actually used
  Flop compliance_flop = 0;
  std::vector<RuleResult> regimes;
  std::optional<AwsCompatResult> aws;
  std::vector<std::string> warnings;
};

struct EstimateReport {
  EstimateRequest request;
  LoadedModel model;
  ParamBreakdown params;
  Workload workload;
  std::vector<std::string> workload_assumptions;
  std::optional<TokenCountReport> dataset;  // when D was counted from a dataset
  BaseCompute base;
  std::string base_status;           // "given", "catalog: published", "unknown", ...
  ModificationThreshold eu_threshold;
  std::vector<MethodEstimate> methods;
  std::optional<HardwareEstimate> hardware;
  std::string rules_version;
  std::vector<std::string> data_sources;
};

Result<EstimateReport> run_estimate(const EstimateRequest& request, const Catalog& catalog);

// Versioned JSON ("schema": "flopsmeter.estimate/1"); figures as numbers with
// exact decimal strings beside them, each with its formula and inputs.
std::string estimate_to_json(const EstimateReport& report);
// The human-readable table.
std::string estimate_to_text(const EstimateReport& report);

}  // namespace flopsmeter

#endif  // FLOPSMETER_ESTIMATE_H_
