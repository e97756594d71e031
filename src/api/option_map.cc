#include "api/option_map.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "adapters/peft_adapter.h"
#include "adapters/spectrum_yaml.h"
#include "core/option_ref.h"

namespace flopsmeter {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, ',')) {
    size_t b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

Result<Flop> option_exact(const OptionMap& a, const std::string& name) {
  return parse_exact_integer(a.get(name), option_ref(name));
}

Result<uint64_t> option_uint(const OptionMap& a, const std::string& name) {
  FM_ASSIGN_OR_RETURN(Flop v, option_exact(a, name));
  if (v > UINT64_MAX) return Status::InvalidArgument(option_ref(name) + " is too large");
  return static_cast<uint64_t>(v);
}

Result<double> option_double(const OptionMap& a, const std::string& name) {
  const std::string text = a.get(name);
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end == nullptr || *end != '\0' || !std::isfinite(v)) {
    return Status::InvalidArgument(option_ref(name) + "='" + text + "': expected a finite number");
  }
  return v;
}

Result<std::vector<uint64_t>> option_uint_list(const OptionMap& a, const std::string& name) {
  std::vector<uint64_t> out;
  for (const std::string& item : split_list(a.get(name))) {
    FM_ASSIGN_OR_RETURN(Flop v, parse_exact_integer(item, option_ref(name)));
    if (v > UINT64_MAX) return Status::InvalidArgument(option_ref(name) + " " + item + " is too large");
    out.push_back(static_cast<uint64_t>(v));
  }
  return out;
}

// One of `names` (the allowed values, in enum order) as its index.
Result<size_t> option_choice(const OptionMap& a, const std::string& name, const std::vector<std::string>& names) {
  const std::string v = a.get(name);
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == v) return i;
  std::string list;
  for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
  return Status::InvalidArgument(option_ref(name) + " " + v + ": expected one of " + list);
}

Result<bool> option_yes_no(const OptionMap& a, const std::string& name, bool fallback) {
  if (!a.has(name)) return fallback;
  FM_ASSIGN_OR_RETURN(size_t i, option_choice(a, name, {"no", "yes"}));
  return i == 1;
}

