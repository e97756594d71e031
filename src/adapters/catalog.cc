// Catalog::Load: the compiled-in data/ files, then a user directory on top.
#include "flopsmeter/catalog.h"

#include <algorithm>
#include <cstdlib>
#include <map>

#include "adapters/embedded_data.h"
#include "adapters/environment.h"
#include "adapters/files.h"
#include "core/model_catalog.h"
#include "core/suggest.h"

namespace flopsmeter {
namespace {

constexpr uint64_t kMaxDataFileBytes = uint64_t{16} << 20;

struct DataFile {
  std::string path;      // relative to the data directory, e.g. "models/x.json"
  std::string contents;
  std::string origin;    // for messages: "builtin:rules.json" or a real path
};

std::vector<DataFile> builtin_files() {
  std::vector<DataFile> out;
  for (const embedded::File& f : embedded::files()) {
    out.push_back({std::string(f.path), std::string(f.contents), "builtin:" + std::string(f.path)});
  }
  return out;
}

Result<std::vector<DataFile>> directory_files(const std::string& dir) {
  std::vector<DataFile> out;
  if (!is_directory(dir)) return Status::NotFound("data directory '" + dir + "' does not exist or is not a directory");
  for (const char* name : {"rules.json", "gpus.json"}) {
    std::string path = join_path(dir, name);
    if (!path_exists(path)) continue;
    FM_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxDataFileBytes));
    out.push_back({name, std::move(text), path});
  }
  std::string models = join_path(dir, "models");
  if (is_directory(models)) {
    FM_ASSIGN_OR_RETURN(std::vector<std::string> names, list_directory(models));
    for (const std::string& n : names) {
      if (n.size() < 5 || n.compare(n.size() - 5, 5, ".json") != 0) continue;
      std::string path = join_path(models, n);
      FM_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxDataFileBytes));
      out.push_back({"models/" + n, std::move(text), path});
    }
  }
  return out;
}

}  // namespace

Result<Catalog> Catalog::Load(const std::string& data_dir) {
  Catalog c;
  std::vector<std::vector<DataFile>> layers{builtin_files()};
  std::string dir = data_dir;
  if (dir.empty()) {
    if (std::optional<EnvValue> env = env_setting(EnvSetting::kDataDir)) dir = env->value;
  }
  if (!dir.empty()) {
    FM_ASSIGN_OR_RETURN(std::vector<DataFile> user, directory_files(dir));
    layers.push_back(std::move(user));
  }
  bool have_rules = false, have_gpus = false;
  std::map<std::string, size_t> model_index;  // lower-case id -> position
  for (const std::vector<DataFile>& files : layers) {
    for (const DataFile& f : files) {
      c.sources_.push_back(f.origin);
      if (f.path == "rules.json") {
        FM_ASSIGN_OR_RETURN(RuleSet r, parse_rules(f.contents, f.origin));
        c.rules_ = have_rules ? merge_rules(c.rules_, r) : std::move(r);
        have_rules = true;
      } else if (f.path == "gpus.json") {
        FM_ASSIGN_OR_RETURN(GpuCatalog g, parse_gpu_catalog(f.contents, f.origin));
        c.gpus_ = have_gpus ? merge_gpu_catalogs(c.gpus_, g) : std::move(g);
        have_gpus = true;
      } else if (f.path.rfind("models/", 0) == 0) {
        FM_ASSIGN_OR_RETURN(CatalogModel m, parse_catalog_model(f.contents, f.origin));
        auto [it, added] = model_index.emplace(ascii_lower(m.id), c.models_.size());
        if (added) {
          c.models_.push_back(std::move(m));
        } else {
          c.models_[it->second] = std::move(m);
        }
      }
    }
  }
  if (!have_rules) return Status::NotFound("no rules.json in the built-in data or the data directory");
  if (!have_gpus) return Status::NotFound("no gpus.json in the built-in data or the data directory");
  return c;
}

Result<const CatalogModel*> Catalog::find_model(std::string_view id) const {
  std::string want = ascii_lower(id);
  std::vector<std::string> names;
  for (const CatalogModel& m : models_) {
    if (ascii_lower(m.id) == want) return &m;
    for (const std::string& a : m.aliases)
      if (ascii_lower(a) == want) return &m;
    names.push_back(m.id);
  }
  std::string msg = "'" + std::string(id) + "' is not a file, a directory, or a model in the bundled catalog";
  std::vector<std::string> near = closest_names(id, names);
  if (!near.empty()) {
    msg += "; closest catalog ids:";
    for (const std::string& n : near) msg += " " + n;
  }
  msg += " (the catalog's model list has them all)";
  return Status::NotFound(msg);
}

}  // namespace flopsmeter
