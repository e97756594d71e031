#include "api/meter_options.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "adapters/environment.h"
#include "api/export_options.h"
#include "api/recipe.h"
#include "core/export_target.h"
#include "core/json_doc.h"
#include "core/option_ref.h"
#include "core/strict_fields.h"
#include "core/suggest.h"

namespace flopsmeter {
namespace {

// Options that take no value: JSON true means given, false means absent.
const std::vector<std::string>& switch_names() {
  static const std::vector<std::string> kSwitches = {"base-systemic-risk", "freeze-embeddings",
                                                     "gradient-checkpointing", "nvml", "path-style", "resume"};
  return kSwitches;
}

bool is_switch(const std::string& name) {
  const auto& s = switch_names();
  return std::find(s.begin(), s.end(), name) != s.end();
}

// Options whose value is a list of items that may contain commas.
bool is_item_list(const std::string& name) {
  return name == "command" || name == "dataset" || name == "job-pids" || name == "spectrum-patterns";
}

// A run id names files and travels between nodes: a plain token.
Status check_run_id(const std::string& id, const std::string& where) {
  const bool plain = std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
  if (id.empty() || id.size() > 128 || !plain) {
    return Status::InvalidArgument(where + " '" + printable(id) +
                                   "': expected 1 to 128 letters, digits, '.', '_' or '-' (e.g. the job's id)");
  }
  return Status();
}

Result<uint32_t> option_u32(const OptionMap& o, const std::string& name) {
  FM_ASSIGN_OR_RETURN(uint64_t v, option_uint(o, name));
  if (v > UINT32_MAX) return Status::InvalidArgument(option_ref(name) + " is too large");
  return static_cast<uint32_t>(v);
}

Result<double> option_positive(const OptionMap& o, const std::string& name) {
  FM_ASSIGN_OR_RETURN(double v, option_double(o, name));
  if (!(v > 0)) return Status::InvalidArgument(option_ref(name) + " must be positive");
  return v;
}

// An environment variable's value when set and not empty.
const char* env_value(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

Result<uint32_t> env_u32(const char* name) {
  OptionMap o;
  o.values[name] = env_value(name);
  auto v = option_u32(o, name);
  if (!v.ok()) return Status::InvalidArgument(std::string("environment ") + name + "='" + o.get(name) + "': expected a whole number");
  return *v;
}

// `status` with control bytes in its message escaped: messages quote option
// values, and options come from integrations and journals, which must not
// put terminal escapes into what we print.
Status printable_status(const Status& status) {
  std::string message = printable_text(status.message());
  switch (status.code()) {
    case StatusCode::kParseError: return Status::ParseError(std::move(message));
    case StatusCode::kNotFound: return Status::NotFound(std::move(message));
    case StatusCode::kUnsupported: return Status::Unsupported(std::move(message));
    case StatusCode::kIoError: return Status::IoError(std::move(message));
    case StatusCode::kOverflow: return Status::Overflow(std::move(message));
    case StatusCode::kInternal: return Status::Internal(std::move(message));
    default: return Status::InvalidArgument(std::move(message));
  }
}

}  // namespace

const std::vector<std::string>& meter_option_names() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> v = {
        "adapter", "attention", "budget", "budget-fraction", "budget-lookahead", "checkpoint-mode", "command", "compliance-formula", "data-dir", "dataset", "dtype",
        "end-wait", "epochs", "export", "freeze-layers", "grad-accum", "instance-type", "job-name", "job-pids", "journal-interval",
        "local-rank", "lora-bias", "lora-dropout", "lora-layers", "lora-modules-to-save", "lora-r",
        "lora-target-regex", "lora-targets", "ledger", "ledger-key", "ledger-model", "ledger-produces", "max-length",
        "method", "micro-batch-size", "model", "model-name", "model-package-group", "n-total", "organisation",
        "n-trainable", "node", "nvml-library", "out", "peak-flops", "pretrain-flops", "pretrain-source",
        "prior-modifications", "prior-modifications-undetermined", "rank",
        "recipe", "recipe-details", "resume-step", "run", "run-id", "sample-hz", "spectrum-file", "spectrum-fraction",
        "spectrum-patterns",
        "training-id", "visible-devices", "world-size"};
    for (const std::string& s : switch_names()) v.push_back(s);
    for (const std::string& e : export_option_names()) {
      if (!is_switch(e)) v.push_back(e);
    }
    std::sort(v.begin(), v.end());
    return v;
  }();
  return kNames;
}

