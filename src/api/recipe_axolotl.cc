// Axolotl's configuration YAML, with the defaults and meanings of its
// reference, https://docs.axolotl.ai/docs/config-reference.html.
#include "api/recipe_internal.h"
#include "core/json_doc.h"

namespace flopsmeter {
namespace {

// Axolotl's defaults for the keys that shape the run.
constexpr uint64_t kAxolotlDefaultMicroBatch = 1;
constexpr double kAxolotlDefaultEpochs = 1;

Status read_axolotl_model(RecipeScope& s, RecipeBuild& b) {
  FM_ASSIGN_OR_RETURN(std::optional<std::string> model, s.text("base_model"));
  if (!model || model->empty()) return s.error(*s.take("base_model"), "base_model", "is empty");
  b.set(b.reader == RecipeReader::kEstimate ? "model" : "model-name", *model, "base_model", s.take("base_model")->line);
  FM_ASSIGN_OR_RETURN(std::optional<std::string> config, s.text("base_model_config"));
  FM_RETURN_IF_ERROR(recipe_refuse_if(s, config && *config != *model, "base_model_config",
                                      "a model config other than base_model's: give that config as the model"));
  FM_ASSIGN_OR_RETURN(std::optional<std::string> revision, s.text("revision_of_model"));
  if (revision && *revision != "main") b.set("revision", *revision, "revision_of_model", s.take("revision_of_model")->line);
  FM_ASSIGN_OR_RETURN(std::optional<std::string> tokenizer, s.text("tokenizer_config"));
  if (tokenizer && *tokenizer != *model) b.set("tokenizer", *tokenizer, "tokenizer_config", s.take("tokenizer_config")->line);
  FM_ASSIGN_OR_RETURN(std::optional<std::string> rl, s.text("rl"));
  FM_RETURN_IF_ERROR(recipe_refuse_if(s, rl.has_value(), "rl",
                                      "preference and reinforcement training is not the supervised fine-tuning accounted"));
  FM_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> tokens, s.names("tokens", false));
  return recipe_refuse_if(s, tokens && !tokens->empty(), "tokens",
                          "new tokens resize the embeddings and change the tokenizer: count with the resized model's "
                          "files");
}

// One `datasets` entry: its files, and the schema and field its type reads.
struct AxolotlDataset {
  std::vector<std::string> files;
  std::string schema;
  std::string field;
};

Result<AxolotlDataset> read_axolotl_dataset(RecipeScope& e, RecipeBuild& b, const YamlNode& entry) {
  AxolotlDataset d;
  FM_ASSIGN_OR_RETURN(std::optional<std::string> path, e.text("path"));
  FM_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> data_files, e.names("data_files", true));
  if (!path && !data_files) return e.error(entry, "path", "no dataset: give path");
  for (const std::string& f : data_files ? *data_files : std::vector<std::string>{*path}) {
    FM_ASSIGN_OR_RETURN(std::string found, recipe_path(b, e, entry, data_files ? "data_files" : "path", f));
    d.files.push_back(found);
  }
  FM_ASSIGN_OR_RETURN(std::optional<std::string> split, e.text("split"));
  FM_RETURN_IF_ERROR(recipe_refuse_if(e, split && *split != "train", "split", "a local file's split is train"));
  FM_ASSIGN_OR_RETURN(std::optional<std::string> type, e.text("type"));
  const YamlNode* type_node = e.take("type");
  if (type_node != nullptr && type_node->kind == YamlKind::kMapping) {
    return e.error(*type_node, "type", "a custom prompt format is rendered by Axolotl's own code, not reproduced here");
  }
  const std::string kind = type.value_or("");
  FM_ASSIGN_OR_RETURN(std::optional<std::string> field_messages, e.text("field_messages"));
  FM_ASSIGN_OR_RETURN(std::optional<std::string> field, e.text("field"));
  FM_ASSIGN_OR_RETURN(std::optional<std::string> role_field, e.text("message_field_role"));
  FM_ASSIGN_OR_RETURN(std::optional<std::string> content_field, e.text("message_field_content"));
  if (kind == "chat_template") {
    const bool sharegpt = role_field.value_or("role") == "from" && content_field.value_or("content") == "value";
    if (!sharegpt && (role_field.value_or("role") != "role" || content_field.value_or("content") != "content")) {
      const char* key = role_field.value_or("role") != "role" ? "message_field_role" : "message_field_content";
      return e.error(*e.take(key), key, "messages keyed by role/content or from/value are read; other names are not");
    }
    d.schema = sharegpt ? "sharegpt" : "messages";
    d.field = field_messages.value_or(sharegpt ? "conversations" : "messages");
  } else if (kind == "completion") {
    d.schema = "text";
    d.field = field.value_or("text");
  } else {
    return e.error(type_node != nullptr ? *type_node : entry, "type",
                   "'" + printable_text(kind) + "': Axolotl renders this type with its own prompt format, which "
                   "is not reproduced; chat_template and completion datasets are read");
  }
  FM_RETURN_IF_ERROR(e.check_untaken({"ds_type", "name", "roles", "roles_to_train", "train_on_eos",
                                      "message_property_mappings", "drop_system_message", "shards", "shards_idx",
                                      "preprocess_shards", "revision", "trust_remote_code", "train_on_split"},
                                     "an Axolotl datasets entry"));
  const YamlNode* mappings = entry.find("message_property_mappings");
  if (mappings != nullptr && !mappings->is_null()) {
    const YamlNode* role = mappings->find("role");
    const YamlNode* content = mappings->find("content");
    const bool plain = (role == nullptr || role->text == "role") && (content == nullptr || content->text == "content");
    FM_RETURN_IF_ERROR(recipe_refuse_if(e, !plain, "message_property_mappings",
                                        "messages keyed by other names than role and content"));
  }
  return d;
}

