// ChatTemplate: Hugging Face chat templates rendered as transformers renders
// them (Python's jinja2 with trim_blocks, lstrip_blocks and loopcontrols, in
// its immutable sandbox). Each test states one behaviour; the expected text
// is what jinja2 3.1 prints.
#include "template/chat_template.h"

#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "template/interpreter.h"
#include "template/parser.h"

namespace flopsmeter {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Json = nlohmann::ordered_json;

// Wednesday 2025-01-15 09:05:00, what strftime_now() formats in these tests.
std::tm FixedNow() {
  std::tm t{};
  t.tm_year = 125;
  t.tm_mon = 0;
  t.tm_mday = 15;
  t.tm_hour = 9;
  t.tm_min = 5;
  t.tm_wday = 3;
  t.tm_yday = 14;
  return t;
}

std::string Render(std::string_view source, const Json& context = Json::object()) {
  Result<ChatTemplate> parsed = ChatTemplate::Parse(source, "t");
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  if (!parsed.ok()) return "<parse error>";
  Result<std::string> text = parsed->Render(context, FixedNow());
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  return text.ok() ? *text : "<render error>";
}

// The error of rendering `source`, which must parse and then fail.
Status RenderError(std::string_view source, const Json& context = Json::object()) {
  Result<ChatTemplate> parsed = ChatTemplate::Parse(source, "t");
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  if (!parsed.ok()) return parsed.status();
  Result<std::string> text = parsed->Render(context, FixedNow());
  EXPECT_FALSE(text.ok()) << "rendered: " << *text;
  return text.ok() ? Status::Ok() : text.status();
}

// The error of parsing `source`, which must fail.
Status ParseError(std::string_view source) {
  Result<ChatTemplate> parsed = ChatTemplate::Parse(source, "t");
  EXPECT_FALSE(parsed.ok()) << "parsed: " << source;
  return parsed.ok() ? Status::Ok() : parsed.status();
}

// ---------------------------------------------------------------------------
// Template data and whitespace control.

TEST(ChatTemplate, PrintsTextAsWritten) { EXPECT_EQ(Render("Hello, world!"), "Hello, world!"); }

TEST(ChatTemplate, DropsOneTrailingNewline) { EXPECT_EQ(Render("a\n\n"), "a\n"); }

TEST(ChatTemplate, NormalizesCarriageReturnNewlines) { EXPECT_EQ(Render("a\r\nb\rc"), "a\nb\nc"); }

TEST(ChatTemplate, TrimBlocksRemovesNewlineAfterBlockTag) {
  EXPECT_EQ(Render("{% if true %}\nyes\n{% endif %}\nend"), "yes\nend");
}

TEST(ChatTemplate, TrimBlocksKeepsNewlineAfterExpression) { EXPECT_EQ(Render("{{ 1 }}\n{{ 2 }}"), "1\n2"); }

TEST(ChatTemplate, TrimBlocksRemovesNewlineAfterComment) { EXPECT_EQ(Render("{# note #}\nx"), "x"); }

TEST(ChatTemplate, LstripBlocksRemovesIndentBeforeBlockTag) {
  EXPECT_EQ(Render("<\n    {% if true %}\n    x\n    {% endif %}\n>"), "<\n    x\n>");
}

TEST(ChatTemplate, LstripBlocksKeepsIndentBeforeExpression) { EXPECT_EQ(Render("  {{ 'x' }}"), "  x"); }

TEST(ChatTemplate, LstripBlocksKeepsTextBeforeTagOnTheSameLine) {
  EXPECT_EQ(Render("a  {% if true %}b{% endif %}"), "a  b");
}

TEST(ChatTemplate, MinusStripsAllWhitespaceBeforeTag) { EXPECT_EQ(Render("a \n\n {{- 'b' }}"), "ab"); }

TEST(ChatTemplate, MinusStripsAllWhitespaceAfterTag) {
  EXPECT_EQ(Render("{{ 'a' -}} \n\n b"), "ab");
  EXPECT_EQ(Render("{% if true -%}  \n  b{% endif %}"), "b");
}

TEST(ChatTemplate, PlusKeepsIndentBeforeBlockTag) { EXPECT_EQ(Render("  {%+ if true %}x{% endif %}"), "  x"); }

TEST(ChatTemplate, PlusKeepsNewlineAfterBlockTag) { EXPECT_EQ(Render("{% if true +%}\nx{% endif %}"), "\nx"); }

TEST(ChatTemplate, CommentsRenderNothing) { EXPECT_EQ(Render("a{# {{ not printed }} #}b"), "ab"); }

TEST(ChatTemplate, CommentWhitespaceControlStripsAroundIt) { EXPECT_EQ(Render("a \n{#- c -#}\n b"), "ab"); }

TEST(ChatTemplate, RawBlockPrintsTagsLiterally) {
  EXPECT_EQ(Render("{% raw %}{{ x }}{% if %}{% endraw %}"), "{{ x }}{% if %}");
}

TEST(ChatTemplate, GenerationTagRendersItsBody) {
  EXPECT_EQ(Render("a{% generation %}b{{ 1 }}{% endgeneration %}c"), "ab1c");
}

// ---------------------------------------------------------------------------
// Literals.

TEST(ChatTemplate, StringLiteralsUnderstandPythonEscapes) {
  EXPECT_EQ(Render(R"({{ 'a\tb\n' ~ "\x41\u00e9\U0001F600" ~ '\'' ~ "\"" ~ '\\' }})"), "a\tb\nA\u00e9\U0001F600'\"\\");
}

TEST(ChatTemplate, StringLiteralsKeepUnknownEscapes) { EXPECT_EQ(Render(R"({{ '\d' }})"), "\\d"); }

TEST(ChatTemplate, AdjacentStringLiteralsJoin) { EXPECT_EQ(Render("{{ 'a' \"b\" 'c' }}"), "abc"); }

TEST(ChatTemplate, NumberLiterals) {
  EXPECT_EQ(Render("{{ 1_000 }} {{ 0x1F }} {{ 0b101 }} {{ 0o17 }} {{ 2.5 }} {{ 1e3 }}"), "1000 31 5 15 2.5 1000.0");
}

TEST(ChatTemplate, ConstantsInBothCases) {
  EXPECT_EQ(Render("{{ true }} {{ True }} {{ false }} {{ False }} {{ none }} {{ None }}"),
            "True True False False None None");
}

