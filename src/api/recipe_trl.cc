// TRL's `trl sft` configuration and the AWS toolkit's recipes: TrlParser
// over ModelConfig, SFTConfig (transformers' TrainingArguments and TRL's
// own) and a script's arguments. Defaults and meanings as documented at
// https://huggingface.co/docs/trl/sft_trainer and
// https://huggingface.co/docs/transformers/main_classes/trainer.
#include <algorithm>

#include "api/recipe_internal.h"
#include "core/json_doc.h"

namespace flopsmeter {
namespace {

// TRL's SFTConfig.max_length default (samples are truncated to it).
constexpr uint64_t kTrlDefaultMaxLength = 1024;
// transformers' TrainingArguments.num_train_epochs default.
constexpr double kTrainerDefaultEpochs = 3;

Status read_model(RecipeScope& s, RecipeBuild& b) {
  FM_ASSIGN_OR_RETURN(std::optional<std::string> model, s.text("model_name_or_path"));
  if (!model || model->empty()) return s.error(*s.take("model_name_or_path"), "model_name_or_path", "is empty");
  const uint64_t line = s.take("model_name_or_path")->line;
  b.set(b.reader == RecipeReader::kEstimate ? "model" : "model-name", *model, "model_name_or_path", line);
  FM_ASSIGN_OR_RETURN(std::optional<std::string> revision, s.text("model_revision"));
  // "main" is TRL's default: it asks for nothing the model id alone does not.
  if (revision && !revision->empty() && *revision != "main") {
    b.set("revision", *revision, "model_revision", s.take("model_revision")->line);
  }
  FM_ASSIGN_OR_RETURN(std::optional<std::string> tokenizer, s.text("tokenizer_name_or_path"));
  if (tokenizer && *tokenizer != *model) {
    b.set("tokenizer", *tokenizer, "tokenizer_name_or_path", s.take("tokenizer_name_or_path")->line);
  }
  FM_RETURN_IF_ERROR(read_recipe_attention(s, b));
  FM_ASSIGN_OR_RETURN(std::optional<std::string> modality, s.text("modality_type"));
  return recipe_refuse_if(s, modality && *modality != "text", "modality_type",
                   "'" + (modality ? printable_text(*modality) : "") + "': only text training is accounted");
}

// The dataset: one local file or directory (dataset_id_or_path, AWS;
// dataset_name, TRL), or TRL's `datasets` mixture of local files.
Status read_dataset(RecipeScope& s, RecipeBuild& b) {
  std::vector<std::string> files;
  std::string dataset_key = "datasets";
  for (const char* key : {"dataset_id_or_path", "dataset_name"}) {
    FM_ASSIGN_OR_RETURN(std::optional<std::string> path, s.text(key));
    if (!path) continue;
    if (!files.empty()) return s.error(*s.take(key), key, "a second dataset key: give dataset_id_or_path or dataset_name");
    FM_ASSIGN_OR_RETURN(std::string found, recipe_path(b, s, *s.take(key), key, *path));
    files.push_back(found);
    dataset_key = key;
    if (dataset_key == "dataset_id_or_path" && path->size() > 6 && path->substr(path->size() - 6) == ".jsonl") {
      b.note("the AWS toolkit's sft.py trains on the first 90% of a .jsonl file's records and evaluates on the rest; "
             "every record is counted here, so the figures are at most 1/9 above that run's");
    }
  }
  const YamlNode* mixture = s.take("datasets");
  if (mixture != nullptr && !mixture->is_null()) {
    if (!files.empty()) return s.error(*mixture, "datasets", "give datasets or one dataset key, not both");
    if (mixture->kind != YamlKind::kSequence) return s.error(*mixture, "datasets", "expected a list of datasets");
    for (size_t i = 0; i < mixture->items.size(); ++i) {
      const YamlNode& entry = mixture->items[i];
      const std::string at = "datasets[" + std::to_string(i) + "]";
      if (entry.kind != YamlKind::kMapping) return s.error(entry, "datasets", "each entry is a mapping with path");
      RecipeScope e(entry, at + ".", s.origin());
      FM_ASSIGN_OR_RETURN(std::optional<std::string> path, e.text("path"));
      FM_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> data_files, e.names("data_files", true));
      FM_ASSIGN_OR_RETURN(std::optional<std::string> split, e.text("split"));
      if (split && *split != "train") {
        return e.error(*e.take("split"), "split", "'" + printable_text(*split) + "': a local file's split is train");
      }
      // load_dataset("json", data_files=...) reads the files named; a path alone is the data.
      const bool builder = path && (*path == "json" || *path == "parquet" || *path == "text" || *path == "arrow");
      std::vector<std::string> named = builder && data_files ? *data_files : std::vector<std::string>();
      if (!builder && path) named.push_back(*path);
      if (named.empty()) return e.error(entry, "path", "no local file: give path, or path: json with data_files");
      for (const std::string& f : named) {
        FM_ASSIGN_OR_RETURN(std::string found, recipe_path(b, e, entry, builder ? "data_files" : "path", f));
        files.push_back(found);
      }
      FM_RETURN_IF_ERROR(e.check_untaken({"name", "data_dir", "columns"}, "a TRL datasets entry"));
    }
  }
  if (files.empty()) return Status::Ok();
  b.set("dataset", recipe_joined(files), dataset_key, s.take(dataset_key)->line);
  FM_ASSIGN_OR_RETURN(std::optional<std::string> field, s.text("dataset_text_field"));
  if (field && *field != "text") b.set("field", *field, "dataset_text_field", s.take("dataset_text_field")->line);
  FM_ASSIGN_OR_RETURN(std::optional<std::string> chat_template, s.text("chat_template_path"));
  if (chat_template) {
    FM_ASSIGN_OR_RETURN(std::string found, recipe_path(b, s, *s.take("chat_template_path"), "chat_template_path",
                                                       *chat_template));
    b.set("chat-template", found, "chat_template_path", s.take("chat_template_path")->line);
  }
  return Status::Ok();
}

// Truncation, packing and padding: the sequences the trainer runs.
Status read_sequences(RecipeScope& s, RecipeBuild& b) {
  FM_ASSIGN_OR_RETURN(std::optional<uint64_t> max_length, s.whole("max_length"));
  FM_ASSIGN_OR_RETURN(std::optional<uint64_t> max_seq_length, s.whole("max_seq_length"));
  if (max_length && max_seq_length && *max_length != *max_seq_length) {
    return s.error(*s.take("max_seq_length"), "max_seq_length", "differs from max_length (TRL renamed it): give one");
  }
  const bool given = s.take("max_length") != nullptr || s.take("max_seq_length") != nullptr;
  const char* length_key = s.take("max_length") != nullptr ? "max_length" : "max_seq_length";
  if (max_length || max_seq_length) {
    b.set("max-length", std::to_string(max_length ? *max_length : *max_seq_length), length_key,
          s.take(length_key)->line);
  } else if (!given) {
    b.set("max-length", std::to_string(kTrlDefaultMaxLength), "max_length", 0);
    b.note("max_length is not set: TRL's default, " + std::to_string(kTrlDefaultMaxLength) +
           " tokens, truncates longer samples");
  }
  FM_ASSIGN_OR_RETURN(std::optional<bool> packing, s.boolean("packing"));
  FM_ASSIGN_OR_RETURN(std::optional<std::string> strategy, s.text("packing_strategy"));
  FM_ASSIGN_OR_RETURN(std::optional<bool> padding_free, s.boolean("padding_free"));
  if (packing.value_or(false)) {
    const std::string how = strategy.value_or("bfd");
    if (how != "bfd" && how != "wrapped") {
      return s.error(*s.take("packing_strategy"), "packing_strategy", "'" + printable_text(how) + "': expected bfd or wrapped");
    }
    b.set("layout", how == "bfd" ? "packed-bfd" : "packed-wrapped", "packing", s.take("packing")->line);
  } else if (padding_free.value_or(false)) {
    b.set("layout", "unpadded", "padding_free", s.take("padding_free")->line);
  } else if (packing) {
    b.set("layout", "padded", "packing", s.take("packing")->line);
  }
  FM_ASSIGN_OR_RETURN(std::optional<uint64_t> multiple, s.whole("pad_to_multiple_of"));
  FM_RETURN_IF_ERROR(recipe_refuse_if(s, multiple.has_value(), "pad_to_multiple_of",
                               "pads every batch up to a multiple of its value, which the accounting does not model"));
  FM_ASSIGN_OR_RETURN(std::optional<bool> grouped, s.boolean("group_by_length"));
  FM_RETURN_IF_ERROR(recipe_refuse_if(s, grouped.value_or(false) && !packing.value_or(false), "group_by_length",
                               "batches samples of similar length, which changes the padding from the random order "
                               "accounted"));
  FM_ASSIGN_OR_RETURN(const YamlNode* dataset_kwargs, s.mapping("dataset_kwargs"));
  if (dataset_kwargs != nullptr) {
    const YamlNode* skip = dataset_kwargs->find("skip_prepare_dataset");
    FM_RETURN_IF_ERROR(recipe_refuse_if(s, skip != nullptr && recipe_bool(*skip).value_or(false), "dataset_kwargs",
                                 "skip_prepare_dataset: the samples are prepared by the user's own code"));
  }
  return Status::Ok();
}

// Batches, steps and epochs, as the Trainer runs them.
Status read_schedule(RecipeScope& s, RecipeBuild& b) {
  FM_ASSIGN_OR_RETURN(std::optional<uint64_t> batch, s.whole("per_device_train_batch_size"));
  if (batch) b.set("micro-batch-size", std::to_string(*batch), "per_device_train_batch_size",
                   s.take("per_device_train_batch_size")->line);
  FM_ASSIGN_OR_RETURN(std::optional<uint64_t> accumulation, s.whole("gradient_accumulation_steps"));
  if (accumulation) b.set("grad-accum", std::to_string(*accumulation), "gradient_accumulation_steps",
                          s.take("gradient_accumulation_steps")->line);
  FM_ASSIGN_OR_RETURN(std::optional<double> epochs, s.number("num_train_epochs"));
  if (epochs && !(*epochs > 0)) return s.error(*s.take("num_train_epochs"), "num_train_epochs", "must be positive");
  if (epochs) {
    b.set("epochs", recipe_number_text(*epochs), "num_train_epochs", s.take("num_train_epochs")->line);
  } else {
    b.set("epochs", recipe_number_text(kTrainerDefaultEpochs), "num_train_epochs", 0);
    b.note("num_train_epochs is not set: transformers' default, 3 epochs");
  }
  const YamlNode* steps_node = s.take("max_steps");
  if (steps_node != nullptr && !steps_node->is_null() && steps_node->text != "-1") {
    FM_ASSIGN_OR_RETURN(std::optional<uint64_t> steps, s.whole("max_steps"));
    if (steps && *steps > 0) b.set("max-steps", std::to_string(*steps), "max_steps", steps_node->line);
  }
  FM_ASSIGN_OR_RETURN(std::optional<bool> checkpointing, s.boolean("gradient_checkpointing"));
  if (checkpointing.value_or(false)) {
    b.set("gradient-checkpointing", "", "gradient_checkpointing", s.take("gradient_checkpointing")->line);
  }
  FM_RETURN_IF_ERROR(read_recipe_checkpoint_kwargs(s, b));
  FM_ASSIGN_OR_RETURN(std::optional<bool> drop_last, s.boolean("dataloader_drop_last"));
  FM_RETURN_IF_ERROR(recipe_refuse_if(s, drop_last.value_or(false), "dataloader_drop_last",
                               "drops each epoch's last partial batch, which the accounting counts"));
  FM_ASSIGN_OR_RETURN(std::optional<bool> auto_batch, s.boolean("auto_find_batch_size"));
  return recipe_refuse_if(s, auto_batch.value_or(false), "auto_find_batch_size",
                   "the batch size is chosen at run time, so the padding is not known before");
}

// The method: Spectrum (spectrum_config_path), a LoRA family (use_peft),
// or full fine-tuning.
Status read_method(RecipeScope& s, RecipeBuild& b) {
  FM_ASSIGN_OR_RETURN(std::optional<bool> peft, s.boolean("use_peft"));
  FM_ASSIGN_OR_RETURN(std::optional<bool> four_bit, s.boolean("load_in_4bit"));
  FM_ASSIGN_OR_RETURN(std::optional<bool> eight_bit, s.boolean("load_in_8bit"));
  FM_ASSIGN_OR_RETURN(std::optional<bool> dora, s.boolean("use_dora"));
  FM_ASSIGN_OR_RETURN(std::optional<std::string> spectrum, s.text("spectrum_config_path"));
  FM_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> parameters, s.names("lora_target_parameters", false));
  FM_RETURN_IF_ERROR(recipe_refuse_if(s, parameters && !parameters->empty(), "lora_target_parameters",
                               "adapts parameters rather than modules, which the accounting does not model"));
  FM_RETURN_IF_ERROR(read_recipe_lora(s, b, {"lora_r", "lora_alpha", "lora_dropout", "lora_target_modules",
                                      "lora_modules_to_save", nullptr, nullptr}));
  FM_ASSIGN_OR_RETURN(const YamlNode* nested, s.mapping("peft_config"));
  if (nested != nullptr) {
    RecipeScope p(*nested, "peft_config.", s.origin());
    FM_RETURN_IF_ERROR(read_recipe_lora(p, b, {"r", "lora_alpha", "lora_dropout", "target_modules", "modules_to_save",
                                        "layers_to_transform", "bias"}));
    FM_ASSIGN_OR_RETURN(std::optional<bool> nested_dora, p.boolean("use_dora"));
    if (nested_dora) dora = nested_dora;
    FM_RETURN_IF_ERROR(p.check_untaken({"task_type", "inference_mode", "use_rslora", "init_lora_weights"},
                                       "a PEFT LoraConfig"));
  }
  const uint64_t peft_line = s.take("use_peft") ? s.take("use_peft")->line : 0;
  if (spectrum) {
    if (peft.value_or(false)) return s.error(*s.take("use_peft"), "use_peft", "and spectrum_config_path: give one method");
    FM_ASSIGN_OR_RETURN(std::string found, recipe_path(b, s, *s.take("spectrum_config_path"), "spectrum_config_path",
                                                       *spectrum));
    b.set("method", "spectrum", "spectrum_config_path", s.take("spectrum_config_path")->line);
    b.set("spectrum-file", found, "spectrum_config_path", s.take("spectrum_config_path")->line);
  } else if (peft.value_or(false)) {
    if (dora.value_or(false) && four_bit.value_or(false)) {
      return s.error(*s.take("use_dora"), "use_dora", "with load_in_4bit (QDoRA) is not accounted");
    }
    const char* method = dora.value_or(false) ? "dora" : four_bit.value_or(false) ? "qlora" : "lora";
    b.set("method", method, "use_peft", peft_line);
    if (eight_bit.value_or(false)) b.note("load_in_8bit: the 8-bit base runs the same matmuls; counted as LoRA");
  } else {
    if (four_bit.value_or(false) || eight_bit.value_or(false)) {
      const char* key = four_bit.value_or(false) ? "load_in_4bit" : "load_in_8bit";
      return s.error(*s.take(key), key, "without use_peft: a quantised model is not trained whole");
    }
    b.set("method", "full", "use_peft", peft_line);
  }
  return Status::Ok();
}

