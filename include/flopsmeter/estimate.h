// flopsmeter's estimate: before a job, the compute each training method would
// spend and where it stands under every regime, side by side.
//
//   flopsmeter::EstimateRequest req;
//   req.model = "meta-llama/Llama-3.2-3B-Instruct";
//   req.methods = {full, lora};
//   req.tokens_per_epoch = 50'000'000;
//   req.epochs = 2.5;
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

// The training recipe (a TRL, AWS or Axolotl YAML) a request was read from.
struct RecipeUse {
  struct Setting {
    std::string key;     // "lora_r", "peft_config.r", "datasets[0].path"
    uint64_t line = 0;   // 0: not in the file, the program's default
    std::string option;  // "lora-r"
    std::string value;
  };
  std::string file;
  std::string dialect;            // "trl" (TRL and the AWS recipes) or "axolotl"
  std::vector<Setting> settings;  // the keys read, in file order
  // Where the count may differ from the program's run, and defaults applied.
  std::vector<std::string> notes;
};

struct EstimateRequest {
  std::string model;                 // catalog id, config.json, checkpoint directory or cached Hub id
  std::string revision;              // of a Hub id in the local cache; "" is "main"
  std::vector<std::string> command;  // the command line that asked, for the record; may be empty
  std::vector<MethodSpec> methods;   // at least one

  // Workload: tokens_per_epoch, or samples (each filling seq_len), or a
  // dataset counted exactly (its tokenizer defaults to the model directory's;
  // its layout is what the trainer executes, by default padded batches in
  // random order).
  std::optional<Flop> tokens_per_epoch;
  std::optional<TokenCountRequest> dataset;
  std::optional<uint64_t> samples;
  std::optional<uint64_t> seq_len;   // default: min(2048, max_position_embeddings), stated
  double epochs = 1;                 // transformers' num_train_epochs: positive, may be fractional
  std::optional<uint64_t> max_steps;  // transformers' max_steps: overrides epochs
  AttentionKernel kernel = AttentionKernel::kDense;
  bool gradient_checkpointing = false;
  CheckpointMode checkpoint_mode = CheckpointMode::kReentrant;  // [checkpoint-mode]
  // per_device_train_batch_size. 0: not given; a dataset's batches then hold
  // kTrainerDefaultBatchSize, and with tokens or samples it is unknown.
  uint64_t micro_batch_size = 0;
  uint64_t gradient_accumulation = 1;
  uint64_t data_parallel = 1;        // ranks sharing the batch

  // Base model compute: pretrain_flops (already validated) wins over the catalog.
  std::optional<BaseCompute> pretrain;
  bool base_systemic_risk = false;
  Flop prior_modifications = 0;      // earlier modifications of the lineage
  std::string prior_modifications_undetermined;  // why part of them is unknown (RuleInput's field)
  ComplianceFormula compliance_formula = ComplianceFormula::kDetailed;
  bool aws_compat = false;           // also report the AWS toolkit's verdict

  // Optional hardware-based planning estimate.
  std::string gpu;                   // catalog id or NVML name; empty: none
  std::optional<double> peak_flop_per_s;  // instead of a catalog GPU
  DType dtype = DType::kBf16;
  uint64_t gpu_count = 0;
  double hours = 0;
  double utilization = 1.0;

  std::optional<RecipeUse> recipe;   // the recipe the settings came from, for the record
};

// The sample order that executes the most, beside the expected figures.
struct WorstCase {
  FlopsEstimate flops;
  Flop compliance_flop = 0;
  // In-force regimes this order would exceed although the expected figure
  // does not, in words.
  std::vector<std::string> changed_verdicts;
};

struct MethodEstimate {
  TrainingPlan plan;
  FlopsEstimate flops;  // expected over shuffles when the order matters, to the nearest FLOP
  ComplianceFormula compliance_formula = ComplianceFormula::kDetailed;  // the one actually used
  Flop compliance_flop = 0;
  std::vector<RuleResult> regimes;
  std::optional<AwsCompatResult> aws;
  std::optional<WorstCase> worst_case;  // when the order matters
  std::vector<std::string> warnings;
};

// How transformers' Trainer turns epochs into optimizer steps
// (Trainer.set_initial_training_values): a fractional epoch trains the first
// steps of one more epoch, a fresh shuffle.
struct EpochSchedule {
  double epochs = 1;               // as given
  std::string unit;                // what is batched: "samples", "packed rows", "sequences"
  uint64_t units_per_epoch = 0;
  uint64_t batch_size = 1;         // units per micro-batch
  uint64_t per_step = 1;           // micro-batches per optimizer step: grad_accum x data_parallel
  uint64_t batches_per_epoch = 0;  // ceil(units / batch_size)
  uint64_t steps_per_epoch = 0;    // max(ceil(batches / per_step), 1)
  uint64_t max_steps = 0;          // ceil(epochs x steps_per_epoch), in double precision as Python computes it,
                                   // or as given (steps_given)
  bool steps_given = false;
  uint64_t whole_epochs = 0;       // max_steps / steps_per_epoch
  uint64_t partial_steps = 0;      // max_steps % steps_per_epoch
  uint64_t partial_batches = 0;    // partial_steps x per_step: full batches of the partial epoch
};

// What the run executes, as the formulas take it.
struct EstimateWorkload {
  // The workload of the figures the regimes compare: exact, or, when the
  // order of the samples matters, expected over uniformly random shuffles
  // with every count (tokens, sequences, micro-batches, steps) in units of
  // 2^-fraction_bits.
  Workload expected;
  unsigned fraction_bits = 0;
  // The order that executes the most, when the order matters (exact counts).
  std::optional<Workload> worst_case;
  bool worst_case_is_bound = false;  // an upper bound rather than an attained order (stated in assumptions)
  Fraction tokens;                   // D over all epochs, exactly (expected when a partial epoch trains a share)
  EpochSchedule schedule;
  bool batch_size_known = false;     // micro-batches and optimizer steps are counted
  std::vector<std::string> assumptions;
};

// A file the estimate rests on, as it was when read.
struct EstimateFile {
  std::string role;    // "model config", "tokenizer", "tokenizer config", "dataset", "adapter config"
  std::string path;
  std::string sha256;  // 64 hex digits
  uint64_t bytes = 0;
};

struct EstimateReport {
  EstimateRequest request;
  std::string made_at;              // ISO 8601 UTC
  std::vector<EstimateFile> files;  // every file read, with its SHA-256
  LoadedModel model;
  ParamBreakdown params;
  EstimateWorkload workload;
  std::optional<TokenCountReport> dataset;  // when D was counted from a dataset
  BaseCompute base;
  std::string base_status;           // "given", "catalog: published", "unknown", ...
  ModificationThreshold eu_threshold;
  std::vector<MethodEstimate> methods;
  std::optional<HardwareEstimate> hardware;
  // The planned GPU time's energy at board power (an upper estimate), when
  // the hardware estimate names a catalog GPU with a board power; else why not.
  std::optional<EnergyEstimate> hardware_energy;
  std::string hardware_energy_unavailable;
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