Status read_axolotl_datasets(RecipeScope& s, RecipeBuild& b) {
  const YamlNode* list = s.take("datasets");
  if (list == nullptr || list->is_null()) return Status::Ok();
  if (list->kind != YamlKind::kSequence || list->items.empty()) {
    return s.error(*list, "datasets", "expected a list of datasets (- path: ..., type: ...)");
  }
  std::vector<std::string> files;
  std::string schema, field;
  for (size_t i = 0; i < list->items.size(); ++i) {
    const YamlNode& entry = list->items[i];
    if (entry.kind != YamlKind::kMapping) return s.error(entry, "datasets", "each entry is a mapping with path and type");
    RecipeScope e(entry, "datasets[" + std::to_string(i) + "].", s.origin());
    FM_ASSIGN_OR_RETURN(AxolotlDataset d, read_axolotl_dataset(e, b, entry));
    if (i > 0 && (d.schema != schema || d.field != field)) {
      return e.error(entry, "type", "differs from the first dataset's type or field: count such datasets separately");
    }
    schema = d.schema;
    field = d.field;
    files.insert(files.end(), d.files.begin(), d.files.end());
  }
  b.set("dataset", recipe_joined(files), "datasets", list->line);
  b.set("schema", schema, "datasets[0].type", list->items[0].line);
  b.set("field", field, "datasets[0]", list->items[0].line);
  FM_ASSIGN_OR_RETURN(std::optional<std::string> chat_template, s.text("chat_template"));
  FM_RETURN_IF_ERROR(recipe_refuse_if(s, chat_template && *chat_template != "tokenizer_default", "chat_template",
                                      "a template other than the tokenizer's: write it to a file and give it as the "
                                      "chat template file"));
  FM_ASSIGN_OR_RETURN(std::optional<double> held_out, s.number("val_set_size"));
  if (held_out.value_or(0) > 0) {
    b.note("val_set_size holds out part of the samples at random for evaluation; every sample is counted here, so the "
           "figures are above the run's by about that share");
  }
  return Status::Ok();
}