TEST(ChatTemplate, DictLiteralBracesDoNotCloseTheExpression) {
  EXPECT_EQ(Render("{{ {'a': {'b': 1}}['a']['b'] }}"), "1");
}

TEST(ChatTemplate, ListAndTupleLiterals) {
  EXPECT_EQ(Render("{{ [1, 'a', [2]] }} {{ (1,) }} {{ (1, 2) }} {{ () }}"), "[1, 'a', [2]] (1,) (1, 2) ()");
}

TEST(ChatTemplate, DictLiteralsTakeAnyHashableKey) {
  EXPECT_EQ(Render("{{ {0: 'a', 512: 'b'}[512] }} {{ {(1, 2): 'c'}[(1, 2)] }} {{ {1: 'x', 1.0: 'y'} }}"), "b c {1: 'y'}");
  EXPECT_THAT(RenderError("{{ {[1]: 2} }}").message(), HasSubstr("unhashable type: 'list'"));
}

// ---------------------------------------------------------------------------
// Printing values as Python's str() does.

TEST(ChatTemplate, PrintsNoneAndBooleansLikePython) { EXPECT_EQ(Render("{{ none }}|{{ 1 == 1 }}"), "None|True"); }

TEST(ChatTemplate, PrintsContainersLikePythonRepr) {
  EXPECT_EQ(Render("{{ {'k': [none, true, 1.5, \"it's\"]} }}"), "{'k': [None, True, 1.5, \"it's\"]}");
}

TEST(ChatTemplate, PrintsFloatsLikePythonRepr) {
  EXPECT_EQ(Render("{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e16 }} {{ 1e-5 }} {{ 0.0001 }} {{ -0.0 }}"),
            "1.0 0.30000000000000004 1e+20 1e+16 1e-05 0.0001 -0.0");
}

TEST(ChatTemplate, PrintsStringReprWithEscapes) {
  EXPECT_EQ(Render(R"({{ ['a\nb', '\x07', 'é😀'] }})"), R"(['a\nb', '\x07', 'é😀'])");
}

TEST(ChatTemplate, UndefinedPrintsNothing) { EXPECT_EQ(Render("[{{ missing }}]"), "[]"); }

TEST(ChatTemplate, ContextVariablesKeepTheirJsonOrder) {
  const Json context = Json::parse(R"({"d": {"z": 1, "a": 2}})");
  EXPECT_EQ(Render("{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %} {{ d | tojson }}", context),
            "z1a2 {\"z\": 1, \"a\": 2}");
}

// ---------------------------------------------------------------------------
// Operators.

TEST(ChatTemplate, ArithmeticFollowsPython) {
  EXPECT_EQ(Render("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7.5 // 2 }} {{ 10 / 4 }} {{ 2 ** 10 }} {{ 2 ** -1 }}"),
            "3 -4 2 3.0 2.5 1024 0.5");
}

TEST(ChatTemplate, PowerIsLeftAssociative) { EXPECT_EQ(Render("{{ 2 ** 3 ** 2 }}"), "64"); }

TEST(ChatTemplate, BooleansAreIntegers) { EXPECT_EQ(Render("{{ true + 1 }}"), "2"); }

TEST(ChatTemplate, StringsAndListsRepeatAndConcatenate) {
  EXPECT_EQ(Render("{{ 'ab' * 3 }} {{ [1] * 2 }} {{ 'a' + 'b' }} {{ [1] + [2] }}"), "ababab [1, 1] ab [1, 2]");
}

TEST(ChatTemplate, TildePrintsEachOperandAsPythonStr) {
  EXPECT_EQ(Render("{{ 'a' ~ none ~ 1.5 ~ true ~ missing }}"), "aNone1.5True");
}

TEST(ChatTemplate, AddingStringAndNumberIsATypeError) {
  EXPECT_THAT(RenderError("{{ 'a' + 1 }}").message(), HasSubstr("can only concatenate str (not \"int\") to str"));
}

TEST(ChatTemplate, IntegerOverflowIsAnError) {
  EXPECT_THAT(RenderError("{{ 9223372036854775807 + 1 }}").message(), HasSubstr("integer overflow"));
}

TEST(ChatTemplate, DivisionByZeroIsAnError) {
  EXPECT_THAT(RenderError("{{ 1 // 0 }}").message(), HasSubstr("division or modulo by zero"));
}

TEST(ChatTemplate, ComparisonsChainAsInPython) { EXPECT_EQ(Render("{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }}"), "True False"); }

TEST(ChatTemplate, EqualityIsNumericAndDeep) {
  EXPECT_EQ(Render("{{ 1 == 1.0 }} {{ [1, [2]] == [1, [2]] }} {{ {'a': 1} == {'a': 1} }} {{ '1' == 1 }}"),
            "True True True False");
}

TEST(ChatTemplate, OrderingDifferentTypesIsATypeError) {
  EXPECT_THAT(RenderError("{{ 'a' < 1 }}").message(), HasSubstr("not supported between instances of 'str' and 'int'"));
}

TEST(ChatTemplate, InTestsSubstringsElementsAndKeys) {
  EXPECT_EQ(Render("{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 0} }} {{ 3 not in [1] }} {{ 'x' in missing }}"),
            "True True True True False");
}

TEST(ChatTemplate, AndOrReturnAnOperand) { EXPECT_EQ(Render("{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ [] and 1 }}"), "x b []"); }

TEST(ChatTemplate, NotNegates) { EXPECT_EQ(Render("{{ not [] }} {{ not not 1 }}"), "True True"); }

TEST(ChatTemplate, TruthinessFollowsPython) {
  EXPECT_EQ(Render("{% for v in [0, 0.0, '', [], {}, none, '0', [0], 0.5] %}{{ 'T' if v else 'F' }}{% endfor %}"),
            "FFFFFFTTT");
}

TEST(ChatTemplate, ConditionalExpression) { EXPECT_EQ(Render("{{ 'y' if 1 > 0 else 'n' }}"), "y"); }

TEST(ChatTemplate, ConditionalWithoutElseIsUndefined) { EXPECT_EQ(Render("[{{ 'y' if false }}]"), "[]"); }

TEST(ChatTemplate, FilterAppliesAfterUnaryMinus) { EXPECT_EQ(Render("{{ -2|abs }}"), "2"); }