namespace {

// What a recipe tells the meter: how the run trains, not what the meter
// counts from the live run (its dataset, layout and model files).
bool meter_takes_from_recipe(const std::string& option) {
  static const std::set<std::string> kTaken = {
      "model-name", "method", "lora-r", "lora-targets", "lora-bias", "lora-dropout", "lora-modules-to-save",
      "lora-layers", "spectrum-file", "spectrum-patterns", "max-length", "micro-batch-size", "grad-accum",
      "epochs", "gradient-checkpointing", "checkpoint-mode", "attention", "recipe-details"};
  return kTaken.count(option) > 0;
}

}  // namespace

Result<MeterOptions> meter_options_from_map(const OptionMap& given) {
  OptionMap o = given;
  FM_ASSIGN_OR_RETURN(std::optional<Recipe> recipe, apply_recipe(o, RecipeReader::kMeter, meter_takes_from_recipe));
  // The record's num_epochs is whole; a fractional num_train_epochs stays in the recipe's details.
  if (recipe && !given.has("epochs") && o.get("epochs").find_first_not_of("0123456789") != std::string::npos) {
    o.values.erase("epochs");
  }
  MeterOptions m;
  m.run_dir = o.get("run");
  if (m.run_dir.empty()) return Status::InvalidArgument("no run directory: give option \"run\" DIR (JSON key \"run\")");
  m.model = o.get("model");
  m.model_name = o.get("model-name");
  // "" is no display name: the begin line omits it, and reading that back gives the model.
  if (m.model_name.empty()) m.model_name = m.model;
  FM_ASSIGN_OR_RETURN(std::vector<MethodSpec> methods, method_specs(o));
  if (methods.size() != 1) return Status::InvalidArgument("option \"method\": a run trains with one method, not a list");
  m.method = methods.front();
  if (o.has("n-total")) {
    FM_ASSIGN_OR_RETURN(m.n_total, option_uint(o, "n-total"));
  }
  if (o.has("n-trainable")) {
    FM_ASSIGN_OR_RETURN(m.n_trainable, option_uint(o, "n-trainable"));
  }
  if (m.n_total && m.n_trainable && *m.n_trainable > *m.n_total) {
    return Status::InvalidArgument("option \"n-trainable\" exceeds option \"n-total\"");
  }
  if (m.model.empty() && !m.n_total) {
    return Status::InvalidArgument("no model accounting: give option \"model\" (catalog id, config.json or checkpoint) or "
                                   "option \"n-total\" and option \"n-trainable\" as the trainer counts them");
  }
  if (o.has("attention")) {
    m.attention_name = o.get("attention");
    FM_ASSIGN_OR_RETURN(m.kernel, parse_attention_kernel(m.attention_name));
  }
  m.gradient_checkpointing = o.has("gradient-checkpointing");
  if (o.has("checkpoint-mode")) {
    FM_ASSIGN_OR_RETURN(m.checkpoint_mode, option_checkpoint_mode(o));
  }
  if (o.has("epochs")) {
    FM_ASSIGN_OR_RETURN(m.epochs, option_uint(o, "epochs"));
  }
  if (o.has("pretrain-flops")) {
    // "unknown": the base's compute is known to be unknown (the ledger says
    // so), which no catalog figure may replace.
    if (o.get("pretrain-flops") == "unknown") {
      m.pretrain = BaseCompute{};
    } else {
      FM_ASSIGN_OR_RETURN(m.pretrain, parse_pretrain_flops(o.get("pretrain-flops"), "option \"pretrain-flops\""));
    }
    if (o.has("pretrain-source")) m.pretrain->source = o.get("pretrain-source");
  } else if (o.has("pretrain-source")) {
    return Status::InvalidArgument("option \"pretrain-source\" names the source of option \"pretrain-flops\", which is not given");
  }
  m.base_systemic_risk = o.has("base-systemic-risk");
  if (o.has("prior-modifications")) {
    FM_ASSIGN_OR_RETURN(m.prior_modifications, option_exact(o, "prior-modifications"));
  }
  m.prior_modifications_undetermined = o.get("prior-modifications-undetermined");
  if (o.has("compliance-formula")) {
    FM_ASSIGN_OR_RETURN(m.compliance_formula, parse_compliance_formula(o.get("compliance-formula")));
  }
  m.data_dir = o.get("data-dir");
  if (o.has("budget") && o.has("budget-fraction")) {
    return Status::InvalidArgument("give option \"budget\" or option \"budget-fraction\", not both");
  }
  if (o.has("budget")) {
    FM_ASSIGN_OR_RETURN(m.budget_flop, option_exact(o, "budget"));
    if (*m.budget_flop == 0) return Status::InvalidArgument("option \"budget\" must be positive");
  }
  if (o.has("budget-fraction")) {
    FM_ASSIGN_OR_RETURN(double f, option_double(o, "budget-fraction"));
    if (!(f > 0 && f <= 1)) return Status::InvalidArgument("option \"budget-fraction\" must be in (0, 1]");
    m.budget_fraction = f;
  }
  if (o.has("budget-lookahead")) {
    FM_ASSIGN_OR_RETURN(m.budget_lookahead_steps, option_uint(o, "budget-lookahead"));
    if (m.budget_lookahead_steps == 0) return Status::InvalidArgument("option \"budget-lookahead\" must be at least 1");
  }
  for (const auto& [name, field] : {std::pair{"max-length", &m.max_length},
                                     std::pair{"micro-batch-size", &m.micro_batch_size},
                                     std::pair{"grad-accum", &m.grad_accum}}) {
    if (!o.has(name)) continue;
    FM_ASSIGN_OR_RETURN(*field, option_uint(o, name));
    if (**field == 0) return Status::InvalidArgument(option_ref(name) + " must be at least 1");
  }
  if (o.has("rank")) {
    FM_ASSIGN_OR_RETURN(m.rank, option_u32(o, "rank"));
  }
  if (o.has("world-size")) {
    FM_ASSIGN_OR_RETURN(m.world_size, option_u32(o, "world-size"));
  }
  if (o.has("local-rank")) {
    FM_ASSIGN_OR_RETURN(m.local_rank, option_u32(o, "local-rank"));
  }
  m.node = o.get("node");
  if (o.has("end-wait")) {
    FM_ASSIGN_OR_RETURN(m.end_wait_s, option_double(o, "end-wait"));
    if (m.end_wait_s < 0) return Status::InvalidArgument("option \"end-wait\" must not be negative");
  }
  m.nvml = o.has("nvml");
  m.nvml_library = o.get("nvml-library", m.nvml_library);
  if (o.has("sample-hz")) {
    FM_ASSIGN_OR_RETURN(m.sample_hz, option_positive(o, "sample-hz"));
    if (m.sample_hz > 1000) return Status::InvalidArgument("option \"sample-hz\" must be at most 1000");
  }
  if (o.has("dtype")) {
    FM_ASSIGN_OR_RETURN(m.dtype, parse_dtype(o.get("dtype")));
  }
  if (o.has("peak-flops")) {
    FM_ASSIGN_OR_RETURN(m.peak_flop_per_s, option_positive(o, "peak-flops"));
  }
  if (o.has("visible-devices")) m.visible_devices = o.get("visible-devices");
  if (o.has("journal-interval")) {
    FM_ASSIGN_OR_RETURN(m.journal_interval_s, option_positive(o, "journal-interval"));
  }
  m.resume = o.has("resume");
  if (o.has("resume-step")) {
    FM_ASSIGN_OR_RETURN(m.resume_step, option_uint(o, "resume-step"));
    m.resume = true;
  }
  m.output = o.get("out");
  m.run_id = o.get("run-id");
  if (o.has("run-id")) FM_RETURN_IF_ERROR(check_run_id(m.run_id, "option \"run-id\""));
  m.job_name = o.get("job-name");
  m.training_id = o.get("training-id");
  m.recipe = o.get("recipe");
  // watch's --dataset FILES (comma-separated); the JSON options give a list.
  if (o.has("dataset")) m.dataset_files = split_list(o.get("dataset"));
  m.recipe_details = o.get("recipe-details");
  if (!m.recipe_details.empty() && !nlohmann::json::accept(m.recipe_details)) {
    return Status::InvalidArgument("option \"recipe-details\": not valid JSON");
  }
  m.instance_type = o.get("instance-type");
  m.model_package_group = o.get("model-package-group");
  m.ledger = o.get("ledger");
  m.ledger_key = o.get("ledger-key");
  m.ledger_model = o.get("ledger-model");
  m.ledger_produces = o.get("ledger-produces");
  m.organisation = o.get("organisation");
  if (m.ledger_model.empty() && !m.ledger_produces.empty()) {
    return Status::InvalidArgument("ledger-produces needs ledger-model: the model it is made from");
  }
  FM_ASSIGN_OR_RETURN(m.exporting, export_options_from_map(o, "export"));
  return m;
}

