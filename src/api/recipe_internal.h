// What the dialect readers of recipe.cc share: typed access to one YAML
// mapping that marks every key it reads, and the recipe being built.
#ifndef FLOPSMETER_API_RECIPE_INTERNAL_H_
#define FLOPSMETER_API_RECIPE_INTERNAL_H_

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "adapters/yaml_document.h"
#include "api/recipe.h"

namespace flopsmeter {

// One mapping of the recipe. Typed readers return nullopt for an absent key
// or a YAML null (the programs' dataclasses take null as "not set"), and an
// error naming file, line and key for a value of the wrong type.
class RecipeScope {
 public:
  RecipeScope(const YamlNode& node, std::string prefix, const std::string& origin)
      : node_(node), prefix_(std::move(prefix)), origin_(origin) {}

  const std::string& origin() const { return origin_; }
  // "peft_config.r" for key "r" in scope "peft_config".
  std::string name(const std::string& key) const { return prefix_ + key; }

  // The key's node, marked read; null when absent.
  const YamlNode* take(const std::string& key);
  Result<std::optional<bool>> boolean(const std::string& key);
  Result<std::optional<uint64_t>> whole(const std::string& key);
  Result<std::optional<double>> number(const std::string& key);
  Result<std::optional<std::string>> text(const std::string& key);
  // A list of names; with `single_allowed`, one name alone stands for itself
  // ("all-linear"). Names hold no line break, and no comma unless
  // `patterns` (regular expressions, which may).
  Result<std::optional<std::vector<std::string>>> names(const std::string& key, bool single_allowed,
                                                        bool patterns = false);
  // A nested mapping (its own scope), or null when absent or null.
  Result<const YamlNode*> mapping(const std::string& key);

  Status error(const YamlNode& at, const std::string& key, const std::string& what) const;
  // Keys present that no reader took, minus `known`: an error naming the
  // first with the closest of `known`. `what` names the program ("TRL").
  Status check_untaken(const std::set<std::string>& known, const std::string& what) const;

 private:
  const YamlNode& node_;
  std::string prefix_;
  const std::string& origin_;
  std::set<std::string> taken_;
  std::set<std::string> asked_;  // every key a reader looked for, present or not: the suggestions
};

// The recipe being read: each option with the key that set it.
struct RecipeBuild {
  Recipe recipe;
  RecipeReader reader = RecipeReader::kEstimate;

  void set(const std::string& option, const std::string& value, const std::string& key, uint64_t line);
  void note(std::string text) { recipe.use.notes.push_back(std::move(text)); }
};

// A local file or directory a recipe names, as the program would find it:
// from the current directory, else from the recipe's directory (noted).
Result<std::string> recipe_path(RecipeBuild& build, const RecipeScope& scope, const YamlNode& at,
                                const std::string& key, const std::string& path);

// A YAML 1.1 boolean as PyYAML reads it (true, yes, on, ...); nullopt for
// anything else.
std::optional<bool> recipe_bool(const YamlNode& n);

// The shortest text that reads back as `v` ("3", "2.5").
std::string recipe_number_text(double v);

// A YAML 1.1 number as PyYAML would take it for a float field, or nullopt.
std::optional<double> recipe_number(const YamlNode& n);

// "a,b,c": the form list options take.
std::string recipe_joined(const std::vector<std::string>& items);

// A setting that changes the compute in a way the accounting does not
// model: refused, naming file, line, key and `why`, when `set`.
Status recipe_refuse_if(RecipeScope& s, bool set, const std::string& key, const std::string& why);

// LoRA settings under the names a dialect gives them (nullptr: it has none).
struct RecipeLoraKeys {
  const char* r;
  const char* alpha;  // read for its type only: alpha scales the update, it adds no matmul
  const char* dropout;
  const char* targets;
  const char* modules_to_save;
  const char* layers;
  const char* bias;
};
Status read_recipe_lora(RecipeScope& s, RecipeBuild& b, const RecipeLoraKeys& k);
// gradient_checkpointing_kwargs (torch.utils.checkpoint's arguments):
// use_reentrant decides which layers are recomputed and differentiated.
Status read_recipe_checkpoint_kwargs(RecipeScope& s, RecipeBuild& b);

// attn_implementation (transformers' names) as the attention kernel.
Status read_recipe_attention(RecipeScope& s, RecipeBuild& b);

// The keys each program documents that do not change the compute
// (data/recipe_keys.json and the user's overlay).
Result<std::set<std::string>> ignored_recipe_keys(RecipeDialect dialect, const std::string& data_dir);

Status read_trl_recipe(const YamlNode& root, RecipeBuild& build, const std::set<std::string>& ignored);
Status read_axolotl_recipe(const YamlNode& root, RecipeBuild& build, const std::set<std::string>& ignored);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_RECIPE_INTERNAL_H_
