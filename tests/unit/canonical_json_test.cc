// Canonical JSON (src/core/canonical_json.h) against RFC 8785's own examples
//   https://www.rfc-editor.org/rfc/rfc8785 (3.2.2, 3.2.3, Appendix B)
// and the test data of its authors' reference implementations,
//   github.com/cyberphone/json-canonicalization testdata/input, testdata/output
//   and testdata/README.md (sample lines of its ES6 number file).
// The byte-for-byte comparison with an independent implementation over
// generated documents is tests/reference/canonical_json_crosscheck.sh.
#include "core/canonical_json.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/json_doc.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

std::string canonical(const Json& value) {
  Result<std::string> text = canonical_json(value);
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  return text.ok() ? *text : "<error>";
}

std::string canonical_of_text(const std::string& text) { return canonical(Json::parse(text)); }

double from_bits(uint64_t bits) { return std::bit_cast<double>(bits); }

// ---------------------------------------------------------------- numbers

TEST(CanonicalJsonNumberTest, WritesRfc8785AppendixBSamples) {
  // RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
  const std::vector<std::pair<uint64_t, std::string>> samples = {
      {0x0000000000000000, "0"},
      {0x8000000000000000, "0"},
      {0x0000000000000001, "5e-324"},
      {0x8000000000000001, "-5e-324"},
      {0x7fefffffffffffff, "1.7976931348623157e+308"},
      {0xffefffffffffffff, "-1.7976931348623157e+308"},
      {0x4340000000000000, "9007199254740992"},
      {0xc340000000000000, "-9007199254740992"},
      {0x4430000000000000, "295147905179352830000"},
      {0x44b52d02c7e14af5, "9.999999999999997e+22"},
      {0x44b52d02c7e14af6, "1e+23"},
      {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
      {0x444b1ae4d6e2ef4e, "999999999999999700000"},
      {0x444b1ae4d6e2ef4f, "999999999999999900000"},
      {0x444b1ae4d6e2ef50, "1e+21"},
      {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
      {0x3eb0c6f7a0b5ed8d, "0.000001"},
      {0x41b3de4355555553, "333333333.3333332"},
      {0x41b3de4355555554, "333333333.33333325"},
      {0x41b3de4355555555, "333333333.3333333"},
      {0x41b3de4355555556, "333333333.3333334"},
      {0x41b3de4355555557, "333333333.33333343"},
      {0xbecbf647612f3696, "-0.0000033333333333333333"},
      {0x43143ff3c1cb0959, "1424953923781206.2"},
      // cyberphone/json-canonicalization testdata/README.md, sample lines.
      {0x4340000000000001, "9007199254740994"},
      {0x4340000000000002, "9007199254740996"},
  };
  for (const auto& [bits, text] : samples) {
    EXPECT_EQ(canonical(Json(from_bits(bits))), text) << std::hex << bits;
  }
}

TEST(CanonicalJsonNumberTest, RefusesRfc8785AppendixBNonFiniteValues) {
  // Appendix B rows 7fffffffffffffff (NaN) and 7ff0000000000000 (Infinity).
  Result<std::string> nan = canonical_json(Json{{"rate", from_bits(0x7fffffffffffffff)}});
  EXPECT_EQ(nan.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(nan.status().message(), "canonical JSON at \"/rate\": NaN has no JSON text");
  Result<std::string> inf = canonical_json(Json::array({1, from_bits(0x7ff0000000000000)}));
  EXPECT_EQ(inf.status().message(), "canonical JSON at \"/1\": an infinity has no JSON text");
  EXPECT_FALSE(canonical_json(Json(-std::numeric_limits<double>::infinity())).ok());
}

TEST(CanonicalJsonNumberTest, FollowsEcmaScriptExponentRules) {
  // ECMA-262 Number::toString: plain digits below 1e21, "0.000..." down to
  // 1e-6, exponents with a sign beyond.
  EXPECT_EQ(canonical(Json(1e21)), "1e+21");
  EXPECT_EQ(canonical(Json(1e-7)), "1e-7");
  EXPECT_EQ(canonical(Json(1.2345678901234568e20)), "123456789012345680000");
  EXPECT_EQ(canonical(Json(1.5e21)), "1.5e+21");
  EXPECT_EQ(canonical(Json(1.5e-7)), "1.5e-7");
  EXPECT_EQ(canonical(Json(1e-6)), "0.000001");
  EXPECT_EQ(canonical(Json(1.25e-6)), "0.00000125");
  EXPECT_EQ(canonical(Json(1e20)), "100000000000000000000");
  EXPECT_EQ(canonical(Json(1e300)), "1e+300");
  EXPECT_EQ(canonical(Json(-2.5e-300)), "-2.5e-300");
  EXPECT_EQ(canonical(Json(0.1)), "0.1");
  EXPECT_EQ(canonical(Json(0.1 + 0.2)), "0.30000000000000004");
  EXPECT_EQ(canonical(Json(123.0)), "123");
  EXPECT_EQ(canonical(Json(-0.5)), "-0.5");
  EXPECT_EQ(canonical(Json(9223372036854775808.0)), "9223372036854776000");
  EXPECT_EQ(canonical(Json(2.2250738585072014e-308)), "2.2250738585072014e-308");  // smallest normal
  EXPECT_EQ(canonical(Json(2.225073858507201e-308)), "2.225073858507201e-308");    // largest subnormal
  EXPECT_EQ(canonical(Json(-0.0)), "0");
}

TEST(CanonicalJsonNumberTest, WritesIntegersUpTo2To53AndRefusesLarger) {
  constexpr int64_t k2To53 = int64_t{1} << 53;
  EXPECT_EQ(canonical(Json(k2To53)), "9007199254740992");
  EXPECT_EQ(canonical(Json(-k2To53)), "-9007199254740992");
  EXPECT_EQ(canonical(Json(uint64_t{1} << 53)), "9007199254740992");
  EXPECT_EQ(canonical(Json(0)), "0");
  EXPECT_EQ(canonical(Json(-17)), "-17");
  EXPECT_EQ(canonical_of_text("-0"), "0");

  Result<std::string> too_big = canonical_json(Json{{"records", Json::array({Json::object(), Json{{"flops", k2To53 + 1}}})}});
  EXPECT_EQ(too_big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(too_big.status().message(),
            "canonical JSON at \"/records/1/flops\": the integer 9007199254740993 is beyond 2^53 in magnitude, where "
            "doubles no longer hold every integer; give it as a decimal string");
  EXPECT_EQ(canonical_json(Json(-k2To53 - 1)).status().message(),
            "canonical JSON at \"\": the integer -9007199254740993 is beyond 2^53 in magnitude, where doubles no "
            "longer hold every integer; give it as a decimal string");
  EXPECT_FALSE(canonical_json(Json(std::numeric_limits<int64_t>::min())).ok());
  EXPECT_FALSE(canonical_json(Json(std::numeric_limits<uint64_t>::max())).ok());
  EXPECT_FALSE(canonical_json(Json::parse("[18446744073709551615]")).ok());
  // A number past 2^64 parses as a double: written as ECMAScript does.
  EXPECT_EQ(canonical_of_text("18446744073709551616"), "18446744073709552000");
}

// ---------------------------------------------------------------- strings

TEST(CanonicalJsonStringTest, EscapesExactlyAsRfc8785Says) {
  // 3.2.2.2: \b \t \n \f \r, \" and \\; \u00xx (lowercase) for the other
  // controls; everything else, DEL, U+2028 and "/" included, as itself.
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls.push_back(static_cast<char>(c));
  EXPECT_EQ(canonical(Json(controls)),
            "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"
            "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d"
            "\\u001e\\u001f\"");
  EXPECT_EQ(canonical(Json("\"\\/\x7f\u00e9\u2028\u20ac\U0001F600")),
            "\"\\\"\\\\/\x7f\u00e9\u2028\u20ac\U0001F600\"");
  EXPECT_EQ(canonical(Json("")), "\"\"");
}

TEST(CanonicalJsonStringTest, RefusesInvalidUtf8NamingTheValue) {
  const std::vector<std::string> invalid = {
      "\xC3\x28",          // a lead byte without its continuation
      "\xC0\xAF",          // overlong "/"
      "\xE0\x80\xAF",      // overlong
      "\xED\xA0\x80",      // a surrogate, U+D800
      "\xF4\x90\x80\x80",  // past U+10FFFF
      "\xE2\x82",          // truncated
      "\x80",              // a lone continuation byte
      "\xFF",
  };
  for (const std::string& bad : invalid) {
    Result<std::string> out = canonical_json(Json{{"notes", Json::array({"ok", "ab" + bad})}});
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument) << printable_text(bad);
    EXPECT_EQ(out.status().message(), "canonical JSON at \"/notes/1\": the string is not UTF-8 (byte 3)");
  }
  // A bad member name: the pointer names it, escaped for the message.
  Result<std::string> key = canonical_json(Json{{"a/b~\xFF", 1}});
  EXPECT_EQ(key.status().message(), "canonical JSON at \"/a~1b~0\\xff\": the member name is not UTF-8 (byte 5)");
}

// ---------------------------------------------------------------- structure

TEST(CanonicalJsonStructureTest, SortsMembersByUtf16CodeUnits) {
  // RFC 8785 3.2.3's example: U+1F600 (a surrogate pair, D83D DE00) sorts
  // before U+FB33 although its UTF-8 and code point come after.
  const std::string input = R"({
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    })";
  EXPECT_EQ(canonical_of_text(input),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\","
            "\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\","
            "\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}");
}

TEST(CanonicalJsonStructureTest, PutsSupplementaryCharactersBeforeTheEndOfTheBmp) {
  // Byte order would put U+E000 and U+FFFF first; UTF-16 puts U+10000 up
  // (D800 DC00) before them, and U+D7FF before all of those.
  const Json object = {{"\uE000", 1}, {"\uFFFF", 2}, {"\U00010000", 3}, {"\U0010FFFF", 4}, {"\uD7FF", 5},
                       {"x\uE000", 6}, {"x\U0001F600", 7}, {"x", 8}, {"", 9}};
  EXPECT_EQ(canonical(object),
            "{\"\":9,\"x\":8,\"x\U0001F600\":7,\"x\uE000\":6,\"\uD7FF\":5,\"\U00010000\":3,\"\U0010FFFF\":4,"
            "\"\uE000\":1,\"\uFFFF\":2}");
}

TEST(CanonicalJsonStructureTest, CanonicalizesTheRfc8785Example) {
  // RFC 8785 3.2.2 (the input) and 3.2.4 (its canonical form).
  const std::string input = R"({
       "numbers": [333333333.33333329, 1E30, 4.50,
                   2e-3, 0.000000000000000000000000001],
       "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
       "literals": [null, true, false]
     })";
  EXPECT_EQ(canonical_of_text(input),
            "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
            "\"string\":\"\u20ac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

TEST(CanonicalJsonStructureTest, MatchesTheReferenceImplementationsTestData) {
  // cyberphone/json-canonicalization testdata/input/X and testdata/output/X
  // (structures.json at commit 72a2163b, values.json 1e2733fc, weird.json
  // 77917fbd, french.json b01b0235, unicode.json ff225671).
  struct Case {
    const char* name;
    std::string input;
    std::string output;
  };
  const std::vector<Case> cases = {
      {"structures.json",
       R"({
  "1": {"f": {"f": "hi","F": 5} ,"\n": 56.0},
  "10": { },
  "": "empty",
  "a": { },
  "111": [ { } ],
  "A": { }
})",
       R"({"":"empty","1":{"\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{}],"A":{},"a":{}})"},
      {"values.json",
       R"({
  "numbers": [1E30, 4.50, 333333333.33333329, 2e-3, 0.000000000000000000000000001],
  "escaping": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
})",
       "{\"escaping\":\"\u20ac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\",\"literals\":[null,true,false],"
       "\"numbers\":[1e+30,4.5,333333333.3333333,0.002,1e-27]}"},
      {"weird.json",
       R"({
  "\u20ac": "Euro Sign",
  "1": "One",
  "\u0080": "Control\u007f",
  "\ud83d\ude02": "Smiley",
  "\u00f6": "Latin Small Letter O With Diaeresis",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "</script>": "Browser Challenge"
})",
       "{\"1\":\"One\",\"</script>\":\"Browser Challenge\",\"\u0080\":\"Control\x7f\","
       "\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\",\"\U0001F602\":\"Smiley\","
       "\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"},
      {"french.json",
       "{\n  \"peach\": \"This sorting order\",\n  \"p\u00e9ch\u00e9\": \"is wrong according to French\",\n"
       "  \"p\u00eache\": \"but canonicalization MUST\",\n  \"sin\":   \"ingnore locale\"\n}\n",
       "{\"peach\":\"This sorting order\",\"p\u00e9ch\u00e9\":\"is wrong according to French\","
       "\"p\u00eache\":\"but canonicalization MUST\",\"sin\":\"ingnore locale\"}"},
      {"unicode.json", "{\n  \"Unnormalized Unicode\":\"\\u1e0d\\u0307\"\n}\n",
       "{\"Unnormalized Unicode\":\"\u1e0d\u0307\"}"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(canonical_of_text(c.input), c.output) << c.name;
    Result<bool> is = is_canonical_json(c.output);
    ASSERT_TRUE(is.ok()) << c.name << ": " << is.status().ToString();
    EXPECT_TRUE(*is) << c.name;
  }
}

