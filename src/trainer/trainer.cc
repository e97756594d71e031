#include "trainer/trainer.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <numbers>
#include <set>

#include "adapters/files.h"
#include "api/meter_options.h"
#include "api/recipe.h"
#include "api/report_format.h"
#include "core/option_ref.h"
#include "flopsmeter/catalog.h"
#include "flopsmeter/load.h"
#include "flopsmeter/meter.h"
#include "trainer/data_parallel.h"
#include "trainer/executed_flops.h"
#include "trainer/llama_model.h"
#include "trainer/tensor_files.h"
#include "trainer/training_data.h"

namespace flopsmeter {
namespace {

namespace fs = std::filesystem;

std::atomic<int> g_stop_signal{0};
extern "C" void on_stop_signal(int signal) { g_stop_signal.store(signal); }

// Everything the loop needs, read once from the options and the recipe.
struct Job {
  Recipe recipe;
  TrainingSettings t;
  std::string model_dir, output_dir, tokenizer;
  std::vector<std::string> dataset;
  MethodSpec method;
  TokenCountRequest data_request;
  uint64_t micro_batch_size = 8, grad_accum = 1, max_steps = 0;
  double epochs = 3;
  std::optional<CheckpointMode> checkpointing;  // with gradient checkpointing
  bool resume = false;
  LoraSettings lora;
};

Result<Job> read_job(OptionMap& o) {
  Job job;
  FM_ASSIGN_OR_RETURN(std::optional<Recipe> recipe,
                      apply_recipe(o, RecipeReader::kEstimate, [](const std::string&) { return true; }));
  if (!recipe) return Status::InvalidArgument("training needs a recipe: " + option_ref("recipe") + " FILE");
  if (recipe->dialect != RecipeDialect::kTrl) {
    return Status::Unsupported(recipe->use.file + ": an Axolotl config; the native trainer reads TRL / AWS recipes");
  }
  job.recipe = std::move(*recipe);
  job.t = job.recipe.training;
  job.model_dir = o.get("model");
  if (!is_directory(job.model_dir) || !is_regular_file(join_path(job.model_dir, "config.json"))) {
    return Status::InvalidArgument("model_name_or_path '" + job.model_dir +
                                   "': the native trainer trains a local Hugging Face-format directory "
                                   "(config.json, and model.safetensors unless it starts from scratch)");
  }
  job.output_dir = o.has("output-dir") ? o.get("output-dir") : job.t.output_dir;
  if (job.output_dir.empty()) return Status::InvalidArgument(job.recipe.use.file + ": output_dir is not set");
  FM_ASSIGN_OR_RETURN(std::vector<MethodSpec> methods, method_specs(o));
  if (methods.size() != 1) return Status::InvalidArgument("a training run has one method");
  job.method = methods.front();
  FM_ASSIGN_OR_RETURN(job.data_request, token_count_options(o, SequenceLayout::kPadded));
  job.dataset = split_list(o.get("dataset"));
  if (job.dataset.empty()) return Status::InvalidArgument(job.recipe.use.file + ": dataset_id_or_path is not set");
  job.data_request.files = job.dataset;
  if (job.data_request.tokenizer.empty()) job.data_request.tokenizer = job.model_dir;
  job.tokenizer = job.data_request.tokenizer;
  if (o.has("micro-batch-size")) {
    FM_ASSIGN_OR_RETURN(job.micro_batch_size, option_uint(o, "micro-batch-size"));
  }
  if (o.has("grad-accum")) {
    FM_ASSIGN_OR_RETURN(job.grad_accum, option_uint(o, "grad-accum"));
  }
  if (o.has("max-steps")) {
    FM_ASSIGN_OR_RETURN(job.max_steps, option_uint(o, "max-steps"));
  }
  if (o.has("epochs")) {
    FM_ASSIGN_OR_RETURN(job.epochs, option_double(o, "epochs"));
  }
  if (o.has("gradient-checkpointing")) {
    job.checkpointing = CheckpointMode::kReentrant;
    if (o.has("checkpoint-mode")) {
      FM_ASSIGN_OR_RETURN(job.checkpointing, option_checkpoint_mode(o));
    }
  }
  job.resume = o.has("resume");
  job.lora.alpha = job.t.lora_alpha;
  job.lora.dropout = o.has("lora-dropout") ? job.method.lora.dropout : 0.05;  // TRL ModelConfig's default
  const std::set<std::string> schedulers = {"linear", "cosine", "constant", "constant_with_warmup"};
  if (!schedulers.count(job.t.lr_scheduler_type)) {
    return Status::Unsupported(job.recipe.use.file + ": lr_scheduler_type '" + job.t.lr_scheduler_type +
                               "': the native trainer has linear, cosine, constant and constant_with_warmup");
  }
  return job;
}

// transformers' schedules: a linear warmup, then linear decay to 0, half a
// cosine, or constant.
double learning_rate(const TrainingSettings& t, uint64_t step, uint64_t total) {
  const uint64_t warmup = t.warmup_steps > 0 ? t.warmup_steps
                                             : static_cast<uint64_t>(std::ceil(t.warmup_ratio * static_cast<double>(total)));
  if (step < warmup) return t.learning_rate * static_cast<double>(step) / static_cast<double>(std::max<uint64_t>(1, warmup));
  if (t.lr_scheduler_type == "constant" || t.lr_scheduler_type == "constant_with_warmup") return t.learning_rate;
  const double progress =
      static_cast<double>(step - warmup) / static_cast<double>(std::max<uint64_t>(1, total - warmup));
  if (t.lr_scheduler_type == "cosine") return t.learning_rate * 0.5 * (1 + std::cos(std::numbers::pi * progress));
  return t.learning_rate * std::max(0.0, 1 - progress);
}

std::vector<std::string> weight_files(const std::string& dir) {
  std::vector<std::string> files;
  Result<std::vector<std::string>> names = list_directory(dir);
  if (!names.ok()) return files;
  for (const std::string& n : *names) {
    if (n.ends_with(".safetensors") && n.find("adapter") == std::string::npos) files.push_back(join_path(dir, n));
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The newest complete checkpoint-N in `dir` (its trainer_state.json is
// written last), or 0.
uint64_t latest_checkpoint(const std::string& dir) {
  uint64_t best = 0;
  Result<std::vector<std::string>> names = list_directory(dir);
  if (!names.ok()) return 0;
  for (const std::string& n : *names) {
    if (!n.starts_with("checkpoint-") || n.find_first_not_of("0123456789", 11) != std::string::npos || n.size() == 11) {
      continue;
    }
    if (is_regular_file(join_path(join_path(dir, n), "trainer_state.json"))) {
      best = std::max<uint64_t>(best, std::stoull(n.substr(11)));
    }
  }
  return best;
}

std::string adapter_config_json(const Job& job, const TrainingPlan& plan) {
  std::set<std::string> targets;
  for (const Adapter& a : plan.adapters) targets.insert(a.module_path.substr(a.module_path.rfind('.') + 1));
  nlohmann::ordered_json j = {{"base_model_name_or_path", job.model_dir},
                              {"peft_type", "LORA"},
                              {"task_type", "CAUSAL_LM"},
                              {"r", job.method.lora.r},
                              {"lora_alpha", job.lora.alpha},
                              {"lora_dropout", job.lora.dropout},
                              {"target_modules", targets},
                              {"bias", "none"},
                              {"fan_in_fan_out", false},
                              {"inference_mode", true},
                              {"init_lora_weights", true},
                              {"layers_to_transform", nullptr},
                              {"layers_pattern", nullptr},
                              {"modules_to_save", nullptr},
                              {"rank_pattern", nlohmann::json::object()},
                              {"alpha_pattern", nlohmann::json::object()},
                              {"use_dora", false},
                              {"use_rslora", false}};
  if (!job.method.lora.layers_to_transform.empty()) j["layers_to_transform"] = job.method.lora.layers_to_transform;
  return j.dump(2) + "\n";
}

// The trained weights in Hugging Face's layout: the full model
// (model.safetensors, config.json and the tokenizer's files), or a PEFT
// adapter (adapter_model.safetensors, adapter_config.json).
Status save_weights(const std::string& dir, const Job& job, const TrainingPlan& plan, const LlamaModel& model) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError(dir + ": cannot create: " + ec.message());
  if (model.has_adapters()) {
    FM_RETURN_IF_ERROR(write_tensors(join_path(dir, "adapter_model.safetensors"), model.adapter_weights()));
    return write_file_atomic(join_path(dir, "adapter_config.json"), adapter_config_json(job, plan));
  }
  FM_RETURN_IF_ERROR(write_tensors(join_path(dir, "model.safetensors"), model.weights()));
  FM_RETURN_IF_ERROR(write_file_atomic(join_path(dir, "config.json"), model.config().text));
  const std::string tokenizer_dir = is_directory(job.tokenizer) ? job.tokenizer : fs::path(job.tokenizer).parent_path().string();
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
    const std::string from = join_path(tokenizer_dir, name);
    if (!is_regular_file(from)) continue;
    FM_ASSIGN_OR_RETURN(std::string text, read_file(from, 256 << 20));
    FM_RETURN_IF_ERROR(write_file_atomic(join_path(dir, name), text));
  }
  return Status::Ok();
}


// TRL runs bfd packing padding-free, and plain samples with padding_free:
// true (the unpadded layout): a micro-batch's samples end to end in one row.
bool padding_free(SequenceLayout layout) {
  return layout == SequenceLayout::kPackedBfd || layout == SequenceLayout::kUnpadded;
}

class TrainingRun {
 public:
  TrainingRun(Job job, OptionMap options, std::vector<std::string> command,
              std::function<void(const std::string&)> say)
      : job_(std::move(job)), o_(std::move(options)), command_(std::move(command)), say_(std::move(say)) {}

  Result<TrainReport> run();

 private:
  Status prepare();
  Status prepare_optimizer();
  Status begin_meter();
  // Trains optimizer step `step` (0-based); returns its summed loss.
  double train_step(uint64_t step);
  // The step's gradient and loss: each rank's, summed over the ranks.
  double sum_over_ranks(double loss);
  // After step `step`: what stops the run, agreed by every rank ("" goes on).
  Result<std::string> stop_after(uint64_t step);
  Status save_checkpoint(uint64_t step);
  void log_step(uint64_t step, double loss);

  Job job_;
  OptionMap o_;
  std::vector<std::string> command_;
  std::function<void(const std::string&)> say_;
  TrainingPlan plan_;
  std::unique_ptr<LlamaModel> model_;
  TrainingData data_;
  TrainingSchedule schedule_;
  std::vector<std::vector<uint64_t>> batches_;  // the micro-batches of epoch batches_epoch_
  std::optional<uint64_t> batches_epoch_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::unique_ptr<Meter> meter_;
  std::unique_ptr<DataParallel> ranks_;
  uint64_t start_step_ = 0;
  uint64_t tokens_seen_ = 0;  // over every rank, as the Trainer's num_input_tokens_seen
  // This rank's counts in this segment, summed over the ranks for the meter's end.
  uint64_t segment_tokens_ = 0, segment_positions_ = 0, segment_micro_batches_ = 0;
  bool pretraining_ = false;  // from scratch: the run makes a base
};

Status TrainingRun::prepare() {
  FM_ASSIGN_OR_RETURN(Catalog catalog, Catalog::Load(o_.get("data-dir")));
  FM_ASSIGN_OR_RETURN(LoadedModel loaded, load_model(job_.model_dir, catalog));
  FM_ASSIGN_OR_RETURN(plan_, plan_training(loaded.model, job_.method));
  FM_ASSIGN_OR_RETURN(LlamaConfig config, read_llama_config(join_path(job_.model_dir, "config.json")));
  if (job_.resume) {
    start_step_ = latest_checkpoint(job_.output_dir);
    if (start_step_ == 0) return Status::NotFound(job_.output_dir + ": no checkpoint-N to resume from");
  }
  const std::string checkpoint = join_path(job_.output_dir, "checkpoint-" + std::to_string(start_step_));
  const bool adapters = !plan_.adapters.empty();
  std::vector<std::string> weights = weight_files(start_step_ > 0 && !adapters ? checkpoint : job_.model_dir);
  // From scratch and every weight trained: the run makes a base (not a fine-tune of random weights).
  pretraining_ = weight_files(job_.model_dir).empty() && plan_.params_trainable == plan_.params_all;
  if (weights.empty()) say_("no weights in " + job_.model_dir + ": initialised from seed " + std::to_string(job_.t.seed));
  FM_ASSIGN_OR_RETURN(model_, LlamaModel::Create(config, weights, job_.t.seed));
  FM_RETURN_IF_ERROR(model_->apply_plan(plan_, job_.lora, job_.t.seed));
  if (start_step_ > 0 && adapters) {
    FM_RETURN_IF_ERROR(model_->load_adapter(join_path(checkpoint, "adapter_model.safetensors")));
  }
  // A CUDA device when this libtorch has one, as the Trainer picks it (the
  // local rank's, the first for one process); else the CPU.
  const auto cuda_devices = static_cast<uint32_t>(torch::cuda::device_count());
  model_->to_device(cuda_devices > 0 ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(
                                                                       ranks_->local_rank() % cuda_devices))
                                     : torch::Device(torch::kCPU));
  if (start_step_ > 0) {
    const std::string state_path = join_path(checkpoint, "trainer_state.json");
    FM_ASSIGN_OR_RETURN(std::string state_text, read_file(state_path, 1 << 20));
    const nlohmann::json state = nlohmann::json::parse(state_text, nullptr, false);
    if (!state.is_object() || !state.value("num_input_tokens_seen", nlohmann::json()).is_number_unsigned()) {
      return Status::ParseError(state_path + ": field 'num_input_tokens_seen' must be a whole number");
    }
    tokens_seen_ = state["num_input_tokens_seen"].get<uint64_t>();
  }
  // The trainer builds its own tensors; the accounting counts from the
  // config. They must agree to the parameter, or the formulas describe
  // another model.
  if (model_->parameter_count() != plan_.params_all) {
    return Status::Internal("the trainer's model has " + with_commas(model_->parameter_count()) +
                            " parameters, the accounting counts " + with_commas(plan_.params_all));
  }
  FM_ASSIGN_OR_RETURN(data_, read_training_data(job_.data_request));
  FM_ASSIGN_OR_RETURN(schedule_, training_schedule(data_.rows.size(), job_.micro_batch_size, job_.grad_accum,
                                                   ranks_->world_size(), job_.epochs, job_.max_steps));
  return prepare_optimizer();
}

Status TrainingRun::prepare_optimizer() {
  // transformers decays every weight matrix and no norm weight.
  std::vector<torch::Tensor> decay, no_decay;
  for (const torch::Tensor& t : model_->trainable()) (t.dim() >= 2 ? decay : no_decay).push_back(t);
  auto options = [&](double weight_decay) {
    return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(job_.t.learning_rate)
                                                            .betas({job_.t.adam_beta1, job_.t.adam_beta2})
                                                            .eps(job_.t.adam_epsilon)
                                                            .weight_decay(weight_decay));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, options(job_.t.weight_decay));
  if (!no_decay.empty()) groups.emplace_back(no_decay, options(0));
  optimizer_ = std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(job_.t.learning_rate));
  if (start_step_ > 0) {
    const std::string path = join_path(join_path(job_.output_dir, "checkpoint-" + std::to_string(start_step_)), "optimizer.pt");
    try {
      torch::load(*optimizer_, path, model_->device());
    } catch (const std::exception& e) {
      return Status::ParseError(path + ": cannot read the optimizer state: " + e.what());
    }
  }
  return Status::Ok();
}

