#include "adapters/peft_adapter.h"

#include <algorithm>

#include "adapters/files.h"
#include "core/json_doc.h"
#include "core/strict_fields.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

constexpr uint64_t kMaxAdapterConfigBytes = uint64_t{1} << 20;

// Keys PEFT's LoraConfig writes that leave the parameter count and the
// executed matmuls as flopsmeter counts them.
const std::vector<std::string> kKeysThatDoNotCount = {
    "alpha_pattern", "auto_mapping", "base_model_name_or_path", "corda_config", "eva_config", "fan_in_fan_out",
    "inference_mode", "init_lora_weights", "layers_pattern", "loftq_config", "lora_alpha", "lora_bias",
    "megatron_config", "megatron_core", "peft_version", "qalora_group_size", "revision", "runtime_config",
    "task_type", "trainable_token_indices", "use_qalora", "use_rslora", "rank_pattern", "exclude_modules",
    "target_parameters", "layer_replication", "lora_dropout", "modules_to_save", "layers_to_transform", "r",
    "target_modules", "use_dora", "bias", "peft_type"};

// Settings that change what trains, which the plan does not model: refused
// when set (PEFT writes them as null, {} or [] when unused).
const std::vector<std::string> kSettingsNotModelled = {"rank_pattern", "exclude_modules", "target_parameters",
                                                      "layer_replication", "trainable_token_indices"};

bool unused(const Json* v) { return v == nullptr || (v->is_object() || v->is_array() ? v->empty() : false); }

class AdapterReader : public StrictFields {
 public:
  using StrictFields::StrictFields;

  Result<std::vector<std::string>> Strings(const Json& node, const std::string& pointer) const {
    if (!node.is_array()) return Error(pointer, "expected a list of module names, got " + TypeName(node));
    std::vector<std::string> out;
    for (size_t i = 0; i < node.size(); ++i) {
      FM_ASSIGN_OR_RETURN(std::string s, doc_.as_string(node[i], Index(pointer, i)));
      out.push_back(std::move(s));
    }
    return out;
  }

  Result<std::vector<uint64_t>> Layers(const Json& node, const std::string& pointer) const {
    if (!node.is_array()) {
      FM_ASSIGN_OR_RETURN(uint64_t one, doc_.as_uint(node, pointer));
      return std::vector<uint64_t>{one};
    }
    std::vector<uint64_t> out;
    for (size_t i = 0; i < node.size(); ++i) {
      FM_ASSIGN_OR_RETURN(uint64_t layer, doc_.as_uint(node[i], Index(pointer, i)));
      out.push_back(layer);
    }
    return out;
  }

  // PEFT's target_modules: a list (suffix matches), "all-linear", or any
  // other string, a regular expression the whole module name must match.
  Status Targets(const Json& root, LoraOptions& lora) const {
    const Json* targets = Member(root, "target_modules");
    if (targets == nullptr) {
      return Status::Unsupported(doc_.where("/target_modules") +
                                 ": null, so PEFT picks its default targets for the model type; give the targets "
                                 "the adapter was trained with");
    }
    if (targets->is_string()) {
      lora.target_modules = {targets->get<std::string>()};
      lora.target_regex = lora.target_modules.front() != "all-linear";
      return Status::Ok();
    }
    FM_ASSIGN_OR_RETURN(lora.target_modules, Strings(*targets, "/target_modules"));
    if (lora.target_modules.empty()) return Error("/target_modules", "is empty: the adapter adapts nothing");
    return Status::Ok();
  }

  // layers_pattern names the module list layers_to_transform indexes; the
  // plan indexes the decoder's layers, which every supported model calls
  // "layers" (or "h").
  Status LayersPattern(const Json& root) const {
    const Json* pattern = Member(root, "layers_pattern");
    if (pattern == nullptr) return Status::Ok();
    std::vector<std::string> names;
    if (pattern->is_string()) {
      names = {pattern->get<std::string>()};
    } else {
      FM_ASSIGN_OR_RETURN(names, Strings(*pattern, "/layers_pattern"));
    }
    for (const std::string& n : names) {
      if (n != "layers" && n != "h") {
        return Status::Unsupported(doc_.where("/layers_pattern") + ": '" + printable(n) +
                                   "': only the decoder's own layer list (layers, h) is modelled");
      }
    }
    return Status::Ok();
  }
};

}  // namespace