Result<MeterOptions> meter_options_from_json(std::string_view json, std::string_view origin) {
  const std::string where(origin);
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object()) return Status::ParseError(where + ": meter options must be a JSON object");
  OptionMap o;
  std::map<std::string, std::vector<std::string>> lists;
  const auto& names = meter_option_names();
  for (const auto& [key, value] : j.items()) {
    if (!std::binary_search(names.begin(), names.end(), key)) {
      std::vector<std::string> near = closest_names(key, names, 2);
      return Status::InvalidArgument(where + ": unknown option \"" + printable_text(key) + "\"" +
                                     (near.empty() ? "" : "; did you mean \"" + near[0] + "\"?"));
    }
    // `name`, not the binding itself: clang before 16 cannot capture structured bindings.
    auto bad = [&where, &name = key](const char* expected) {
      return Status::InvalidArgument(where + ": option \"" + printable_text(name) + "\": expected " + expected);
    };
    if (value.is_null()) continue;
    if (is_switch(key)) {
      if (!value.is_boolean()) return bad("true or false");
      if (value.get<bool>()) o.values[key] = "";
      continue;
    }
    if (is_item_list(key)) {
      if (!value.is_array()) return bad("an array");
      for (const auto& item : value) {
        if (item.is_string()) {
          lists[key].push_back(item.get<std::string>());
        } else if (item.is_number_integer()) {
          lists[key].push_back(item.dump());
        } else {
          return bad("an array of strings or integers");
        }
      }
      continue;
    }
    if (value.is_string()) {
      o.values[key] = value.get<std::string>();
    } else if (value.is_number_integer()) {
      o.values[key] = value.dump();
    } else if (value.is_number_float()) {
      // The shortest text that reads back as the same double: 3e23 stays
      // "3e+23", exactly 3 x 10^23 to the options' exact parsers, where
      // %.17g made it 3.0000000000000001e+23.
      o.values[key] = value.dump();
    } else if (value.is_array()) {
      std::string joined;
      for (const auto& item : value) {
        if (!item.is_string() && !item.is_number_integer()) return bad("a string, a number or an array of them");
        joined += (joined.empty() ? "" : ",") + (item.is_string() ? item.get<std::string>() : item.dump());
      }
      o.values[key] = joined;
    } else if (key == "recipe-details" && value.is_object()) {
      o.values[key] = value.dump();
    } else {
      return bad("a string, a number or an array of them");
    }
  }
  for (const std::string& pattern : lists["spectrum-patterns"]) {
    if (pattern.find('\n') != std::string::npos) return Status::InvalidArgument(where + ": a spectrum pattern holds no line break");
    o.values["spectrum-patterns"] += (o.values["spectrum-patterns"].empty() ? "" : "\n") + pattern;
  }
  auto m = meter_options_from_map(o);
  if (!m.ok()) return printable_status(m.status().WithContext(where));
  m->command = lists["command"];
  m->dataset_files = lists["dataset"];
  for (const std::string& pid : lists["job-pids"]) {
    OptionMap one;
    one.values["job-pids"] = pid;
    auto v = option_uint(one, "job-pids");
    if (!v.ok() || *v == 0 || *v > INT32_MAX) return Status::InvalidArgument(where + ": \"job-pids\": '" + printable_text(pid) + "' is not a process id");
    m->job_pids.push_back(static_cast<int64_t>(*v));
  }
  return m;
}

