// Hugging Face tokenizers in C++: loads a tokenizer.json (and the
// tokenizer_config.json beside it) and turns text into exactly the ids
// `tokenizer(text, add_special_tokens=...)` gives in transformers, id for
// id, for counting dataset tokens without Python.
//
//   FM_ASSIGN_OR_RETURN(Tokenizer tok, Tokenizer::Load("models/llama3"));
//   std::vector<uint32_t> ids;
//   FM_RETURN_IF_ERROR(tok.encode("Hello world", /*add_special_tokens=*/true, &ids));
//
// Supported pipeline pieces: normalizers NFC, NFD, NFKC, NFKD, Lowercase,
// Strip, StripAccents, Replace, Prepend, BertNormalizer, Sequence;
// pre-tokenizers Split (any Oniguruma regex, all five behaviors, invert),
// ByteLevel, Metaspace, Whitespace, WhitespaceSplit, Digits, Punctuation,
// CharDelimiterSplit, BertPreTokenizer, Sequence; models BPE and WordPiece;
// added tokens with all their flags; post-processors TemplateProcessing,
// ByteLevel, RobertaProcessing, BertProcessing, Sequence. Anything else is
// refused at load time with the field that names it, never guessed.
//
// Thread safety: a Tokenizer is immutable after loading and cheap to copy
// (shared); encode() may be called from many threads at once.
#ifndef FLOPSMETER_TOKENIZER_H_
#define FLOPSMETER_TOKENIZER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flopsmeter/status.h"

namespace flopsmeter {

struct TokenizerInfo {
  std::string source;      // file (or directory) it was loaded from
  std::string model_type;  // "BPE", "WordPiece"
  size_t vocab_size = 0;   // model vocabulary plus added tokens outside it
  size_t added_tokens = 0;
  // Special tokens named by tokenizer_config.json, when it is present.
  std::optional<std::string> bos_token, eos_token, unk_token, pad_token;
  std::optional<uint32_t> eos_id;
  // The chat template from tokenizer_config.json ("default" when several).
  std::optional<std::string> chat_template;
  // Ids that add_special_tokens=True puts around one sequence.
  size_t special_tokens_per_sequence = 0;
  // Things a reader of the count should know (e.g. a post-processor taken
  // from tokenizer_config.json's add_bos_token / add_eos_token).
  std::vector<std::string> notes;
};

// Largest tokenizer.json (or tokenizer_config.json) accepted; Gemma 3's
// tokenizer.json is about 33 MB.
inline constexpr uint64_t kMaxTokenizerFileBytes = uint64_t{256} << 20;

class Tokenizer {
 public:
  // `path` is a tokenizer.json, or a directory holding one; the
  // tokenizer_config.json next to it is read when present.
  static Result<Tokenizer> Load(const std::string& path);
  // From the texts of tokenizer.json and (may be empty) tokenizer_config.json;
  // `origin` names them in error messages.
  static Result<Tokenizer> FromText(std::string_view tokenizer_json, std::string_view config_json,
                                    const std::string& origin);

  // Appends the ids of `text` to `ids`.
  Status encode(std::string_view text, bool add_special_tokens, std::vector<uint32_t>* ids) const;

  const TokenizerInfo& info() const;

 private:
  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_TOKENIZER_H_
