// Reads a PEFT adapter's adapter_config.json (LoraConfig, as PEFT saves it
// beside adapter_model.safetensors) into the method flopsmeter counts: LoRA
// or DoRA (use_dora), with r, target_modules, layers_to_transform,
// modules_to_save, bias and lora_dropout as PEFT applies them.
//
// Settings that change what trains but that the accounting does not model
// (rank_pattern, exclude_modules, target_parameters, layer_replication, a
// custom layers_pattern, peft types other than LORA) are refused by name,
// never ignored; keys that do not change the count (lora_alpha, use_rslora,
// init_lora_weights, ...) are read past; keys PEFT may add later are listed
// in the notes as not read.
#ifndef FLOPSMETER_ADAPTERS_PEFT_ADAPTER_H_
#define FLOPSMETER_ADAPTERS_PEFT_ADAPTER_H_

#include <string>
#include <string_view>
#include <vector>

#include "flopsmeter/method.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

struct PeftAdapter {
  MethodKind kind = MethodKind::kLora;  // kLora or kDora
  LoraOptions lora;
  std::string base_model;               // base_model_name_or_path; may be ""
  std::string origin;                   // the file read
  std::vector<std::string> notes;       // keys not read, assumptions
};

// Errors: kParseError "ORIGIN:LINE:COL: field 'r': ..." for a malformed
// field; kUnsupported naming the key for a setting the accounting cannot
// follow.
Result<PeftAdapter> parse_peft_adapter_config(std::string_view text, const std::string& origin);
// `path` is an adapter_config.json or a directory holding one.
Result<PeftAdapter> read_peft_adapter_config(const std::string& path);

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_PEFT_ADAPTER_H_