TEST(ChatTemplate, FilterBindsTighterThanArithmetic) { EXPECT_EQ(Render("{{ 1 + 'ab'|length }}"), "3"); }

// ---------------------------------------------------------------------------
// Attributes, items and slices.

TEST(ChatTemplate, AttributeFallsBackToDictItem) {
  const Json context = Json::parse(R"({"m": {"role": "user"}})");
  EXPECT_EQ(Render("{{ m.role }} {{ m['role'] }}", context), "user user");
}

TEST(ChatTemplate, DotIntegerIndexes) {
  const Json context = Json::parse(R"({"messages": [{"role": "user"}]})");
  EXPECT_EQ(Render("{{ messages.0.role }}", context), "user");
}

TEST(ChatTemplate, MissingAttributesAndItemsAreUndefined) {
  EXPECT_EQ(Render("{{ {'a': 1}.b is defined }} {{ [1][5] is defined }} {{ none.x is defined }}"),
            "False False False");
}

TEST(ChatTemplate, NegativeIndexesCountFromTheEnd) { EXPECT_EQ(Render("{{ [1, 2, 3][-1] }} {{ 'héllo'[-4] }}"), "3 é"); }

TEST(ChatTemplate, SlicesFollowPython) {
  EXPECT_EQ(Render("{{ [1, 2, 3, 4][1:] }} {{ [1, 2, 3, 4][:-1] }} {{ [1, 2, 3, 4][::-1] }} {{ [1, 2, 3, 4][::2] }}"),
            "[2, 3, 4] [1, 2, 3] [4, 3, 2, 1] [1, 3]");
  EXPECT_EQ(Render("{{ 'héllo'[1:3] }} {{ 'abc'[::-1] }} {{ 'abc'[5:] }}"), "él cba ");
}

TEST(ChatTemplate, SliceStepZeroIsAnError) {
  EXPECT_THAT(RenderError("{{ [1][::0] }}").message(), HasSubstr("slice step cannot be zero"));
}

// ---------------------------------------------------------------------------
// Statements.

TEST(ChatTemplate, IfElifElse) {
  const std::string source = "{% if x > 1 %}big{% elif x == 1 %}one{% else %}small{% endif %}";
  EXPECT_EQ(Render(source, {{"x", 5}}), "big");
  EXPECT_EQ(Render(source, {{"x", 1}}), "one");
  EXPECT_EQ(Render(source, {{"x", 0}}), "small");
}

TEST(ChatTemplate, LoopVariables) {
  EXPECT_EQ(Render("{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
                   "{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}"),
            "1032TrueFalse3;2121FalseFalse3;3210FalseTrue3;");
}

TEST(ChatTemplate, LoopPreviousAndNextItems) {
  EXPECT_EQ(Render("{% for x in [1, 2, 3] %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }} {% endfor %}"),
            "<1>2 1<2>3 2<3> ");
}

TEST(ChatTemplate, LoopCycle) { EXPECT_EQ(Render("{% for x in range(3) %}{{ loop.cycle('a', 'b') }}{% endfor %}"), "aba"); }

TEST(ChatTemplate, ForElseRunsOnlyWhenNothingIsIterated) {
  EXPECT_EQ(Render("{% for x in [] %}x{% else %}empty{% endfor %}{% for x in [1] %}x{% else %}empty{% endfor %}"),
            "emptyx");
}

TEST(ChatTemplate, ForFilterCountsOnlyKeptItems) {
  EXPECT_EQ(Render("{% for x in range(6) if x is even %}{{ x }}/{{ loop.length }} {% endfor %}"), "0/3 2/3 4/3 ");
}

TEST(ChatTemplate, ForUnpacksPairs) {
  EXPECT_EQ(Render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }} {% endfor %}"), "a=1 b=2 ");
}

TEST(ChatTemplate, ForOverDictGivesKeysAndOverStringGivesCharacters) {
  EXPECT_EQ(Render("{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %} {% for c in 'hé' %}[{{ c }}]{% endfor %}"),
            "ab [h][é]");
}

TEST(ChatTemplate, ForOverUndefinedLoopsZeroTimes) { EXPECT_EQ(Render("{% for x in missing %}x{% endfor %}ok"), "ok"); }

TEST(ChatTemplate, ForOverNoneIsAnError) {
  EXPECT_THAT(RenderError("{% for x in none %}{% endfor %}").message(), HasSubstr("'NoneType' object is not iterable"));
}

TEST(ChatTemplate, BreakAndContinue) {
  EXPECT_EQ(Render("{% for x in range(10) %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}"
                   "{% endif %}{{ x }}{% endfor %}"),
            "023");
}

TEST(ChatTemplate, UnpackingTheWrongNumberOfValuesIsAnError) {
  EXPECT_THAT(RenderError("{% for a, b in [[1, 2, 3]] %}{% endfor %}").message(),
              HasSubstr("too many values to unpack (expected 2)"));
}

TEST(ChatTemplate, SetInsideLoopDoesNotOutliveTheIteration) {
  EXPECT_EQ(Render("{% set x = 0 %}{% for i in [1, 2, 3] %}{% set x = x + i %}{{ x }}{% endfor %}|{{ x }}"), "123|0");
}

TEST(ChatTemplate, SetInsideIfChangesTheVariable) {
  EXPECT_EQ(Render("{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}"), "2");
}

TEST(ChatTemplate, NamespaceCarriesValuesOutOfLoops) {
  EXPECT_EQ(Render("{% set ns = namespace(total=0) %}{% for i in [1, 2, 3] %}{% set ns.total = ns.total + i %}"
                   "{% endfor %}{{ ns.total }}"),
            "6");
}

TEST(ChatTemplate, AssigningAnAttributeOfANonNamespaceIsAnError) {
  EXPECT_THAT(RenderError("{% set d = {} %}{% set d.x = 1 %}").message(),
              HasSubstr("cannot assign attribute on non-namespace object"));
}

TEST(ChatTemplate, SetUnpacksTuples) { EXPECT_EQ(Render("{% set a, b = 1, 2 %}{{ b }}{{ a }}"), "21"); }

TEST(ChatTemplate, SetBlockCapturesRenderedText) {
  EXPECT_EQ(Render("{% set x %}a{{ 1 + 1 }}{% endset %}[{{ x }}]"), "[a2]");
}

