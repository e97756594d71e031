// How long the text of one sample may grow inside the tokenizer pipeline.
//
// Normalizers (Replace, Prepend, NFKC, ...) and pre-tokenizers (Metaspace,
// ByteLevel) can make text longer, and a tokenizer.json may chain them: 40
// Replace normalizers each doubling "a" once took a 62-byte dataset to
// 4.6 GB. Real tokenizers grow text about 20-fold at most (NFKC writes the
// 3 bytes of U+FDFA as 33, ByteLevel doubles the bytes above 0x7F,
// Metaspace writes a space as 3 bytes), so each phase, all the normalizers
// and then all the pre-tokenizers, may produce at most kMaxTextExpansion
// times the sample's bytes plus kTextExpansionSlack bytes over the whole
// sample. A stage that would go further fails before it builds the text:
//
//   normalizer 7 (Replace) expands a 62-byte sample past 8064 bytes
//
// and Tokenizer::encode() puts the tokenizer file's name in front.
#ifndef FLOPSMETER_TOKENIZER_TEXT_BUDGET_H_
#define FLOPSMETER_TOKENIZER_TEXT_BUDGET_H_

#include <cstddef>
#include <string_view>

#include "flopsmeter/status.h"

namespace flopsmeter {

inline constexpr size_t kMaxTextExpansion = 64;
inline constexpr size_t kTextExpansionSlack = 4096;

// The bytes one phase may still produce for one sample, whose text is
// handled in stretches (between added tokens) that all count.
class TextBudget {
 public:
  explicit TextBudget(size_t sample_bytes);

  // Bytes the stretch at hand may reach: the budget less earlier stretches.
  size_t available() const { return spent_ < max_bytes_ ? max_bytes_ - spent_ : 0; }
  // Ok when a stretch of `bytes` fits, else exceeded(stage).
  Status check(size_t bytes, std::string_view stage) const;
  // "STAGE expands a 62-byte sample past 8064 bytes" (InvalidArgument).
  Status exceeded(std::string_view stage) const;
  // Counts a finished stretch against the budget. REQUIRES: it fitted.
  void spend(size_t bytes) { spent_ += bytes; }

 private:
  size_t sample_bytes_;
  size_t max_bytes_;
  size_t spent_ = 0;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_TOKENIZER_TEXT_BUDGET_H_