TEST(CanonicalJsonStructureTest, WritesScalarsAndEmptyContainers) {
  EXPECT_EQ(canonical(Json(nullptr)), "null");
  EXPECT_EQ(canonical(Json(true)), "true");
  EXPECT_EQ(canonical(Json::array()), "[]");
  EXPECT_EQ(canonical(Json::object()), "{}");
  EXPECT_EQ(canonical(Json::array({Json::array(), Json::object(), false, nullptr})), "[[],{},false,null]");
}

TEST(CanonicalJsonStructureTest, AcceptsNestingUpToTheLimitAndRefusesDeeper) {
  const auto nested = [](size_t depth) {
    Json value = 1;
    for (size_t i = 0; i < depth; ++i) value = Json::array({std::move(value)});
    return value;
  };
  EXPECT_EQ(canonical(nested(2)), "[[1]]");
  Result<std::string> deepest = canonical_json(nested(kMaxJsonDepth));
  ASSERT_TRUE(deepest.ok()) << deepest.status().ToString();
  EXPECT_EQ(*deepest, std::string(kMaxJsonDepth, '[') + "1" + std::string(kMaxJsonDepth, ']'));

  Result<std::string> too_deep = canonical_json(Json{{"a", nested(kMaxJsonDepth)}});
  EXPECT_EQ(too_deep.status().code(), StatusCode::kInvalidArgument);
  std::string pointer = "/a";
  for (size_t i = 1; i < kMaxJsonDepth; ++i) pointer += "/0";
  EXPECT_EQ(too_deep.status().message(),
            "canonical JSON at \"" + pointer + "\": nesting deeper than 256 arrays and objects");
  Json objects = 1;
  for (size_t i = 0; i <= kMaxJsonDepth; ++i) objects = Json{{"k", std::move(objects)}};
  EXPECT_FALSE(canonical_json(objects).ok());
}