TEST(ChatTemplate, SetBlockAppliesItsFilter) { EXPECT_EQ(Render("{% set x | upper | trim %} ab {% endset %}[{{ x }}]"), "[AB]"); }

TEST(ChatTemplate, FilterBlockFiltersItsBody) { EXPECT_EQ(Render("{% filter trim %}  x  {% endfilter %}|"), "x|"); }

TEST(ChatTemplate, MacroWithDefaults) {
  EXPECT_EQ(Render("{% macro m(a, b='B', c=a ~ '!') %}{{ a }}{{ b }}{{ c }}{% endmacro %}{{ m(1) }} {{ m(1, c=3) }}"),
            "1B1! 1B3");
}

TEST(ChatTemplate, MacroMissingArgumentIsUndefined) {
  EXPECT_EQ(Render("{% macro m(a) %}{{ a is defined }}{% endmacro %}{{ m() }}"), "False");
}

TEST(ChatTemplate, MacroSeesTopLevelVariablesWhenCalled) {
  EXPECT_EQ(Render("{% macro m() %}{{ x }}{% endmacro %}{% set x = 1 %}{{ m() }}{% set x = 2 %}{{ m() }}"), "12");
}

TEST(ChatTemplate, MacroDoesNotSeeTheCallersLoopVariables) {
  EXPECT_EQ(Render("{% macro m() %}[{{ y }}]{% endmacro %}{% for y in [1] %}{{ m() }}{% endfor %}"), "[]");
}

TEST(ChatTemplate, MacroTakesVarargsAndKwargsOnlyWhenItUsesThem) {
  EXPECT_EQ(Render("{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}"),
            "1(2,){'k': 3}");
  EXPECT_THAT(RenderError("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}").message(),
              HasSubstr("macro 'm' takes not more than 1 argument(s)"));
  EXPECT_THAT(RenderError("{% macro m(a) %}{% endmacro %}{{ m(b=1) }}").message(),
              HasSubstr("macro 'm' takes no keyword argument 'b'"));
}

TEST(ChatTemplate, MacrosRecurse) {
  EXPECT_EQ(Render("{% macro f(n) %}{{ 1 if n <= 1 else n * f(n - 1)|int }}{% endmacro %}{{ f(5) }}"), "120");
}

// ---------------------------------------------------------------------------
// Filters.

TEST(ChatTemplate, TrimFilter) { EXPECT_EQ(Render("[{{ ' \u3000 a \n'|trim }}][{{ 'xxaxx'|trim('x') }}]"), "[a][a]"); }

TEST(ChatTemplate, LengthAndCountFilters) {
  EXPECT_EQ(Render("{{ 'héllo'|length }} {{ [1, 2]|count }} {{ {'a': 1}|length }} {{ missing|length }}"), "5 2 1 0");
}

TEST(ChatTemplate, CaseFilters) {
  EXPECT_EQ(Render("{{ 'hÉllo wOrld'|upper }} {{ 'ÀB'|lower }} {{ 'hello wORLD'|title }} {{ 'hELLO'|capitalize }}"),
            "HÉLLO WORLD àb Hello World Hello");
}

TEST(ChatTemplate, TitleFilterStartsWordsOnlyAfterSpacesAndBrackets) {
  // jinja2's title filter, unlike Python's str.title().
  EXPECT_EQ(Render("{{ \"they're (a-b_c)\"|title }} {{ \"they're\".title() }}"), "They're (A-B_c) They'Re");
}

TEST(ChatTemplate, FirstAndLastFilters) {
  EXPECT_EQ(Render("{{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ 'abc'|first }} {{ []|first is defined }}"),
            "1 3 a False");
}

TEST(ChatTemplate, JoinFilter) {
  const Json context = Json::parse(R"({"users": [{"name": "a"}, {"name": "b"}]})");
  EXPECT_EQ(Render("{{ [1, 'x', none]|join }} {{ ['a', 'b']|join(', ') }} {{ users|join('+', attribute='name') }}",
                   context),
            "1xNone a, b a+b");
}

TEST(ChatTemplate, DefaultFilter) {
  EXPECT_EQ(Render("{{ missing|default('d') }} {{ ''|default('d') }} {{ ''|default('d', true) }} {{ none|d('x') }}"),
            "d  d None");
}

TEST(ChatTemplate, StringFilterPrintsLikePython) { EXPECT_EQ(Render("{{ ([1, 'a']|string) + '!' }}"), "[1, 'a']!"); }

TEST(ChatTemplate, IntAndFloatFilters) {
  EXPECT_EQ(Render("{{ '42'|int }} {{ ' -7 '|int }} {{ '3.9'|int }} {{ 'x'|int }} {{ 'x'|int(5) }} {{ 2.7|int }}"),
            "42 -7 3 0 5 2");
  EXPECT_EQ(Render("{{ '2.5'|float }} {{ 3|float }} {{ 'x'|float }}"), "2.5 3.0 0.0");
}

TEST(ChatTemplate, AbsAndRoundFilters) {
  EXPECT_EQ(Render("{{ -3|abs }} {{ -2.5|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} "
                   "{{ 2.1|round(0, 'ceil') }} {{ 2.9|round(0, 'floor') }}"),
            "3 2.5 2.0 4.0 2.67 3.0 2.0");
}

TEST(ChatTemplate, ReplaceFilter) { EXPECT_EQ(Render("{{ 'aaa'|replace('a', 'b') }} {{ 'aaa'|replace('a', 'b', 2) }}"), "bbb bba"); }

TEST(ChatTemplate, ListAndItemsFilters) {
  EXPECT_EQ(Render("{{ 'ab'|list }} {{ {'a': 1}|items|list }} {{ missing|items|list }}"), "['a', 'b'] [('a', 1)] []");
}

TEST(ChatTemplate, DictsortFilter) {
  EXPECT_EQ(Render("{{ {'b': 1, 'A': 2, 'c': 0}|dictsort }} {{ {'b': 1, 'a': 2}|dictsort(by='value', reverse=true) }}"),
            "[('A', 2), ('b', 1), ('c', 0)] [('a', 2), ('b', 1)]");
}

