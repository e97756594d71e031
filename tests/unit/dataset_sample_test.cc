// parse_sample and repair_utf8: how a record becomes a training sample.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dataset/sample.h"

namespace flopsmeter {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::ordered_json;

constexpr std::string_view kFffd = "\xEF\xBF\xBD";

RawRecord Record(std::string text, uint64_t line = 17, uint64_t column = 1) {
  return RawRecord{std::move(text), line, column};
}

Sample Parse(const std::string& json, const SampleOptions& options = {}) {
  Result<Sample> sample = parse_sample(Record(json), DatasetFormat::kJsonLines, options, "data.jsonl");
  EXPECT_TRUE(sample.ok()) << sample.status().ToString();
  return sample.ok() ? std::move(sample).value() : Sample{};
}

// The message of a record that must fail with a ParseError.
std::string Error(const std::string& json, const SampleOptions& options = {}) {
  Result<Sample> sample = parse_sample(Record(json), DatasetFormat::kJsonLines, options, "data.jsonl");
  EXPECT_FALSE(sample.ok()) << json;
  if (sample.ok()) return "";
  EXPECT_EQ(sample.status().code(), StatusCode::kParseError) << sample.status().ToString();
  return sample.status().message();
}

SampleOptions Schema(RecordSchema schema, std::string field = "") {
  SampleOptions options;
  options.schema = schema;
  options.field = std::move(field);
  return options;
}

// ---------------------------------------------------------------------------
// Plain text

TEST(DatasetSampleTest, PlainTextRecordIsATextSample) {
  Result<Sample> sample = parse_sample(Record("hello world"), DatasetFormat::kText, {}, "a.txt");
  ASSERT_TRUE(sample.ok());
  EXPECT_EQ(sample->kind, SampleKind::kText);
  EXPECT_EQ(sample->text, "hello world");
  EXPECT_EQ(sample->invalid_utf8, 0u);
}

TEST(DatasetSampleTest, PlainTextHasNoFieldsToChoose) {
  Result<Sample> sample =
      parse_sample(Record("x"), DatasetFormat::kText, Schema(RecordSchema::kMessages), "a.txt");
  ASSERT_FALSE(sample.ok());
  EXPECT_EQ(sample.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(sample.status().message(),
            "a.txt: plain text has no fields; option \"field\" and record schemas other than text need "
            "JSON records");
  EXPECT_FALSE(parse_sample(Record("x"), DatasetFormat::kText, Schema(RecordSchema::kAuto, "body"),
                            "a.txt")
                   .ok());
  EXPECT_TRUE(
      parse_sample(Record("x"), DatasetFormat::kText, Schema(RecordSchema::kText), "a.txt").ok());
}

TEST(DatasetSampleTest, UnresolvedFormatIsRefused) {
  Result<Sample> sample = parse_sample(Record("x"), DatasetFormat::kAuto, {}, "a");
  ASSERT_FALSE(sample.ok());
  EXPECT_EQ(sample.status().code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Invalid UTF-8: one U+FFFD per maximal subpart, as Node and Rust decode.

struct Utf8Case {
  const char* what;
  std::string input;
  std::string repaired;
  uint64_t replaced;
};

TEST(DatasetSampleTest, RepairUtf8ReplacesEachMaximalSubpart) {
  const std::string r(kFffd);
  const std::vector<Utf8Case> cases = {
      {"overlong 2-byte NUL", "a\xC0\x80z", "a" + r + r + "z", 2},
      {"overlong 3-byte", "\xE0\x80\xAF", r + r + r, 3},
      {"overlong 4-byte", "\xF0\x80\x80\x80", r + r + r + r, 4},
      {"surrogate encoded in UTF-8", "\xED\xA0\x80", r + r + r, 3},
      {"above U+10FFFF", "\xF4\x90\x80\x80", r + r + r + r, 4},
      {"truncated 3-byte at the end", "ok\xE2\x82", "ok" + r, 1},
      {"truncated 4-byte at the end", "\xF0\x9F\x98", r, 1},
      {"truncated sequence before ASCII", "\xE2\x82" "A", r + "A", 1},
      {"lone continuation bytes", "\x80\xBF", r + r, 2},
      {"bytes F5 to FF", "\xF5\xF8\xFE\xFF", r + r + r + r, 4},
      {"C1 lead byte", "\xC1\xBF", r + r, 2},
      {"valid then invalid then valid", "\xC3\xA9\xFF\xF0\x9F\x98\x80", "\xC3\xA9" + r + "\xF0\x9F\x98\x80", 1},
  };
  for (const Utf8Case& c : cases) {
    std::string repaired = "untouched";
    EXPECT_EQ(repair_utf8(c.input, &repaired), c.replaced) << c.what;
    EXPECT_EQ(repaired, c.repaired) << c.what;
  }
}

TEST(DatasetSampleTest, RepairUtf8LeavesValidTextAlone) {
  std::string repaired = "untouched";
  const std::string valid = "ASCII, \xC3\xA9, \xE2\x82\xAC, \xF0\x9F\x98\x80, \xF4\x8F\xBF\xBF, \xEF\xBF\xBD";
  EXPECT_EQ(repair_utf8(valid, &repaired), 0u);
  EXPECT_EQ(repaired, "untouched");
}

TEST(DatasetSampleTest, PlainTextWithInvalidUtf8IsRepairedAndCounted) {
  Result<Sample> sample =
      parse_sample(Record("caf\xE9 \xED\xA0\x80"), DatasetFormat::kText, {}, "a.txt");
  ASSERT_TRUE(sample.ok());
  EXPECT_EQ(sample->text, "caf" + std::string(kFffd) + " " + std::string(kFffd) +
                              std::string(kFffd) + std::string(kFffd));
  EXPECT_EQ(sample->invalid_utf8, 4u);
}

TEST(DatasetSampleTest, InvalidUtf8InsideJsonIsRepairedBeforeParsing) {
  const Sample sample = Parse("{\"text\": \"caf\xE9\", \"other\": \"\xFF\"}");
  EXPECT_EQ(sample.text, "caf" + std::string(kFffd));
  EXPECT_EQ(sample.invalid_utf8, 2u);  // the whole record counts
}

TEST(DatasetSampleTest, LoneSurrogateEscapesBecomeReplacementCharacters) {
  const std::string r(kFffd);
  EXPECT_EQ(Parse(R"({"text": "a\uD800b"})").text, "a" + r + "b");
  EXPECT_EQ(Parse(R"({"text": "a\uD800b"})").invalid_utf8, 1u);
  EXPECT_EQ(Parse(R"({"text": "\udc00"})").text, r);
  // A high surrogate followed by another: the first is lone, the pair is kept.
  const Sample twice = Parse(R"({"text": "\uD83D\uD83D\uDE00\uDE00"})");
  EXPECT_EQ(twice.text, r + "\xF0\x9F\x98\x80" + r);
  EXPECT_EQ(twice.invalid_utf8, 2u);
}

TEST(DatasetSampleTest, SurrogatePairEscapesAndEscapedBackslashesAreKept) {
  const Sample pair = Parse(R"({"text": "\uD83D\uDE00"})");
  EXPECT_EQ(pair.text, "\xF0\x9F\x98\x80");
  EXPECT_EQ(pair.invalid_utf8, 0u);
  const Sample literal = Parse(R"({"text": "\\uD800"})");
  EXPECT_EQ(literal.text, "\\uD800");
  EXPECT_EQ(literal.invalid_utf8, 0u);
}

TEST(DatasetSampleTest, InvalidUtf8AndLoneSurrogatesAreCountedTogether) {
  const Sample sample = Parse("{\"text\": \"\\uDFFF\xC0\"}");
  EXPECT_EQ(sample.text, std::string(kFffd) + std::string(kFffd));
  EXPECT_EQ(sample.invalid_utf8, 2u);
}

// ---------------------------------------------------------------------------
// Schemas recognised from the members present

TEST(DatasetSampleTest, TextMemberIsATextSample) {
  const Sample sample = Parse(R"({"text": "hello", "id": 3})");
  EXPECT_EQ(sample.kind, SampleKind::kText);
  EXPECT_EQ(sample.text, "hello");
}

TEST(DatasetSampleTest, MessagesAreAChatSampleKeptAsWritten) {
  const Sample sample = Parse(R"({"messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "image"}]},
      {"role": "assistant", "content": null, "tool_calls": [{"name": "f"}]},
      {"role": "tool", "name": "f"}]})");
  EXPECT_EQ(sample.kind, SampleKind::kChat);
  ASSERT_EQ(sample.messages.size(), 4u);
  EXPECT_EQ(sample.messages[0], (Json{{"role", "system"}, {"content", "Be brief."}}));
  EXPECT_EQ(sample.messages[1]["content"][0]["text"], "Hi");
  EXPECT_EQ(sample.messages[2]["tool_calls"][0]["name"], "f");
  EXPECT_FALSE(sample.messages[3].contains("content"));
}

