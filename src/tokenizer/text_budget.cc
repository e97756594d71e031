#include "tokenizer/text_budget.h"

#include <limits>
#include <string>

namespace flopsmeter {

TextBudget::TextBudget(size_t sample_bytes) : sample_bytes_(sample_bytes) {
  constexpr size_t kMax = std::numeric_limits<size_t>::max();
  max_bytes_ = sample_bytes > (kMax - kTextExpansionSlack) / kMaxTextExpansion
                   ? kMax
                   : sample_bytes * kMaxTextExpansion + kTextExpansionSlack;
}

Status TextBudget::check(size_t bytes, std::string_view stage) const {
  return bytes <= available() ? Status::Ok() : exceeded(stage);
}

Status TextBudget::exceeded(std::string_view stage) const {
  return Status::InvalidArgument(std::string(stage) + " expands a " + std::to_string(sample_bytes_) +
                                 "-byte sample past " + std::to_string(max_bytes_) + " bytes");
}

}  // namespace flopsmeter