TEST(ChatTemplate, SelectattrAndRejectattrFilters) {
  const Json context = Json::parse(R"({"m": [{"role": "system"}, {"role": "user"}, {"role": "user", "x": 1}]})");
  EXPECT_EQ(Render("{{ m|selectattr('role', 'equalto', 'user')|list|length }} {{ m|rejectattr('x')|list|length }} "
                   "{{ m|selectattr('x', 'defined')|map(attribute='role')|list }}",
                   context),
            "2 2 ['user']");
}

TEST(ChatTemplate, SelectAndRejectFilters) {
  EXPECT_EQ(Render("{{ range(6)|select('odd')|list }} {{ [0, 1, '', 'a']|select|list }} "
                   "{{ ['a', 'b']|reject('equalto', 'a')|list }}"),
            "[1, 3, 5] [1, 'a'] ['b']");
}

TEST(ChatTemplate, SelectOnNoneIsEmpty) { EXPECT_EQ(Render("{{ none|selectattr('type')|list }}"), "[]"); }

TEST(ChatTemplate, MapFilter) {
  const Json context = Json::parse(R"({"m": [{"r": "a"}, {"x": 1}]})");
  EXPECT_EQ(Render("{{ m|map(attribute='r')|list }} {{ m|map(attribute='r', default='-')|list }} "
                   "{{ ['a', 'b']|map('upper')|join }}",
                   context),
            "['a', Undefined] ['a', '-'] AB");
}

TEST(ChatTemplate, GeneratorFiltersBehaveLikePythonGenerators) {
  EXPECT_EQ(Render("{{ 'yes' if [1]|select('none') else 'no' }}"), "yes");  // a generator is always true
  EXPECT_THAT(RenderError("{{ [1]|map('string')|length }}").message(), HasSubstr("object of type 'generator' has no len()"));
  EXPECT_THAT(RenderError("{{ [1]|map('string')|tojson }}").message(),
              HasSubstr("Object of type generator is not JSON serializable"));
}

TEST(ChatTemplate, UniqueFilter) {
  EXPECT_EQ(Render("{{ ['a', 'A', 'b', 'a']|unique|list }} {{ ['a', 'A']|unique(case_sensitive=true)|list }} "
                   "{{ [1, 1.0, true, 2]|unique|list }}"),
            "['a', 'b'] ['a', 'A'] [1, 2]");
}

TEST(ChatTemplate, SortFilter) {
  const Json context = Json::parse(R"({"p": [{"n": 2}, {"n": 1}]})");
  EXPECT_EQ(Render("{{ ['b', 'A', 'c']|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ p|sort(attribute='n')|first }}",
                   context),
            "['A', 'b', 'c'] [3, 2, 1] {'n': 1}");
}

TEST(ChatTemplate, SortingMixedTypesIsATypeError) {
  EXPECT_THAT(RenderError("{{ [1, 'a']|sort }}").message(), HasSubstr("not supported between instances"));
}

TEST(ChatTemplate, ReverseFilter) { EXPECT_EQ(Render("{{ 'héllo'|reverse }} {{ [1, 2]|reverse|list }}"), "olléh [2, 1]"); }

TEST(ChatTemplate, MinMaxAndSumFilters) {
  EXPECT_EQ(Render("{{ [3, 1, 2]|min }} {{ ['b', 'A']|max }} {{ [1, 2.5]|sum }} {{ []|min is defined }}"),
            "1 b 3.5 False");
}

TEST(ChatTemplate, TojsonFilterMatchesPythonJsonDumps) {
  EXPECT_EQ(Render("{{ {'a': [1, 2.0, none, true], 'é': '\"\\n'}|tojson }}"),
            R"({"a": [1, 2.0, null, true], "é": "\"\n"})");
}

TEST(ChatTemplate, TojsonFilterOptions) {
  EXPECT_EQ(Render("{{ {'b': [1], 'a': {}}|tojson(indent=2) }}"), "{\n  \"b\": [\n    1\n  ],\n  \"a\": {}\n}");
  EXPECT_EQ(Render("{{ {'b': 1, 'a': 'é'}|tojson(sort_keys=true, ensure_ascii=true) }}"), R"({"a": "\u00e9", "b": 1})");
  EXPECT_EQ(Render("{{ [1, {'a': 2}]|tojson(separators=(',', ':')) }}"), R"([1,{"a":2}])");
  EXPECT_EQ(Render("{{ {1: 2}|tojson }}"), R"({"1": 2})");
}

TEST(ChatTemplate, TojsonOfUndefinedIsAnError) {
  EXPECT_THAT(RenderError("{{ missing|tojson }}").message(), HasSubstr("Object of type Undefined is not JSON serializable"));
}

TEST(ChatTemplate, SafeTextEscapesPlainStringsAddedToIt) {
  EXPECT_EQ(Render("{{ '<b>'|safe + '<i>' }} {{ '<i>' + '<b>'|safe }} {{ '<b>'|safe ~ '<i>' }}"),
            "<b>&lt;i&gt; &lt;i&gt;<b> <b><i>");
}

TEST(ChatTemplate, EscapeFilter) { EXPECT_EQ(Render("{{ '<a href=\"x\">&\\'' | e }}"), "&lt;a href=&#34;x&#34;&gt;&amp;&#39;"); }

TEST(ChatTemplate, IndentFilter) {
  EXPECT_EQ(Render("{{ 'a\\n\\nb\\n'|indent(2) }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent('>', blank=true) }}"),
            "a\n\n  b\n|  a\n  b|a\n>\n>b");
}

TEST(ChatTemplate, AttrFilterReadsAttributesNotItems) {
  const Json context = Json::parse(R"({"d": {"k": 1}})");
  EXPECT_EQ(Render("{{ d|attr('k') is defined }} {{ (d|attr('keys'))()|list }}", context), "False ['k']");
}

TEST(ChatTemplate, UnknownFilterIsAnErrorWhenApplied) {
  EXPECT_EQ(Render("{% if false %}{{ x|from_json }}{% endif %}ok"), "ok");
  const Status status = RenderError("{{ 'x'|from_json }}");
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("t:1:4: no filter named 'from_json'"));
}

TEST(ChatTemplate, JinjaFilterOutsideTheSubsetIsUnsupported) {
  EXPECT_EQ(RenderError("{{ 'x'|wordwrap }}").code(), StatusCode::kUnsupported);
}

// ---------------------------------------------------------------------------
// Tests (`is`).

