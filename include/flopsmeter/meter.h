// The runtime meter: what a training job actually spends, recorded durably
// while it runs and reported against every regime when it ends.
//
//   flopsmeter::MeterOptions opt;
//   opt.run_dir = "runs/llama-lora";
//   opt.model = "meta-llama/Llama-3.2-1B";             // or n_total / n_trainable
//   auto meter = flopsmeter::Meter::Begin(opt);         // journal begin line, sampler
//   for (...) {
//     (*meter)->add(tokens, positions, 1);              // per micro-batch, lock-free
//     (*meter)->add_sequences(seq_len, batch_rows);
//     auto state = (*meter)->step(global_step);         // budget; journal when due
//     if (state.ok() && state->stop) break;
//   }
//   auto record = (*meter)->end({});                    // writes flops_meter.json
//
// A run directory holds one journal per rank (journal-rank<R>.jsonl): JSON
// lines, each fsync'd, hash-chained and self-checked, so a process killed at
// any moment leaves a valid record up to its last line, and an edit shows.
// Each process lifetime is a segment; a resumed segment continues from the
// checkpoint it restarted from, so nothing is counted twice, and compute
// that no saved weights hold (after the line the next segment resumed from,
// or after the last checkpoint of a final segment that failed, was
// interrupted, crashed or was stopped by the budget) is reported as spent
// but not in the final weights. report_run() reads the journals of all
// ranks, so a run whose process died is finalised by `flopsmeter report
// --run DIR`.
// docs/meter.md describes the files and every field of flops_meter.json.
//
// Thread safety: add*() and sync_tokens() may be called from any thread
// concurrently with anything; the other members must not race each other.
#ifndef FLOPSMETER_METER_H_
#define FLOPSMETER_METER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flopsmeter/estimate.h"
#include "flopsmeter/exact.h"
#include "flopsmeter/export.h"
#include "flopsmeter/flops.h"
#include "flopsmeter/gpus.h"
#include "flopsmeter/method.h"
#include "flopsmeter/rules.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

// Options of a metered run. In JSON (the C ABI, the Python package) the keys
// are the CLI flag names shown in brackets; meter_options_from_json() reads
// them and meter_options_from_environment() fills what the job's environment
// says (PRETRAIN_FLOPS, FLOPS_METER_NVML, FLOPS_METER_OUT, RANK, ...).
// MeterOptions::token_source of an integration that calls add() per
// micro-batch, counting its own rank's batches.
inline constexpr const char* kIntegrationTokenSource = "meter";

struct MeterOptions {
  std::string run_dir;  // [run] required; created if missing

  // What is trained. With `model` the core counts parameters and the detailed
  // formula is available; the integration's own counts (after the PEFT wrap)
  // take precedence for N_total / N_trainable and are cross-checked.
  std::string model;                    // [model] catalog id, config.json or checkpoint dir
  std::string model_name;               // [model-name] display name (AWS model_name)
  MethodSpec method;                    // [method] + the lora-*, freeze-*, spectrum-* flags
  std::optional<uint64_t> n_total;      // [n-total]
  std::optional<uint64_t> n_trainable;  // [n-trainable]
  AttentionKernel kernel = AttentionKernel::kDense;  // [attention] e.g. sdpa, flash_attention_2
  std::string attention_name;           // the name given, kept for the record
  bool gradient_checkpointing = false;  // [gradient-checkpointing]
  CheckpointMode checkpoint_mode = CheckpointMode::kReentrant;  // [checkpoint-mode]
  std::optional<uint64_t> epochs;       // [epochs] for the record (AWS num_epochs)

  // Rules.
  std::optional<BaseCompute> pretrain;  // [pretrain-flops] (PRETRAIN_FLOPS)
  bool base_systemic_risk = false;      // [base-systemic-risk]
  Flop prior_modifications = 0;         // [prior-modifications]
  // [prior-modifications-undetermined] why some earlier modification's
  // compute is unknown (the ledger says so); prior_modifications is then a
  // lower bound (RuleInput::prior_modifications_undetermined).
  std::string prior_modifications_undetermined;
  ComplianceFormula compliance_formula = ComplianceFormula::kDetailed;  // [compliance-formula]
  std::string data_dir;                 // [data-dir]

