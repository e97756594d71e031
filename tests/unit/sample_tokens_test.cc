// How a sample becomes ids: TRL SFTTrainer's conventions.
#include "dataset/sample_tokens.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace flopsmeter {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Characters a..e and the special tokens <s> (2... see vocab) as ids.
SampleTokenizer make(bool with_template, SampleTokenOptions options = {},
                     const std::string& tmpl = "{{ bos_token }}{% for m in messages %}{{ 'U' if m.role == 'user' else 'A' }}:{{ m.content }}{{ eos_token }}{% endfor %}") {
  const std::string tokenizer_json = R"({
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "<s>": 2, "</s>": 3, "U": 4, "A": 5, ":": 6},
              "merges": []},
    "added_tokens": [{"id": 2, "content": "<s>", "special": true}, {"id": 3, "content": "</s>", "special": true}],
    "post_processor": {"type": "TemplateProcessing",
                       "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}],
                       "special_tokens": {"<s>": {"id": "<s>", "ids": [2]}}}})";
  std::string config = R"({"bos_token": "<s>", "eos_token": "</s>")";
  if (with_template) {
    config += ", \"chat_template\": " + nlohmann::json(tmpl).dump();
  }
  config += "}";
  Result<Tokenizer> tok = Tokenizer::FromText(tokenizer_json, config, "tokenizer.json");
  EXPECT_TRUE(tok.ok()) << tok.status().message();
  Result<SampleTokenizer> st = SampleTokenizer::Create(*tok, nullptr, "chat_template", options);
  EXPECT_TRUE(st.ok()) << st.status().message();
  return *st;
}

std::vector<uint32_t> ids_of(const SampleTokenizer& st, const Sample& sample, uint64_t* special = nullptr) {
  std::vector<uint32_t> ids;
  uint64_t added = 0;
  Status s = st.tokenize(sample, &ids, &added);
  EXPECT_TRUE(s.ok()) << s.message();
  if (special != nullptr) *special = added;
  return ids;
}

Sample text(std::string t) {
  Sample s;
  s.kind = SampleKind::kText;
  s.text = std::move(t);
  return s;
}

Sample prompt_completion(std::string p, std::string c) {
  Sample s;
  s.kind = SampleKind::kPromptCompletion;
  s.prompt = std::move(p);
  s.completion = std::move(c);
  return s;
}

TEST(SampleTokens, TextGetsSpecialTokensAndAnEos) {
  uint64_t special = 0;
  EXPECT_THAT(ids_of(make(false), text("ab"), &special), ElementsAre(2, 0, 1, 3));
  EXPECT_EQ(special, 2u);
}

TEST(SampleTokens, TextAlreadyEndingWithEosGetsNoSecondOne) {
  EXPECT_THAT(ids_of(make(false), text("a</s>")), ElementsAre(2, 0, 3));
}

TEST(SampleTokens, SwitchesTurnSpecialTokensAndEosOff) {
  EXPECT_THAT(ids_of(make(false, {false, false}), text("ab")), ElementsAre(0, 1));
}

TEST(SampleTokens, CompletionIsWhatTheEosTestLooksAt) {
  // TRL appends eos when the completion lacks it, even if the prompt ends with one.
  EXPECT_THAT(ids_of(make(false), prompt_completion("a</s>", "")), ElementsAre(2, 0, 3, 3));
  EXPECT_THAT(ids_of(make(false), prompt_completion("a", "b</s>")), ElementsAre(2, 0, 1, 3));
}

TEST(SampleTokens, ChatIsRenderedByTheTemplateWithoutAddedSpecialTokens) {
  Sample s;
  s.kind = SampleKind::kChat;
  s.messages = nlohmann::ordered_json::array({{{"role", "user"}, {"content", "a"}}, {{"role", "assistant"}, {"content", "b"}}});
  uint64_t special = 0;
  // <s> U:a </s> A:b </s>: the BOS comes from the template, not the post-processor.
  EXPECT_THAT(ids_of(make(true), s, &special), ElementsAre(2, 4, 6, 0, 3, 5, 6, 1, 3));
  EXPECT_EQ(special, 0u);
}

TEST(SampleTokens, AlpacaBecomesChatWhenATemplateExists) {
  Sample s;
  s.kind = SampleKind::kInstruction;
  s.instruction = "a";
  s.output = "b";
  EXPECT_THAT(ids_of(make(true), s), ElementsAre(2, 4, 6, 0, 3, 5, 6, 1, 3));
}

TEST(SampleTokens, ChatToolsReachTheTemplate) {
  Sample s;
  s.kind = SampleKind::kChat;
  s.messages = nlohmann::ordered_json::array({{{"role", "user"}, {"content", "a"}}});
  s.tools = nlohmann::ordered_json::array({"b", "b"});
  // One "b" per tool, then the turn.
  const SampleTokenizer st = make(true, {}, "{% for t in tools %}{{ t }}{% endfor %}{{ messages[0].content }}");
  EXPECT_THAT(ids_of(st, s), ElementsAre(1, 1, 0));
}

TEST(SampleTokens, ChatWithoutATemplateIsAnError) {
  Sample s;
  s.kind = SampleKind::kChat;
  s.messages = nlohmann::ordered_json::array();
  std::vector<uint32_t> ids;
  uint64_t special = 0;
  Status status = make(false).tokenize(s, &ids, &special);
  EXPECT_THAT(status.message(), HasSubstr("option \"chat-template\""));
}

}  // namespace
}  // namespace flopsmeter
