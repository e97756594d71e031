// Normalizers: the first step of the tokenizer.json pipeline, applied to
// each stretch of text between added tokens. Each type here is one
// tokenizer.json "normalizer" type with Hugging Face tokenizers' meaning.
#ifndef FLOPSMETER_TOKENIZER_NORMALIZER_H_
#define FLOPSMETER_TOKENIZER_NORMALIZER_H_

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/json_doc.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual Status normalize(std::string* text) const = 0;
};

// The normalizer described by `spec` (at JSON pointer `pointer` of `doc`);
// null when spec is JSON null. Unsupported types are an Unsupported error
// naming the type and the field.
Result<std::unique_ptr<Normalizer>> parse_normalizer(const JsonDoc& doc,
                                                     const nlohmann::json& spec,
                                                     const std::string& pointer);

}  // namespace flopsmeter

#endif  // FLOPSMETER_TOKENIZER_NORMALIZER_H_
