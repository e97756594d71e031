// Training recipes as users already have them, read into the same named
// options every shell gives, so `estimate` and the meter take a recipe the
// way they take flags:
//
//   trl      TRL's `trl sft --config` YAML, and the AWS toolkit's recipes,
//            which are the same keys (TrlParser over ModelConfig, SFTConfig
//            and sft.py's ScriptArguments) plus `compute_flops`
//   axolotl  Axolotl's YAML (base_model, datasets, sequence_len, adapter, ...)
//
// Each key is read as the training program reads it: its type, its default
// where the program has one that changes the compute (TRL's max_length of
// 1024, transformers' 3 epochs), and its meaning in options. A key that
// changes the compute in a way the accounting does not model is refused by
// name; a key known not to change it (logging, optimiser, precision, ...) is
// listed in data/recipe_keys.json with the document that defines it and kept
// only in the record; any other key is an error naming file, line and key,
// with the closest known key, as TRL's own parser refuses keys it does not
// use. docs/recipes.md has the table.
#ifndef FLOPSMETER_API_RECIPE_H_
#define FLOPSMETER_API_RECIPE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/option_map.h"
#include "flopsmeter/estimate.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

enum class RecipeDialect { kTrl, kAxolotl };
const char* recipe_dialect_name(RecipeDialect dialect);  // "trl", "axolotl"

// Who takes the options: the estimate plans from the model's files; the
// meter counts the live model, so the recipe's model is only its name there.
enum class RecipeReader { kEstimate, kMeter };

struct Recipe {
  RecipeDialect dialect = RecipeDialect::kTrl;
  RecipeUse use;                // file, dialect, the keys read and the notes
  OptionMap options;            // option name -> value, as flags give them
  bool compute_flops = false;   // the AWS toolkit's switch for metering
  std::string details_json;     // every key and value, as JSON (recipe_config_details)
};

// Reads and checks the recipe at `path`. Relative paths inside it are taken
// from the current directory, as the training program would, or else from
// the recipe's own directory (said in notes). `data_dir` overlays
// recipe_keys.json as it overlays the catalog ("" is $FLOPSMETER_DATA_DIR).
Result<Recipe> read_recipe(const std::string& path, RecipeReader reader, const std::string& data_dir);

// o["recipe"] read and merged into `o`: options already given win (as a
// command line overrides a config file), options `takes` refuses are left
// out. Returns the recipe read, or nothing when `o` names none.
Result<std::optional<Recipe>> apply_recipe(OptionMap& o, RecipeReader reader,
                                           const std::function<bool(const std::string&)>& takes);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_RECIPE_H_