TEST(CanonicalJsonStructureTest, RefusesBinaryValues) {
  Result<std::string> out = canonical_json(Json{{"blob", Json::binary({1, 2, 3})}});
  EXPECT_EQ(out.status().message(), "canonical JSON at \"/blob\": binary data has no JSON text");
}

// ---------------------------------------------------------------- is_canonical_json

TEST(IsCanonicalJsonTest, AcceptsCanonicalTextOnly) {
  const auto is = [](std::string_view text) {
    Result<bool> r = is_canonical_json(text);
    EXPECT_TRUE(r.ok()) << text << ": " << r.status().ToString();
    return r.ok() && *r;
  };
  EXPECT_TRUE(is(R"({"a":[1,2.5,"x",null,true],"b":{}})"));
  EXPECT_TRUE(is("\"\\u001f\""));
  EXPECT_TRUE(is("1e+21"));
  EXPECT_TRUE(is("-0.0000033333333333333333"));
  EXPECT_FALSE(is(R"({"b":1,"a":2})"));    // unsorted
  EXPECT_FALSE(is(R"({"a": 1})"));         // white space
  EXPECT_FALSE(is("[1.0]"));               // not the shortest number
  EXPECT_FALSE(is("1E3"));
  EXPECT_FALSE(is("1e21"));                // ECMAScript writes the sign
  EXPECT_FALSE(is("-0"));
  EXPECT_FALSE(is("\"\\u001F\""));         // uppercase escape
  EXPECT_FALSE(is("\"\\u0041\""));         // needless escape
  EXPECT_FALSE(is("\"\\/\""));
  EXPECT_FALSE(is("[1]\n"));
  EXPECT_FALSE(is("\xEF\xBB\xBF[1]"));     // a byte order mark
}

