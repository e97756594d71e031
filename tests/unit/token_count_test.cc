// count_tokens end to end on a tiny tokenizer: skipped records grouped by
// cause, and an error that says why when every record is skipped.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "flopsmeter/tokens.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using ::testing::HasSubstr;

// Characters a and b are tokens; <s> is added before every text sample and
// </s> appended; there is no chat template.
std::string tiny_tokenizer(const testing::TempDir& dir) {
  dir.file("tok/tokenizer.json", R"({
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "<s>": 2, "</s>": 3}, "merges": []},
    "added_tokens": [{"id": 2, "content": "<s>", "special": true}, {"id": 3, "content": "</s>", "special": true}],
    "post_processor": {"type": "TemplateProcessing",
                       "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}],
                       "special_tokens": {"<s>": {"id": "<s>", "ids": [2]}}}})");
  dir.file("tok/tokenizer_config.json", R"({"bos_token": "<s>", "eos_token": "</s>"})");
  return dir.path() + "/tok";
}

const char kChat[] = R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})";

TEST(TokenCount, SkippedRecordsAreGroupedByCause) {
  testing::TempDir dir;
  TokenCountRequest r;
  r.tokenizer = tiny_tokenizer(dir);
  r.files = {dir.file("d.jsonl", std::string("{\"text\": \"ab\"}\n") + kChat + "\nnot json\n" + kChat + "\n")};
  auto report = count_tokens(r);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->samples, 1u);
  EXPECT_EQ(report->tokens, 4u);
  EXPECT_EQ(report->skipped, 3u);
  ASSERT_EQ(report->skipped_causes.size(), 2u);
  EXPECT_EQ(report->skipped_causes[0].count, 2u);
  EXPECT_EQ(report->skipped_causes[0].first, r.files[0] + ":2");
  EXPECT_THAT(report->skipped_causes[0].cause, HasSubstr("chat record"));
  EXPECT_EQ(report->skipped_causes[0].cause.rfind(r.files[0], 0), std::string::npos) << "the location is kept";
  EXPECT_EQ(report->skipped_causes[1].first, r.files[0] + ":3");
}

TEST(TokenCount, WhenEveryRecordIsSkippedTheErrorSaysWhy) {
  testing::TempDir dir;
  TokenCountRequest r;
  r.tokenizer = tiny_tokenizer(dir);
  r.files = {dir.file("chats.jsonl", std::string(kChat) + "\n" + kChat + "\n")};
  auto report = count_tokens(r);
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("none of the 2 records could be counted"));
  EXPECT_THAT(report.status().message(), HasSubstr("2 x chat record, but the tokenizer has no chat_template"));
  EXPECT_THAT(report.status().message(), HasSubstr("chats.jsonl:1"));
}

TEST(TokenCount, AnEmptyDatasetCountsZero) {
  testing::TempDir dir;
  TokenCountRequest r;
  r.tokenizer = tiny_tokenizer(dir);
  r.files = {dir.file("empty.jsonl", "")};
  auto report = count_tokens(r);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->samples, 0u);
}

TEST(TokenCount, PaddedBatchesDefaultToTheTrainersSizeInRandomOrder) {
  testing::TempDir dir;
  TokenCountRequest r;
  r.tokenizer = tiny_tokenizer(dir);
  std::string lines;
  for (int i = 1; i <= 20; ++i) lines += "{\"text\": \"" + std::string(static_cast<size_t>(i), 'a') + "\"}\n";
  r.files = {dir.file("d.jsonl", lines)};
  r.layout = SequenceLayout::kPadded;
  auto report = count_tokens(r);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->batch_size, kTrainerDefaultBatchSize);
  EXPECT_TRUE(report->default_batch_size);
  EXPECT_EQ(report->order, SampleOrder::kRandom);
  ASSERT_TRUE(report->shuffled.has_value());
  EXPECT_EQ(report->positions, 0u);  // no fixed-order figures
  // Samples of 3..22 tokens; at worst 22, 21 lead the full batches and 20 the last 4.
  EXPECT_EQ(report->shuffled->worst_positions, 8u * 22 + 8u * 21 + 4u * 20);
  const std::string text = tokens_to_text(*report);
  EXPECT_THAT(text, HasSubstr("random order"));
  EXPECT_THAT(text, HasSubstr("worst order 424 positions"));
}

}  // namespace
}  // namespace flopsmeter