nlohmann::json meter_options_json(const MeterOptions& m) {
  nlohmann::json j = nlohmann::json::object();
  auto text = [&](const char* key, const std::string& v) {
    if (!v.empty()) j[key] = v;
  };
  auto flag = [&](const char* key, bool v) {
    if (v) j[key] = true;
  };
  auto join = [](const auto& items) {
    std::string out;
    for (const auto& item : items) {
      std::string s;
      if constexpr (std::is_same_v<std::decay_t<decltype(item)>, std::string>) {
        s = item;
      } else {
        s = std::to_string(item);
      }
      out += (out.empty() ? "" : ",") + s;
    }
    return out;
  };
  text("run", m.run_dir);
  text("model", m.model);
  text("model-name", m.model_name);
  const MethodSpec& spec = m.method;
  j["method"] = method_name(spec.kind);
  j["lora-r"] = spec.lora.r;
  j[spec.lora.target_regex ? "lora-target-regex" : "lora-targets"] = join(spec.lora.target_modules);
  j["lora-bias"] = spec.lora.bias;
  text("lora-modules-to-save", join(spec.lora.modules_to_save));
  text("lora-layers", join(spec.lora.layers_to_transform));
  j["lora-dropout"] = spec.lora.dropout;
  j["freeze-layers"] = spec.freeze.frozen_layers;
  flag("freeze-embeddings", spec.freeze.freeze_embeddings);
  if (spec.spectrum.fraction) j["spectrum-fraction"] = *spec.spectrum.fraction;
  if (!spec.spectrum.unfrozen_patterns.empty()) j["spectrum-patterns"] = spec.spectrum.unfrozen_patterns;
  if (m.n_total) j["n-total"] = *m.n_total;
  if (m.n_trainable) j["n-trainable"] = *m.n_trainable;
  j["attention"] = m.attention_name.empty() ? attention_kernel_name(m.kernel) : m.attention_name;
  flag("gradient-checkpointing", m.gradient_checkpointing);
  if (m.checkpoint_mode != CheckpointMode::kReentrant) j["checkpoint-mode"] = checkpoint_mode_name(m.checkpoint_mode);
  if (m.epochs) j["epochs"] = *m.epochs;
  if (m.pretrain) {
    j["pretrain-flops"] = m.pretrain->flop ? to_decimal(*m.pretrain->flop) : "unknown";
    text("pretrain-source", m.pretrain->source);
  }
  flag("base-systemic-risk", m.base_systemic_risk);
  if (m.prior_modifications > 0) j["prior-modifications"] = to_decimal(m.prior_modifications);
  text("prior-modifications-undetermined", m.prior_modifications_undetermined);
  j["compliance-formula"] = compliance_formula_name(m.compliance_formula);
  text("data-dir", m.data_dir);
  if (m.budget_flop) j["budget"] = to_decimal(*m.budget_flop);
  if (m.budget_fraction) j["budget-fraction"] = *m.budget_fraction;
  j["budget-lookahead"] = m.budget_lookahead_steps;
  if (m.max_length) j["max-length"] = *m.max_length;
  if (m.micro_batch_size) j["micro-batch-size"] = *m.micro_batch_size;
  if (m.grad_accum) j["grad-accum"] = *m.grad_accum;
  j["rank"] = m.rank;
  j["world-size"] = m.world_size;
  j["local-rank"] = m.local_rank;
  text("node", m.node);
  text("run-id", m.run_id);
  j["end-wait"] = m.end_wait_s;
  flag("nvml", m.nvml);
  j["nvml-library"] = m.nvml_library;
  j["sample-hz"] = m.sample_hz;
  j["dtype"] = dtype_name(m.dtype);
  if (m.peak_flop_per_s) j["peak-flops"] = *m.peak_flop_per_s;
  if (m.visible_devices) j["visible-devices"] = *m.visible_devices;
  if (!m.job_pids.empty()) j["job-pids"] = m.job_pids;
  j["journal-interval"] = m.journal_interval_s;
  flag("resume", m.resume);
  if (m.resume_step) j["resume-step"] = *m.resume_step;
  text("out", m.output);
  text("job-name", m.job_name);
  text("training-id", m.training_id);
  text("ledger", m.ledger);
  text("ledger-key", m.ledger_key);
  text("ledger-model", m.ledger_model);
  text("ledger-produces", m.ledger_produces);
  text("organisation", m.organisation);
  text("recipe", m.recipe);
  text("recipe-details", m.recipe_details);
  text("instance-type", m.instance_type);
  text("model-package-group", m.model_package_group);
  if (!m.dataset_files.empty()) j["dataset"] = m.dataset_files;
  if (!m.command.empty()) j["command"] = m.command;
  add_export_options_json(m.exporting, "export", j);
  return j;
}