TEST(IsCanonicalJsonTest, ChecksEveryFormTheWriterUses) {
  // is_canonical_json scans canonical text without parsing it; these are the
  // forms that scan must accept, and their near misses it must not.
  const auto is = [](std::string_view text) {
    Result<bool> r = is_canonical_json(text);
    EXPECT_TRUE(r.ok()) << text << ": " << r.status().ToString();
    return r.ok() && *r;
  };
  EXPECT_TRUE(is("[5e-324,1.7976931348623157e+308,-0.000001,1e-7,9007199254740992,123456789012345,"
                 "1234567890123456,0,-1,0.5,1e+21,999999999999999900000]"));
  EXPECT_TRUE(is("[true,false,null,[],{},[[{}]]]"));
  EXPECT_TRUE(is("\"\\b\\t\\n\\f\\r\\u0000\\u000b\\u001f\\\"\\\\\x7f\u00e9\U0001F600\""));
  EXPECT_TRUE(is("{\"\":1,\"a\":{\"a\":1,\"b\":2},\"b\":[]}"));
  EXPECT_TRUE(is("{\"\U0001F600\":1,\"\uE000\":2}"));  // UTF-16 order
  EXPECT_FALSE(is("{\"\uE000\":2,\"\U0001F600\":1}"));  // byte order
  EXPECT_FALSE(is("{\"b\":1,\"a\":{}}"));
  EXPECT_FALSE(is("{\"a\":{\"b\":1,\"a\":2}}"));         // unsorted one level down
  EXPECT_FALSE(is("\"\\u0008\""));                     // \b has a short escape
  EXPECT_FALSE(is("\"\\u007f\""));                     // DEL is written as itself
  EXPECT_FALSE(is("\"\\u00e9\""));
  EXPECT_FALSE(is("[1234567890123456789]"));             // reads as ...6800
  EXPECT_FALSE(is("[0.10]"));
  EXPECT_FALSE(is("[1e-07]"));
  EXPECT_FALSE(is("[1E+21]"));
  EXPECT_FALSE(is("[100e-2]"));
  EXPECT_FALSE(is("[true ]"));
  for (std::string_view text : {"[0123]", "[1.]", "[-]", "[1e]", "[.5]", "{\"a\":1,}", "[tru]", "\"\\x\"", "\"\t\""}) {
    EXPECT_EQ(is_canonical_json(text).status().code(), StatusCode::kParseError) << text;
  }
}