TEST(DatasetSampleTest, ChatRecordsCarryTheirToolsInRecordOrder) {
  const Sample sample = Parse(R"({"messages": [{"role": "user", "content": "Q"}],
      "tools": [{"name": "f", "description": "d", "parameters": {"z": 1, "a": 2}}]})");
  EXPECT_EQ(sample.kind, SampleKind::kChat);
  ASSERT_TRUE(sample.tools.is_array());
  EXPECT_EQ(sample.tools[0]["parameters"].dump(), R"({"z":1,"a":2})");
  EXPECT_TRUE(Parse(R"({"messages": []})").tools.is_null());
}

TEST(DatasetSampleTest, ShareGptConversationsBecomeMessages) {
  const Sample sample = Parse(R"({"conversations": [
      {"from": "system", "value": "S"}, {"from": "human", "value": "Q"},
      {"from": "gpt", "value": "A"}]})");
  EXPECT_EQ(sample.kind, SampleKind::kChat);
  EXPECT_EQ(sample.messages, Json::parse(R"([{"role": "system", "content": "S"},
      {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}])"));
}

TEST(DatasetSampleTest, ShareGptSpeakersMapToChatRoles) {
  const std::vector<std::pair<std::string, std::string>> mapping = {
      {"human", "user"},          {"user", "user"},           {"gpt", "assistant"},
      {"assistant", "assistant"}, {"model", "assistant"},     {"chatgpt", "assistant"},
      {"bing", "assistant"},      {"bard", "assistant"},      {"function_call", "assistant"},
      {"system", "system"},       {"tool", "tool"},           {"function", "tool"},
      {"observation", "tool"},    {"function_response", "tool"}, {"Human", "user"},
      {"GPT", "assistant"}};
  for (const auto& [from, role] : mapping) {
    const Json record = {{"conversations", {{{"from", from}, {"value", "x"}}}}};
    const Sample sample = Parse(record.dump());
    ASSERT_EQ(sample.messages.size(), 1u) << from;
    EXPECT_EQ(sample.messages[0]["role"], role) << from;
  }
}

