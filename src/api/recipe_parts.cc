// The pieces every dialect reader shares (recipe_internal.h).
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "adapters/files.h"
#include "api/recipe_internal.h"
#include "core/json_doc.h"
#include "core/suggest.h"

namespace flopsmeter {
namespace {

std::string kind_name(const YamlNode& n) {
  switch (n.kind) {
    case YamlKind::kSequence: return "a list";
    case YamlKind::kMapping: return "a mapping";
    case YamlKind::kScalar: break;
  }
  return n.plain ? "'" + printable_text(n.text) + "'" : "the string \"" + printable_text(n.text) + "\"";
}

}  // namespace

std::optional<double> recipe_number(const YamlNode& n) {
  if (n.kind != YamlKind::kScalar || !n.plain || n.text.empty()) return std::nullopt;
  if (n.text.find_first_not_of("0123456789+-.eE") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(n.text.c_str(), &end);
  if (end == nullptr || *end != '\0' || !std::isfinite(v)) return std::nullopt;
  return v;
}

// YAML 1.1 booleans as PyYAML's safe_load reads them (plain scalars only).
std::optional<bool> recipe_bool(const YamlNode& n) {
  if (n.kind != YamlKind::kScalar || !n.plain) return std::nullopt;
  for (const char* t : {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"}) {
    if (n.text == t) return true;
  }
  for (const char* f : {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"}) {
    if (n.text == f) return false;
  }
  return std::nullopt;
}

std::string recipe_number_text(double v) {
  char buf[32];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, result.ptr);
}

std::string recipe_joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

// A setting that changes the compute in a way the accounting does not model:
// refused unless it has its default.
Status recipe_refuse_if(RecipeScope& s, bool set, const std::string& key, const std::string& why) {
  if (!set) return Status::Ok();
  return s.error(*s.take(key), key, why + "; the estimate would not be exact, so it is refused");
}

const YamlNode* RecipeScope::take(const std::string& key) {
  asked_.insert(key);
  const YamlNode* n = node_.find(key);
  if (n != nullptr) taken_.insert(key);
  return n;
}

Status RecipeScope::error(const YamlNode& at, const std::string& key, const std::string& what) const {
  return Status::InvalidArgument(origin_ + ":" + std::to_string(at.line) + ": " + name(key) + ": " + what);
}

Result<std::optional<bool>> RecipeScope::boolean(const std::string& key) {
  const YamlNode* n = take(key);
  if (n == nullptr || n->is_null()) return std::optional<bool>();
  std::optional<bool> b = recipe_bool(*n);
  if (!b) return error(*n, key, "expected true or false, got " + kind_name(*n));
  return b;
}

Result<std::optional<uint64_t>> RecipeScope::whole(const std::string& key) {
  const YamlNode* n = take(key);
  if (n == nullptr || n->is_null()) return std::optional<uint64_t>();
  const bool digits = n->kind == YamlKind::kScalar && n->plain && !n->text.empty() && n->text.size() < 19 &&
                      n->text.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) return error(*n, key, "expected a whole number, got " + kind_name(*n));
  return std::optional<uint64_t>(std::stoull(n->text));
}

Result<std::optional<double>> RecipeScope::number(const std::string& key) {
  const YamlNode* n = take(key);
  if (n == nullptr || n->is_null()) return std::optional<double>();
  std::optional<double> v = recipe_number(*n);
  if (!v) return error(*n, key, "expected a number, got " + kind_name(*n));
  return v;
}

Result<std::optional<std::string>> RecipeScope::text(const std::string& key) {
  const YamlNode* n = take(key);
  if (n == nullptr || n->is_null()) return std::optional<std::string>();
  if (n->kind != YamlKind::kScalar) return error(*n, key, "expected text, got " + kind_name(*n));
  return std::optional<std::string>(n->text);
}

Result<std::optional<std::vector<std::string>>> RecipeScope::names(const std::string& key, bool single_allowed,
                                                                   bool patterns) {
  const YamlNode* n = take(key);
  if (n == nullptr || n->is_null()) return std::optional<std::vector<std::string>>();
  if (n->kind == YamlKind::kScalar && single_allowed) return std::optional<std::vector<std::string>>({n->text});
  if (n->kind != YamlKind::kSequence) return error(*n, key, "expected a list of names, got " + kind_name(*n));
  std::vector<std::string> out;
  for (const YamlNode& item : n->items) {
    if (item.kind != YamlKind::kScalar || item.is_null() || item.text.empty()) {
      return error(item, key, "expected a list of names, got " + kind_name(item) + " in it");
    }
    if (item.text.find_first_of(patterns ? "\n" : ",\n") != std::string::npos) {
      return error(item, key, "'" + printable_text(item.text) + "': a name holds no " +
                                  (patterns ? "line break" : "comma or line break"));
    }
    out.push_back(item.text);
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<const YamlNode*> RecipeScope::mapping(const std::string& key) {
  const YamlNode* n = take(key);
  if (n == nullptr || n->is_null()) return static_cast<const YamlNode*>(nullptr);
  if (n->kind != YamlKind::kMapping) return error(*n, key, "expected a mapping (key: value lines), got " + kind_name(*n));
  return n;
}

Status RecipeScope::check_untaken(const std::set<std::string>& known, const std::string& what) const {
  std::vector<std::string> candidates(known.begin(), known.end());
  candidates.insert(candidates.end(), asked_.begin(), asked_.end());
  for (const auto& [key, value] : node_.fields) {
    if (taken_.count(key) > 0 || known.count(key) > 0) continue;
    std::string message = "unknown key for " + what;
    const std::vector<std::string> near = closest_names(key, candidates, 1);
    if (!near.empty() && edit_distance(ascii_lower(key), ascii_lower(near[0])) <= 3) {
      message += "; did you mean '" + name(near[0]) + "'?";
    } else {
      message += " (a key the program does not use is an error there too; docs/recipes.md lists the keys read)";
    }
    return error(value, key, message);
  }
  return Status::Ok();
}

void RecipeBuild::set(const std::string& option, const std::string& value, const std::string& key, uint64_t line) {
  recipe.options.values[option] = value;
  recipe.use.settings.push_back({key, line, option, value});
}

Result<std::string> recipe_path(RecipeBuild& build, const RecipeScope& scope, const YamlNode& at,
                                const std::string& key, const std::string& path) {
  if (path_exists(path)) return path;
  const size_t slash = build.recipe.use.file.rfind('/');
  if (!path.empty() && path[0] != '/' && slash != std::string::npos) {
    const std::string beside = join_path(build.recipe.use.file.substr(0, slash), path);
    if (path_exists(beside)) {
      build.note(scope.name(key) + " '" + path + "' is not in the current directory; read beside the recipe: " + beside);
      return beside;
    }
  }
  return scope.error(at, key, "'" + printable_text(path) + "' is not a local file or directory" +
                                  " (flopsmeter reads local files: download a Hub dataset first, e.g. with "
                                  "huggingface-cli download --repo-type dataset, and name the files)");
}

Status read_recipe_attention(RecipeScope& s, RecipeBuild& b) {
  FM_ASSIGN_OR_RETURN(std::optional<std::string> attention, s.text("attn_implementation"));
  if (attention) {
    const bool flash = attention->find("flash") != std::string::npos || *attention == "flex_attention";
    const bool dense = *attention == "eager" || *attention == "sdpa";
    if (!flash && !dense) {
      return s.error(*s.take("attn_implementation"), "attn_implementation",
                     "'" + printable_text(*attention) + "': expected eager, sdpa, flash_attention_2, flash_attention_3 "
                     "or flex_attention");
    }
    b.set("attention", flash ? "flash" : "dense", "attn_implementation", s.take("attn_implementation")->line);
  }
  return Status::Ok();
}

Status read_recipe_checkpoint_kwargs(RecipeScope& s, RecipeBuild& b) {
  FM_ASSIGN_OR_RETURN(const YamlNode* kwargs, s.mapping("gradient_checkpointing_kwargs"));
  if (kwargs == nullptr) return Status::Ok();
  RecipeScope k(*kwargs, "gradient_checkpointing_kwargs.", s.origin());
  FM_ASSIGN_OR_RETURN(std::optional<bool> reentrant, k.boolean("use_reentrant"));
  if (reentrant) {
    b.set("checkpoint-mode", *reentrant ? "reentrant" : "non-reentrant", "gradient_checkpointing_kwargs.use_reentrant",
          k.take("use_reentrant")->line);
  }
  // torch.utils.checkpoint's other arguments change no product.
  return k.check_untaken({"preserve_rng_state", "determinism_check", "debug", "context_fn"},
                         "torch.utils.checkpoint");
}

Status read_recipe_lora(RecipeScope& s, RecipeBuild& b, const RecipeLoraKeys& k) {
  FM_ASSIGN_OR_RETURN(std::optional<uint64_t> r, s.whole(k.r));
  if (r) b.set("lora-r", std::to_string(*r), s.name(k.r), s.take(k.r)->line);
  // lora_alpha scales the update; it changes no matmul, but a trainer needs it.
  FM_ASSIGN_OR_RETURN(std::optional<double> alpha, s.number(k.alpha));
  if (alpha) b.recipe.training.lora_alpha = *alpha;
  FM_ASSIGN_OR_RETURN(std::optional<double> dropout, s.number(k.dropout));
  if (dropout) b.set("lora-dropout", recipe_number_text(*dropout), s.name(k.dropout), s.take(k.dropout)->line);
  FM_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> targets, s.names(k.targets, true));
  if (targets) b.set("lora-targets", recipe_joined(*targets), s.name(k.targets), s.take(k.targets)->line);
  FM_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> save, s.names(k.modules_to_save, false));
  if (save && !save->empty()) {
    b.set("lora-modules-to-save", recipe_joined(*save), s.name(k.modules_to_save), s.take(k.modules_to_save)->line);
  }
  if (k.layers != nullptr) {
    const YamlNode* layers = s.take(k.layers);
    if (layers != nullptr && !layers->is_null()) {
      std::vector<std::string> items;
      for (const YamlNode& item : layers->kind == YamlKind::kSequence ? layers->items : std::vector<YamlNode>{*layers}) {
        if (item.kind != YamlKind::kScalar || item.text.find_first_not_of("0123456789") != std::string::npos ||
            item.text.empty()) {
          return s.error(item, k.layers, "expected layer indices (a whole number or a list of them)");
        }
        items.push_back(item.text);
      }
      b.set("lora-layers", recipe_joined(items), s.name(k.layers), layers->line);
    }
  }
  if (k.bias != nullptr) {
    FM_ASSIGN_OR_RETURN(std::optional<std::string> bias, s.text(k.bias));
    if (bias) b.set("lora-bias", *bias, s.name(k.bias), s.take(k.bias)->line);
  }
  return Status::Ok();
}


}  // namespace flopsmeter
