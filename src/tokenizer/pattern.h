// The patterns of Split pre-tokenizers and Replace normalizers: a literal
// string, or a regular expression run by Oniguruma, the engine Hugging Face
// tokenizers itself uses, so that every pattern in a tokenizer.json (look-
// ahead, \p{..} classes, case-insensitive groups) means exactly what it
// means there.
#ifndef FLOPSMETER_TOKENIZER_PATTERN_H_
#define FLOPSMETER_TOKENIZER_PATTERN_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flopsmeter/status.h"

namespace flopsmeter {

// A byte range [first, second) of a text.
using Span = std::pair<size_t, size_t>;

class Pattern {
 public:
  // A regular expression; a ParseError names the pattern and Oniguruma's
  // reason.
  static Result<Pattern> Regex(std::string_view pattern);
  // Matches `literal` byte for byte (a tokenizer.json {"String": ...}). An
  // empty literal matches nothing.
  static Pattern Literal(std::string_view literal);

  // Every non-overlapping match, left to right, as tokenizers' find_iter:
  // after an empty match the search resumes one character later.
  // Fails only if Oniguruma gives up (e.g. its retry limit).
  Status find_all(std::string_view text, std::vector<Span>* matches) const;
  // Replaces every match in `*text` with `content`, unless the result would
  // be longer than `max_bytes`: then returns false and leaves `*text` as it
  // was, without building the longer text.
  Result<bool> replace_all(std::string* text, std::string_view content, size_t max_bytes) const;

  const std::string& text() const { return text_; }
  bool is_literal() const { return compiled_ == nullptr; }

 private:
  struct Compiled;
  Pattern(std::string text, std::shared_ptr<const Compiled> compiled)
      : text_(std::move(text)), compiled_(std::move(compiled)) {}

  std::string text_;
  // Null for a literal. Oniguruma searches are re-entrant on a shared
  // compiled pattern; each call uses its own match region.
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_TOKENIZER_PATTERN_H_
