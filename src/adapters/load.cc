#include "flopsmeter/load.h"

#include <algorithm>

#include "adapters/files.h"
#include "adapters/hub_cache.h"
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

// The parent directory of a file path ("." for a bare name).
std::string parent_dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : slash == 0 ? std::string("/") : path.substr(0, slash);
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
  out.model_dir = dir;
  FM_ASSIGN_OR_RETURN(std::vector<std::string> names, list_directory(dir));
  bool has_weights = std::any_of(names.begin(), names.end(), [](const std::string& n) {
    return n.size() > 12 && n.compare(n.size() - 12, 12, ".safetensors") == 0;
  });
  if (!has_weights && config) {
    // A directory with a config and no safetensors: account from the config.
    FM_ASSIGN_OR_RETURN(out.model, build_model_from_config(*config));
    out.source_kind = "config";
    const bool indexed = std::find(names.begin(), names.end(), "model.safetensors.index.json") != names.end();
    out.model.notes.push_back("no *.safetensors in " + dir + (indexed ? " (its model.safetensors.index.json names "
                                                                        "shards that are not here)"
                                                                      : "") +
                              ": counted from config.json alone");
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

// A Hub id the local cache holds: its snapshot, read as a directory, with
// the catalog's entry of the same id (its pretraining compute, its
// published count). nullopt when the cache does not hold it.
Result<std::optional<LoadedModel>> load_from_hub_cache(const std::string& ref, const Catalog& catalog,
                                                       const LoadOptions& options) {
  FM_ASSIGN_OR_RETURN(std::optional<HubSnapshot> snapshot, find_hub_snapshot(ref, options.revision));
  if (!snapshot) return std::optional<LoadedModel>();
  FM_ASSIGN_OR_RETURN(LoadedModel out, load_checkpoint(snapshot->dir));
  out.hub_repo = snapshot->repo_id;
  out.hub_revision = snapshot->revision;
  out.hub_commit = snapshot->commit;
  out.model.notes.push_back("read from the Hugging Face cache: " + snapshot->repo_id + " at " + snapshot->revision +
                            " (commit " + snapshot->commit + ")");
  if (Result<const CatalogModel*> entry = catalog.find_model(ref); entry.ok()) out.catalog_entry = **entry;
  return std::optional<LoadedModel>(std::move(out));
}

}  // namespace

Result<LoadedModel> load_model(const std::string& ref, const Catalog& catalog, const LoadOptions& options) {
  if (ref.empty()) return Status::InvalidArgument("no model given; pass a catalog id, a config.json or a checkpoint directory");
  if (is_directory(ref)) return load_checkpoint(ref);
  if (path_exists(ref)) {
    FM_ASSIGN_OR_RETURN(JsonDoc doc, read_config(ref));
    LoadedModel out;
    out.source_kind = "config";
    out.source = ref;
    out.model_dir = parent_dir(ref);
    FM_ASSIGN_OR_RETURN(out.model, build_model_from_config(doc));
    return out;
  }
  FM_ASSIGN_OR_RETURN(std::optional<LoadedModel> cached, load_from_hub_cache(ref, catalog, options));
  if (cached) return std::move(*cached);
  Result<const CatalogModel*> found = catalog.find_model(ref);
  if (!found.ok() && found.status().code() == StatusCode::kNotFound && is_hub_repo_id(ref)) {
    return Status::NotFound(found.status().message() + "; nor does the Hugging Face cache (" + hub_cache_dir() +
                            ") hold " + ref + ": download its config.json (and tokenizer.json to count a dataset) "
                            "there, e.g. with `huggingface-cli download " + ref + " config.json tokenizer.json`, "
                            "or give a local directory");
  }
  FM_ASSIGN_OR_RETURN(const CatalogModel* entry, std::move(found));
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
