#include "dataset/sample_tokens.h"

namespace flopsmeter {
namespace {

// The prompts of Stanford Alpaca's train.py (PROMPT_DICT), the format
// Alpaca-style records were written for.
std::string alpaca_prompt(const Sample& sample) {
  if (sample.input.empty()) {
    return "Below is an instruction that describes a task. Write a response that appropriately "
           "completes the request.\n\n### Instruction:\n" +
           sample.instruction + "\n\n### Response:\n";
  }
  return "Below is an instruction that describes a task, paired with an input that provides further "
         "context. Write a response that appropriately completes the request.\n\n### Instruction:\n" +
         sample.instruction + "\n\n### Input:\n" + sample.input + "\n\n### Response:\n";
}

}  // namespace

Result<SampleTokenizer> SampleTokenizer::Create(Tokenizer tokenizer, const std::string* chat_template_source,
                                                const std::string& chat_template_origin,
                                                SampleTokenOptions options) {
  const std::string* source = chat_template_source;
  if (source == nullptr && tokenizer.info().chat_template) source = &*tokenizer.info().chat_template;
  std::optional<ChatTemplate> tmpl;
  if (source != nullptr) {
    FM_ASSIGN_OR_RETURN(ChatTemplate parsed, ChatTemplate::Parse(*source, chat_template_origin));
    tmpl = std::move(parsed);
  }
  return SampleTokenizer(std::move(tokenizer), std::move(tmpl), options);
}

Status SampleTokenizer::tokenize_text(std::string text, const std::string& ending, std::vector<uint32_t>* ids,
                                      uint64_t* special) const {
  const TokenizerInfo& info = tokenizer_.info();
  *special = options_.add_special_tokens ? info.special_tokens_per_sequence : 0;
  // TRL tests the part it appends to (the text, or the completion alone).
  if (options_.append_eos && info.eos_token && !ending.ends_with(*info.eos_token)) {
    text += *info.eos_token;
    ++*special;
  }
  return tokenizer_.encode(text, options_.add_special_tokens, ids);
}

Status SampleTokenizer::tokenize_chat(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                      std::vector<uint32_t>* ids) const {
  if (!chat_template_) {
    return Status::InvalidArgument(
        "chat record, but the tokenizer has no chat_template (give one with option \"chat-template\" FILE)");
  }
  const TokenizerInfo& info = tokenizer_.info();
  // Record order matters: tojson and dict.items() show keys in it.
  nlohmann::ordered_json context = {{"messages", messages}, {"add_generation_prompt", false}};
  if (!tools.is_null()) context["tools"] = tools;
  // transformers passes the special-token strings to every template.
  if (info.bos_token) context["bos_token"] = *info.bos_token;
  if (info.eos_token) context["eos_token"] = *info.eos_token;
  if (info.unk_token) context["unk_token"] = *info.unk_token;
  if (info.pad_token) context["pad_token"] = *info.pad_token;
  FM_ASSIGN_OR_RETURN(std::string text, chat_template_->Render(context));
  return tokenizer_.encode(text, false, ids);
}

Status SampleTokenizer::tokenize(const Sample& sample, std::vector<uint32_t>* ids, uint64_t* special) const {
  ids->clear();
  *special = 0;
  switch (sample.kind) {
    case SampleKind::kText:
      return tokenize_text(sample.text, sample.text, ids, special);
    case SampleKind::kPromptCompletion:
      return tokenize_text(sample.prompt + sample.completion, sample.completion, ids, special);
    case SampleKind::kChat:
      return tokenize_chat(sample.messages, sample.tools, ids);
    case SampleKind::kInstruction: {
      if (chat_template_) {
        const std::string user =
            sample.input.empty() ? sample.instruction : sample.instruction + "\n\n" + sample.input;
        const nlohmann::ordered_json messages = nlohmann::ordered_json::array(
            {{{"role", "user"}, {"content", user}}, {{"role", "assistant"}, {"content", sample.output}}});
        return tokenize_chat(messages, nullptr, ids);
      }
      return tokenize_text(alpaca_prompt(sample) + sample.output, sample.output, ids, special);
    }
  }
  return Status::Internal("unknown sample kind");
}

Result<uint64_t> SampleTokenizer::prompt_tokens(const Sample& sample) const {
  const std::string* prompt = nullptr;
  std::string alpaca;
  if (sample.kind == SampleKind::kPromptCompletion) prompt = &sample.prompt;
  if (sample.kind == SampleKind::kInstruction && !chat_template_) {
    alpaca = alpaca_prompt(sample);
    prompt = &alpaca;
  }
  if (prompt == nullptr) return uint64_t{0};
  std::vector<uint32_t> ids;
  FM_RETURN_IF_ERROR(tokenizer_.encode(*prompt, options_.add_special_tokens, &ids));
  return static_cast<uint64_t>(ids.size());
}

}  // namespace flopsmeter