Status read_axolotl_sequences(RecipeScope& s, RecipeBuild& b) {
  FM_ASSIGN_OR_RETURN(std::optional<uint64_t> length, s.whole("sequence_len"));
  if (!length) return Status::InvalidArgument(s.origin() + ": sequence_len is not set; the run's sequence length decides "
                                              "its truncation, packing and padding");
  b.set("max-length", std::to_string(*length), "sequence_len", s.take("sequence_len")->line);
  FM_ASSIGN_OR_RETURN(std::optional<std::string> excess, s.text("excess_length_strategy"));
  if (excess.value_or("drop") != "truncate") {
    b.note("Axolotl drops samples longer than sequence_len (excess_length_strategy drop); they are counted here "
           "truncated to it, so the figures are at or above the run's");
  }
  FM_ASSIGN_OR_RETURN(std::optional<bool> packing, s.boolean("sample_packing"));
  FM_ASSIGN_OR_RETURN(std::optional<bool> pad_to_length, s.boolean("pad_to_sequence_len"));
  if (packing.value_or(false)) {
    b.set("layout", "packed-bfd", "sample_packing", s.take("sample_packing")->line);
    b.note("sample_packing: Axolotl's multipack sampler fills its bins its own way; the tokens and the attention within "
           "each sample are the same, the bins' count may differ from the best-fit-decreasing packing counted");
  } else {
    b.set("layout", "padded", "sample_packing", s.take("sample_packing") ? s.take("sample_packing")->line : 0);
    if (pad_to_length.value_or(false)) {
      b.set("pad-to-max-length", "", "pad_to_sequence_len", s.take("pad_to_sequence_len")->line);
    }
  }
  FM_ASSIGN_OR_RETURN(std::optional<bool> grouped, s.boolean("group_by_length"));
  return recipe_refuse_if(s, grouped.value_or(false) && !packing.value_or(false), "group_by_length",
                          "batches samples of similar length, which changes the padding from the random order "
                          "accounted");
}

Status read_axolotl_schedule(RecipeScope& s, RecipeBuild& b) {
  FM_ASSIGN_OR_RETURN(std::optional<uint64_t> batch, s.whole("micro_batch_size"));
  b.set("micro-batch-size", std::to_string(batch.value_or(kAxolotlDefaultMicroBatch)), "micro_batch_size",
        batch ? s.take("micro_batch_size")->line : 0);
  FM_ASSIGN_OR_RETURN(std::optional<uint64_t> accumulation, s.whole("gradient_accumulation_steps"));
  if (accumulation) {
    b.set("grad-accum", std::to_string(*accumulation), "gradient_accumulation_steps",
          s.take("gradient_accumulation_steps")->line);
  }
  FM_ASSIGN_OR_RETURN(std::optional<uint64_t> total, s.whole("batch_size"));
  FM_RETURN_IF_ERROR(recipe_refuse_if(s, total && !accumulation, "batch_size",
                                      "the global batch leaves the accumulation to the number of GPUs: give "
                                      "gradient_accumulation_steps"));
  FM_ASSIGN_OR_RETURN(std::optional<double> epochs, s.number("num_epochs"));
  if (epochs && !(*epochs > 0)) return s.error(*s.take("num_epochs"), "num_epochs", "must be positive");
  b.set("epochs", recipe_number_text(epochs.value_or(kAxolotlDefaultEpochs)), "num_epochs",
        epochs ? s.take("num_epochs")->line : 0);
  FM_ASSIGN_OR_RETURN(std::optional<uint64_t> steps, s.whole("max_steps"));
  if (steps && *steps > 0) b.set("max-steps", std::to_string(*steps), "max_steps", s.take("max_steps")->line);
  const YamlNode* checkpointing = s.take("gradient_checkpointing");
  // true, or the name of an offloading variant ("offload", "unsloth").
  if (checkpointing != nullptr && !checkpointing->is_null() && recipe_bool(*checkpointing).value_or(true)) {
    b.set("gradient-checkpointing", "", "gradient_checkpointing", checkpointing->line);
  }
  FM_RETURN_IF_ERROR(read_recipe_checkpoint_kwargs(s, b));
  FM_RETURN_IF_ERROR(read_recipe_attention(s, b));
  for (const char* key : {"flash_attention", "flex_attention", "sdp_attention", "xformers_attention", "eager_attention"}) {
    FM_ASSIGN_OR_RETURN(std::optional<bool> on, s.boolean(key));
    const std::string name = key;
    if (on.value_or(false)) {
      b.set("attention", name == "flash_attention" || name == "flex_attention" ? "flash" : "dense", key,
            s.take(key)->line);
    }
  }
  return Status::Ok();
}