TEST(DatasetSampleTest, ShareGptUnknownSpeakerIsNamed) {
  EXPECT_EQ(Error(R"({"conversations": [{"from": "human", "value": "Q"},
                                        {"from": "narrator", "value": "A"}]})"),
            "data.jsonl:17: field 'conversations[1].from': unknown speaker 'narrator'; expected "
            "one of human, user, gpt, assistant, model, chatgpt, bing, bard, function_call, "
            "system, tool, function, observation, function_response");
}

TEST(DatasetSampleTest, ShareGptTurnsNeedStringFromAndValue) {
  EXPECT_EQ(Error(R"({"conversations": [{"from": "human"}]})"),
            "data.jsonl:17: field 'conversations[0].value': required field is missing");
  EXPECT_EQ(Error(R"({"conversations": [{"from": 1, "value": "x"}]})"),
            "data.jsonl:17: field 'conversations[0].from': expected a string, got number");
  EXPECT_EQ(Error(R"({"conversations": [{"from": "gpt", "value": ["x"]}]})"),
            "data.jsonl:17: field 'conversations[0].value': expected a string, got array");
  EXPECT_EQ(Error(R"({"conversations": "hi"})"),
            "data.jsonl:17: field 'conversations': expected an array of {from, value} turns, got "
            "string");
}

TEST(DatasetSampleTest, PromptAndCompletionStringsAreAPromptCompletionSample) {
  const Sample sample = Parse(R"({"prompt": "2+2=", "completion": "4"})");
  EXPECT_EQ(sample.kind, SampleKind::kPromptCompletion);
  EXPECT_EQ(sample.prompt, "2+2=");
  EXPECT_EQ(sample.completion, "4");
}

