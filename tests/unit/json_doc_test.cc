// JsonDoc: what a user sees when a JSON file is malformed or a field is wrong.
#include "core/json_doc.h"

#include <chrono>
#include <limits>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace flopsmeter {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The message of parsing `text` as "cfg.json", which must fail.
std::string ParseError(std::string_view text) {
  Result<JsonDoc> doc = parse_json_document(text, "cfg.json");
  EXPECT_FALSE(doc.ok()) << "parsed: " << text;
  if (doc.ok()) return "";
  EXPECT_EQ(doc.status().code(), StatusCode::kParseError) << doc.status().ToString();
  return doc.status().message();
}

JsonDoc Parse(std::string_view text) {
  Result<JsonDoc> doc = parse_json_document(text, "cfg.json");
  EXPECT_TRUE(doc.ok()) << doc.status().ToString();
  return doc.ok() ? std::move(doc).value() : JsonDoc();
}

// ---------------------------------------------------------------------------
// Syntax errors: "ORIGIN:LINE:COLUMN: what is wrong".

TEST(JsonDocParseTest, ValidDocumentKeepsRootAndOrigin) {
  JsonDoc doc = Parse(R"({"hidden_size": 4096, "layers": [1, 2]})");
  EXPECT_EQ(doc.origin, "cfg.json");
  EXPECT_EQ(doc.root["hidden_size"], 4096);
  EXPECT_EQ(doc.root["layers"].size(), 2u);
}

TEST(JsonDocParseTest, TruncatedFileSaysWhereTheInputEnded) {
  EXPECT_EQ(ParseError("{\n  \"a\": 1,\n"),
            "cfg.json:3:1: unexpected end of input (truncated file?); expected string literal");
  EXPECT_EQ(ParseError("[1, 2"),
            "cfg.json:1:6: unexpected end of input (truncated file?); expected ']'");
  EXPECT_EQ(ParseError("{\"a\": \"abc"),
            "cfg.json:1:11: invalid string: missing closing quote; last read: '\"abc'");
}

TEST(JsonDocParseTest, BadTokensArePointedAt) {
  EXPECT_THAT(ParseError("{\"a\": tru}"), HasSubstr("cfg.json:1:10: invalid literal"));
  EXPECT_EQ(ParseError("[1, 2,]"),
            "cfg.json:1:7: unexpected ']'; expected '[', '{', or a literal");
  EXPECT_EQ(ParseError("{\"a\": 1 \"b\": 2}"),
            "cfg.json:1:11: unexpected string literal; expected '}'");
  EXPECT_EQ(ParseError("{'a': 1}"),
            "cfg.json:1:2: invalid literal; last read: '{''; expected string literal");
  EXPECT_EQ(ParseError("{\"a\": 01}"), "cfg.json:1:8: unexpected number literal; expected '}'");
  EXPECT_THAT(ParseError("[1]x"), HasSubstr("cfg.json:1:4: "));
  EXPECT_THAT(ParseError("[1]x"), HasSubstr("expected end of input"));
}

TEST(JsonDocParseTest, CommentsAreNotJson) {
  EXPECT_THAT(ParseError("// model\n{}"), HasSubstr("cfg.json:1:1: invalid literal"));
}

TEST(JsonDocParseTest, EmptyDocumentIsNamedAsSuch) {
  EXPECT_EQ(ParseError(""), "cfg.json:1:1: empty document, expected a JSON value");
  EXPECT_EQ(ParseError("  \n "), "cfg.json:2:2: empty document, expected a JSON value");
}

TEST(JsonDocParseTest, NumberTooLargeForADoublePointsAtTheNumber) {
  EXPECT_EQ(ParseError("{\"flop\": 1e400}"), "cfg.json:1:10: number overflow parsing '1e400'");
}

TEST(JsonDocParseTest, NulByteIsRejectedWhereItIs) {
  // nlohmann would take a NUL for the end of input and accept "[1]".
  EXPECT_EQ(ParseError(std::string("[1]\0garbage", 11)),
            "cfg.json:1:4: unexpected NUL byte (binary data in a JSON file?)");
  EXPECT_EQ(ParseError(std::string("{\"a\": \"x\0\"}", 11)),
            "cfg.json:1:9: unexpected NUL byte (binary data in a JSON file?)");
  // An earlier syntax error is reported first.
  EXPECT_THAT(ParseError(std::string("[1 2]\0", 6)), HasSubstr("cfg.json:1:4: unexpected number"));
}