Status read_axolotl_method(RecipeScope& s, RecipeBuild& b) {
  FM_ASSIGN_OR_RETURN(std::optional<std::string> adapter, s.text("adapter"));
  FM_ASSIGN_OR_RETURN(std::optional<bool> dora, s.boolean("peft_use_dora"));
  FM_ASSIGN_OR_RETURN(std::optional<bool> linear, s.boolean("lora_target_linear"));
  FM_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> unfrozen, s.names("unfrozen_parameters", false, true));
  FM_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> parameters, s.names("lora_target_parameters", false));
  FM_RETURN_IF_ERROR(recipe_refuse_if(s, parameters && !parameters->empty(), "lora_target_parameters",
                                      "adapts parameters rather than modules, which the accounting does not model"));
  FM_RETURN_IF_ERROR(read_recipe_lora(s, b, {"lora_r", "lora_alpha", "lora_dropout", "lora_target_modules",
                                             "lora_modules_to_save", "peft_layers_to_transform", nullptr}));
  if (linear.value_or(false)) b.set("lora-targets", "all-linear", "lora_target_linear", s.take("lora_target_linear")->line);
  FM_ASSIGN_OR_RETURN(std::optional<bool> four_bit, s.boolean("load_in_4bit"));
  FM_ASSIGN_OR_RETURN(std::optional<bool> eight_bit, s.boolean("load_in_8bit"));
  const std::string kind = adapter.value_or("");
  if (kind.empty() && (four_bit.value_or(false) || eight_bit.value_or(false))) {
    const char* key = four_bit.value_or(false) ? "load_in_4bit" : "load_in_8bit";
    return s.error(*s.take(key), key, "without an adapter: a quantised model is not trained whole");
  }
  if (kind == "lora" || kind == "qlora") {
    if (dora.value_or(false) && kind == "qlora") return s.error(*s.take("peft_use_dora"), "peft_use_dora", "with qlora (QDoRA) is not accounted");
    b.set("method", dora.value_or(false) ? "dora" : kind, "adapter", s.take("adapter")->line);
    return Status::Ok();
  }
  if (!kind.empty()) {
    return s.error(*s.take("adapter"), "adapter", "'" + printable_text(kind) + "': expected lora or qlora");
  }
  if (unfrozen && !unfrozen->empty()) {
    std::string patterns;
    for (const std::string& p : *unfrozen) patterns += (patterns.empty() ? "" : "\n") + p;
    b.set("method", "spectrum", "unfrozen_parameters", s.take("unfrozen_parameters")->line);
    b.set("spectrum-patterns", patterns, "unfrozen_parameters", s.take("unfrozen_parameters")->line);
    return Status::Ok();
  }
  b.set("method", "full", "adapter", s.take("adapter") ? s.take("adapter")->line : 0);
  return Status::Ok();
}

}  // namespace

Status read_axolotl_recipe(const YamlNode& root, RecipeBuild& b, const std::set<std::string>& ignored) {
  RecipeScope s(root, "", b.recipe.use.file);
  FM_RETURN_IF_ERROR(read_axolotl_model(s, b));
  FM_RETURN_IF_ERROR(read_axolotl_datasets(s, b));
  FM_RETURN_IF_ERROR(read_axolotl_sequences(s, b));
  FM_RETURN_IF_ERROR(read_axolotl_schedule(s, b));
  FM_RETURN_IF_ERROR(read_axolotl_method(s, b));
  return s.check_untaken(ignored, "Axolotl");
}

}  // namespace flopsmeter