// The optimiser, schedule and output settings a trainer needs: typed, so a
// wrong type is an error naming the key even where the compute ignores it.
Status read_training(RecipeScope& s, RecipeBuild& b) {
  TrainingSettings& t = b.recipe.training;
  for (auto [key, value] : {std::pair{"learning_rate", &t.learning_rate}, {"warmup_ratio", &t.warmup_ratio},
                            {"weight_decay", &t.weight_decay}, {"adam_beta1", &t.adam_beta1},
                            {"adam_beta2", &t.adam_beta2}, {"adam_epsilon", &t.adam_epsilon},
                            {"max_grad_norm", &t.max_grad_norm}}) {
    FM_ASSIGN_OR_RETURN(std::optional<double> v, s.number(key));
    if (v && !(*v >= 0)) return s.error(*s.take(key), key, "must not be negative");
    if (v) *value = *v;
  }
  for (auto [key, value] : {std::pair{"warmup_steps", &t.warmup_steps}, {"seed", &t.seed},
                            {"save_steps", &t.save_steps}, {"logging_steps", &t.logging_steps}}) {
    FM_ASSIGN_OR_RETURN(std::optional<uint64_t> v, s.whole(key));
    if (v) *value = *v;
  }
  FM_ASSIGN_OR_RETURN(std::optional<std::string> scheduler, s.text("lr_scheduler_type"));
  if (scheduler) t.lr_scheduler_type = *scheduler;
  FM_ASSIGN_OR_RETURN(std::optional<std::string> output_dir, s.text("output_dir"));
  if (output_dir) t.output_dir = *output_dir;
  return Status::Ok();
}

}  // namespace

Status read_trl_recipe(const YamlNode& root, RecipeBuild& b, const std::set<std::string>& ignored) {
  RecipeScope s(root, "", b.recipe.use.file);
  FM_RETURN_IF_ERROR(read_model(s, b));
  FM_RETURN_IF_ERROR(read_dataset(s, b));
  FM_RETURN_IF_ERROR(read_sequences(s, b));
  FM_RETURN_IF_ERROR(read_schedule(s, b));
  FM_RETURN_IF_ERROR(read_method(s, b));
  FM_RETURN_IF_ERROR(read_training(s, b));
  FM_ASSIGN_OR_RETURN(std::optional<bool> compute_flops, s.boolean("compute_flops"));
  b.recipe.compute_flops = compute_flops.value_or(false);
  if (b.reader == RecipeReader::kEstimate) b.note("the recipe does not say how many data-parallel ranks train; the estimate assumes the data-parallel option "
         "(default 1), which sets the batches per optimizer step");
  return s.check_untaken(ignored, "TRL / the AWS recipes");
}

}  // namespace flopsmeter