TEST(ChatTemplate, TypeTests) {
  EXPECT_EQ(Render("{{ 'a' is string }}{{ 1 is number }}{{ 1 is integer }}{{ 1.0 is float }}{{ true is boolean }}"
                   "{{ {} is mapping }}{{ [] is sequence }}{{ 'a' is iterable }}{{ none is none }}{{ 1 is iterable }}"),
            "TrueTrueTrueTrueTrueTrueTrueTrueTrueFalse");
}

TEST(ChatTemplate, DefinedTests) {
  EXPECT_EQ(Render("{{ x is defined }}{{ x is undefined }}{{ x is not defined }}", {{"y", 1}}), "FalseTrueTrue");
}

TEST(ChatTemplate, ValueTests) {
  EXPECT_EQ(Render("{{ true is true }}{{ 1 is true }}{{ false is false }}{{ 3 is odd }}{{ 4 is even }}"
                   "{{ 6 is divisibleby 3 }}{{ 6 is divisibleby(4) }}{{ 'a' is in 'abc' }}{{ 1 is eq 1.0 }}"
                   "{{ 'ab' is lower }}{{ 'AB' is upper }}{{ range is callable }}{{ none is sameas none }}"),
            "TrueFalseTrueTrueTrueTrueFalseTrueTrueTrueTrueTrueTrue");
}

TEST(ChatTemplate, ComparisonTests) {
  EXPECT_EQ(Render("{{ 2 is gt 1 }}{{ 2 is ge 2 }}{{ 1 is lt 2 }}{{ 1 is le 0 }}{{ 1 is ne 2 }}"), "TrueTrueTrueFalseTrue");
}

// ---------------------------------------------------------------------------
// Methods.

TEST(ChatTemplate, StripMethods) {
  EXPECT_EQ(Render("[{{ '  a  '.strip() }}][{{ '  a  '.lstrip() }}][{{ '  a  '.rstrip() }}][{{ 'xax'.strip('x') }}]"),
            "[a][a  ][  a][a]");
}

TEST(ChatTemplate, SplitMethod) {
  EXPECT_EQ(Render("{{ ' a  b '.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a,b,c'.split(',', 1) }} "
                   "{{ 'a b c'.split(maxsplit=1) }}"),
            "['a', 'b'] ['a', 'b', '', 'c'] ['a', 'b,c'] ['a', 'b c']");
}

TEST(ChatTemplate, SplitWithEmptySeparatorIsAnError) {
  EXPECT_THAT(RenderError("{{ 'a'.split('') }}").message(), HasSubstr("empty separator"));
}

TEST(ChatTemplate, StartswithAndEndswithTakeAStringOrATuple) {
  EXPECT_EQ(Render("{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x', 'c')) }}{{ 'abc'.startswith('b') }}"),
            "TrueTrueFalse");
}

TEST(ChatTemplate, StringMethods) {
  EXPECT_EQ(Render("{{ 'ab'.upper() }} {{ 'AB'.lower() }} {{ 'a b'.title() }} {{ 'aB'.capitalize() }} "
                   "{{ 'aXa'.replace('a', 'b') }} {{ 'héllo'.find('l') }} {{ 'aaa'.count('a') }} {{ '-'.join(['a', 'b']) }}"),
            "AB ab A B Ab bXb 2 3 a-b");
}

TEST(ChatTemplate, MoreStringMethods) {
  EXPECT_EQ(Render("{{ 'a-b-c'.rsplit('-', 1) }} {{ ' a b '.rsplit(maxsplit=1) }} {{ 'abcb'.rfind('b') }} "
                   "{{ 'abc'.index('c') }} {{ 'xab'.removeprefix('x') }} {{ 'abx'.removesuffix('x') }}"),
            "['a-b', 'c'] [' a', 'b'] 3 2 ab ab");
  EXPECT_EQ(Render("{{ '12'.isdigit() }}{{ 'ab'.isalpha() }}{{ 'a1'.isalnum() }}{{ ' '.isspace() }}{{ ''.isdigit() }}"
                   "{{ 'ab'.islower() }}{{ 'AB'.isupper() }}"),
            "TrueTrueTrueTrueFalseTrueTrue");
  EXPECT_THAT(RenderError("{{ 'abc'.index('x') }}").message(), HasSubstr("substring not found"));
}

TEST(ChatTemplate, FormatMethod) {
  EXPECT_EQ(Render("{{ '<{}|{}>'.format('a', 1) }} {{ '{1}{0}'.format('a', 'b') }} {{ '{x}'.format(x=none) }} "
                   "{{ '{{}}'.format() }}"),
            "<a|1> ba None {}");
}

TEST(ChatTemplate, DictMethods) {
  EXPECT_EQ(Render("{% set d = {'a': 1, 'b': 2} %}{{ d.get('a') }} {{ d.get('x') }} {{ d.get('x', 0) }} "
                   "{{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }}"),
            "1 None 0 ['a', 'b'] [1, 2] [('a', 1), ('b', 2)]");
}

TEST(ChatTemplate, MutatingMethodsAreRefusedLikeTheSandbox) {
  EXPECT_THAT(RenderError("{% set l = [] %}{% set _ = l.append(1) %}").message(),
              HasSubstr("access to attribute 'append' of 'list' object is unsafe"));
}

// ---------------------------------------------------------------------------
// Global functions.

TEST(ChatTemplate, RangeFunction) {
  EXPECT_EQ(Render("{{ range(3)|list }} {{ range(1, 3)|list }} {{ range(5, 0, -2)|list }}"), "[0, 1, 2] [1, 2] [5, 3, 1]");
}

TEST(ChatTemplate, RangeLargerThanTheSandboxAllowsIsAnError) {
  EXPECT_THAT(RenderError("{{ range(100001) }}").message(), HasSubstr("Range too big"));
}

TEST(ChatTemplate, NamespaceAndDictFunctions) {
  EXPECT_EQ(Render("{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }} {{ dict(x=1) }} {{ ns }}"),
            "12 {'x': 1} <Namespace {'a': 1, 'b': 2}>");
}

TEST(ChatTemplate, StrftimeNowFormatsTheGivenTime) {
  EXPECT_EQ(Render("{{ strftime_now('%Y-%m-%d %H:%M') }} {{ strftime_now('%d %b %Y') }} {{ strftime_now('%A %B %e') }}"),
            "2025-01-15 09:05 15 Jan 2025 Wednesday January 15");
}