Status TrainingRun::begin_meter() {
  OptionMap m;
  for (const std::string& name : meter_option_names()) {
    if (o_.has(name)) m.values[name] = o_.get(name);
  }
  m.values["run"] = join_path(job_.output_dir, "flops_meter_run");
  m.values["model"] = job_.model_dir;
  m.values["attention"] = "eager";
  m.values["n-total"] = std::to_string(plan_.params_all);
  m.values["n-trainable"] = std::to_string(plan_.params_trainable);
  if (!m.has("micro-batch-size")) m.values["micro-batch-size"] = std::to_string(job_.micro_batch_size);
  if (!m.has("grad-accum")) m.values["grad-accum"] = std::to_string(job_.grad_accum);
  if (start_step_ > 0) m.values["resume-step"] = std::to_string(start_step_);
  m.values["rank"] = std::to_string(ranks_->rank());
  m.values["world-size"] = std::to_string(ranks_->world_size());
  m.values["local-rank"] = std::to_string(ranks_->local_rank());
  // Rank 0 begins first and gives its run id to the others, whose run
  // directories may be on other nodes' disks.
  if (!ranks_->leader()) m.values["run-id"] = ranks_->share("run-id", "");
  FM_ASSIGN_OR_RETURN(MeterOptions options, meter_options_from_map(m));
  FM_RETURN_IF_ERROR(meter_options_from_environment(options));
  options.dataset_files = job_.dataset;
  options.command = command_;
  FM_ASSIGN_OR_RETURN(meter_, Meter::Begin(options));
  if (ranks_->leader()) ranks_->share("run-id", meter_->run_id());
  for (const std::string& w : meter_->begin_warnings()) say_("warning: " + w);
  meter_->set_executed({});
  return Status::Ok();
}

