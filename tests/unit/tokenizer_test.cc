// The tokenizer.json pipeline, one behaviour at a time, on small hand-made
// tokenizers. Exactness against the real Hugging Face library on real
// tokenizers is checked by tests/cli/tokenizer_crosscheck.sh.
#include "flopsmeter/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "test_support.h"

namespace flopsmeter {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

// A BPE tokenizer.json over `vocab` (ids in order) with `merges`.
Json bpe(const std::vector<std::string>& vocab, const std::vector<std::string>& merges, Json options = Json::object()) {
  Json v = Json::object();
  for (size_t i = 0; i < vocab.size(); ++i) v[vocab[i]] = i;
  Json model = {{"type", "BPE"}, {"vocab", v}, {"merges", merges}};
  for (auto& [k, val] : options.items()) model[k] = val;
  return {{"version", "1.0"}, {"model", model}, {"normalizer", nullptr}, {"pre_tokenizer", nullptr},
          {"post_processor", nullptr}, {"added_tokens", Json::array()}};
}

Tokenizer load(const Json& tokenizer_json, const std::string& config = "") {
  Result<Tokenizer> t = Tokenizer::FromText(tokenizer_json.dump(), config, "tokenizer.json");
  EXPECT_TRUE(t.ok()) << t.status().message();
  return *t;
}

std::vector<uint32_t> ids(const Tokenizer& t, std::string_view text, bool special = false) {
  std::vector<uint32_t> out;
  Status s = t.encode(text, special, &out);
  EXPECT_TRUE(s.ok()) << s.message();
  return out;
}

Status load_error(const Json& tokenizer_json) {
  Result<Tokenizer> t = Tokenizer::FromText(tokenizer_json.dump(), "", "tokenizer.json");
  EXPECT_FALSE(t.ok());
  return t.ok() ? Status::Ok() : t.status();
}

TEST(Tokenizer, BpeMergesLowestRankFirst) {
  // (b,c) outranks (a,b), so "abc" is a + bc, then abc.
  Tokenizer t = load(bpe({"a", "b", "c", "ab", "bc", "abc"}, {"b c", "a b", "a bc"}));
  EXPECT_THAT(ids(t, "abc"), ElementsAre(5));
  EXPECT_THAT(ids(t, "ab"), ElementsAre(3));
  EXPECT_THAT(ids(t, "cab"), ElementsAre(2, 3));
}

TEST(Tokenizer, BpeTiesGoToTheLeftmostPair) {
  Tokenizer t = load(bpe({"a", "aa"}, {"a a"}));
  EXPECT_THAT(ids(t, "aaa"), ElementsAre(1, 0));
}

TEST(Tokenizer, MergesMayBeWrittenAsPairs) {
  Json j = bpe({"a", "b", "ab"}, {});
  j["model"]["merges"] = Json::array({Json::array({"a", "b"})});
  EXPECT_THAT(ids(load(j), "ab"), ElementsAre(2));
}

TEST(Tokenizer, ByteFallbackSpellsUnknownCharactersAsBytes) {
  std::vector<std::string> vocab = {"<unk>", "a"};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab.push_back(name);
  }
  Tokenizer t = load(bpe(vocab, {}, {{"byte_fallback", true}, {"unk_token", "<unk>"}}));
  // é is C3 A9: ids 2 + 0xC3 and 2 + 0xA9.
  EXPECT_THAT(ids(t, "a\xC3\xA9"), ElementsAre(1, 2 + 0xC3, 2 + 0xA9));
}

TEST(Tokenizer, UnknownCharactersFuseIntoOneUnkWhenAsked) {
  Tokenizer fused = load(bpe({"<unk>", "a"}, {}, {{"unk_token", "<unk>"}, {"fuse_unk", true}}));
  EXPECT_THAT(ids(fused, "xya"), ElementsAre(0, 1));
  Tokenizer separate = load(bpe({"<unk>", "a"}, {}, {{"unk_token", "<unk>"}}));
  EXPECT_THAT(ids(separate, "xya"), ElementsAre(0, 0, 1));
}

TEST(Tokenizer, WithoutUnkTokenUnknownCharactersVanish) {
  EXPECT_THAT(ids(load(bpe({"a"}, {})), "xa"), ElementsAre(0));
}

TEST(Tokenizer, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  // Merges alone would give "ab"+"c"; ignore_merges takes "abc" directly.
  Json j = bpe({"a", "b", "c", "ab", "abc"}, {"a b"}, {{"ignore_merges", true}});
  EXPECT_THAT(ids(load(j), "abc"), ElementsAre(4));
  EXPECT_THAT(ids(load(bpe({"a", "b", "c", "ab", "abc"}, {"a b"})), "abc"), ElementsAre(3, 2));
}