TEST(ChatTemplate, StrftimeNowWithoutAFixedTimeUsesTheClock) {
  Result<ChatTemplate> parsed = ChatTemplate::Parse("{{ strftime_now('%Y') }}", "t");
  ASSERT_TRUE(parsed.ok());
  Result<std::string> text = parsed->Render(Json::object());
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_GE(std::stoi(*text), 2025);
}

TEST(ChatTemplate, ContextCanReplaceGlobals) {
  EXPECT_EQ(Render("{{ range }}", {{"range", "mine"}}), "mine");
}

// ---------------------------------------------------------------------------
// Errors name the template, line and column.

TEST(ChatTemplate, RaiseExceptionReturnsInvalidArgumentWithTheMessage) {
  const Status status = RenderError("a\n{{ raise_exception('No system role!') }}");
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "t: template raised: No system role!");
}

TEST(ChatTemplate, SyntaxErrorNamesLineAndColumn) {
  const Status status = ParseError("line one\n  {{ 1 + }}");
  EXPECT_EQ(status.code(), StatusCode::kParseError);
  EXPECT_THAT(status.message(), StartsWith("t:2:10: unexpected end of print statement"));
}

TEST(ChatTemplate, UnclosedBlockNamesWhereItWasOpened) {
  EXPECT_THAT(ParseError("{% for x in y %}\n{% if x %}").message(),
              HasSubstr("unexpected end of template: 'if' opened at t:2:4 needs 'elif', 'else' or 'endif'"));
}

TEST(ChatTemplate, UnknownTagIsASyntaxError) {
  EXPECT_THAT(ParseError("{% frobnicate %}").message(), HasSubstr("t:1:4: unknown tag 'frobnicate'"));
}

TEST(ChatTemplate, JinjaTagsOutsideTheSubsetAreUnsupported) {
  const Status status = ParseError("{% include 'x' %}");
  EXPECT_EQ(status.code(), StatusCode::kUnsupported);
  EXPECT_THAT(status.message(), HasSubstr("t:1:4: the 'include' tag is not supported"));
}

TEST(ChatTemplate, BreakOutsideALoopIsASyntaxError) {
  EXPECT_THAT(ParseError("{% break %}").message(), HasSubstr("'break' outside of a for loop"));
  EXPECT_THAT(ParseError("{% for x in y %}{% macro m() %}{% break %}{% endmacro %}{% endfor %}").message(),
              HasSubstr("'break' outside of a for loop"));
}

TEST(ChatTemplate, UnterminatedCommentAndStringAreSyntaxErrors) {
  EXPECT_THAT(ParseError("a {# b").message(), HasSubstr("t:1:3: missing end of comment tag"));
  EXPECT_THAT(ParseError("{{ 'abc }}").message(), HasSubstr("t:1:4: unterminated string literal"));
}

TEST(ChatTemplate, MismatchedBracketIsASyntaxError) {
  EXPECT_THAT(ParseError("{{ (1] }}").message(), HasSubstr("unexpected ']', expected ')'"));
}

TEST(ChatTemplate, RuntimeErrorNamesTheLineAndTheUndefinedExpression) {
  const Status status = RenderError("a\n  {{ message.content.x }}", {{"message", Json::object()}});
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "t:2:6: 'message.content' is undefined (a dict has no such attribute or item)");
}

TEST(ChatTemplate, CallingAnUndefinedFunctionNamesIt) {
  EXPECT_THAT(RenderError("{{ nope(1) }}").message(), HasSubstr("t:1:4: 'nope' is undefined"));
}

TEST(ChatTemplate, ContextMustBeAnObject) {
  Result<ChatTemplate> parsed = ChatTemplate::Parse("x", "t");
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->Render(Json::array(), FixedNow()).ok());
}

// ---------------------------------------------------------------------------
// Limits: hostile templates end in an error, never a crash or a hang.

TEST(ChatTemplate, InfiniteRecursionStopsAtTheDepthLimit) {
  EXPECT_THAT(RenderError("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").message(),
              HasSubstr("macro calls nested deeper than 100"));
}

TEST(ChatTemplate, HugeStringRepetitionIsAnError) {
  EXPECT_THAT(RenderError("{{ 'ab' * 1000000000 }}").message(), HasSubstr("exceeds the size limit"));
}

// The limits themselves, made small so that reaching them is quick.
Status RenderErrorWithin(const jinja::RenderLimits& limits, std::string_view source,
                         const Json& context = Json::object()) {
  auto program = jinja::ParseTemplate(source, "t");
  EXPECT_TRUE(program.ok()) << program.status().ToString();
  if (!program.ok()) return program.status();
  Result<std::string> text = jinja::RenderProgram(**program, context, FixedNow(), limits);
  EXPECT_FALSE(text.ok()) << "rendered: " << *text;
  return text.ok() ? Status::Ok() : text.status();
}

TEST(ChatTemplateLimits, DefaultsBoundEveryRender) {
  const jinja::RenderLimits limits;
  EXPECT_EQ(limits.max_output_bytes, size_t{64} << 20);
  EXPECT_EQ(limits.max_memory_bytes, size_t{512} << 20);
  EXPECT_EQ(limits.max_steps, 10'000'000u);
  EXPECT_EQ(limits.max_call_depth, 100);
}

TEST(ChatTemplateLimits, RunawayLoopsStopAtTheIterationLimit) {
  jinja::RenderLimits limits;
  limits.max_steps = 1000;
  EXPECT_EQ(RenderErrorWithin(limits, "{% for a in range(100) %}{% for b in range(100) %}{% endfor %}{% endfor %}")
                .message(),
            "t:1:29: more than 1000 steps of work (loop iterations, macro calls, scans of large values)");
}

TEST(ChatTemplateLimits, MacroCallsCountAsSteps) {
  jinja::RenderLimits limits;
  limits.max_steps = 1000;
  // 2^20 calls, never deeper than 20.
  EXPECT_THAT(RenderErrorWithin(limits, "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}"
                                        "{% endmacro %}{{ f(20) }}")
                  .message(),
              HasSubstr("more than 1000 steps of work"));
}

