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
#include "tokenizer/text_budget.h"

namespace flopsmeter {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Normalizes `*text`, one stretch of a sample. A step that would make it
  // longer than budget.available() fails with budget.exceeded(stage())
  // instead, before building the longer text where it can.
  virtual Status normalize(std::string* text, const TextBudget& budget) const = 0;

  // How messages name this step: "normalizer 7 (Replace)".
  const std::string& stage() const { return stage_; }
  void set_stage(std::string stage) { stage_ = std::move(stage); }

 private:
  std::string stage_;
};

// The normalizer described by `spec` (at JSON pointer `pointer` of `doc`);
// null when spec is JSON null. Unsupported types are an Unsupported error
// naming the type and the field.
Result<std::unique_ptr<Normalizer>> parse_normalizer(const JsonDoc& doc,
                                                     const nlohmann::json& spec,
                                                     const std::string& pointer);

}  // namespace flopsmeter

#endif  // FLOPSMETER_TOKENIZER_NORMALIZER_H_