TEST(Tokenizer, ContinuingSubwordPrefixDecoratesLaterCharacters) {
  Json j = bpe({"a", "##b", "a##b"}, {}, {{"continuing_subword_prefix", "##"}});
  j["model"]["merges"] = Json::array({Json::array({"a", "##b"})});
  EXPECT_THAT(ids(load(j), "ab"), ElementsAre(2));
}

TEST(Tokenizer, SplitBehaviorsKeepDelimitersAsTokenizersDoes) {
  auto split = [](const char* behavior) {
    Json j = bpe({"a", "b", "-", "a-", "-b"}, {"a -", "- b"});
    j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", false}};
    return load(j);
  };
  EXPECT_THAT(ids(split("Removed"), "a-b"), ElementsAre(0, 1));
  EXPECT_THAT(ids(split("Isolated"), "a-b"), ElementsAre(0, 2, 1));
  EXPECT_THAT(ids(split("MergedWithPrevious"), "a-b"), ElementsAre(3, 1));
  EXPECT_THAT(ids(split("MergedWithNext"), "a-b"), ElementsAre(0, 4));
  EXPECT_THAT(ids(split("Contiguous"), "a--b"), ElementsAre(0, 2, 2, 1));
}

TEST(Tokenizer, SplitRegexUsesOnigurumaSemantics) {
  // Look-ahead and \p{L}: the GPT-4 style \s+(?!\S) keeps the last space
  // for the next word.
  Json j = bpe({"a", " ", "  ", " a"}, {"  ", "  a"});
  j["model"]["merges"] = Json::array({Json::array({" ", " "}), Json::array({" ", "a"})});
  j["pre_tokenizer"] = {{"type", "Split"},
                        {"pattern", {{"Regex", R"( ?\p{L}+|\s+(?!\S)|\s+)"}}},
                        {"behavior", "Isolated"},
                        {"invert", false}};
  EXPECT_THAT(ids(load(j), "a   a"), ElementsAre(0, 2, 3));
}

TEST(Tokenizer, ByteLevelMapsBytesToPrintableCharacters) {
  // Space is byte 0x20, written as U+0120 "Ġ".
  Json j = bpe({"a", "\xC4\xA0", "\xC4\xA0" "a"}, {"\xC4\xA0 a"});
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  EXPECT_THAT(ids(load(j), "a a"), ElementsAre(0, 2));
  j["pre_tokenizer"]["add_prefix_space"] = true;
  EXPECT_THAT(ids(load(j), "a"), ElementsAre(2));
}

TEST(Tokenizer, MetaspaceFirstSchemePrependsOnlyAtTheStart) {
  Json j = bpe({"\xE2\x96\x81" "a", "a", "\xE2\x96\x81", "<s>"}, {"\xE2\x96\x81 a"});
  j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "first"},
                        {"split", true}};
  j["added_tokens"] = Json::array({{{"id", 3}, {"content", "<s>"}, {"special", true}}});
  EXPECT_THAT(ids(load(j), "a<s>a"), ElementsAre(0, 3, 1));
  j["pre_tokenizer"]["prepend_scheme"] = "always";
  EXPECT_THAT(ids(load(j), "a<s>a"), ElementsAre(0, 3, 0));
}

TEST(Tokenizer, NormalizerRunsOnEachStretchBetweenAddedTokens) {
  // Prepend applies to each stretch separately, as in tokenizers.
  Json j = bpe({"_", "a", "_a", "<s>"}, {"_ a"});
  j["normalizer"] = {{"type", "Prepend"}, {"prepend", "_"}};
  j["added_tokens"] = Json::array({{{"id", 3}, {"content", "<s>"}, {"special", true}}});
  EXPECT_THAT(ids(load(j), "a<s>a"), ElementsAre(2, 3, 2));
}

TEST(Tokenizer, AddedTokensMatchLongestFirst) {
  Json j = bpe({"<", "a", "<a>", "<a>>"}, {});
  j["added_tokens"] = Json::array({{{"id", 2}, {"content", "<a>"}, {"special", true}},
                                   {{"id", 3}, {"content", "<a>>"}, {"special", true}}});
  EXPECT_THAT(ids(load(j), "<a>>a"), ElementsAre(3, 1));
}

TEST(Tokenizer, AddedTokenStripFlagsSwallowNeighbouringSpaces) {
  Json j = bpe({"a", " ", "<m>"}, {});
  j["added_tokens"] = Json::array({{{"id", 2}, {"content", "<m>"}, {"special", true}, {"lstrip", true}, {"rstrip", true}}});
  EXPECT_THAT(ids(load(j), "a  <m>  a"), ElementsAre(0, 2, 0));
}