TEST(JsonDocParseTest, ColumnsCountCharactersNotBytes) {
  EXPECT_THAT(ParseError("{\"é\": x}"), HasSubstr("cfg.json:1:7: invalid literal"));
}

TEST(JsonDocParseTest, ByteOrderMarkIsSkippedAndNotCounted) {
  EXPECT_EQ(Parse("\xEF\xBB\xBF{\"a\": 1}").root["a"], 1);
  EXPECT_THAT(ParseError("\xEF\xBB\xBF{\"a\": @}"), HasSubstr("cfg.json:1:7: invalid literal"));
}

TEST(JsonDocParseTest, InvalidUtf8IsQuotedAsEscapesNotRawBytes) {
  const std::string message = ParseError("{\"a\": \"\xff\"}");
  EXPECT_THAT(message, HasSubstr("cfg.json:1:8: invalid string: ill-formed UTF-8 byte"));
  EXPECT_THAT(message, HasSubstr("\\xff"));
  EXPECT_THAT(message, Not(HasSubstr("\xff")));
}

TEST(JsonDocParseTest, DuplicateKeysAreAnErrorNotALastOneWins) {
  EXPECT_EQ(ParseError("{\n  \"a\": 1,\n  \"a\": 2\n}"),
            "cfg.json:3:3: duplicate key 'a' (first at line 2, column 3)");
  EXPECT_EQ(ParseError(R"({"x": {"b": 1, "b": 1}})"),
            "cfg.json:1:16: duplicate key 'b' (first at line 1, column 8)");
  // The same key in different objects is fine.
  EXPECT_EQ(Parse(R"({"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]})").root["b"][1]["a"], 2);
}

TEST(JsonDocParseTest, DuplicateIsDecidedOnDecodedKeys) {
  EXPECT_THAT(ParseError(R"({"\u0061": 1, "a": 2})"), HasSubstr("duplicate key 'a'"));
}

// ---------------------------------------------------------------------------
// Limits: hostile input is refused before it can exhaust the stack or memory.

TEST(JsonDocLimitsTest, NestingUpTo256LevelsIsAccepted) {
  const std::string text = std::string(256, '[') + std::string(256, ']');
  EXPECT_TRUE(parse_json_document(text, "cfg.json").ok());
}

TEST(JsonDocLimitsTest, NestingDeeperThan256LevelsIsRefusedAtTheBracket) {
  EXPECT_EQ(ParseError(std::string(257, '[') + std::string(257, ']')),
            "cfg.json:1:257: nesting deeper than 256 levels");
  std::string objects;
  for (int i = 0; i < 300; ++i) objects += "{\"a\":";
  EXPECT_EQ(ParseError(objects), "cfg.json:1:1281: nesting deeper than 256 levels");
}

TEST(JsonDocLimitsTest, AMillionOpenBracketsFailFast) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ParseError(std::string(1'000'000, '[')),
            "cfg.json:1:257: nesting deeper than 256 levels");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(JsonDocLimitsTest, BracketsInsideStringsDoNotCount) {
  const std::string text = "[\"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"]";
  EXPECT_TRUE(parse_json_document(text, "cfg.json").ok());
}

TEST(JsonDocLimitsTest, InputAboveTheSizeLimitIsRefusedUnread) {
  Result<JsonDoc> doc = parse_json_document("[1, 2, 3, 4]", "cfg.json", 10);
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(doc.status().message(), "cfg.json: JSON text is 12 bytes, above the limit of 10 bytes");
  EXPECT_TRUE(parse_json_document("[1, 2, 3, 4]", "cfg.json", 12).ok());
}

TEST(JsonDocLimitsTest, DefaultSizeLimitIs64MiB) {
  const std::string huge(kMaxJsonDocumentBytes + 1, ' ');
  Result<JsonDoc> doc = parse_json_document(huge, "huge.json");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().message(),
            "huge.json: JSON text is 67108865 bytes, above the limit of 67108864 bytes");
}