  // Budget guard: an absolute FLOP figure, or a fraction of the EU
  // modification threshold that applies to this base (less the earlier
  // modifications, which the rule sums with this run). At most one.
  std::optional<Flop> budget_flop;         // [budget]
  std::optional<double> budget_fraction;   // [budget-fraction] in (0, 1]
  // Steps the guard looks ahead: 1 stops before the step that would cross.
  // A distributed integration that agrees on stopping only at logging steps
  // passes its logging interval.
  uint64_t budget_lookahead_steps = 1;     // [budget-lookahead]
  // What bounds one optimizer step of this rank: a micro-batch holds at most
  // micro_batch_size rows of at most max_length positions (or as many
  // positions in shorter sequences), and a step runs grad_accum of them.
  // With all three the guard looks ahead by the costliest step they allow,
  // and a run it stops never exceeds its budget; without them it looks ahead
  // by the costliest step so far, a prediction that a step costlier than
  // every one before it can overrun (the record then says by how much).
  std::optional<uint64_t> max_length;        // [max-length]
  std::optional<uint64_t> micro_batch_size;  // [micro-batch-size]
  std::optional<uint64_t> grad_accum;        // [grad-accum]

  // Distributed.
  uint32_t rank = 0;        // [rank] (RANK)
  uint32_t world_size = 1;  // [world-size] (WORLD_SIZE)
  uint32_t local_rank = 0;  // [local-rank] (LOCAL_RANK)
  std::string node;         // [node] default: the host name
  // The run's id, the same on every node (FLOPS_METER_RUN_ID). Without it the
  // first rank to begin draws one into RUN_DIR/run.json, which ranks see only
  // through a shared directory; with node-local directories, give every node
  // the same id (the Python integration passes rank 0's to the others) so
  // `flopsmeter merge` accepts their shards as one run.
  std::string run_id;       // [run-id] letters, digits, '.', '_', '-'; at most 128
  // How long end() on rank 0 waits for the other ranks' final journal lines
  // before writing a record marked incomplete.
  double end_wait_s = 30;   // [end-wait]

  // GPU sampling (on local rank 0 only: one sampler per node).
  bool nvml = false;                           // [nvml] (FLOPS_METER_NVML=1)
  std::string nvml_library = "libnvidia-ml.so.1";  // [nvml-library] (FLOPS_METER_NVML_LIBRARY)
  double sample_hz = 10;                       // [sample-hz]
  DType dtype = DType::kBf16;                  // [dtype]
  std::optional<double> peak_flop_per_s;       // [peak-flops] (FLOPS_METER_PEAK_FLOPS)
  std::optional<std::string> visible_devices;  // [visible-devices] (CUDA_VISIBLE_DEVICES)
  std::vector<int64_t> job_pids;               // [job-pids] attribute GPUs to these processes

  // Journal.
  double journal_interval_s = 10;  // [journal-interval] seconds between progress lines
  bool resume = false;             // [resume] continue the run in run_dir
  std::optional<uint64_t> resume_step;  // [resume-step] the checkpoint's global step

  // The audit ledger (include/flopsmeter/ledger.h). With `ledger_model` the
  // run's base compute, the modifier's earlier modifications and the
  // systemic-risk designation come from the ledger (its lineage), so the
  // budget guard protects the lineage's sum; with a ledger the record is
  // appended at the end (rank 0), idempotently, as the run that made
  // `ledger_produces` from `ledger_model`.
  std::string ledger;           // [ledger] (FLOPSMETER_LEDGER) a file path or postgresql:// URL
  std::string ledger_key;       // [ledger-key] (FLOPSMETER_LEDGER_KEY)
  std::string ledger_model;     // [ledger-model] the model trained from, in the ledger
  std::string ledger_produces;  // [ledger-produces] the model this run makes; default from the run
  std::string organisation;     // [organisation] (FLOPSMETER_ORGANISATION) who makes it

  // Export at the end (include/flopsmeter/export.h): with a URL ([export],
  // FLOPS_METER_EXPORT) rank 0 exports the run directory once its record
  // is written (and appended to the ledger, whose head goes with it and
  // which records the export). A failure is a warning in the record, never
  // the caller's. The other export options keep their names ([region],
  // [endpoint-url], [sse], ...); the ledger is the run's (above).
  ExportOptions exporting;

