// Named options as text, the one form in which the CLI's flags and the C
// ABI's JSON options reach the library, so both are read by the same code
// and a flag means the same thing wherever it is given.
//
//   OptionMap o;
//   o.values["lora-r"] = "16";
//   auto specs = method_specs(o);  // errors say "--lora-r ..."
#ifndef FLOPSMETER_API_OPTION_MAP_H_
#define FLOPSMETER_API_OPTION_MAP_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "flopsmeter/exact.h"
#include "flopsmeter/flops.h"
#include "flopsmeter/method.h"
#include "flopsmeter/status.h"
#include "flopsmeter/tokens.h"

namespace flopsmeter {

struct OptionMap {
  std::map<std::string, std::string> values;  // option -> value ("" for a switch)
  bool has(const std::string& name) const { return values.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback = "") const {
    auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
  }
};

// "a, b,c" -> {"a", "b", "c"}; empty items dropped.
std::vector<std::string> split_list(const std::string& s);

// Typed readers; errors name the option as --NAME.
Result<Flop> option_exact(const OptionMap& o, const std::string& name);
Result<uint64_t> option_uint(const OptionMap& o, const std::string& name);
Result<double> option_double(const OptionMap& o, const std::string& name);
Result<std::vector<uint64_t>> option_uint_list(const OptionMap& o, const std::string& name);
// One of `names` as its index.
Result<size_t> option_choice(const OptionMap& o, const std::string& name, const std::vector<std::string>& names);
// "yes" / "no"; `fallback` when absent.
Result<bool> option_yes_no(const OptionMap& o, const std::string& name, bool fallback);

// The methods of --method (default "full") with the lora-*, freeze-* and
// spectrum-* options applied to each. With --adapter (a PEFT
// adapter_config.json or its directory) the LoRA-family methods take the
// adapter's settings, and without --method the method is the adapter's.
Result<std::vector<MethodSpec>> method_specs(const OptionMap& o);

// option "checkpoint-mode": reentrant or non-reentrant.
Result<CheckpointMode> option_checkpoint_mode(const OptionMap& o);

// The dataset options (tokenizer, format, schema, max-length, layout, ...)
// as a token count reads them; the layout defaults to `default_layout`.
// The files and the progress callback are the caller's.
Result<TokenCountRequest> token_count_options(const OptionMap& o, SequenceLayout default_layout);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_OPTION_MAP_H_