TEST(IsCanonicalJsonTest, ReportsTextThatIsNotJson) {
  for (std::string_view text : {"", "{", "[1,]", "{\"a\":1,\"a\":1}", "\"\\ud800\"", "[1] x", "\"\xFF\""}) {
    Result<bool> r = is_canonical_json(text);
    EXPECT_EQ(r.status().code(), StatusCode::kParseError) << printable_text(text);
  }
  EXPECT_EQ(is_canonical_json(std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']'))
                .status()
                .code(),
            StatusCode::kParseError);
}

TEST(IsCanonicalJsonTest, ReadsNumbersAsDoublesAsRfc8785Does) {
  // ECMAScript writes 1e19 and 2^63 as plain digits, which a JSON parser
  // hands over as integers past 2^53: still canonical text.
  for (double x : {1e19, 9223372036854775808.0, 18446744073709549568.0, -1e19, 9007199254740994.0}) {
    const std::string text = canonical(Json::array({x}));
    Result<bool> is = is_canonical_json(text);
    ASSERT_TRUE(is.ok()) << text << ": " << is.status().ToString();
    EXPECT_TRUE(*is) << text;
  }
  EXPECT_EQ(canonical(Json(1e19)), "10000000000000000000");
  EXPECT_EQ(canonical(Json(9223372036854775808.0)), "9223372036854776000");
  // Integer text that no double holds is not canonical: it reads as the
  // nearest double, whose text differs.
  for (std::string_view text : {"9007199254740993", "-9007199254740993", "9223372036854775807",
                                "18446744073709551615", "[10000000000000000001]"}) {
    Result<bool> is = is_canonical_json(text);
    ASSERT_TRUE(is.ok()) << text << ": " << is.status().ToString();
    EXPECT_FALSE(*is) << text;
  }
}

TEST(IsCanonicalJsonTest, CanonicalTextIsAFixedPoint) {
  const std::string text = canonical_of_text(R"({"z":[3,{"y":1e-7,"x":"\u00e9"}],"a":1E21,"m":-0.0})");
  EXPECT_EQ(text, "{\"a\":1e+21,\"m\":0,\"z\":[3,{\"x\":\"\u00e9\",\"y\":1e-7}]}");
  EXPECT_EQ(canonical_of_text(text), text);
  Result<bool> is = is_canonical_json(text);
  ASSERT_TRUE(is.ok());
  EXPECT_TRUE(*is);
}

}  // namespace
}  // namespace flopsmeter
