// Shared readers for the pieces of a tokenizer.json, so every component
// reports a bad or unsupported field the same way:
//
//   tokenizer.json:812:5: field 'pre_tokenizer.pretokenizers[0].type':
//   unsupported pre-tokenizer "UnicodeScripts" (flopsmeter supports: ...)
#ifndef FLOPSMETER_TOKENIZER_TOKENIZER_JSON_H_
#define FLOPSMETER_TOKENIZER_TOKENIZER_JSON_H_

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/json_doc.h"
#include "flopsmeter/status.h"
#include "tokenizer/pattern.h"

namespace flopsmeter {

// The "pattern" member of `spec`: {"String": s} or {"Regex": r}.
Result<Pattern> parse_pattern(const JsonDoc& doc, const nlohmann::json& spec,
                              const std::string& pointer);

// How messages name the pipeline step at `pointer` of type `type`:
// "normalizer 7 (Replace)" for "/normalizer/normalizers/7", "normalizer
// 2.0 (NFC)" inside nested sequences, "normalizer (NFKC)" for a lone one.
// `step` is "normalizer" or "pre-tokenizer".
std::string stage_name(std::string_view step, const std::string& pointer, std::string_view type);

// An Unsupported error for a component type flopsmeter does not implement.
Status unsupported_type(const JsonDoc& doc, const std::string& pointer, std::string_view what,
                        std::string_view type, std::string_view supported);

}  // namespace flopsmeter

#endif  // FLOPSMETER_TOKENIZER_TOKENIZER_JSON_H_