TEST(DatasetSampleTest, ConversationalPromptAndCompletionAreMergedIntoOneChat) {
  const Sample sample = Parse(R"({"prompt": [{"role": "user", "content": "Q"}],
                                  "completion": [{"role": "assistant", "content": "A"}]})");
  EXPECT_EQ(sample.kind, SampleKind::kChat);
  EXPECT_EQ(sample.messages, Json::parse(R"([{"role": "user", "content": "Q"},
                                             {"role": "assistant", "content": "A"}])"));
}

TEST(DatasetSampleTest, PromptAndCompletionOfDifferentKindsAreAnError) {
  EXPECT_EQ(Error(R"({"prompt": "Q", "completion": [{"role": "assistant", "content": "A"}]})"),
            "data.jsonl:17: fields 'prompt' and 'completion': expected two strings or two arrays "
            "of messages, got string and array");
}

TEST(DatasetSampleTest, AlpacaRecordIsAnInstructionSample) {
  const Sample sample = Parse(R"({"instruction": "Add", "input": "2, 2", "output": "4"})");
  EXPECT_EQ(sample.kind, SampleKind::kInstruction);
  EXPECT_EQ(sample.instruction, "Add");
  EXPECT_EQ(sample.input, "2, 2");
  EXPECT_EQ(sample.output, "4");
}

TEST(DatasetSampleTest, AlpacaInputMayBeEmptyMissingOrNull) {
  EXPECT_EQ(Parse(R"({"instruction": "I", "input": "", "output": "O"})").input, "");
  EXPECT_EQ(Parse(R"({"instruction": "I", "output": "O"})").input, "");
  EXPECT_EQ(Parse(R"({"instruction": "I", "input": null, "output": "O"})").input, "");
  EXPECT_EQ(Error(R"({"instruction": "I", "input": 5, "output": "O"})"),
            "data.jsonl:17: field 'input': expected a string, got number");
}

TEST(DatasetSampleTest, SchemasAreTriedInOrder) {
  EXPECT_EQ(Parse(R"({"text": "t", "messages": [{"role": "user", "content": "m"}]})").kind,
            SampleKind::kChat);
  EXPECT_EQ(Parse(R"({"text": "t", "conversations": [{"from": "human", "value": "c"}]})").kind,
            SampleKind::kChat);
  EXPECT_EQ(Parse(R"({"text": "t", "prompt": "p", "completion": "c"})").kind,
            SampleKind::kPromptCompletion);
  EXPECT_EQ(Parse(R"({"text": "t", "instruction": "i", "output": "o"})").kind,
            SampleKind::kInstruction);
  // Half of a pair does not count.
  EXPECT_EQ(Parse(R"({"text": "t", "prompt": "p", "instruction": "i"})").kind, SampleKind::kText);
}

TEST(DatasetSampleTest, NullMembersCountAsAbsent) {
  EXPECT_EQ(Parse(R"({"messages": null, "text": "t"})").kind, SampleKind::kText);
}

TEST(DatasetSampleTest, DuplicateKeysKeepTheLastValueAsPythonDoes) {
  EXPECT_EQ(Parse(R"({"text": "first", "text": "last"})").text, "last");
}

// Records with many keys are read in linear time (bench/hostile_inputs_bench.sh
// measures it: 200,000 keys took 33 s); what they mean must not change.
std::string ManyKeys(size_t count, const std::string& last) {
  std::string json = "{";
  for (size_t i = 0; i < count; ++i) json += "\"k" + std::to_string(i) + "\": " + std::to_string(i) + ", ";
  return json + last + "}";
}