  // Record: where flops_meter.json goes, and provenance.
  std::string output;  // [out] (FLOPS_METER_OUT) default RUN_DIR/flops_meter.json
  std::string job_name;                  // [job-name] (AWS training_job_name; TRAINING_JOB_NAME)
  std::string training_id;               // [training-id]
  std::string recipe;                    // [recipe] recipe YAML path: hashed, named
  std::string recipe_details;            // [recipe-details] JSON text (AWS recipe_config_details)
  std::string instance_type;             // [instance-type]
  std::string model_package_group;       // [model-package-group]
  std::vector<std::string> dataset_files;  // [dataset] hashed for provenance
  std::vector<std::string> command;      // [command] the training command line

  // Not an option: how the token figures reach the meter, journaled at begin
  // for the record's tokens.source. "meter": the integration calls add() per
  // micro-batch. `flopsmeter watch` sets "watch" (cumulative tokens read from
  // the job's files, so micro-batches are unknown) or "none" (no
  // --tokens-from).
  std::string token_source{kIntegrationTokenSource};
};

// Reads options from a JSON object keyed by flag names (values: strings,
// numbers, booleans, or arrays for list options). Unknown keys are errors
// naming the closest option. `origin` prefixes messages.
Result<MeterOptions> meter_options_from_json(std::string_view json, std::string_view origin);
// Fills what the options leave unset from the environment the AWS toolkit
// and torchrun define: PRETRAIN_FLOPS, FLOPS_METER_NVML, FLOPS_METER_OUT, FLOPS_METER_EXPORT,
// FLOPS_METER_PEAK_FLOPS, FLOPS_METER_NVML_LIBRARY, RANK, WORLD_SIZE,
// LOCAL_RANK, CUDA_VISIBLE_DEVICES, TRAINING_JOB_NAME. An explicit option
// wins over its variable. Errors name the variable.
Status meter_options_from_environment(MeterOptions& options);

// Budget and threshold progress after a step.
struct BudgetState {
  uint64_t global_step = 0;
  Flop compute_flop = 0;  // compliance formula, pending positions counted as tokens
  std::optional<Flop> budget_flop;
  double budget_fraction = 0;     // compute / budget (0 without a budget)
  Fraction threshold_flop;        // the EU modification threshold that applies
  double threshold_fraction = 0;  // compute / threshold
  std::vector<std::string> new_warnings;  // 50/80/90% crossed at this step
  // One more step of the average size would cross the budget: stop now, save
  // a checkpoint, and end() with status "stopped_by_budget".
  bool stop = false;
};

struct EndOptions {
  std::string status = "completed";  // "completed", "stopped_by_budget", "failed", "interrupted"
  std::optional<uint64_t> global_step;
  // The ending segment's totals over all ranks, from the integration's own
  // collective (one all-reduce at train end); they stand in for ranks whose
  // journals rank 0 cannot read, and are cross-checked otherwise.
  std::optional<Flop> world_tokens;
  std::optional<Flop> world_positions;
  std::optional<uint64_t> world_micro_batches;
  std::map<uint64_t, uint64_t> world_sequences;
  // Observations of the caller for the record's notes (e.g. watch's token source).
  std::vector<std::string> notes;
  // What the token figures were read from, once known (watch:
  // "trainer_state.json" or "token file"); journaled in the end line, it
  // refines the begin line's MeterOptions::token_source in the record.
  // Empty: nothing to add.
  std::string token_source;
};

// The finished record: flops_meter.json's text and the figures a caller acts on.
struct RunRecord {
  std::string json;  // schema "flopsmeter.run/3"; docs/meter.md, schemas/README.md
  std::string status;
  bool complete = true;   // every rank's journal seen, every segment ended
  Flop tokens = 0;        // non-padding tokens spent, all ranks and segments
  Flop compliance_flop = 0;  // meaningless when `undetermined`
  bool exceeds_in_force = false;  // an in-force regime is exceeded
  // The run trained but its compute cannot be established (steps without a
  // token count, a watched job that exposes none): every verdict that
  // depends on it is undetermined, never "below".
  bool undetermined = false;
  std::string undetermined_reason;
  std::string formula;              // the formula the regimes compared
  std::vector<RuleResult> regimes;  // every regime's result, in the rules' order
  // With a ledger (MeterOptions::ledger): the run's entry, and what was done
  // or why it failed (a failure is also a warning in the record).
  std::optional<uint64_t> ledger_entry;
  std::string ledger_message;
  // With an export (MeterOptions::exporting): what was exported, or why it
  // failed (a failure is also a warning in the record).
  std::string export_message;
};

