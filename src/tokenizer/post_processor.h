// Post-processors: what add_special_tokens=True adds around a single
// sequence (BOS/EOS, [CLS]/[SEP]). Only ids matter for counting, so the
// ByteLevel post-processor (offsets only) adds nothing.
#ifndef FLOPSMETER_TOKENIZER_POST_PROCESSOR_H_
#define FLOPSMETER_TOKENIZER_POST_PROCESSOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json_doc.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

// Most special tokens a post-processor may put around one sequence. Real
// ones add at most 3 ([CLS] ... [SEP], <s> ... </s>); a template that lists
// one special token many times, each with many ids, would otherwise add
// millions of ids to every sample.
inline constexpr size_t kMaxSpecialTokensPerSequence = 1024;

// The ids placed before and after a single sequence.
struct SpecialTokenTemplate {
  std::vector<uint32_t> prefix;
  std::vector<uint32_t> suffix;
  size_t size() const { return prefix.size() + suffix.size(); }
};

// Reads the post_processor of a tokenizer.json (JSON null: nothing added).
Result<SpecialTokenTemplate> parse_post_processor(const JsonDoc& doc, const nlohmann::json& spec,
                                                  const std::string& pointer);

}  // namespace flopsmeter

#endif  // FLOPSMETER_TOKENIZER_POST_PROCESSOR_H_
