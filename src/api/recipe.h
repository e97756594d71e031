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

// What a training program reads beyond the compute: the optimiser, the
// schedule, where to write. Read typed, with SFTConfig's defaults (TRL's
// SFTConfig, transformers' TrainingArguments), from TRL / AWS recipes; the
// native trainer (flopsmeter train) trains with them. None of them changes
// the compute.
struct TrainingSettings {
  double learning_rate = 2e-5;             // SFTConfig's default
  std::string lr_scheduler_type = "linear";  // "linear", "cosine" or "constant"
  double warmup_ratio = 0;
  uint64_t warmup_steps = 0;               // wins over warmup_ratio when set
  double weight_decay = 0;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;
  uint64_t seed = 42;
  std::string output_dir;                  // "" when the recipe has none
  uint64_t save_steps = 500;
  uint64_t logging_steps = 10;             // SFTConfig's default
  double lora_alpha = 32;                  // TRL ModelConfig's default
};

struct Recipe {
  RecipeDialect dialect = RecipeDialect::kTrl;
  RecipeUse use;                // file, dialect, the keys read and the notes
  OptionMap options;            // option name -> value, as flags give them
  bool compute_flops = false;   // the AWS toolkit's switch for metering
  TrainingSettings training;    // TRL dialect only
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
