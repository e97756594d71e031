#include "flopsmeter/load.h"

#include <algorithm>

#include "adapters/files.h"
#include "adapters/safetensors.h"
#include "core/architectures.h"
#include "core/checkpoint_accounting.h"
#include "core/json_doc.h"

namespace flopsmeter {
namespace {

constexpr uint64_t kMaxConfigBytes = uint64_t{16} << 20;

Result<JsonDoc> read_config(const std::string& path) {
  FM_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxConfigBytes));
  return parse_json_document(text, path);
}

Result<LoadedModel> load_checkpoint(const std::string& dir) {
  std::string config_path = join_path(dir, "config.json");
  std::optional<JsonDoc> config;
  if (path_exists(config_path)) {
    FM_ASSIGN_OR_RETURN(JsonDoc doc, read_config(config_path));
    config = std::move(doc);
  }
  LoadedModel out;
  out.source = dir;
  FM_ASSIGN_OR_RETURN(std::vector<std::string> names, list_directory(dir));
  bool has_weights = std::any_of(names.begin(), names.end(), [](const std::string& n) {
    return n.size() > 12 && n.compare(n.size() - 12, 12, ".safetensors") == 0;
  });
  if (!has_weights && config) {
    // A directory with a config and no safetensors: account from the config.
    FM_ASSIGN_OR_RETURN(out.model, build_model_from_config(*config));
    out.source_kind = "config";
    out.model.notes.push_back("no *.safetensors in " + dir + ": counted from config.json alone");
    return out;
  }
  FM_ASSIGN_OR_RETURN(CheckpointTensors ckpt, read_checkpoint_directory(dir));
  std::vector<StoredTensor> tensors;
  tensors.reserve(ckpt.tensors.size());
  for (const TensorHeader& t : ckpt.tensors) tensors.push_back({t.name, t.dtype, t.shape});
  out.source_kind = "checkpoint";
  FM_ASSIGN_OR_RETURN(out.model, model_from_checkpoint(config ? &*config : nullptr, tensors, dir));
  return out;
}

}  // namespace

Result<LoadedModel> load_model(const std::string& ref, const Catalog& catalog) {
  if (ref.empty()) return Status::InvalidArgument("no model given; pass a catalog id, a config.json or a checkpoint directory");
  if (is_directory(ref)) return load_checkpoint(ref);
  if (path_exists(ref)) {
    FM_ASSIGN_OR_RETURN(JsonDoc doc, read_config(ref));
    LoadedModel out;
    out.source_kind = "config";
    out.source = ref;
    FM_ASSIGN_OR_RETURN(out.model, build_model_from_config(doc));
    return out;
  }
  FM_ASSIGN_OR_RETURN(const CatalogModel* entry, catalog.find_model(ref));
  FM_ASSIGN_OR_RETURN(JsonDoc doc, parse_json_document(entry->config_json, entry->origin));
  LoadedModel out;
  out.source_kind = "catalog";
  out.source = entry->id;
  out.catalog_entry = *entry;
  FM_ASSIGN_OR_RETURN(out.model, build_model_from_config(doc));
  out.model.id = entry->id;
  return out;
}

}  // namespace flopsmeter
