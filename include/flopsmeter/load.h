// Resolving a model reference: a config.json, a checkpoint directory, or a
// bundled catalog id.
//
//   auto catalog = flopsmeter::Catalog::Load("");
//   auto loaded = flopsmeter::load_model("path/to/checkpoint", *catalog);
//   // loaded->model, loaded->source_kind == "checkpoint"
//
// Order: an existing directory is a checkpoint (config.json plus
// *.safetensors, sharded via model.safetensors.index.json; only tensor headers
// are read; without weights, config.json alone); an existing file is a
// config.json; a Hub repository id (ORG/NAME) the local Hugging Face cache
// holds is its snapshot directory (at `revision`, default "main"), with the
// catalog's entry of that id attached when there is one; a catalog id is
// the catalog's entry unless a revision or the tokenizer is asked for; any
// other Hub id is fetched from the Hub into the cache (config.json, and the
// tokenizer's files with `with_tokenizer`) unless HF_HUB_OFFLINE is set.
// Thread safety: pure apart from the files named and the cache.
#ifndef FLOPSMETER_LOAD_H_
#define FLOPSMETER_LOAD_H_

#include <optional>
#include <string>

#include "flopsmeter/catalog.h"
#include "flopsmeter/model.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

struct LoadedModel {
  Model model;
  std::string source_kind;  // "catalog", "config" or "checkpoint"
  std::string source;       // the path or catalog id given
  std::optional<CatalogModel> catalog_entry;  // for a catalog id
  // The directory the model's files are in (a checkpoint, a config.json's
  // directory, a Hub snapshot): where a tokenizer.json beside them is found.
  // Empty for a catalog id.
  std::string model_dir;
  // For a Hub id read from the local cache: the id, the revision asked for
  // and the commit it resolved to; empty otherwise.
  std::string hub_repo, hub_revision, hub_commit;
  bool hub_fetched = false;  // some of the Hub id's files were fetched now, not all found in the cache
};

struct LoadOptions {
  std::string revision;  // of a Hub id; "" is "main"
  // The model's own tokenizer is wanted (a dataset is counted with no other
  // tokenizer given): a Hub id's tokenizer files are fetched with its config.
  bool with_tokenizer = false;
};

// Errors name the file, line and field (kParseError), the unknown id with the
// closest catalog ids (kNotFound), or an unsupported model_type with the list
// of supported ones (kUnsupported).
Result<LoadedModel> load_model(const std::string& ref, const Catalog& catalog, const LoadOptions& options = {});

}  // namespace flopsmeter

#endif  // FLOPSMETER_LOAD_H_
