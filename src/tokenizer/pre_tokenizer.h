// Pre-tokenizers: cut normalized text into the pieces the model tokenizes
// one at a time. Each type here is one tokenizer.json "pre_tokenizer" type
// with Hugging Face tokenizers' meaning, including the five ways a Split
// keeps its delimiters.
#ifndef FLOPSMETER_TOKENIZER_PRE_TOKENIZER_H_
#define FLOPSMETER_TOKENIZER_PRE_TOKENIZER_H_

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json_doc.h"
#include "flopsmeter/status.h"
#include "tokenizer/pattern.h"
#include "tokenizer/text_budget.h"

namespace flopsmeter {

struct Piece {
  std::string text;
  // The piece begins the input text (Metaspace's "first" scheme needs it).
  bool at_start = false;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces each piece by its sub-pieces; empty pieces are dropped. A step
  // that would make the pieces longer than budget.available() in all fails
  // with budget.exceeded(stage()) instead.
  virtual Status split(std::vector<Piece>* pieces, const TextBudget& budget) const = 0;
  // When this pre-tokenizer is exactly "cut at this pattern's matches
  // (keeping both matches and gaps), then write each byte as a ByteLevel
  // character", the pattern; null otherwise. GPT-2, Llama 3, Qwen and
  // GPT-4o tokenizers are of this shape, and the encoder then skips the
  // per-piece strings: a piece is mapped only when the model has not seen
  // it before.
  virtual const Pattern* byte_level_pattern() const { return nullptr; }

  // How messages name this step: "pre-tokenizer 1 (Metaspace)".
  const std::string& stage() const { return stage_; }
  void set_stage(std::string stage) { stage_ = std::move(stage); }

 private:
  std::string stage_;
};

Result<std::unique_ptr<PreTokenizer>> parse_pre_tokenizer(const JsonDoc& doc,
                                                          const nlohmann::json& spec,
                                                          const std::string& pointer);

// GPT-2's byte-to-character table: ByteLevel writes each byte as one
// printable character so byte-level BPE vocabularies are valid UTF-8.
const std::array<std::string, 256>& byte_level_alphabet();
// Appends `raw` written in that alphabet.
void append_byte_level(std::string_view raw, std::string* out);

}  // namespace flopsmeter

#endif  // FLOPSMETER_TOKENIZER_PRE_TOKENIZER_H_