// The matrix-product FLOP an integration counted as it dispatched each
// product (the native trainer does: flopsmeter train), this segment so far.
// The record shows it beside the formulas; the regimes still compare the
// compliance formula.
struct ExecutedFlop {
  Flop forward = 0;
  Flop backward = 0;
  Flop recompute = 0;  // forward passes run again under gradient checkpointing
};

class Meter {
 public:
  // Creates or resumes the run, resolves the accounting (model, method,
  // counts), starts the GPU sampler when asked, and appends the segment's
  // begin line. Errors name the option or file at fault; nothing is written
  // when the options are invalid.
  static Result<std::unique_ptr<Meter>> Begin(const MeterOptions& options);
  virtual ~Meter() = default;

  // Hot path (see the class comment).
  virtual void add(uint64_t tokens, uint64_t positions, uint64_t micro_batches) noexcept = 0;
  virtual void add_positions(uint64_t positions, uint64_t micro_batches) noexcept = 0;
  virtual void sync_tokens(uint64_t tokens) noexcept = 0;
  virtual void add_sequences(uint64_t length, uint64_t count) noexcept = 0;
  // Cumulative over this segment; journaled with the next line.
  virtual void set_executed(const ExecutedFlop& executed) noexcept = 0;

  // The run's id (run.json; the record's run_id), the same on every rank.
  virtual const std::string& run_id() const = 0;
  // What the caller should tell the user now, at begin: GPU sampling that was
  // requested and could not start (the record repeats it in its warnings).
  virtual const std::vector<std::string>& begin_warnings() const = 0;
  // Tokens that earlier segments of this rank journaled (0 for a new run):
  // what an integration reading a cumulative count from the job (watch) has
  // already had metered when the job resumes.
  virtual Flop resumed_tokens() const = 0;

  // After an optimizer step: budget state. The compute figure is exact for
  // what was counted (pending token counts taken as all their positions), so
  // it is never below the record's; the guard stops before a step as costly
  // as the costliest so far would cross the budget. Journal lines come from
  // a background thread; a journal that cannot be written (a full disk) is
  // retried there and never fails a step: the counts stay in memory and the
  // next line that can be written says what was missed.
  virtual Result<BudgetState> step(uint64_t global_step) = 0;
  // A checkpoint of the weights was saved: journal line, fsync. An error
  // means the line is not durable (the meter goes on; a resume from this
  // checkpoint is then recorded as an under-count event).
  virtual Status checkpoint(uint64_t global_step, std::string_view path) = 0;
  virtual Status flush() = 0;
  // Ends the segment; on rank 0 also writes flops_meter.json atomically. An
  // end line that cannot be journaled does not stop the record: it is made
  // from the meter's memory and says so.
  virtual Result<RunRecord> end(const EndOptions& options) = 0;
};

struct ReportOptions {
  bool write = false;      // also (re)write flops_meter.json in the run directory
  std::string output;      // instead of RUN_DIR/flops_meter.json
  std::string data_dir;    // rules and catalogs as at begin unless given
};

// The record of the run in `run_dir` from its journals: every rank's shard,
// every segment. A run whose processes died is reported as such ("crashed"),
// with what its journals hold. Errors: kNotFound for a directory without
// journals, kParseError naming the file and line of a corrupt or edited
// journal line (a torn last line is not an error: it is what a crash leaves).
Result<RunRecord> report_run(const std::string& run_dir, const ReportOptions& options);

// Copies the rank shards of `sources` (each a run directory of the same run,
// e.g. one per node) into `target` and reports the merged run. Refuses shards
// of a different run id, or two different shards of one rank.
Result<RunRecord> merge_runs(const std::vector<std::string>& sources, const std::string& target,
                             const ReportOptions& options);

// The human-readable summary of a record's JSON.
Result<std::string> run_record_to_text(const std::string& record_json);

}  // namespace flopsmeter

#endif  // FLOPSMETER_METER_H_
