#include "flopsmeter/method.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <regex>

#include "core/architectures.h"
#include "core/strict_fields.h"

namespace flopsmeter {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool adaptable(const Module& m) {
  return m.kind == ModuleKind::kLinear || m.kind == ModuleKind::kConv1D || m.kind == ModuleKind::kEmbedding;
}

// PEFT's "all-linear": every Linear/Conv1D except the output head.
bool all_linear_match(const Module& m) {
  return (m.kind == ModuleKind::kLinear || m.kind == ModuleKind::kConv1D) && m.slot != Slot::kLmHead;
}

uint64_t module_param_count(const Module& m) {
  if (!m.tied_to.empty()) return m.in_features * m.out_features;  // a saved copy gets its own weight
  uint64_t n = 0;
  for (const Parameter& p : m.params) n += p.numel;
  return n;
}

void mark_all(const Model& model, TrainingPlan& plan) {
  for (const Module& m : model.modules)
    for (const Parameter& p : m.params) plan.trainable_base.insert(p.name);
}

Status plan_freeze(const Model& model, TrainingPlan& plan) {
  const FreezeOptions& f = plan.spec.freeze;
  if (f.frozen_layers > model.arch.num_layers) {
    return Status::InvalidArgument("option \"freeze-layers\" " + std::to_string(f.frozen_layers) + " exceeds the model's " +
                                   std::to_string(model.arch.num_layers) + " layers");
  }
  for (const Module& m : model.modules) {
    bool frozen = (m.layer >= 0 && static_cast<uint64_t>(m.layer) < f.frozen_layers) ||
                  (f.freeze_embeddings &&
                   (m.slot == Slot::kTokenEmbedding || m.slot == Slot::kPositionEmbedding));
    if (!frozen)
      for (const Parameter& p : m.params) plan.trainable_base.insert(p.name);
  }
  return Status::Ok();
}

// Python re.match: the pattern must match at the start of the name.
Result<bool> re_match(const std::regex& re, const std::string& name) {
  return std::regex_search(name, re, std::regex_constants::match_continuous);
}

// A Spectrum pattern, matched as Python's re.match does. One that is a plain
// name prefix (an optional "^", letters, digits, "_", "-" and escaped dots),
// as the fraction generator writes thousands of for an MoE model, is matched
// by comparison: the same result, without a regex run per parameter.
class SpectrumPattern {
 public:
  static Result<SpectrumPattern> compile(const std::string& pattern) {
    SpectrumPattern sp;
    sp.prefix_ = literal_prefix(pattern);
    if (sp.prefix_) return sp;
    try {
      sp.re_.emplace(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return Status::InvalidArgument("spectrum pattern '" + printable(pattern) +
                                     "' is not a valid regular expression: " + e.what());
    }
    return sp;
  }

  Result<bool> matches(const std::string& name) const {
    if (prefix_) return name.compare(0, prefix_->size(), *prefix_) == 0;
    return re_match(*re_, name);
  }

 private:
  static std::optional<std::string> literal_prefix(const std::string& pattern) {
    std::string out;
    for (size_t i = pattern.rfind('^', 0) == 0 ? 1 : 0; i < pattern.size(); ++i) {
      char ch = pattern[i];
      if (ch == '\\' && i + 1 < pattern.size() && pattern[i + 1] == '.') {
        out += '.';
        ++i;
      } else if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-') {
        out += ch;
      } else {
        return std::nullopt;
      }
    }
    return out;
  }