TEST(Tokenizer, SingleWordTokensMatchOnlyAsWholeWords) {
  Json j = bpe({"a", "b", " ", "ab"}, {});
  j["added_tokens"] = Json::array({{{"id", 3}, {"content", "ab"}, {"special", false}, {"single_word", true}}});
  EXPECT_THAT(ids(load(j), "ab"), ElementsAre(3));
  EXPECT_THAT(ids(load(j), "aab"), ElementsAre(0, 0, 1));
  EXPECT_THAT(ids(load(j), "a ab"), ElementsAre(0, 2, 3));
}

TEST(Tokenizer, TemplateProcessingAddsSpecialTokensOnlyWhenAsked) {
  Json j = bpe({"<bos>", "a", "</s>"}, {});
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", Json::array({{{"SpecialToken", {{"id", "<bos>"}, {"type_id", 0}}}},
                              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                              {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}}})},
      {"special_tokens", {{"<bos>", {{"id", "<bos>"}, {"ids", {0}}, {"tokens", {"<bos>"}}}},
                          {"</s>", {{"id", "</s>"}, {"ids", {2}}, {"tokens", {"</s>"}}}}}}};
  Tokenizer t = load(j);
  EXPECT_THAT(ids(t, "a", true), ElementsAre(0, 1, 2));
  EXPECT_THAT(ids(t, "a", false), ElementsAre(1));
  EXPECT_EQ(t.info().special_tokens_per_sequence, 2u);
}

TEST(Tokenizer, LlamaConfigFlagsRebuildTheSpecialTokensAsTransformersDoes) {
  Json j = bpe({"<s>", "a", "</s>"}, {});
  const std::string config = R"({"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<s>",
                                 "eos_token": "</s>", "add_eos_token": true})";
  Tokenizer t = load(j, config);
  EXPECT_THAT(ids(t, "a", true), ElementsAre(0, 1, 2));
  ASSERT_EQ(t.info().notes.size(), 1u);
  EXPECT_THAT(t.info().notes[0], HasSubstr("add_eos_token true"));
}

TEST(Tokenizer, ConfigSuppliesChatTemplateAndSpecialTokenStrings) {
  const std::string config = R"({"bos_token": {"content": "<s>"}, "eos_token": "</s>",
                                 "chat_template": [{"name": "tool_use", "template": "T"},
                                                   {"name": "default", "template": "D"}]})";
  Tokenizer t = load(bpe({"<s>", "</s>"}, {}), config);
  EXPECT_EQ(t.info().bos_token, "<s>");
  EXPECT_EQ(t.info().eos_id, 1u);
  EXPECT_EQ(t.info().chat_template, "D");
}

TEST(Tokenizer, NormalizersFollowUnicode) {
  Json j = bpe({"e\xCC\x81", "\xC3\xA9", "fi", "\xCF\x83", "\xCF\x82"}, {});
  j["normalizer"] = {{"type", "NFC"}};
  EXPECT_THAT(ids(load(j), "e\xCC\x81"), ElementsAre(1));  // e + combining acute -> é
  j["normalizer"] = {{"type", "NFKC"}};
  j["model"]["vocab"]["f"] = 5;
  j["model"]["vocab"]["i"] = 6;
  EXPECT_THAT(ids(load(j), "\xEF\xAC\x81"), ElementsAre(5, 6));  // the fi ligature becomes "f" "i"
  j["normalizer"] = {{"type", "Lowercase"}};
  EXPECT_THAT(ids(load(j), "\xCE\xA3\xCE\xA3"), ElementsAre(3, 4));  // final sigma
}

TEST(Tokenizer, WordPieceIsGreedyLongestMatchFirst) {
  Json j = {{"model", {{"type", "WordPiece"},
                       {"vocab", {{"[UNK]", 0}, {"un", 1}, {"##aff", 2}, {"##able", 3}, {"unaff", 4}}},
                       {"unk_token", "[UNK]"}}},
            {"pre_tokenizer", {{"type", "WhitespaceSplit"}}}};
  Tokenizer t = load(j);
  EXPECT_THAT(ids(t, "unaffable"), ElementsAre(4, 3));
  EXPECT_THAT(ids(t, "unaffablex un"), ElementsAre(0, 1));
}

TEST(Tokenizer, UnsupportedComponentsAreRefusedWithTheirField) {
  Json j = bpe({"a"}, {});
  j["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", "AAAA"}};
  Status s = load_error(j);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_THAT(s.message(), HasSubstr("normalizer.type"));
  EXPECT_THAT(s.message(), HasSubstr("Precompiled"));
}