TEST(DatasetSampleTest, RecordsWithManyKeysKeepMeaningAndOrder) {
  EXPECT_EQ(Parse(ManyKeys(200'000, R"("text": "t")")).text, "t");
  // A repeated key past the point where keys are hashed: first place, last value.
  const Sample chat = Parse(R"({"messages": [)" + ManyKeys(40, R"("role": "user", "k3": "again", "content": "c")") + "]}");
  ASSERT_EQ(chat.messages.size(), 1u);
  const Json& message = chat.messages[0];
  EXPECT_EQ(message.size(), 42u);
  EXPECT_EQ(message["k3"], "again");
  std::vector<std::string> keys;
  for (const auto& item : message.items()) keys.push_back(item.key());
  EXPECT_EQ(keys[3], "k3");
  EXPECT_EQ(keys[40], "role");
  EXPECT_EQ(keys[41], "content");
  EXPECT_EQ(Parse(R"({"text": "a", )" + ManyKeys(50, R"("text": "b", "x": 1, "text": "c")").substr(1)).text, "c");
}

TEST(DatasetSampleTest, RecordWithManyKeysAndNoTrainingTextListsTheFirstTen) {
  EXPECT_THAT(Error(ManyKeys(200'000, R"("end": 0)")),
              HasSubstr("(found keys: 'k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9', ...)"));
}

TEST(DatasetSampleTest, RecordWithoutTrainingTextNamesTheKeysFound) {
  EXPECT_EQ(Error(R"({"question": "q", "answer": "a"})"),
            "data.jsonl:17: no training text: expected one of 'text', 'messages', "
            "'conversations', 'prompt'+'completion', 'instruction'+'output' (found keys: "
            "'question', 'answer'); use option \"field\" to name it");
  EXPECT_THAT(Error("{}"), HasSubstr("(found no keys)"));
}

TEST(DatasetSampleTest, RecordThatIsNotAnObjectIsAnError) {
  EXPECT_EQ(Error(R"(["text", "x"])"), "data.jsonl:17: expected a JSON object, got array");
  EXPECT_EQ(Error(R"("x")"), "data.jsonl:17: expected a JSON object, got string");
}

TEST(DatasetSampleTest, WrongTypesNameTheField) {
  EXPECT_EQ(Error(R"({"messages": [{"role": "user", "content": "a"},
                                   {"role": "assistant", "content": "b"}, {"role": 1}]})"),
            "data.jsonl:17: field 'messages[2].role': expected a string, got number");
  EXPECT_EQ(Error(R"({"messages": [{"content": "a"}]})"),
            "data.jsonl:17: field 'messages[0].role': required field is missing");
  EXPECT_EQ(Error(R"({"messages": [{"role": "user", "content": 3}]})"),
            "data.jsonl:17: field 'messages[0].content': expected a string, an array of parts or "
            "null, got number");
  EXPECT_EQ(Error(R"({"messages": [{"role": "user", "content": ["hi"]}]})"),
            "data.jsonl:17: field 'messages[0].content[0]': expected an object, got string");
  EXPECT_EQ(Error(R"({"messages": ["hi"]})"),
            "data.jsonl:17: field 'messages[0]': expected a message object, got string");
  EXPECT_EQ(Error(R"({"messages": {"role": "user"}})"),
            "data.jsonl:17: field 'messages': expected an array of messages, got object");
  EXPECT_EQ(Error(R"({"text": 42})"), "data.jsonl:17: field 'text': expected a string, got number");
}

// ---------------------------------------------------------------------------
// Explicit schema and --field

TEST(DatasetSampleTest, ExplicitSchemaForcesItsReading) {
  const std::string record = R"({"text": "t", "messages": [{"role": "user", "content": "m"}]})";
  EXPECT_EQ(Parse(record, Schema(RecordSchema::kText)).text, "t");
  EXPECT_EQ(Parse(record, Schema(RecordSchema::kMessages)).kind, SampleKind::kChat);
  EXPECT_EQ(Parse(R"({"conversations": [{"from": "gpt", "value": "v"}]})",
                  Schema(RecordSchema::kShareGpt))
                .messages[0]["role"],
            "assistant");
  EXPECT_EQ(Parse(R"({"prompt": "p", "completion": "c", "text": "t"})",
                  Schema(RecordSchema::kPromptCompletion))
                .kind,
            SampleKind::kPromptCompletion);
  EXPECT_EQ(Parse(R"({"instruction": "i", "output": "o", "text": "t"})",
                  Schema(RecordSchema::kAlpaca))
                .kind,
            SampleKind::kInstruction);
}

TEST(DatasetSampleTest, ExplicitSchemaFailsWhenItsFieldsAreMissing) {
  EXPECT_EQ(Error(R"({"text": "t", "id": 1})", Schema(RecordSchema::kMessages)),
            "data.jsonl:17: field 'messages': required field is missing (found keys: 'text', "
            "'id')");
  EXPECT_EQ(Error(R"({"prompt": "p"})", Schema(RecordSchema::kPromptCompletion)),
            "data.jsonl:17: field 'completion': required field is missing (found keys: 'prompt')");
  EXPECT_EQ(Error(R"({"instruction": "i", "output": 1})", Schema(RecordSchema::kAlpaca)),
            "data.jsonl:17: field 'output': expected a string, got number");
}

TEST(DatasetSampleTest, FieldNamesTheMemberHoldingTheText) {
  const Sample sample = Parse(R"({"body": "the text", "text": "not this"})",
                              Schema(RecordSchema::kAuto, "body"));
  EXPECT_EQ(sample.kind, SampleKind::kText);
  EXPECT_EQ(sample.text, "the text");
}

TEST(DatasetSampleTest, FieldNamesTheMemberHoldingTheConversation) {
  const Sample messages = Parse(R"({"chat": [{"role": "user", "content": "x"}]})",
                                Schema(RecordSchema::kAuto, "chat"));
  EXPECT_EQ(messages.kind, SampleKind::kChat);
  EXPECT_EQ(messages.messages[0]["content"], "x");
  const Sample sharegpt = Parse(R"({"chat": [{"from": "human", "value": "x"}]})",
                                Schema(RecordSchema::kAuto, "chat"));
  EXPECT_EQ(sharegpt.messages[0], (Json{{"role", "user"}, {"content", "x"}}));
}

TEST(DatasetSampleTest, FieldMustExistAndFitTheSchema) {
  EXPECT_EQ(Error(R"({"text": "t"})", Schema(RecordSchema::kAuto, "body")),
            "data.jsonl:17: field 'body': required field is missing (found keys: 'text')");
  EXPECT_EQ(Error(R"({"body": 1})", Schema(RecordSchema::kAuto, "body")),
            "data.jsonl:17: field 'body': expected a string or an array of messages, got number");
  EXPECT_EQ(Error(R"({"body": "t"})", Schema(RecordSchema::kMessages, "body")),
            "data.jsonl:17: field 'body': expected an array of messages, got string");
  EXPECT_EQ(Error(R"({"body": []})", Schema(RecordSchema::kText, "body")),
            "data.jsonl:17: field 'body': expected a string, got array");
}

TEST(DatasetSampleTest, FieldCannotBeCombinedWithFixedFieldSchemas) {
  Result<Sample> sample = parse_sample(Record(R"({"p": "x"})"), DatasetFormat::kJsonLines,
                                       Schema(RecordSchema::kPromptCompletion, "p"), "data.jsonl");
  ASSERT_FALSE(sample.ok());
  EXPECT_EQ(sample.status().code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// JSON syntax errors point into the file

TEST(DatasetSampleTest, SyntaxErrorNamesTheRecordsLineAndColumn) {
  EXPECT_EQ(Error(R"({"text": "a",})"),
            "data.jsonl:17:14: unexpected '}'; expected string literal");
  EXPECT_EQ(Error(R"({"text": "a")"),
            "data.jsonl:17:13: unexpected end of input (truncated file?); expected '}'");
}

TEST(DatasetSampleTest, SyntaxErrorInAJsonArrayElementCountsFromWhereTheElementStarts) {
  // The element starts at line 5, column 4 of the file.
  Result<Sample> first_line = parse_sample(Record(R"({"text": tru})", 5, 4),
                                           DatasetFormat::kJsonArray, {}, "data.json");
  ASSERT_FALSE(first_line.ok());
  EXPECT_THAT(first_line.status().message(), HasSubstr("data.json:5:16: invalid literal"));
  // On later lines the column is the file's; nlohmann points at the end of
  // the unexpected token.
  Result<Sample> later_line = parse_sample(Record("{\"text\":\n  \"a\" \"b\"}", 5, 4),
                                           DatasetFormat::kJsonArray, {}, "data.json");
  ASSERT_FALSE(later_line.ok());
  EXPECT_EQ(later_line.status().message(),
            "data.json:6:9: unexpected string literal; expected '}'");
}

TEST(DatasetSampleTest, NestingDeeperThanTheJsonLimitIsRefused) {
  const std::string deep = "{\"text\": \"t\", \"x\": " + std::string(300, '[') +
                           std::string(300, ']') + "}";
  EXPECT_THAT(Error(deep), HasSubstr("nesting deeper than 256 levels"));
  const std::string fine = "{\"text\": \"t\", \"x\": " + std::string(200, '[') +
                           std::string(200, ']') + "}";
  EXPECT_EQ(Parse(fine).text, "t");
}

}  // namespace
}  // namespace flopsmeter