Status meter_options_from_environment(MeterOptions& m) {
  if (!m.pretrain) {
    if (std::optional<EnvValue> v = env_setting(EnvSetting::kPretrainFlops)) {
      FM_ASSIGN_OR_RETURN(m.pretrain, parse_pretrain_flops(v->value, v->variable));
    }
  }
  if (!m.nvml) {
    if (std::optional<EnvValue> v = env_setting(EnvSetting::kNvml)) {
      const std::string& s = v->value;
      if (s == "1" || s == "true" || s == "yes") {
        m.nvml = true;
      } else if (s != "0" && s != "false" && s != "no") {
        return Status::InvalidArgument("environment " + v->variable + "='" + s + "': expected 1 or 0");
      }
    }
  }
  if (m.output.empty()) {
    if (std::optional<EnvValue> v = env_setting(EnvSetting::kOut)) m.output = v->value;
  }
  if (!m.peak_flop_per_s) {
    if (std::optional<EnvValue> v = env_setting(EnvSetting::kPeakFlops)) {
      OptionMap o;
      o.values["peak-flops"] = v->value;
      auto peak = option_positive(o, "peak-flops");
      if (!peak.ok()) {
        return Status::InvalidArgument("environment " + v->variable + "='" + v->value + "': expected a positive number");
      }
      m.peak_flop_per_s = *peak;
    }
  }
  if (std::optional<EnvValue> v = env_setting(EnvSetting::kNvmlLibrary);
      v && m.nvml_library == MeterOptions().nvml_library) {
    m.nvml_library = v->value;
  }
  // torchrun's variables; explicit options win (a default 0/1 counts as unset).
  if (m.rank == 0 && env_value("RANK")) {
    FM_ASSIGN_OR_RETURN(m.rank, env_u32("RANK"));
  }
  if (m.world_size == 1 && env_value("WORLD_SIZE")) {
    FM_ASSIGN_OR_RETURN(m.world_size, env_u32("WORLD_SIZE"));
  }
  if (m.local_rank == 0 && env_value("LOCAL_RANK")) {
    FM_ASSIGN_OR_RETURN(m.local_rank, env_u32("LOCAL_RANK"));
  }
  if (!m.visible_devices) {
    if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES")) m.visible_devices = std::string(v);
  }
  if (m.job_name.empty()) {
    if (const char* v = env_value("TRAINING_JOB_NAME")) m.job_name = v;
  }
  if (m.run_id.empty()) {
    if (std::optional<EnvValue> v = env_setting(EnvSetting::kRunId)) {
      m.run_id = v->value;
      FM_RETURN_IF_ERROR(check_run_id(m.run_id, "environment " + v->variable));
    }
  }
  if (m.ledger.empty()) {
    if (std::optional<EnvValue> v = env_setting(EnvSetting::kLedger)) m.ledger = v->value;
  }
  if (m.organisation.empty()) {
    if (std::optional<EnvValue> v = env_setting(EnvSetting::kOrganisation)) m.organisation = v->value;
  }
  if (m.exporting.to.empty()) {
    if (std::optional<EnvValue> v = env_setting(EnvSetting::kExport)) {
      m.exporting.to = v->value;
      // Checked before the run starts, not when it ends.
      FM_RETURN_IF_ERROR(parse_export_target(m.exporting.to).status().WithContext("environment " + v->variable));
    }
  }
  if (!m.ledger.empty() && m.organisation.empty()) {
    // Checked before the run starts, not when its record is appended.
    return Status::InvalidArgument("a run recorded in a ledger needs its organisation (option organisation, or "
                                   "FLOPSMETER_ORGANISATION): the EU rule adds up one organisation's modifications");
  }
  if (m.node.empty()) {
    char host[256] = {0};
    if (::gethostname(host, sizeof host - 1) == 0) m.node = host;
  }
  if (m.world_size == 0) return Status::InvalidArgument("world size must be at least 1");
  if (m.rank >= m.world_size) {
    return Status::InvalidArgument("rank " + std::to_string(m.rank) + " is not below the world size " +
                                   std::to_string(m.world_size));
  }
  return Status();
}

}  // namespace flopsmeter