double TrainingRun::train_step(uint64_t step) {
  const uint64_t epoch = step / schedule_.steps_per_epoch, in_epoch = step % schedule_.steps_per_epoch;
  if (!batches_epoch_ || *batches_epoch_ != epoch) {  // one shuffle per epoch, not per step
    batches_ = epoch_micro_batches(data_.rows.size(), job_.micro_batch_size, job_.t.seed, epoch);
    batches_epoch_ = epoch;
  }
  std::vector<MicroBatch> group;
  int64_t label_tokens = 0, tokens = 0;
  for (uint64_t i : rank_micro_batches(batches_.size(), in_epoch, job_.grad_accum, ranks_->rank(),
                                       ranks_->world_size())) {
    group.push_back(micro_batch(data_.rows, batches_[i], padding_free(job_.data_request.layout),
                                job_.data_request.pad_to_max_length
                                    ? static_cast<int64_t>(job_.data_request.max_length.value_or(0))
                                    : 0));
    label_tokens += static_cast<int64_t>(group.back().label_tokens);
    tokens += static_cast<int64_t>(group.back().tokens);
  }
  // The step's label tokens over every rank divide each rank's loss sum, as
  // transformers divides them when it averages tokens across devices (its
  // default), so the ranks' summed gradients are the step's.
  torch::Tensor step_counts = torch::tensor({label_tokens, tokens}, torch::kInt64);
  ranks_->sum(step_counts);
  const double step_label_tokens = static_cast<double>(std::max<int64_t>(1, step_counts[0].item<int64_t>()));
  tokens_seen_ += static_cast<uint64_t>(step_counts[1].item<int64_t>());
  torch::manual_seed(job_.t.seed + step + 1);  // dropout draws depend on the step alone: a resume repeats them
  const double lr = learning_rate(job_.t, step, schedule_.total_steps);
  for (auto& g : optimizer_->param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
  double loss_total = 0;
  for (const MicroBatch& mb : group) {
    torch::Tensor loss =
        model_->loss_sum(mb.ids, mb.targets, mb.spans, job_.checkpointing, true) / step_label_tokens;
    loss.backward();
    loss_total += loss.item<double>();
    segment_tokens_ += mb.tokens;
    segment_positions_ += mb.positions;
    ++segment_micro_batches_;
    if (meter_) {
      meter_->add(mb.tokens, mb.positions, 1);
      for (const auto& [length, count] : mb.sequences) meter_->add_sequences(length, count);
    }
  }
  if (ranks_->world_size() > 1) loss_total = sum_over_ranks(loss_total);
  if (job_.t.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(model_->trainable(), job_.t.max_grad_norm);
  optimizer_->step();
  optimizer_->zero_grad();
  return loss_total;
}

// One collective for the whole step: every trainable gradient (zeros where
// a rank ran no micro-batch) and the loss, flattened into one buffer.
double TrainingRun::sum_over_ranks(double loss) {
  std::vector<torch::Tensor> trainable = model_->trainable();
  std::vector<torch::Tensor> parts;
  for (const torch::Tensor& p : trainable) {
    parts.push_back(p.grad().defined() ? p.grad().reshape({-1}) : torch::zeros({p.numel()}, p.options()));
  }
  parts.push_back(torch::full({1}, loss, parts.front().options()));
  torch::Tensor flat = torch::cat(parts);
  ranks_->sum(flat);
  int64_t offset = 0;
  for (torch::Tensor& p : trainable) {
    torch::Tensor summed = flat.narrow(0, offset, p.numel()).view_as(p);
    offset += p.numel();
    if (p.grad().defined()) {
      p.mutable_grad().copy_(summed);
    } else {
      p.mutable_grad() = summed.clone();
    }
  }
  return flat[offset].item<double>();
}

Result<std::string> TrainingRun::stop_after(uint64_t step) {
  int64_t budget_stop = 0;
  if (meter_) {
    FM_ASSIGN_OR_RETURN(BudgetState budget, meter_->step(step));
    for (const std::string& w : budget.new_warnings) say_("warning: " + w);
    budget_stop = budget.stop ? 1 : 0;
  }
  // Every rank stops at the same step, or the others would wait for it forever.
  torch::Tensor stops = torch::tensor({budget_stop, static_cast<int64_t>(g_stop_signal.load())}, torch::kInt64);
  ranks_->max(stops);
  if (stops[0].item<int64_t>() != 0) {
    say_("the budget guard stops the run after step " + std::to_string(step));
    return std::string("stopped_by_budget");
  }
  if (stops[1].item<int64_t>() != 0) {
    say_("signal " + std::to_string(stops[1].item<int64_t>()) + ": saving a checkpoint and stopping");
    return std::string("interrupted");
  }
  return std::string();
}

// Rank 0 writes the checkpoint (the ranks' weights and optimizer states are
// the same); every rank journals it once it is complete.
Status TrainingRun::save_checkpoint(uint64_t step) {
  const std::string dir = join_path(job_.output_dir, "checkpoint-" + std::to_string(step));
  if (ranks_->leader()) {
    FM_RETURN_IF_ERROR(save_weights(dir, job_, plan_, *model_));
    try {
      torch::save(*optimizer_, join_path(dir, "optimizer.pt"));
    } catch (const std::exception& e) {
      return Status::IoError(dir + ": cannot write the optimizer state: " + e.what());
    }
    // Last, so a checkpoint with this file is complete (as transformers' Trainer writes it).
    const nlohmann::json state = {
        {"global_step", step},
        {"max_steps", schedule_.total_steps},
        {"num_input_tokens_seen", tokens_seen_},
        {"epoch", static_cast<double>(step) / static_cast<double>(schedule_.steps_per_epoch)}};
    FM_RETURN_IF_ERROR(write_file_atomic(join_path(dir, "trainer_state.json"), state.dump(2) + "\n"));
  }
  ranks_->barrier();
  if (meter_) {
    if (Status s = meter_->checkpoint(step, dir); !s.ok()) say_("warning: " + s.message());
  }
  return Status::Ok();
}

void TrainingRun::log_step(uint64_t step, double loss) {
  const ExecutedFlops e = executed_flops();
  char line[256];
  std::snprintf(line, sizeof line, "step %llu/%llu  loss %.4f  lr %.3g  tokens %s  executed %s FLOP by %s",
                static_cast<unsigned long long>(step), static_cast<unsigned long long>(schedule_.total_steps), loss,
                learning_rate(job_.t, step - 1, schedule_.total_steps), with_commas(tokens_seen_).c_str(),
                sci(e.trained() + e.recompute, 3).c_str(), ranks_->world_size() > 1 ? "rank 0" : "this process");
  say_(line);
}

Result<TrainReport> TrainingRun::run() {
  FM_ASSIGN_OR_RETURN(ranks_, DataParallel::FromEnvironment());
  if (!ranks_->leader()) say_ = [](const std::string&) {};  // rank 0 speaks for the job
  FM_RETURN_IF_ERROR(prepare());
  std::string device =
      model_->device().is_cuda() ? "CUDA device " + std::to_string(model_->device().index()) : "the CPU";
  if (ranks_->world_size() > 1) device += ", " + std::to_string(ranks_->world_size()) + " data-parallel ranks";
  say_("training " + job_.model_dir + " (" + method_name(job_.method.kind) + ", " + with_commas(plan_.params_trainable) +
       " of " + with_commas(plan_.params_all) + " parameters trainable) on " + with_commas(data_.report.samples) +
       " samples in " + with_commas(data_.rows.size()) + " " + layout_name(job_.data_request.layout) + " rows on " +
       device + ": " + std::to_string(schedule_.total_steps) + " steps" +
       (start_step_ > 0 ? ", resuming after step " + std::to_string(start_step_) : ""));
  reset_executed_flops();
  if (job_.recipe.compute_flops) FM_RETURN_IF_ERROR(begin_meter());
  TrainReport report;
  report.status = "completed";
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  uint64_t step = start_step_;
  const uint64_t tokens_before = tokens_seen_;
  const auto began = std::chrono::steady_clock::now();
  while (step < schedule_.total_steps) {
    const double loss = train_step(step);
    ++step;
    const ExecutedFlops e = executed_flops();
    if (meter_) meter_->set_executed({e.forward, e.backward, e.recompute});
    if (step % std::max<uint64_t>(1, job_.t.logging_steps) == 0 || step == schedule_.total_steps) log_step(step, loss);
    FM_ASSIGN_OR_RETURN(std::string stopped, stop_after(step));
    const bool stop = !stopped.empty();
    if (stop) report.status = stopped;
    if (stop || (job_.t.save_steps > 0 && step % job_.t.save_steps == 0)) FM_RETURN_IF_ERROR(save_checkpoint(step));
    if (stop) break;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  report.tokens = tokens_seen_ - tokens_before;
  report.leader = ranks_->leader();
  if (ranks_->leader()) FM_RETURN_IF_ERROR(save_weights(job_.output_dir, job_, plan_, *model_));
  report.saved = job_.output_dir;
  if (meter_) {
    EndOptions end;
    end.status = report.status;
    end.global_step = step;
    torch::Tensor world = torch::tensor({static_cast<int64_t>(segment_tokens_), static_cast<int64_t>(segment_positions_),
                                         static_cast<int64_t>(segment_micro_batches_)},
                                        torch::kInt64);
    ranks_->sum(world);
    end.world_tokens = static_cast<Flop>(world[0].item<int64_t>());
    end.world_positions = static_cast<Flop>(world[1].item<int64_t>());
    end.world_micro_batches = static_cast<uint64_t>(world[2].item<int64_t>());
    FM_ASSIGN_OR_RETURN(RunRecord record, meter_->end(end));
    if (ranks_->leader()) {  // the others' end() journals their last line; rank 0 writes the record
      report.record_path = join_path(join_path(job_.output_dir, "flops_meter_run"), "flops_meter.json");
      FM_ASSIGN_OR_RETURN(report.record_text, run_record_to_text(record.json));
      report.pretrained_base = pretraining_;
    }
  }
  return report;
}

}  // namespace

Result<TrainReport> run_training(OptionMap o, const std::vector<std::string>& command,
                                 const std::function<void(const std::string&)>& say) {
  FM_ASSIGN_OR_RETURN(Job job, read_job(o));
  try {
    TrainingRun run(std::move(job), std::move(o), command, say);
    return run.run();
  } catch (const std::exception& e) {
    // libtorch reports shape and allocation failures by throwing; nothing throws past here.
    return Status::Internal(std::string("libtorch: ") + e.what());
  }
}

}  // namespace flopsmeter