// ---------------------------------------------------------------------------
// where(): pointing at a field.

constexpr std::string_view kConfig = R"({
  "text_config": {
    "hidden_size": "4096",
    "layers": [1, {"id": -1}, [2.5]]
  },
  "head_dim": null, "flop": 1e20, "width": 4096.0
})";

TEST(JsonDocWhereTest, NamesFileLineColumnOfTheKeyAndTheDottedField) {
  JsonDoc doc = Parse(kConfig);
  EXPECT_EQ(doc.where("/text_config"), "cfg.json:2:3: field 'text_config'");
  EXPECT_EQ(doc.where("/text_config/hidden_size"),
            "cfg.json:3:5: field 'text_config.hidden_size'");
  EXPECT_EQ(doc.where("/flop"), "cfg.json:6:21: field 'flop'");
}

TEST(JsonDocWhereTest, ArrayElementsAreWrittenWithBrackets) {
  JsonDoc doc = Parse(kConfig);
  EXPECT_EQ(doc.where("/text_config/layers/1/id"),
            "cfg.json:4:20: field 'text_config.layers[1].id'");
  // An array element that is an array or object sits at its bracket.
  EXPECT_EQ(doc.where("/text_config/layers/2"), "cfg.json:4:31: field 'text_config.layers[2]'");
}

TEST(JsonDocWhereTest, UnrecordedFieldsUseTheNearestEnclosingPosition) {
  JsonDoc doc = Parse(kConfig);
  // A scalar inside an array: at the array's key.
  EXPECT_EQ(doc.where("/text_config/layers/0"), "cfg.json:4:5: field 'text_config.layers[0]'");
  // A missing member: at its object's key.
  EXPECT_EQ(doc.where("/text_config/vocab_size"), "cfg.json:2:3: field 'text_config.vocab_size'");
  // A missing top-level member has no position at all.
  EXPECT_EQ(doc.where("/vocab_size"), "cfg.json: field 'vocab_size'");
  EXPECT_EQ(doc.where(""), "cfg.json");
}

TEST(JsonDocWhereTest, PositionOfIsExact) {
  JsonDoc doc = Parse(kConfig);
  std::optional<TextPosition> position = doc.position_of("/text_config/hidden_size");
  ASSERT_TRUE(position.has_value());
  EXPECT_EQ(position->line, 3u);
  EXPECT_EQ(position->column, 5u);
  EXPECT_FALSE(doc.position_of("/text_config/vocab_size").has_value());
  EXPECT_FALSE(doc.position_of("").has_value());
}

TEST(JsonDocWhereTest, KeysWithSlashTildeAndEscapesAreFound) {
  JsonDoc doc = Parse(R"({"a/b": {"c~d": 1}, "caf\u00e9": 2})");
  EXPECT_EQ(JsonDoc::child("", "a/b"), "/a~1b");
  EXPECT_EQ(JsonDoc::child("/a~1b", "c~d"), "/a~1b/c~0d");
  EXPECT_EQ(JsonDoc::child("/layers", 3), "/layers/3");
  EXPECT_EQ(doc.where("/a~1b/c~0d"), "cfg.json:1:10: field 'a/b.c~d'");
  EXPECT_EQ(doc.where(JsonDoc::child("", "café")), "cfg.json:1:21: field 'café'");
}

TEST(JsonDocWhereTest, ControlCharactersInKeysAreEscapedInMessages) {
  JsonDoc doc = Parse(R"({"a\u001bb": 1})");
  EXPECT_EQ(doc.where(JsonDoc::child("", "a\x1b" "b")), "cfg.json:1:2: field 'a\\x1bb'");
}

TEST(JsonDocWhereTest, ErrorBuildsAParseErrorAtTheField) {
  JsonDoc doc = Parse(kConfig);
  Status status = doc.error("/text_config/layers/1/id", "must be one of 'a', 'b'");
  EXPECT_EQ(status.code(), StatusCode::kParseError);
  EXPECT_EQ(status.message(),
            "cfg.json:4:20: field 'text_config.layers[1].id': must be one of 'a', 'b'");
}