TEST(Tokenizer, MergeOfUnknownTokensIsAnErrorNamingTheMerge) {
  Status s = load_error(bpe({"a"}, {"a b"}));
  EXPECT_THAT(s.message(), HasSubstr("merge 0"));
  EXPECT_THAT(s.message(), HasSubstr("\"b\""));
}

TEST(Tokenizer, DropoutIsRefusedBecauseItMakesCountsRandom) {
  Status s = load_error(bpe({"a"}, {}, {{"dropout", 0.1}}));
  EXPECT_THAT(s.message(), HasSubstr("dropout"));
}

TEST(Tokenizer, BadRegexIsAnErrorWithItsField) {
  Json j = bpe({"a"}, {});
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  EXPECT_THAT(load_error(j).message(), HasSubstr("pre_tokenizer.pattern.Regex"));
}

TEST(Tokenizer, SyntaxErrorsNameLineAndColumn) {
  Result<Tokenizer> t = Tokenizer::FromText("{\n  \"model\": ", "", "tok.json");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("tok.json:2:"));
}

TEST(Tokenizer, EncodesTheSameFromManyThreads) {
  Tokenizer t = load(bpe({"a", "b", "ab"}, {"a b"}));
  std::vector<std::thread> threads;
  std::vector<std::vector<uint32_t>> results(4);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 200; ++k) results[i] = ids(t, "abab ba");
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_EQ(r, results[0]);
}

// ---------------------------------------------------------------------------
// Text expansion: each phase may grow a sample to 64 times its bytes plus
// 4096 (TextBudget), so a tokenizer.json cannot take memory and time
// unbounded by the input.

Status encode_error(const Json& tokenizer_json, std::string_view text) {
  std::vector<uint32_t> out;
  return load(tokenizer_json).encode(text, false, &out);
}

// A Sequence of `count` copies of `step` under `steps_key`.
Json sequence_of(const char* steps_key, size_t count, const Json& step) {
  return {{"type", "Sequence"}, {steps_key, Json(std::vector<Json>(count, step))}};
}

// Before TextBudget, 40 doublings of a 62-byte sample took 4.6 GB and aborted.
TEST(TokenizerExpansion, ChainedReplaceNormalizersStopAtTheBudget) {
  Json j = bpe({"a"}, {});
  j["normalizer"] = sequence_of("normalizers", 40,
                                {{"type", "Replace"}, {"pattern", {{"String", "a"}}}, {"content", "aa"}});
  // 62 * 2^7 = 7936 bytes fit in 62 * 64 + 4096 = 8064; the 8th doubling does not.
  EXPECT_EQ(encode_error(j, std::string(62, 'a')).message(),
            "tokenizer.json: normalizer 7 (Replace) expands a 62-byte sample past 8064 bytes");
}

TEST(TokenizerExpansion, PrependIsCheckedBeforeItGrowsTheText) {
  Json j = bpe({"a"}, {});
  j["normalizer"] = sequence_of("normalizers", 10, {{"type", "Prepend"}, {"prepend", std::string(1000, 'p')}});
  EXPECT_EQ(encode_error(j, "a").message(),
            "tokenizer.json: normalizer 4 (Prepend) expands a 1-byte sample past 4160 bytes");
}

TEST(TokenizerExpansion, StretchesBetweenAddedTokensShareOneBudget) {
  Json j = bpe({"a", "<s>"}, {});
  j["normalizer"] = {{"type", "Prepend"}, {"prepend", std::string(3000, 'p')}};
  j["added_tokens"] = Json::array({{{"id", 1}, {"content", "<s>"}, {"special", true}}});
  EXPECT_THAT(ids(load(j), "a"), ElementsAre(0));  // one stretch of 3001 bytes fits in 4160
  EXPECT_EQ(encode_error(j, "a<s>a").message(),
            "tokenizer.json: normalizer (Prepend) expands a 5-byte sample past 4416 bytes");
}

TEST(TokenizerExpansion, ChainedByteLevelPreTokenizersStopAtTheBudget) {
  Json j = bpe({"a"}, {});
  j["pre_tokenizer"] = sequence_of("pretokenizers", 10,
                                   {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}});
  // Every byte of "é" is above 0x7F, so each pass doubles the text: 100 *
  // 2^7 = 12800 bytes passes 100 * 64 + 4096 = 10496 at the seventh pass.
  std::string text;
  for (int i = 0; i < 50; ++i) text += "\xC3\xA9";
  EXPECT_EQ(encode_error(j, text).message(),
            "tokenizer.json: pre-tokenizer 6 (ByteLevel) expands a 100-byte sample past 10496 bytes");
}