TEST(ChatTemplateLimits, ScanningLargeValuesCountsAsWork) {
  jinja::RenderLimits limits;
  limits.max_steps = 1000;
  const Json context = {{"big", std::string(1 << 16, 'x')}};
  // 20 iterations, but each searches 64 KiB.
  EXPECT_THAT(RenderErrorWithin(limits, "{% for i in range(20) %}{{ 'y' in big }}{% endfor %}", context).message(),
              HasSubstr("more than 1000 steps of work"));
}

TEST(ChatTemplateLimits, OutputStopsAtItsLimit) {
  jinja::RenderLimits limits;
  limits.max_output_bytes = 1000;
  EXPECT_THAT(RenderErrorWithin(limits, "{% for i in range(1000) %}{{ i }}{% endfor %}").message(),
              HasSubstr("rendered text exceeds the limit of 1000 bytes"));
}

TEST(ChatTemplateLimits, MemoryStopsAtItsLimit) {
  jinja::RenderLimits limits;
  limits.max_memory_bytes = 1 << 20;
  // Each iteration keeps a longer string alive in the namespace.
  EXPECT_THAT(RenderErrorWithin(limits, "{% set ns = namespace(s='') %}{% for i in range(100000) %}"
                                        "{% set ns.s = ns.s ~ 'x' * 100 %}{% endfor %}")
                  .message(),
              HasSubstr("rendering needs more than 1 MiB of memory"));
}

// ChatTemplate::Render's limits grow with the template and the context, so
// a tiny record cannot make a render use the defaults' hundreds of MiB.
TEST(ChatTemplateLimits, ForInputGrowsWithTheInputUpToTheDefaults) {
  const jinja::RenderLimits none = jinja::RenderLimits::ForInput(0);
  EXPECT_EQ(none.max_output_bytes, size_t{1} << 20);
  EXPECT_EQ(none.max_memory_bytes, size_t{32} << 20);
  EXPECT_EQ(none.max_steps, 100'000u);
  EXPECT_EQ(none.max_call_depth, 100);
  const jinja::RenderLimits small = jinja::RenderLimits::ForInput(5000);
  EXPECT_EQ(small.max_output_bytes, (size_t{1} << 20) + 64 * 5000);
  EXPECT_EQ(small.max_memory_bytes, (size_t{32} << 20) + 256 * 5000);
  EXPECT_EQ(small.max_steps, 100'000u + 1'000 * 5000);
  const jinja::RenderLimits most;
  for (size_t huge : {size_t{1} << 30, SIZE_MAX}) {
    const jinja::RenderLimits big = jinja::RenderLimits::ForInput(huge);
    EXPECT_EQ(big.max_output_bytes, most.max_output_bytes);
    EXPECT_EQ(big.max_memory_bytes, most.max_memory_bytes);
    EXPECT_EQ(big.max_steps, most.max_steps);
  }
}

// 40 MB fitted under the old fixed 64 MiB cap; a render of a few bytes now
// builds no string larger than its memory limit (32 MiB and a little).
TEST(ChatTemplateLimits, ASmallRenderCannotBuildAHugeString) {
  EXPECT_THAT(RenderError("{{ ('ab' * 20000000)|length }}").message(),
              HasSubstr("repetition result exceeds the size limit"));
}

TEST(ChatTemplateLimits, ASmallRenderStopsAtItsScaledSteps) {
  // The old fixed limit was 10,000,000 steps; this template is 80 bytes and
  // its empty context counts 4.
  const std::string loops = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}";
  ASSERT_EQ(loops.size(), 80u);
  EXPECT_EQ(RenderError(loops).message(),
            "t:1:32: more than 184000 steps of work (loop iterations, macro calls, scans of large values)");
}

TEST(ChatTemplateLimits, ASmallRenderStopsAtItsScaledMemory) {
  // Each range() keeps 100,000 values alive: 240 MB in all, under the old
  // fixed 512 MiB. 32 MiB + 256 bytes for each of the template's 64 bytes
  // and the empty context's 4.
  EXPECT_THAT(RenderError("{% for i in range(100) %}{% set x = range(100000) %}{% endfor %}").message(),
              HasSubstr("rendering needs more than 33571840 bytes of memory"));
}

TEST(ChatTemplate, DeeplyNestedExpressionIsASyntaxError) {
  EXPECT_THAT(ParseError("{{ " + std::string(1000, '(') + "1" + std::string(1000, ')') + " }}").message(),
              HasSubstr("nested too deeply"));
  std::string long_sum = "{{ 1";
  for (int i = 0; i < 1000; ++i) long_sum += " + 1";
  EXPECT_THAT(ParseError(long_sum + " }}").message(), HasSubstr("nested too deeply"));
}

TEST(ChatTemplate, SelfReferencingNamespacePrintsAnError) {
  EXPECT_THAT(RenderError("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}").message(),
              HasSubstr("nested too deeply"));
}

TEST(ChatTemplate, DeeplyNestedContextIsAnError) {
  Json deep = 1;
  for (int i = 0; i < 1000; ++i) deep = Json::array({deep});
  EXPECT_THAT(RenderError("{{ x }}", {{"x", deep}}).message(), HasSubstr("context variable 'x'"));
}

// ---------------------------------------------------------------------------
// A real template, and rendering from many threads.

constexpr std::string_view kChatMl =
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] | trim + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

TEST(ChatTemplate, RendersAChatMlConversation) {
  const Json context = Json::parse(R"({"messages": [{"role": "system", "content": "Be brief. "},
                                                    {"role": "user", "content": "Hi"}],
                                       "add_generation_prompt": true})");
  EXPECT_EQ(Render(kChatMl, context),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, RendersFromManyThreadsAtOnce) {
  Result<ChatTemplate> parsed = ChatTemplate::Parse(kChatMl, "chatml");
  ASSERT_TRUE(parsed.ok());
  std::vector<std::string> outputs(8);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < outputs.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const Json context = {{"messages", Json::array({{{"role", "user"}, {"content", std::to_string(t)}}})},
                              {"add_generation_prompt", false}};
        Result<std::string> text = parsed->Render(context, FixedNow());
        outputs[t] = text.ok() ? *text : text.status().message();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (size_t t = 0; t < outputs.size(); ++t) {
    EXPECT_EQ(outputs[t], "<|im_start|>user\n" + std::to_string(t) + "<|im_end|>\n");
  }
}

}  // namespace
}  // namespace flopsmeter