// ---------------------------------------------------------------------------
// Typed readers.

class JsonDocReaderTest : public ::testing::Test {
 protected:
  JsonDoc doc_ = Parse(R"({
  "int": 4096, "negative": -3, "fraction": 2.5, "integral_float": 4096.0,
  "two_pow_53": 9007199254740992.0, "above_2_53": 9007199254740994.0,
  "max_u64": 18446744073709551615, "text": "llama", "flag": true, "none": null,
  "long_text": "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
  "obj": {"x": 1}, "list": [1, "two"]
})");
  const nlohmann::json& root_ = doc_.root;

  std::string Message(const Status& status) {
    EXPECT_EQ(status.code(), StatusCode::kParseError);
    return status.message();
  }
};

TEST_F(JsonDocReaderTest, GetUintReadsNonNegativeIntegers) {
  EXPECT_EQ(*doc_.get_uint(root_, "", "int"), 4096u);
  EXPECT_EQ(*doc_.get_uint(root_, "", "max_u64"), 18446744073709551615u);
  EXPECT_EQ(*doc_.get_uint(root_, "", "integral_float"), 4096u);
  EXPECT_EQ(*doc_.get_uint(root_, "", "two_pow_53"), 9007199254740992u);
}

TEST_F(JsonDocReaderTest, GetUintRejectsWhatIsNotANonNegativeInteger) {
  EXPECT_EQ(Message(doc_.get_uint(root_, "", "negative").status()),
            "cfg.json:2:16: field 'negative': expected a non-negative integer, got -3");
  EXPECT_EQ(Message(doc_.get_uint(root_, "", "fraction").status()),
            "cfg.json:2:32: field 'fraction': expected a non-negative integer, got 2.5");
  EXPECT_EQ(Message(doc_.get_uint(root_, "", "text").status()),
            "cfg.json:4:36: field 'text': expected a non-negative integer, got string \"llama\"");
  EXPECT_EQ(Message(doc_.get_uint(root_, "", "flag").status()),
            "cfg.json:4:53: field 'flag': expected a non-negative integer, got true");
  EXPECT_EQ(Message(doc_.get_uint(root_, "", "obj").status()),
            "cfg.json:6:3: field 'obj': expected a non-negative integer, got an object");
}

TEST_F(JsonDocReaderTest, GetUintRejectsFloatsTooLargeToHoldTheIntendedInteger) {
  EXPECT_EQ(Message(doc_.get_uint(root_, "", "above_2_53").status()),
            "cfg.json:3:37: field 'above_2_53': expected a non-negative integer, got "
            "9.007199254740994e+15, a float beyond 2^53 that cannot be read exactly; write it as "
            "an integer");
}

TEST_F(JsonDocReaderTest, MissingMemberTakesTheDefaultOrIsRequired) {
  EXPECT_EQ(*doc_.get_uint(root_, "", "vocab_size", 32000), 32000u);
  EXPECT_EQ(Message(doc_.get_uint(root_, "", "vocab_size").status()),
            "cfg.json: field 'vocab_size': required field is missing");
  const nlohmann::json& obj = root_["obj"];
  EXPECT_EQ(Message(doc_.get_uint(obj, "/obj", "y").status()),
            "cfg.json:6:3: field 'obj.y': required field is missing");
}

TEST_F(JsonDocReaderTest, NullCountsAsAbsent) {
  EXPECT_EQ(*doc_.get_uint(root_, "", "none", 7), 7u);
  EXPECT_EQ(Message(doc_.get_uint(root_, "", "none").status()),
            "cfg.json:4:67: field 'none': expected a non-negative integer, got null");
  EXPECT_FALSE(JsonDoc::has(root_, "none"));
  EXPECT_TRUE(JsonDoc::has(root_, "int"));
  EXPECT_FALSE(JsonDoc::has(root_, "vocab_size"));
  EXPECT_FALSE(JsonDoc::has(root_["list"], "int"));
}

