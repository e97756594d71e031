// Token models: turn one pre-tokenized piece into ids. BPE (with merges,
// byte fallback, ignore_merges, unknown-token fusing) and WordPiece, with
// Hugging Face tokenizers' semantics.
#ifndef FLOPSMETER_TOKENIZER_MODEL_H_
#define FLOPSMETER_TOKENIZER_MODEL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json_doc.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

// Hash for string-keyed maps that can be searched with a string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using Vocabulary = std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>>;

class TokenModel {
 public:
  virtual ~TokenModel() = default;
  // Appends the ids of `piece`. Thread-safe.
  virtual Status tokenize(std::string_view piece, std::vector<uint32_t>* ids) const = 0;
  // The same for a piece given as raw bytes that a ByteLevel pre-tokenizer
  // would have mapped (see PreTokenizer::byte_level_pattern).
  virtual Status tokenize_byte_level(std::string_view raw, std::vector<uint32_t>* ids) const;
  virtual std::optional<uint32_t> token_to_id(std::string_view token) const = 0;
  virtual size_t vocab_size() const = 0;
  virtual std::string_view type() const = 0;
};

Result<std::unique_ptr<TokenModel>> parse_model(const JsonDoc& doc, const nlohmann::json& spec,
                                                const std::string& pointer);

}  // namespace flopsmeter

#endif  // FLOPSMETER_TOKENIZER_MODEL_H_