namespace {

bool lora_family(MethodKind kind) {
  return kind == MethodKind::kLora || kind == MethodKind::kDora || kind == MethodKind::kQlora;
}

// The adapter's settings for every LoRA-family method, which must be the
// adapter's own kind (QLoRA trains a LoRA adapter); without --method, the
// adapter's kind alone.
Status apply_adapter(const OptionMap& a, std::vector<MethodSpec>& specs) {
  for (const char* flag : {"lora-r", "lora-targets", "lora-target-regex", "lora-bias", "lora-dropout",
                           "lora-modules-to-save", "lora-layers"}) {
    if (a.has(flag)) {
      return Status::InvalidArgument("option \"adapter\" sets the LoRA settings as the adapter was trained; drop " +
                                     option_ref(flag));
    }
  }
  FM_ASSIGN_OR_RETURN(PeftAdapter adapter, read_peft_adapter_config(a.get("adapter")));
  adapter.lora.adapter_config = adapter.origin;
  if (!a.has("method")) specs = {MethodSpec{adapter.kind, {}, {}, {}, {}}};
  for (MethodSpec& s : specs) {
    if (!lora_family(s.kind)) continue;
    const bool fits = adapter.kind == MethodKind::kDora ? s.kind == MethodKind::kDora : s.kind != MethodKind::kDora;
    if (!fits) {
      return Status::InvalidArgument(std::string("option \"method\" ") + method_name(s.kind) + ": the adapter in " +
                                     adapter.origin + " is " + method_name(adapter.kind) + " (use_dora " +
                                     (adapter.kind == MethodKind::kDora ? "true" : "false") + ")");
    }
    s.lora = adapter.lora;
    s.notes = adapter.notes;
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<MethodSpec>> method_specs(const OptionMap& a) {
  std::vector<std::string> names = split_list(a.get("method", "full"));
  if (names.empty()) return Status::InvalidArgument("option \"method\" is empty");
  LoraOptions lora;
  if (a.has("lora-r")) {
    FM_ASSIGN_OR_RETURN(lora.r, option_uint(a, "lora-r"));
  }
  if (a.has("lora-targets") && a.has("lora-target-regex")) {
    return Status::InvalidArgument("give option \"lora-targets\" or option \"lora-target-regex\", not both");
  }
  if (a.has("lora-targets")) lora.target_modules = split_list(a.get("lora-targets"));
  if (a.has("lora-target-regex")) {
    lora.target_modules = {a.get("lora-target-regex")};
    lora.target_regex = true;
  }
  if (a.has("lora-bias")) lora.bias = a.get("lora-bias");
  if (a.has("lora-dropout")) {
    FM_ASSIGN_OR_RETURN(lora.dropout, option_double(a, "lora-dropout"));
  }
  if (a.has("lora-modules-to-save")) lora.modules_to_save = split_list(a.get("lora-modules-to-save"));
  if (a.has("lora-layers")) {
    FM_ASSIGN_OR_RETURN(lora.layers_to_transform, option_uint_list(a, "lora-layers"));
  }
  FreezeOptions freeze;
  if (a.has("freeze-layers")) {
    FM_ASSIGN_OR_RETURN(freeze.frozen_layers, option_uint(a, "freeze-layers"));
  }
  freeze.freeze_embeddings = a.has("freeze-embeddings");
  SpectrumOptions spectrum;
  if (a.has("spectrum-file")) {
    FM_ASSIGN_OR_RETURN(spectrum.unfrozen_patterns, read_spectrum_yaml(a.get("spectrum-file")));
  }
  if (a.has("spectrum-fraction")) {
    FM_ASSIGN_OR_RETURN(spectrum.fraction, option_double(a, "spectrum-fraction"));
  }
  // One pattern per line: a regular expression may hold commas.
  if (a.has("spectrum-patterns")) {
    std::istringstream lines(a.get("spectrum-patterns"));
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) spectrum.unfrozen_patterns.push_back(line);
    }
  }
  if (a.has("spectrum-file") + a.has("spectrum-fraction") + a.has("spectrum-patterns") > 1) {
    return Status::InvalidArgument("give one of option \"spectrum-file\", option \"spectrum-fraction\" and spectrum-patterns");
  }
  std::vector<MethodSpec> out;
  for (const std::string& n : names) {
    MethodSpec s;
    FM_ASSIGN_OR_RETURN(s.kind, parse_method(n));
    s.lora = lora;
    s.freeze = freeze;
    s.spectrum = spectrum;
    out.push_back(s);
  }
  if (a.has("adapter")) FM_RETURN_IF_ERROR(apply_adapter(a, out));
  return out;
}


Result<CheckpointMode> option_checkpoint_mode(const OptionMap& o) {
  Result<CheckpointMode> mode = parse_checkpoint_mode(o.get("checkpoint-mode"));
  if (!mode.ok()) return Status::InvalidArgument(option_ref("checkpoint-mode") + ": " + mode.status().message());
  return mode;
}

Result<TokenCountRequest> token_count_options(const OptionMap& a, SequenceLayout default_layout) {
  TokenCountRequest r;
  r.layout = default_layout;
  r.tokenizer = a.get("tokenizer");
  if (a.has("format")) {
    FM_ASSIGN_OR_RETURN(size_t i, option_choice(a, "format", {"auto", "text", "jsonl", "json", "parquet", "arrow"}));
    r.format = static_cast<DatasetFormat>(i);
  }
  if (a.has("text-unit")) {
    FM_ASSIGN_OR_RETURN(size_t i, option_choice(a, "text-unit", {"line", "paragraph", "document"}));
    r.text_unit = static_cast<TextUnit>(i);
  }
  if (a.has("schema")) {
    FM_ASSIGN_OR_RETURN(size_t i, option_choice(a, "schema",
                                              {"auto", "text", "messages", "prompt-completion", "alpaca", "sharegpt"}));
    r.schema = static_cast<RecordSchema>(i);
  }
  r.field = a.get("field");
  r.chat_template_file = a.get("chat-template");
  FM_ASSIGN_OR_RETURN(r.add_special_tokens, option_yes_no(a, "special-tokens", true));
  FM_ASSIGN_OR_RETURN(r.append_eos, option_yes_no(a, "append-eos", true));
  if (a.has("max-length")) {
    FM_ASSIGN_OR_RETURN(uint64_t n, option_uint(a, "max-length"));
    r.max_length = n;
  }
  if (a.has("layout")) {
    FM_ASSIGN_OR_RETURN(size_t i, option_choice(a, "layout", {"unpadded", "padded", "packed-wrapped", "packed-bfd"}));
    r.layout = static_cast<SequenceLayout>(i);
  }
  if (a.has("batch-size")) {
    FM_ASSIGN_OR_RETURN(r.batch_size, option_uint(a, "batch-size"));
  }
  if (a.has("order")) {
    if (!batches_are_padded(r.layout)) {
      return Status::InvalidArgument(option_ref("order") + " applies to " + option_ref("layout") +
                                     " padded and packed-wrapped (the order a trainer batches rows in)");
    }
    FM_ASSIGN_OR_RETURN(size_t i, option_choice(a, "order", {"random", "file"}));
    r.order = static_cast<SampleOrder>(i);
  }
  r.pad_to_max_length = a.has("pad-to-max-length");
  if (a.has("packing-chunk")) {
    FM_ASSIGN_OR_RETURN(r.packing_chunk, option_uint(a, "packing-chunk"));
  }
  if (a.has("threads")) {
    FM_ASSIGN_OR_RETURN(uint64_t n, option_uint(a, "threads"));
    if (n == 0 || n > 1024) return Status::InvalidArgument(option_ref("threads") + " must be between 1 and 1024");
    r.threads = static_cast<unsigned>(n);
  }
  r.strict = a.has("strict");
  return r;
}

}  // namespace flopsmeter
