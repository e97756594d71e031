#include "api/recipe.h"

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "adapters/embedded_data.h"
#include "adapters/environment.h"
#include "adapters/files.h"
#include "api/recipe_internal.h"
#include "core/json_doc.h"
#include "core/suggest.h"

namespace flopsmeter {
namespace {

constexpr std::string_view kRecipeKeysFile = "recipe_keys.json";

// The recipe as JSON, for the record: scalars typed as YAML 1.1 reads them.
nlohmann::json details_of(const YamlNode& n) {
  switch (n.kind) {
    case YamlKind::kSequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const YamlNode& item : n.items) a.push_back(details_of(item));
      return a;
    }
    case YamlKind::kMapping: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& [key, value] : n.fields) o[key] = details_of(value);
      return o;
    }
    case YamlKind::kScalar:
      break;
  }
  if (n.is_null()) return nullptr;
  if (std::optional<bool> b = recipe_bool(n)) return *b;
  if (n.plain && !n.text.empty() && n.text.find_first_not_of("0123456789") == std::string::npos &&
      n.text.size() < 19) {
    return std::stoll(n.text);
  }
  if (std::optional<double> v = recipe_number(n); v && n.text.find('.') != std::string::npos) return *v;
  return n.text;
}

// The dialect by the key that names the model: every TRL / AWS recipe has
// model_name_or_path, every Axolotl config base_model.
Result<RecipeDialect> recipe_dialect(const YamlNode& root, const std::string& origin) {
  if (root.kind != YamlKind::kMapping) {
    return Status::ParseError(origin + ": a recipe is a YAML mapping of settings (key: value)");
  }
  const bool trl = root.find("model_name_or_path") != nullptr;
  const bool axolotl = root.find("base_model") != nullptr;
  if (trl && axolotl) {
    return Status::InvalidArgument(origin + ": has both model_name_or_path (TRL, AWS) and base_model (Axolotl): "
                                   "which program reads it?");
  }
  if (!trl && !axolotl) {
    return Status::InvalidArgument(origin + ": no model_name_or_path (TRL, AWS recipes) or base_model (Axolotl): "
                                   "not a training recipe flopsmeter reads");
  }
  return trl ? RecipeDialect::kTrl : RecipeDialect::kAxolotl;
}

// The dialect's lists in one recipe_keys.json text into `out`.
Status add_ignored_keys(const std::string& text, const std::string& origin, RecipeDialect dialect,
                        std::set<std::string>& out) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("schema", "") != "flopsmeter.recipe_keys/1" || !j.contains("dialects") ||
      !j["dialects"].is_object()) {
    return Status::ParseError(origin + ": expected schema flopsmeter.recipe_keys/1 with a \"dialects\" object");
  }
  const auto groups = j["dialects"].find(recipe_dialect_name(dialect));
  if (groups == j["dialects"].end()) return Status::Ok();
  if (!groups->is_array()) return Status::ParseError(origin + ": dialects." + groups.key() + ": expected a list");
  for (const auto& group : *groups) {
    if (!group.is_object() || !group.contains("keys") || !group["keys"].is_array() ||
        !group.value("source", nlohmann::json()).is_string()) {
      return Status::ParseError(origin + ": dialects." + groups.key() + ": each group has \"source\" and \"keys\"");
    }
    for (const auto& key : group["keys"]) {
      if (!key.is_string()) return Status::ParseError(origin + ": dialects." + groups.key() + ": keys are strings");
      out.insert(key.get<std::string>());
    }
  }
  return Status::Ok();
}

}  // namespace

const char* recipe_dialect_name(RecipeDialect dialect) {
  return dialect == RecipeDialect::kTrl ? "trl" : "axolotl";
}

Result<std::set<std::string>> ignored_recipe_keys(RecipeDialect dialect, const std::string& data_dir) {
  std::set<std::string> out;
  for (const embedded::File& f : embedded::files()) {
    if (f.path == kRecipeKeysFile) {
      FM_RETURN_IF_ERROR(add_ignored_keys(std::string(f.contents), "builtin:recipe_keys.json", dialect, out));
    }
  }
  std::string dir = data_dir;
  if (dir.empty()) {
    if (std::optional<EnvValue> env = env_setting(EnvSetting::kDataDir)) dir = env->value;
  }
  const std::string user = dir.empty() ? "" : join_path(dir, kRecipeKeysFile);
  if (!user.empty() && path_exists(user)) {
    FM_ASSIGN_OR_RETURN(std::string text, read_file(user, uint64_t{1} << 20));
    FM_RETURN_IF_ERROR(add_ignored_keys(text, user, dialect, out));
  }
  return out;
}

Result<Recipe> read_recipe(const std::string& path, RecipeReader reader, const std::string& data_dir) {
  FM_ASSIGN_OR_RETURN(YamlNode root, read_yaml_file(path));
  FM_ASSIGN_OR_RETURN(RecipeDialect dialect, recipe_dialect(root, path));
  FM_ASSIGN_OR_RETURN(std::set<std::string> ignored, ignored_recipe_keys(dialect, data_dir));
  RecipeBuild build;
  build.reader = reader;
  build.recipe.use.file = path;
  build.recipe.use.dialect = recipe_dialect_name(dialect);
  build.recipe.dialect = dialect;
  build.recipe.details_json = details_of(root).dump();
  FM_RETURN_IF_ERROR(dialect == RecipeDialect::kTrl ? read_trl_recipe(root, build, ignored)
                                                    : read_axolotl_recipe(root, build, ignored));
  return std::move(build.recipe);
}

Result<std::optional<Recipe>> apply_recipe(OptionMap& o, RecipeReader reader,
                                           const std::function<bool(const std::string&)>& takes) {
  if (!o.has("recipe")) return std::optional<Recipe>();
  FM_ASSIGN_OR_RETURN(Recipe recipe, read_recipe(o.get("recipe"), reader, o.get("data-dir")));
  for (const auto& [option, value] : recipe.options.values) {
    if (takes(option) && !o.has(option)) o.values[option] = value;
  }
  if (takes("recipe-details") && !o.has("recipe-details")) o.values["recipe-details"] = recipe.details_json;
  return std::optional<Recipe>(std::move(recipe));
}

}  // namespace flopsmeter