TEST_F(JsonDocReaderTest, ReadingFromANonObjectNamesThatValue) {
  EXPECT_EQ(Message(doc_.get_uint(root_["list"], "/list", "x").status()),
            "cfg.json:6:20: field 'list': expected an object, got an array");
}

TEST_F(JsonDocReaderTest, GetIntReadsSignedIntegers) {
  EXPECT_EQ(*doc_.get_int(root_, "", "negative"), -3);
  EXPECT_EQ(*doc_.get_int(root_, "", "integral_float"), 4096);
  EXPECT_EQ(Message(doc_.get_int(root_, "", "max_u64").status()),
            "cfg.json:4:3: field 'max_u64': expected an integer, got 18446744073709551615, out "
            "of the 64-bit signed range");
  EXPECT_EQ(Message(doc_.get_int(root_, "", "fraction").status()),
            "cfg.json:2:32: field 'fraction': expected an integer, got 2.5");
}

TEST_F(JsonDocReaderTest, GetDoubleReadsAnyFiniteNumber) {
  EXPECT_EQ(*doc_.get_double(root_, "", "fraction"), 2.5);
  EXPECT_EQ(*doc_.get_double(root_, "", "negative"), -3.0);
  EXPECT_EQ(*doc_.get_double(root_, "", "missing", 0.5), 0.5);
  EXPECT_EQ(Message(doc_.get_double(root_, "", "text").status()),
            "cfg.json:4:36: field 'text': expected a number, got string \"llama\"");
  nlohmann::json infinite = {{"x", std::numeric_limits<double>::infinity()}};
  EXPECT_THAT(Message(doc_.get_double(infinite, "/obj", "x").status()),
              HasSubstr("expected a finite number"));
}

TEST_F(JsonDocReaderTest, GetBoolAcceptsOnlyTrueAndFalse) {
  EXPECT_TRUE(*doc_.get_bool(root_, "", "flag"));
  EXPECT_FALSE(*doc_.get_bool(root_, "", "missing", false));
  EXPECT_EQ(Message(doc_.get_bool(root_, "", "int").status()),
            "cfg.json:2:3: field 'int': expected true or false, got 4096");
}

TEST_F(JsonDocReaderTest, GetStringQuotesLongValuesShortened) {
  EXPECT_EQ(*doc_.get_string(root_, "", "text"), "llama");
  EXPECT_EQ(*doc_.get_string(root_, "", "missing", "gpt2"), "gpt2");
  EXPECT_EQ(Message(doc_.get_string(root_, "", "int").status()),
            "cfg.json:2:3: field 'int': expected a string, got 4096");
  EXPECT_EQ(Message(doc_.get_uint(root_, "", "long_text").status()),
            "cfg.json:5:3: field 'long_text': expected a non-negative integer, got string "
            "\"abcdefghijklmnopqrstuvwxyzabcdefghijklmn...\"");
}

TEST_F(JsonDocReaderTest, GetObjectAndGetArrayCheckTheKind) {
  Result<const nlohmann::json*> obj = doc_.get_object(root_, "", "obj");
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ((**obj)["x"], 1);
  Result<const nlohmann::json*> list = doc_.get_array(root_, "", "list");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)->size(), 2u);
  EXPECT_EQ(Message(doc_.get_object(root_, "", "list").status()),
            "cfg.json:6:20: field 'list': expected an object, got an array");
  EXPECT_EQ(Message(doc_.get_array(root_, "", "obj").status()),
            "cfg.json:6:3: field 'obj': expected an array, got an object");
  EXPECT_EQ(Message(doc_.get_array(root_, "", "layers").status()),
            "cfg.json: field 'layers': required field is missing");
}

TEST_F(JsonDocReaderTest, ValueReadersNameTheElement) {
  const nlohmann::json& list = root_["list"];
  EXPECT_EQ(*doc_.as_uint(list[0], "/list/0"), 1u);
  EXPECT_EQ(*doc_.as_string(list[1], "/list/1"), "two");
  EXPECT_EQ(Message(doc_.as_uint(list[1], "/list/1").status()),
            "cfg.json:6:20: field 'list[1]': expected a non-negative integer, got string \"two\"");
}

}  // namespace
}  // namespace flopsmeter