Result<PeftAdapter> parse_peft_adapter_config(std::string_view text, const std::string& origin) {
  FM_ASSIGN_OR_RETURN(JsonDoc doc, parse_json_document(text, origin, kMaxAdapterConfigBytes));
  const AdapterReader reader(doc);
  const Json& root = doc.root;
  FM_RETURN_IF_ERROR(reader.RequireObject(root, ""));
  PeftAdapter out;
  out.origin = origin;
  FM_ASSIGN_OR_RETURN(std::string peft_type, doc.get_string(root, "", "peft_type", std::string("LORA")));
  if (peft_type != "LORA") {
    return Status::Unsupported(doc.where("/peft_type") + ": '" + printable(peft_type) +
                               "': flopsmeter counts LoRA and DoRA adapters (peft_type LORA)");
  }
  for (const std::string& key : kSettingsNotModelled) {
    if (!unused(StrictFields::Member(root, key))) {
      return Status::Unsupported(doc.where("/" + key) + ": set, and it changes what trains in a way flopsmeter's "
                                                        "accounting does not model; count this adapter as full or "
                                                        "give its settings without it");
    }
  }
  FM_ASSIGN_OR_RETURN(out.lora.r, doc.get_uint(root, "", "r", uint64_t{8}));
  if (out.lora.r == 0) return doc.error("/r", "must be at least 1");
  FM_RETURN_IF_ERROR(reader.Targets(root, out.lora));
  FM_RETURN_IF_ERROR(reader.LayersPattern(root));
  if (const Json* layers = StrictFields::Member(root, "layers_to_transform")) {
    FM_ASSIGN_OR_RETURN(out.lora.layers_to_transform, reader.Layers(*layers, "/layers_to_transform"));
  }
  if (const Json* saved = StrictFields::Member(root, "modules_to_save")) {
    FM_ASSIGN_OR_RETURN(out.lora.modules_to_save, reader.Strings(*saved, "/modules_to_save"));
  }
  FM_ASSIGN_OR_RETURN(out.lora.bias, doc.get_string(root, "", "bias", std::string("none")));
  if (out.lora.bias != "none" && out.lora.bias != "all" && out.lora.bias != "lora_only") {
    return doc.error("/bias", "expected none, all or lora_only, got '" + printable(out.lora.bias) + "'");
  }
  FM_ASSIGN_OR_RETURN(out.lora.dropout, doc.get_double(root, "", "lora_dropout", 0.0));
  FM_ASSIGN_OR_RETURN(const bool dora, doc.get_bool(root, "", "use_dora", false));
  out.kind = dora ? MethodKind::kDora : MethodKind::kLora;
  FM_ASSIGN_OR_RETURN(out.base_model, doc.get_string(root, "", "base_model_name_or_path", std::string()));
  for (const auto& item : root.items()) {
    if (std::find(kKeysThatDoNotCount.begin(), kKeysThatDoNotCount.end(), item.key()) == kKeysThatDoNotCount.end()) {
      out.notes.push_back(origin + ": key '" + printable(item.key()) + "' is not read (not known to change the count)");
    }
  }
  return out;
}

Result<PeftAdapter> read_peft_adapter_config(const std::string& path) {
  const std::string file = is_directory(path) ? join_path(path, "adapter_config.json") : path;
  Result<std::string> text = read_file(file, kMaxAdapterConfigBytes);
  if (!text.ok() && text.status().code() == StatusCode::kNotFound && file != path) {
    return Status::NotFound(path + ": no adapter_config.json in this directory (a PEFT adapter saved with "
                                   "save_pretrained has one)");
  }
  if (!text.ok()) return text.status();
  return parse_peft_adapter_config(*text, file);
}

}  // namespace flopsmeter
