// How one sample becomes the token ids a trainer trains on, following
// Hugging Face TRL's SFTTrainer:
//   text               tokenizer(text + eos_token)          (eos only if missing)
//   prompt/completion  tokenizer(prompt + completion + eos_token)  (eos only if the
//                      completion lacks it)
//   chat (messages)    tokenizer(chat_template(messages, tools), add_special_tokens=False)
//   Alpaca             as chat [user: instruction\n\ninput, assistant: output]
//                      when the tokenizer has a chat template, otherwise as
//                      prompt/completion with the Stanford Alpaca prompt.
#ifndef FLOPSMETER_DATASET_SAMPLE_TOKENS_H_
#define FLOPSMETER_DATASET_SAMPLE_TOKENS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dataset/sample.h"
#include "flopsmeter/status.h"
#include "flopsmeter/tokenizer.h"
#include "template/chat_template.h"

namespace flopsmeter {

struct SampleTokenOptions {
  bool add_special_tokens = true;
  bool append_eos = true;
};

class SampleTokenizer {
 public:
  // `chat_template` overrides the tokenizer's own (may be null).
  static Result<SampleTokenizer> Create(Tokenizer tokenizer, const std::string* chat_template_source,
                                        const std::string& chat_template_origin, SampleTokenOptions options);

  // Replaces `ids` with the sample's ids; `special` gets how many of them
  // the post-processor and append_eos added. Thread-safe.
  Status tokenize(const Sample& sample, std::vector<uint32_t>* ids, uint64_t* special) const;
  // The leading ids of a sample that a trainer keeps out of the loss, as
  // TRL's completion_mask does: the ids of the prompt tokenized alone, for a
  // prompt/completion sample (and Alpaca without a chat template); 0 for
  // text and chats, which train on every token by TRL's default
  // (assistant_only_loss=False). At most the sample's length.
  Result<uint64_t> prompt_tokens(const Sample& sample) const;

  const Tokenizer& tokenizer() const { return tokenizer_; }
  bool has_chat_template() const { return chat_template_.has_value(); }

 private:
  SampleTokenizer(Tokenizer tokenizer, std::optional<ChatTemplate> tmpl, SampleTokenOptions options)
      : tokenizer_(std::move(tokenizer)), chat_template_(std::move(tmpl)), options_(options) {}
  // `text` plus eos_token when `ending` (the part TRL looks at) lacks it.
  Status tokenize_text(std::string text, const std::string& ending, std::vector<uint32_t>* ids,
                       uint64_t* special) const;
  Status tokenize_chat(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                       std::vector<uint32_t>* ids) const;

  Tokenizer tokenizer_;
  std::optional<ChatTemplate> chat_template_;
  SampleTokenOptions options_;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_SAMPLE_TOKENS_H_