  std::optional<std::string> prefix_;
  std::optional<std::regex> re_;
};

Result<std::vector<std::string>> spectrum_patterns_for_fraction(const Model& model, double fraction) {
  // Layer types are a linear's path below "layers.N." (e.g. "mlp.down_proj").
  std::map<std::string, std::vector<std::string>> by_type;
  for (const Module& m : model.modules) {
    if (m.layer < 0 || !(m.kind == ModuleKind::kLinear || m.kind == ModuleKind::kConv1D)) continue;
    std::string marker = "." + std::to_string(m.layer) + ".";
    size_t at = m.path.find(marker);
    if (at == std::string::npos) continue;
    by_type[m.path.substr(at + marker.size())].push_back(m.path);
  }
  std::vector<std::string> patterns;
  for (const Module& m : model.modules) {
    if (m.slot == Slot::kLmHead || m.slot == Slot::kTokenEmbedding) patterns.push_back("^" + m.path + ".weight$");
  }
  for (const auto& [type, paths] : by_type) {
    // Spectrum keeps int(count * fraction) per type, highest SNR first.
    auto keep = static_cast<size_t>(static_cast<double>(paths.size()) * fraction);
    for (size_t i = 0; i < keep; ++i) {
      std::string escaped = std::regex_replace(paths[i], std::regex(R"(\.)"), R"(\.)");
      patterns.push_back("^" + escaped + R"(\.)");
    }
  }
  return patterns;
}

Status plan_spectrum(const Model& model, TrainingPlan& plan) {
  const SpectrumOptions& s = plan.spec.spectrum;
  std::vector<std::string> patterns = s.unfrozen_patterns;
  if (s.fraction) {
    if (!(*s.fraction > 0.0 && *s.fraction <= 1.0)) {
      return Status::InvalidArgument("option \"spectrum-fraction\" must be in (0, 1], got " + std::to_string(*s.fraction));
    }
    FM_ASSIGN_OR_RETURN(patterns, spectrum_patterns_for_fraction(model, *s.fraction));
    plan.notes.push_back(
        "spectrum fraction: Spectrum picks layers by weight SNR, unknown before a scan; the plan unfreezes the "
        "lowest layers of each type (the most backward compute) plus lm_head and embeddings, as its generator does. "
        "Pass the Spectrum YAML for exact figures.");
  }
  if (patterns.empty()) {
    return Status::InvalidArgument("spectrum needs option \"spectrum-file\" (Spectrum's unfrozen_parameters YAML) or "
                                   "option \"spectrum-fraction\"");
  }
  std::vector<SpectrumPattern> compiled;
  for (const std::string& p : patterns) {
    FM_ASSIGN_OR_RETURN(SpectrumPattern sp, SpectrumPattern::compile(p));
    compiled.push_back(std::move(sp));
  }
  size_t matched = 0;
  for (const Module& m : model.modules) {
    for (const Parameter& p : m.params) {
      // A pattern may use transformers 4's per-expert names or transformers 5's fused ones.
      const std::string fused = transformers5_parameter_name(p.name);
      for (const SpectrumPattern& sp : compiled) {
        FM_ASSIGN_OR_RETURN(bool hit, sp.matches(p.name));
        if (!hit && !fused.empty()) {
          FM_ASSIGN_OR_RETURN(hit, sp.matches(fused));
        }
        if (hit) {
          plan.trainable_base.insert(p.name);
          ++matched;
          break;
        }
      }
    }
  }
  if (matched == 0) {
    return Status::InvalidArgument("no parameter matches any of the " + std::to_string(patterns.size()) +
                                   " spectrum patterns (first: '" + patterns.front() +
                                   "'); were they generated for another model?");
  }
  return Status::Ok();
}

Result<std::vector<const Module*>> lora_targets(const Model& model, const LoraOptions& o) {
  std::vector<const Module*> out;
  bool all_linear = o.target_modules.size() == 1 && o.target_modules[0] == "all-linear";
  std::optional<std::regex> re;
  if (o.target_regex) {
    if (o.target_modules.size() != 1) return Status::InvalidArgument("a regex target must be a single pattern");
    try {
      re.emplace(o.target_modules[0], std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return Status::InvalidArgument("LoRA target regex '" + o.target_modules[0] + "' is invalid: " + e.what());
    }
  }
  for (const Module& m : model.modules) {
    bool hit = false, by_suffix = false;
    if (all_linear) {
      hit = by_suffix = all_linear_match(m);
    } else if (re) {
      hit = std::regex_match(m.path, *re);
    } else if (std::find(o.target_modules.begin(), o.target_modules.end(), m.path) != o.target_modules.end()) {
      hit = true;
    } else {
      for (const std::string& t : o.target_modules) hit = hit || ends_with(m.path, "." + t);
      by_suffix = hit;
    }
    if (!hit) continue;
    if (by_suffix && !o.layers_to_transform.empty() &&
        std::find(o.layers_to_transform.begin(), o.layers_to_transform.end(), static_cast<uint64_t>(m.layer)) ==
            o.layers_to_transform.end()) {
      continue;
    }
    if (!adaptable(m)) {
      return Status::InvalidArgument("LoRA target '" + m.path +
                                     "' is not a Linear, Conv1D or Embedding module; PEFT cannot adapt it");
    }
    out.push_back(&m);
  }
  if (out.empty()) {
    std::string names;
    for (const std::string& t : o.target_modules) names += (names.empty() ? "" : ", ") + t;
    return Status::InvalidArgument("LoRA target modules [" + names +
                                   "] match no module of this model (PEFT: 'Target modules not found in the base "
                                   "model'); the model's module listing (inspect, option \"modules\") has the names");
  }
  return out;
}

Status plan_lora(const Model& model, TrainingPlan& plan) {
  const LoraOptions& o = plan.spec.lora;
  if (o.r == 0) return Status::InvalidArgument("option \"lora-r\" must be a positive integer");
  if (!(o.dropout >= 0.0 && o.dropout < 1.0)) return Status::InvalidArgument("option \"lora-dropout\" must be in [0, 1)");
  if (o.bias != "none" && o.bias != "all" && o.bias != "lora_only") {
    return Status::InvalidArgument("option \"lora-bias\" must be none, all or lora_only, got '" + printable(o.bias) + "'");
  }
  bool dora = plan.spec.kind == MethodKind::kDora;
  FM_ASSIGN_OR_RETURN(std::vector<const Module*> targets, lora_targets(model, o));
  for (const Module* m : targets) {
    Adapter a;
    a.module_path = m->path;
    a.r = o.r;
    a.on_embedding = m->kind == ModuleKind::kEmbedding;
    // Embedding: A is [r, num_embeddings], B is [dim, r]; the same r*(in+out).
    a.in_features = m->in_features;
    a.out_features = m->out_features;
    a.lora_params = o.r * (a.in_features + a.out_features);
    if (dora) a.magnitude_params = a.out_features;
    plan.adapters.push_back(a);
    if (o.bias == "lora_only")
      for (const Parameter& p : m->params)
        if (ends_with(p.name, ".bias")) plan.trainable_base.insert(p.name);
  }
  if (o.bias == "all") {
    // PEFT marks every parameter whose name contains "bias".
    for (const Module& m : model.modules)
      for (const Parameter& p : m.params)
        if (p.name.find("bias") != std::string::npos) plan.trainable_base.insert(p.name);
  }
  if (plan.spec.kind == MethodKind::kQlora) {
    plan.notes.push_back(
        "qlora: the base is 4-bit; its parameters are counted as logical parameters (as PEFT and transformers "
        "report them), and dequantization work is not a matmul FLOP.");
  }
  return Status::Ok();
}

Status plan_modules_to_save(const Model& model, TrainingPlan& plan) {
  for (const std::string& key : plan.spec.lora.modules_to_save) {
    bool found = false;
    for (const Module& m : model.modules) {
      // PEFT's _set_trainable matches by plain suffix.
      if (!ends_with(m.path, key)) continue;
      found = true;
      plan.saved_modules.push_back(m.path);
    }
    if (!found) return Status::InvalidArgument("modules_to_save entry '" + printable(key) + "' matches no module of this model");
  }
  return Status::Ok();
}

}  // namespace

const char* method_name(MethodKind kind) {
  switch (kind) {
    case MethodKind::kFull: return "full";
    case MethodKind::kFreeze: return "freeze";
    case MethodKind::kLora: return "lora";
    case MethodKind::kDora: return "dora";
    case MethodKind::kQlora: return "qlora";
    case MethodKind::kSpectrum: return "spectrum";
  }
  return "full";
}

Result<MethodKind> parse_method(const std::string& name) {
  for (MethodKind k : {MethodKind::kFull, MethodKind::kFreeze, MethodKind::kLora, MethodKind::kDora,
                       MethodKind::kQlora, MethodKind::kSpectrum}) {
    if (name == method_name(k)) return k;
  }
  return Status::InvalidArgument("unknown method '" + printable(name) + "'; expected one of full, freeze, lora, dora, qlora, spectrum");
}

bool TrainingPlan::weight_trains(const Module& m) const {
  if (std::find(saved_modules.begin(), saved_modules.end(), m.path) != saved_modules.end()) return true;
  if (!m.tied_to.empty()) return trainable_base.count(m.tied_to) > 0;
  return !m.params.empty() && trainable_base.count(m.params.front().name) > 0;
}

bool TrainingPlan::bias_trains(const Module& m) const {
  if (std::find(saved_modules.begin(), saved_modules.end(), m.path) != saved_modules.end()) return true;
  return m.params.size() > 1 && trainable_base.count(m.params[1].name) > 0;
}

const Adapter* TrainingPlan::adapter_on(const std::string& module_path) const {
  for (const Adapter& a : adapters)
    if (a.module_path == module_path) return &a;
  return nullptr;
}

Result<TrainingPlan> plan_training(const Model& model, const MethodSpec& spec) {
  TrainingPlan plan;
  plan.spec = spec;
  plan.params_base = count_parameters(model).total;
  switch (spec.kind) {
    case MethodKind::kFull: mark_all(model, plan); break;
    case MethodKind::kFreeze: FM_RETURN_IF_ERROR(plan_freeze(model, plan)); break;
    case MethodKind::kSpectrum: FM_RETURN_IF_ERROR(plan_spectrum(model, plan)); break;
    case MethodKind::kLora:
    case MethodKind::kDora:
    case MethodKind::kQlora:
      FM_RETURN_IF_ERROR(plan_lora(model, plan));
      FM_RETURN_IF_ERROR(plan_modules_to_save(model, plan));
      if (!spec.lora.adapter_config.empty()) {
        plan.notes.push_back("LoRA settings read from " + spec.lora.adapter_config + " as PEFT applies them");
      }
      break;
  }
  plan.notes.insert(plan.notes.end(), spec.notes.begin(), spec.notes.end());
  // Totals: base parameters once, plus adapters and saved copies.
  std::map<std::string, uint64_t> numel_of;
  for (const Module& m : model.modules)
    for (const Parameter& p : m.params) numel_of[p.name] = p.numel;
  for (const std::string& name : plan.trainable_base) plan.params_trainable += numel_of[name];
  plan.params_all = plan.params_base;
  for (const Adapter& a : plan.adapters) {
    plan.params_all += a.lora_params + a.magnitude_params;
    plan.params_trainable += a.lora_params + a.magnitude_params;
  }
  for (const std::string& path : plan.saved_modules) {
    for (const Module& m : model.modules) {
      if (m.path != path) continue;
      uint64_t n = module_param_count(m);
      plan.params_all += n;
      plan.params_trainable += n;
      // The original stays frozen; its parameters must not count twice.
      for (const Parameter& p : m.params) {
        if (plan.trainable_base.erase(p.name) > 0) plan.params_trainable -= p.numel;
      }
    }
  }
  return plan;
}

}  // namespace flopsmeter
