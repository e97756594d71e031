// Training methods and the parameters each one trains.
//
// plan_training() reproduces what PEFT / Spectrum / a layer freeze would do to
// the model: which base parameters keep requires_grad, which adapter tensors
// are added, and the two figures PEFT's print_trainable_parameters() prints
// ("trainable params" and "all params", adapters and saved copies included,
// 4-bit weights counted as their logical size).
//
//   flopsmeter::MethodSpec lora = flopsmeter::MethodSpec::Lora(8, {"q_proj", "v_proj"});
//   auto plan = flopsmeter::plan_training(model, lora);
//   // Llama-3.2-3B: plan->params_trainable == 2293760, plan->params_all == 3215043584
//
// Thread safety: pure functions over immutable values.
#ifndef FLOPSMETER_METHOD_H_
#define FLOPSMETER_METHOD_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "flopsmeter/model.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

enum class MethodKind {
  kFull,      // every parameter trains
  kFreeze,    // the first k decoder layers (and optionally embeddings) frozen
  kLora,      // low-rank adapters on target modules, base frozen
  kDora,      // LoRA plus a trainable magnitude vector per adapted module
  kQlora,     // LoRA on a 4-bit quantized base (counts as LoRA; see docs)
  kSpectrum,  // only parameters matching Spectrum's unfrozen patterns train
};
const char* method_name(MethodKind kind);  // "full", "freeze", "lora", ...
Result<MethodKind> parse_method(const std::string& name);

struct LoraOptions {
  uint64_t r = 8;
  // Module names matched as PEFT does: a list matches a module whose name
  // equals an entry or ends with "." + entry; {"all-linear"} selects every
  // linear layer except the output head. With target_regex, the single entry
  // is a regular expression that must match the whole module name.
  std::vector<std::string> target_modules{"q_proj", "v_proj"};
  bool target_regex = false;
  std::string bias = "none";  // "none", "all" or "lora_only"
  // Modules wrapped whole (a trainable copy beside the frozen original),
  // matched by name suffix, e.g. {"lm_head", "embed_tokens"}.
  std::vector<std::string> modules_to_save;
  // Only adapt these decoder layers (empty: all). As in PEFT it filters only
  // suffix matches, not a regex target or an exact full-name match.
  std::vector<uint64_t> layers_to_transform;
  // LoRA dropout probability; matters for DoRA, where PEFT then recomputes
  // the base matmul on the dropped-out input.
  double dropout = 0.0;
  // Where the settings come from: "" for options given one by one, else the
  // PEFT adapter_config.json they were read from.
  std::string adapter_config;
};

struct FreezeOptions {
  uint64_t frozen_layers = 0;      // decoder layers 0 .. k-1 frozen
  bool freeze_embeddings = false;  // token/position embeddings (and a tied head) frozen
};

struct SpectrumOptions {
  // Patterns matched with Python's re.match semantics (anchored at the start)
  // against parameter names, as Spectrum's unfrozen_parameters YAML is used.
  std::vector<std::string> unfrozen_patterns;
  // Instead of patterns: unfreeze this fraction of the layers of each linear
  // type plus lm_head and embeddings, as Spectrum's generator does. Which
  // layers it picks depends on weight SNR, unknown before a scan; the plan
  // assumes the lowest layers, the choice with the most backward compute.
  std::optional<double> fraction;
};

struct MethodSpec {
  MethodKind kind = MethodKind::kFull;
  LoraOptions lora;         // lora, dora, qlora
  FreezeOptions freeze;     // freeze
  SpectrumOptions spectrum; // spectrum
  std::vector<std::string> notes;  // about where the settings came from; the plan repeats them
};

// One adapter PEFT adds to a module.
struct Adapter {
  std::string module_path;  // the adapted module
  uint64_t r = 0;
  uint64_t in_features = 0;
  uint64_t out_features = 0;
  bool on_embedding = false;
  uint64_t lora_params = 0;       // r * (in + out)
  uint64_t magnitude_params = 0;  // DoRA: out_features
};

struct TrainingPlan {
  MethodSpec spec;
  uint64_t params_base = 0;       // the model's own parameters
  uint64_t params_all = 0;        // PEFT "all params": base + adapters + saved copies
  uint64_t params_trainable = 0;  // PEFT "trainable params"
  // Base parameters (by full name) that train. A tied head trains with its
  // embedding's weight.
  std::set<std::string> trainable_base;
  std::vector<Adapter> adapters;
  std::vector<std::string> saved_modules;  // modules_to_save wrapped (trainable copies)
  std::vector<std::string> notes;          // assumptions worth stating

  // Whether the weight a module computes with receives a weight gradient.
  bool weight_trains(const Module& m) const;
  bool bias_trains(const Module& m) const;
  const Adapter* adapter_on(const std::string& module_path) const;
};

// Errors: kInvalidArgument when a target matches nothing (PEFT's "Target
// modules ... not found"), matches a module PEFT cannot adapt (a norm), or an
// option is out of range (r == 0, fraction outside (0, 1], bad regex).
Result<TrainingPlan> plan_training(const Model& model, const MethodSpec& spec);

}  // namespace flopsmeter

#endif  // FLOPSMETER_METHOD_H_
