// The data flopsmeter decides with: regulatory regimes, GPU peaks and the
// bundled model catalog, each entry with its source.
//
// Catalog::Load() starts from the data compiled into the library (data/ in
// the source tree) and applies a user directory with the same layout on top
// (`--data-dir DIR` or FLOPSMETER_DATA_DIR): an entry with the same id
// replaces the built-in one, a new id is added. Every file read is listed in
// sources() so a report can say which data it used.
//
//   auto catalog = flopsmeter::Catalog::Load("");
//   if (!catalog.ok()) { ... }
//   auto entry = catalog->find_model("meta-llama/Llama-3.2-3B-Instruct");
//
// Thread safety: a loaded Catalog is immutable; share it freely.
#ifndef FLOPSMETER_CATALOG_H_
#define FLOPSMETER_CATALOG_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flopsmeter/exact.h"
#include "flopsmeter/gpus.h"
#include "flopsmeter/rules.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

// A base model's pretraining compute as the catalog records it.
struct PretrainingCompute {
  std::optional<Flop> flop;  // absent when not published
  std::string status;        // "published", "third_party_estimate", "not_published"
  std::string method;        // how the figure was obtained
  std::string source;
};

struct CatalogModel {
  std::string id;                    // e.g. "meta-llama/Llama-3.2-3B-Instruct"
  std::vector<std::string> aliases;
  std::string config_json;           // the config.json fields, as JSON text
  std::string config_source;
  std::optional<uint64_t> published_params;
  std::string published_params_source;
  PretrainingCompute pretraining;
  bool systemic_risk_designated = false;
  std::string base_model;
  std::string origin;                // the data file it came from
};

class Catalog {
 public:
  // Loads the built-in data, then `data_dir` if not empty, else
  // $FLOPSMETER_DATA_DIR if set. Errors name the file, line and field.
  static Result<Catalog> Load(const std::string& data_dir);

  const RuleSet& rules() const { return rules_; }
  const GpuCatalog& gpus() const { return gpus_; }
  const std::vector<CatalogModel>& models() const { return models_; }
  // Files read, built-in ones as "builtin:rules.json".
  const std::vector<std::string>& sources() const { return sources_; }

  // Case-insensitive id or alias. NotFound lists the closest ids.
  Result<const CatalogModel*> find_model(std::string_view id) const;

 private:
  RuleSet rules_;
  GpuCatalog gpus_;
  std::vector<CatalogModel> models_;
  std::vector<std::string> sources_;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_CATALOG_H_
