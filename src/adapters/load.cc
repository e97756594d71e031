#include "flopsmeter/load.h"

#include <algorithm>

#include "adapters/files.h"
#include "adapters/hub_cache.h"
#include "adapters/hub_fetch.h"
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

// What a Hub id needs from its repository: config.json, and with the
// tokenizer what Tokenizer::Load reads (tokenizer_config.json is optional
// there too). Bounds: the loader's for config.json; tokenizer.json runs to
// about 35 MB for the largest vocabularies.
std::vector<HubFile> hub_files(bool with_tokenizer) {
  std::vector<HubFile> files = {{"config.json", kMaxConfigBytes, true}};
  if (with_tokenizer) {
    files.push_back({"tokenizer.json", uint64_t{64} << 20, true});
    files.push_back({"tokenizer_config.json", kMaxConfigBytes, false});
  }
  return files;
}

bool holds_required(const HubSnapshot& snapshot, const std::vector<HubFile>& files) {
  return std::all_of(files.begin(), files.end(), [&](const HubFile& f) {
    return !f.required || is_regular_file(join_path(snapshot.dir, f.name));
  });
}

// A Hub id's snapshot read as a directory, with the catalog's entry of the
// same id (its pretraining compute, its published count).
Result<LoadedModel> load_hub_snapshot(const HubSnapshot& snapshot, const Catalog& catalog) {
  FM_ASSIGN_OR_RETURN(LoadedModel out, load_checkpoint(snapshot.dir));
  out.hub_repo = snapshot.repo_id;
  out.hub_revision = snapshot.revision;
  out.hub_commit = snapshot.commit;
  out.hub_fetched = snapshot.fetched;
  out.model.notes.push_back((snapshot.fetched ? "fetched from the Hugging Face Hub (" + hub_endpoint() + ") into the cache: "
                                              : std::string("read from the Hugging Face cache: ")) +
                            snapshot.repo_id + " at " + snapshot.revision + " (commit " + snapshot.commit + ")");
  if (Result<const CatalogModel*> entry = catalog.find_model(snapshot.repo_id); entry.ok()) out.catalog_entry = **entry;
  return out;
}

// The cache's snapshot of a Hub id when it holds what is needed; else the
// files fetched into it when online and the catalog cannot answer alone.
// nullopt: read the catalog (the id is in it, or it is offline and uncached).
Result<std::optional<HubSnapshot>> hub_snapshot(const std::string& ref, const Catalog& catalog, const LoadOptions& options) {
  if (!is_hub_repo_id(ref)) return std::optional<HubSnapshot>();
  const std::vector<HubFile> files = hub_files(options.with_tokenizer);
  Result<std::optional<HubSnapshot>> cached = find_hub_snapshot(ref, options.revision);
  // kNotFound: the repository is cached, but not at that revision.
  if (!cached.ok() && cached.status().code() != StatusCode::kNotFound) return cached.status();
  if (cached.ok() && *cached && (holds_required(**cached, files) || hub_offline())) return cached;
  if (!cached.ok() && hub_offline()) {
    return Status::NotFound(cached.status().message() + "; HF_HUB_OFFLINE is set, so it was not fetched");
  }
  const bool catalog_answers = catalog.find_model(ref).ok() && options.revision.empty() && !options.with_tokenizer;
  if (cached.ok() && !*cached && (catalog_answers || hub_offline())) return std::optional<HubSnapshot>();
  FM_ASSIGN_OR_RETURN(HubSnapshot fetched, fetch_hub_files(ref, options.revision, files));
  return std::optional<HubSnapshot>(std::move(fetched));
}

// Neither the catalog nor the cache knows `ref`: say where both were looked
// in and why nothing was fetched.
Status unknown_model(const std::string& ref, const Status& not_in_catalog) {
  return Status::NotFound(not_in_catalog.message() + "; nor does the Hugging Face cache (" + hub_cache_dir() + ") hold " +
                          ref + ", and HF_HUB_OFFLINE is set, so it was not fetched: download its config.json (and "
                          "tokenizer.json to count a dataset) there, e.g. with `huggingface-cli download " + ref +
                          " config.json tokenizer.json`, or give a local directory");
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
  Result<std::optional<HubSnapshot>> snapshot = hub_snapshot(ref, catalog, options);
  Result<const CatalogModel*> found = catalog.find_model(ref);
  if (!snapshot.ok()) {
    if (found.ok() || snapshot.status().code() != StatusCode::kNotFound) return snapshot.status();
    // Neither has it: say what the catalog holds nearby, as the id may be a
    // catalog id mistyped.
    return Status::NotFound(snapshot.status().message() + "; and " + found.status().message());
  }
  if (*snapshot) return load_hub_snapshot(**snapshot, catalog);
  if (!found.ok() && found.status().code() == StatusCode::kNotFound && is_hub_repo_id(ref)) {
    return unknown_model(ref, found.status());
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