TEST(TokenizerExpansion, MetaspaceReplacementIsCheckedBeforeItIsWritten) {
  Json j = bpe({"a"}, {});
  j["pre_tokenizer"] = sequence_of("pretokenizers", 20,
                                   {{"type", "Metaspace"}, {"replacement", "  "}, {"prepend_scheme", "never"},
                                    {"split", false}});
  EXPECT_EQ(encode_error(j, std::string(62, ' ')).message(),
            "tokenizer.json: pre-tokenizer 7 (Metaspace) expands a 62-byte sample past 8064 bytes");
}

TEST(TokenizerExpansion, NormalizedAddedTokensAreCheckedAtLoad) {
  Json j = bpe({"a"}, {});
  j["normalizer"] = sequence_of("normalizers", 40,
                                {{"type", "Replace"}, {"pattern", {{"String", "a"}}}, {"content", "aa"}});
  j["added_tokens"] = Json::array({{{"id", 1}, {"content", "aaaa"}, {"special", false}, {"normalized", true}}});
  EXPECT_EQ(load_error(j).message(),
            "tokenizer.json: added token 0: normalizer 10 (Replace) expands a 4-byte sample past 4352 bytes");
}

TEST(TokenizerExpansion, NestedSequencesNameTheStepByItsPath) {
  Json j = bpe({"a"}, {});
  const Json doubling = {{"type", "Replace"}, {"pattern", {{"String", "a"}}}, {"content", "aa"}};
  j["normalizer"] = {{"type", "Sequence"},
                     {"normalizers", Json::array({{{"type", "NFC"}}, sequence_of("normalizers", 20, doubling)})}};
  EXPECT_EQ(encode_error(j, std::string(62, 'a')).message(),
            "tokenizer.json: normalizer 1.7 (Replace) expands a 62-byte sample past 8064 bytes");
}

// NFKC's largest expansion (U+FDFA, 3 bytes to 33) followed by Metaspace
// and ByteLevel stays far inside the budget.
TEST(TokenizerExpansion, RealExpansionsFitTheBudget) {
  Json j = bpe({"a"}, {});
  j["normalizer"] = {{"type", "NFKC"}};
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers", Json::array({{{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}},
                                                       {{"type", "ByteLevel"}, {"add_prefix_space", false},
                                                        {"use_regex", false}}})}};
  std::string text;
  for (int i = 0; i < 100; ++i) text += "\xEF\xB7\xBA";  // U+FDFA
  std::vector<uint32_t> out;
  const Status status = load(j).encode(text, false, &out);
  EXPECT_TRUE(status.ok()) << status.message();
}

TEST(TokenizerExpansion, PostProcessorsAddAtMost1024SpecialTokens) {
  Json j = bpe({"<bos>", "a"}, {});
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", Json::array({{{"SpecialToken", {{"id", "<bos>"}, {"type_id", 0}}}},
                              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
      {"special_tokens", {{"<bos>", {{"id", "<bos>"}, {"ids", std::vector<int>(1025, 0)}, {"tokens", {"<bos>"}}}}}}};
  EXPECT_THAT(load_error(j).message(),
              HasSubstr("field 'post_processor': adds more than 1024 special tokens to every sequence"));
  j["post_processor"]["special_tokens"]["<bos>"]["ids"] = std::vector<int>(1024, 0);
  EXPECT_EQ(load(j).info().special_tokens_per_sequence, 1024u);
}

// tokenizer_config.json is optional, but one that is a FIFO is an error,
// not silently skipped and not a read that blocks.
TEST(Tokenizer, LoadRefusesATokenizerFileThatIsAFifo) {
  flopsmeter::testing::TempDir dir;
  dir.fifo("tokenizer.json");
  EXPECT_EQ(Tokenizer::Load(dir.path()).status().message(), dir.path() + "/tokenizer.json: is a FIFO, expected a file");
  std::filesystem::remove(dir.path() + "/tokenizer.json");
  dir.file("tokenizer.json", bpe({"a"}, {}).dump());
  dir.fifo("tokenizer_config.json");
  EXPECT_EQ(Tokenizer::Load(dir.path()).status().message(),
            dir.path() + "/tokenizer_config.json: is a FIFO, expected a file");
}

TEST(Tokenizer, LoadNamesAMissingTokenizerJson) {
  Result<Tokenizer> t = Tokenizer::Load("/nonexistent/dir/tokenizer.json");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("/nonexistent/dir/tokenizer.json"));
}

}  // namespace
}  // namespace flopsmeter
