#include "template/filters.h"

#include <algorithm>
#include <array>
#include <cfenv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "template/json_dump.h"
#include "template/py_text.h"
#include "tokenizer/unicode.h"

namespace flopsmeter::jinja {
namespace {

struct Named {
  std::string_view name;
  uint8_t id;
};

constexpr std::array<Named, 38> kFilters = {{
    {"abs", static_cast<uint8_t>(FilterId::kAbs)},
    {"attr", static_cast<uint8_t>(FilterId::kAttr)},
    {"capitalize", static_cast<uint8_t>(FilterId::kCapitalize)},
    {"count", static_cast<uint8_t>(FilterId::kLength)},
    {"d", static_cast<uint8_t>(FilterId::kDefault)},
    {"default", static_cast<uint8_t>(FilterId::kDefault)},
    {"dictsort", static_cast<uint8_t>(FilterId::kDictsort)},
    {"e", static_cast<uint8_t>(FilterId::kEscape)},
    {"escape", static_cast<uint8_t>(FilterId::kEscape)},
    {"first", static_cast<uint8_t>(FilterId::kFirst)},
    {"float", static_cast<uint8_t>(FilterId::kFloat)},
    {"indent", static_cast<uint8_t>(FilterId::kIndent)},
    {"int", static_cast<uint8_t>(FilterId::kInt)},
    {"items", static_cast<uint8_t>(FilterId::kItems)},
    {"join", static_cast<uint8_t>(FilterId::kJoin)},
    {"last", static_cast<uint8_t>(FilterId::kLast)},
    {"length", static_cast<uint8_t>(FilterId::kLength)},
    {"list", static_cast<uint8_t>(FilterId::kList)},
    {"lower", static_cast<uint8_t>(FilterId::kLower)},
    {"map", static_cast<uint8_t>(FilterId::kMap)},
    {"max", static_cast<uint8_t>(FilterId::kMax)},
    {"min", static_cast<uint8_t>(FilterId::kMin)},
    {"reject", static_cast<uint8_t>(FilterId::kReject)},
    {"rejectattr", static_cast<uint8_t>(FilterId::kRejectattr)},
    {"replace", static_cast<uint8_t>(FilterId::kReplace)},
    {"reverse", static_cast<uint8_t>(FilterId::kReverse)},
    {"round", static_cast<uint8_t>(FilterId::kRound)},
    {"safe", static_cast<uint8_t>(FilterId::kSafe)},
    {"select", static_cast<uint8_t>(FilterId::kSelect)},
    {"selectattr", static_cast<uint8_t>(FilterId::kSelectattr)},
    {"sort", static_cast<uint8_t>(FilterId::kSort)},
    {"string", static_cast<uint8_t>(FilterId::kString)},
    {"sum", static_cast<uint8_t>(FilterId::kSum)},
    {"title", static_cast<uint8_t>(FilterId::kTitle)},
    {"tojson", static_cast<uint8_t>(FilterId::kTojson)},
    {"trim", static_cast<uint8_t>(FilterId::kTrim)},
    {"unique", static_cast<uint8_t>(FilterId::kUnique)},
    {"upper", static_cast<uint8_t>(FilterId::kUpper)},
}};

constexpr std::array<Named, 38> kTests = {{
    {"boolean", static_cast<uint8_t>(TestId::kBoolean)},
    {"callable", static_cast<uint8_t>(TestId::kCallable)},
    {"defined", static_cast<uint8_t>(TestId::kDefined)},
    {"divisibleby", static_cast<uint8_t>(TestId::kDivisibleby)},
    {"eq", static_cast<uint8_t>(TestId::kEq)},
    {"equalto", static_cast<uint8_t>(TestId::kEq)},
    {"==", static_cast<uint8_t>(TestId::kEq)},
    {"even", static_cast<uint8_t>(TestId::kEven)},
    {"false", static_cast<uint8_t>(TestId::kFalse)},
    {"filter", static_cast<uint8_t>(TestId::kFilter)},
    {"float", static_cast<uint8_t>(TestId::kFloat)},
    {"ge", static_cast<uint8_t>(TestId::kGe)},
    {">=", static_cast<uint8_t>(TestId::kGe)},
    {"gt", static_cast<uint8_t>(TestId::kGt)},
    {"greaterthan", static_cast<uint8_t>(TestId::kGt)},
    {">", static_cast<uint8_t>(TestId::kGt)},
    {"in", static_cast<uint8_t>(TestId::kIn)},
    {"integer", static_cast<uint8_t>(TestId::kInteger)},
    {"iterable", static_cast<uint8_t>(TestId::kIterable)},
    {"le", static_cast<uint8_t>(TestId::kLe)},
    {"<=", static_cast<uint8_t>(TestId::kLe)},
    {"lower", static_cast<uint8_t>(TestId::kLower)},
    {"lt", static_cast<uint8_t>(TestId::kLt)},
    {"lessthan", static_cast<uint8_t>(TestId::kLt)},
    {"<", static_cast<uint8_t>(TestId::kLt)},
    {"mapping", static_cast<uint8_t>(TestId::kMapping)},
    {"ne", static_cast<uint8_t>(TestId::kNe)},
    {"!=", static_cast<uint8_t>(TestId::kNe)},
    {"none", static_cast<uint8_t>(TestId::kNone)},
    {"number", static_cast<uint8_t>(TestId::kNumber)},
    {"odd", static_cast<uint8_t>(TestId::kOdd)},
    {"sameas", static_cast<uint8_t>(TestId::kSameas)},
    {"sequence", static_cast<uint8_t>(TestId::kSequence)},
    {"string", static_cast<uint8_t>(TestId::kString)},
    {"test", static_cast<uint8_t>(TestId::kTest)},
    {"true", static_cast<uint8_t>(TestId::kTrue)},
    {"undefined", static_cast<uint8_t>(TestId::kUndefined)},
    {"upper", static_cast<uint8_t>(TestId::kUpper)},
}};

// jinja2 built-ins this subset leaves out: reported as unsupported.
constexpr std::string_view kOtherJinjaFilters[] = {
    "batch",    "center",   "filesizeformat", "forceescape", "format",   "groupby", "pprint",
    "random",   "slice",    "striptags",      "truncate",    "urlencode", "urlize",  "wordcount",
    "wordwrap", "xmlattr"};
constexpr std::string_view kOtherJinjaTests[] = {"escaped"};

std::optional<uint8_t> FindIn(std::span<const Named> table, std::string_view name) {
  for (const Named& entry : table) {
    if (entry.name == name) return entry.id;
  }
  return std::nullopt;
}

// Python's str(v) as a view: strings as they are, anything else printed
// into the arena.
Result<std::string_view> ToStr(const Value& v, Arena* arena) {
  if (v.is_string()) return v.string();
  std::string text;
  FM_RETURN_IF_ERROR(AppendStr(v, &text));
  return arena->Copy(text);
}

template <size_t N>
Status Bind(std::string_view filter, const Arguments& args, const std::array<std::string_view, N>& names,
            std::array<std::optional<Value>, N>* slots) {
  return BindArguments(filter, args, names, *slots);
}

bool BoolArgument(const std::optional<Value>& v, bool absent) { return v ? Truthy(*v) : absent; }

// jinja2's ignore_case: strings compare lower-cased unless case-sensitive.
Value SortKey(const Value& v, bool case_sensitive, Arena* arena) {
  if (case_sensitive || !v.is_string()) return v;
  return Value::String(arena->Copy(unicode::to_lower(v.string())));
}

// The attribute (path) an item is compared or printed by, or the item.
Result<Value> Pick(const Value& item, const std::optional<Value>& attribute, Arena* arena) {
  if (!attribute || attribute->is(ValueKind::kNone)) return item;
  if (attribute->is(ValueKind::kInt)) return GetItem(item, *attribute, nullptr, arena);
  FM_ASSIGN_OR_RETURN(std::string_view path, ToStr(*attribute, arena));
  return GetAttributePath(item, path, arena);
}

// Sorts `items` by key (a stable sort, as Python's); Compare errors (a
// TypeError between str and int, say) are reported.
Status SortByKey(std::vector<std::pair<Value, Value>>* keyed, bool reverse) {
  Status failure;
  std::stable_sort(keyed->begin(), keyed->end(), [&](const auto& a, const auto& b) {
    if (!failure.ok()) return false;
    const Result<int> c = Compare(a.first, b.first);
    if (!c.ok()) {
      failure = c.status();
      return false;
    }
    return reverse ? *c > 0 : *c < 0;
  });
  return failure;
}

Result<Value> Sort(const Value& value, const Arguments& args, RenderEnv* env) {
  std::array<std::optional<Value>, 3> slots;
  FM_RETURN_IF_ERROR(Bind("sort", args, std::array<std::string_view, 3>{"reverse", "case_sensitive", "attribute"},
                          &slots));
  const bool reverse = BoolArgument(slots[0], false);
  const bool case_sensitive = BoolArgument(slots[1], false);
  FM_ASSIGN_OR_RETURN(const auto items, Iterate(value, env->arena));
  std::vector<std::pair<Value, Value>> keyed;
  keyed.reserve(items.size());
  for (const Value& item : items) {
    FM_ASSIGN_OR_RETURN(const Value key, Pick(item, slots[2], env->arena));
    keyed.emplace_back(SortKey(key, case_sensitive, env->arena), item);
  }
  FM_RETURN_IF_ERROR(SortByKey(&keyed, reverse));
  std::vector<Value> sorted;
  sorted.reserve(keyed.size());
  for (const auto& [key, item] : keyed) sorted.push_back(item);
  return MakeList(sorted, env->arena);
}

Result<Value> Dictsort(const Value& value, const Arguments& args, RenderEnv* env) {
  std::array<std::optional<Value>, 3> slots;
  FM_RETURN_IF_ERROR(Bind("dictsort", args, std::array<std::string_view, 3>{"case_sensitive", "by", "reverse"},
                          &slots));
  const bool case_sensitive = BoolArgument(slots[0], false);
  const bool reverse = BoolArgument(slots[2], false);
  bool by_value = false;
  if (slots[1]) {
    const std::string_view by = slots[1]->is_string() ? slots[1]->string() : std::string_view();
    if (by != "key" && by != "value") return Status::InvalidArgument("You can only sort by either \"key\" or \"value\"");
    by_value = by == "value";
  }
  if (!value.is(ValueKind::kDict)) {
    return Status::InvalidArgument("dictsort expects a mapping, got " + std::string(TypeName(value)));
  }
  std::vector<std::pair<Value, Value>> keyed;
  for (const DictEntry& entry : value.entries()) {
    const Value pair[] = {entry.key, entry.value};
    keyed.emplace_back(SortKey(by_value ? entry.value : entry.key, case_sensitive, env->arena),
                       MakeList(pair, env->arena, ValueKind::kTuple));
  }
  FM_RETURN_IF_ERROR(SortByKey(&keyed, reverse));
  std::vector<Value> sorted;
  for (const auto& [key, item] : keyed) sorted.push_back(item);
  return MakeList(sorted, env->arena);
}

Result<Value> MinMax(const Value& value, const Arguments& args, RenderEnv* env, bool want_max) {
  std::array<std::optional<Value>, 2> slots;
  FM_RETURN_IF_ERROR(Bind(want_max ? "max" : "min", args,
                          std::array<std::string_view, 2>{"case_sensitive", "attribute"}, &slots));
  const bool case_sensitive = BoolArgument(slots[0], false);
  FM_ASSIGN_OR_RETURN(const auto items, Iterate(value, env->arena));
  std::optional<std::pair<Value, Value>> best;
  for (const Value& item : items) {
    FM_ASSIGN_OR_RETURN(const Value picked, Pick(item, slots[1], env->arena));
    const Value key = SortKey(picked, case_sensitive, env->arena);
    if (best) {
      FM_ASSIGN_OR_RETURN(const int c, Compare(key, best->first));
      if (want_max ? c <= 0 : c >= 0) continue;
    }
    best.emplace(key, item);
  }
  if (!best) return Value::Undefined(nullptr);
  return best->second;
}

Result<Value> Unique(const Value& value, const Arguments& args, RenderEnv* env) {
  std::array<std::optional<Value>, 2> slots;
  FM_RETURN_IF_ERROR(Bind("unique", args, std::array<std::string_view, 2>{"case_sensitive", "attribute"}, &slots));
  const bool case_sensitive = BoolArgument(slots[0], false);
  FM_ASSIGN_OR_RETURN(const auto items, Iterate(value, env->arena));
  KeyPositions seen;
  std::vector<Value> kept;
  for (const Value& item : items) {
    FM_ASSIGN_OR_RETURN(const Value picked, Pick(item, slots[1], env->arena));
    const Value key = SortKey(picked, case_sensitive, env->arena);
    if (!Hash(key)) return Status::InvalidArgument("unhashable type: '" + std::string(TypeName(key)) + "'");
    if (seen.Find(key)) continue;
    seen.Add(key, kept.size());
    kept.push_back(item);
  }
  return MakeIterator(kept, "generator", env->arena);
}

// select/reject(test, args...) and selectattr/rejectattr(attr, test, args...).
Result<Value> SelectOrReject(const Value& value, const Arguments& args, RenderEnv* env, bool select,
                             bool by_attribute) {
  std::span<const Value> rest = args.positional;
  std::optional<Value> attribute;
  if (by_attribute) {
    if (rest.empty()) return Status::InvalidArgument("missing parameter for attribute name");
    attribute = rest.front();
    rest = rest.subspan(1);
  }
  std::optional<TestId> test;
  if (!rest.empty()) {
    if (!rest.front().is_string()) return Status::InvalidArgument("the test name must be a string");
    test = FindTest(rest.front().string());
    if (!test) return UnknownTest(rest.front().string());
    rest = rest.subspan(1);
  }
  const Arguments test_args{rest, args.keyword};
  std::vector<Value> kept;
  if (!Truthy(value)) return MakeIterator(kept, "generator", env->arena);  // jinja2: `if value:`
  FM_ASSIGN_OR_RETURN(const auto items, Iterate(value, env->arena));
  uint64_t per_item = 1;
  for (const Value& arg : rest) per_item += ScanCost(arg);
  for (const Value& item : items) {
    FM_RETURN_IF_ERROR(env->Charge(per_item));
    FM_ASSIGN_OR_RETURN(const Value subject, Pick(item, attribute, env->arena));
    bool passed = false;
    if (test) {
      FM_ASSIGN_OR_RETURN(passed, ApplyTest(*test, subject, test_args, env));
    } else {
      passed = Truthy(subject);
    }
    if (passed == select) kept.push_back(item);
  }
  return MakeIterator(kept, "generator", env->arena);
}

// map(attribute='x', default=...) or map('filter', args...).
Result<Value> Map(const Value& value, const Arguments& args, RenderEnv* env) {
  std::vector<Value> mapped;
  if (!Truthy(value)) return MakeIterator(mapped, "generator", env->arena);  // jinja2: `if value:`
  FM_ASSIGN_OR_RETURN(const auto items, Iterate(value, env->arena));
  mapped.reserve(items.size());
  if (args.positional.empty()) {
    std::array<std::optional<Value>, 2> slots;
    FM_RETURN_IF_ERROR(Bind("map", args, std::array<std::string_view, 2>{"attribute", "default"}, &slots));
    if (!slots[0]) return Status::InvalidArgument("map() needs a filter name or attribute=");
    for (const Value& item : items) {
      FM_ASSIGN_OR_RETURN(Value picked, Pick(item, slots[0], env->arena));
      if (picked.is_undefined() && slots[1]) picked = *slots[1];
      mapped.push_back(picked);
    }
    return MakeIterator(mapped, "generator", env->arena);
  }
  if (!args.positional.front().is_string()) return Status::InvalidArgument("map() filter name must be a string");
  const std::string_view name = args.positional.front().string();
  const std::optional<FilterId> filter = FindFilter(name);
  if (!filter) return UnknownFilter(name);
  const Arguments filter_args{args.positional.subspan(1), args.keyword};
  for (const Value& item : items) {
    FM_RETURN_IF_ERROR(env->Charge(1 + ScanCost(item)));
    FM_ASSIGN_OR_RETURN(const Value result, ApplyFilter(*filter, item, filter_args, env));
    mapped.push_back(result);
  }
  return MakeIterator(mapped, "generator", env->arena);
}

Result<Value> Join(const Value& value, const Arguments& args, RenderEnv* env) {
  std::array<std::optional<Value>, 2> slots;
  FM_RETURN_IF_ERROR(Bind("join", args, std::array<std::string_view, 2>{"d", "attribute"}, &slots));
  std::string_view separator;
  if (slots[0]) {
    FM_ASSIGN_OR_RETURN(separator, ToStr(*slots[0], env->arena));
  }
  FM_ASSIGN_OR_RETURN(const auto items, Iterate(value, env->arena));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.append(separator);
    FM_ASSIGN_OR_RETURN(const Value picked, Pick(items[i], slots[1], env->arena));
    FM_RETURN_IF_ERROR(AppendStr(picked, &out));
    if (out.size() > MaxValueBytes(*env->arena)) break;
  }
  return MakeString(std::move(out), env->arena);
}

Result<Value> Indent(const Value& value, const Arguments& args, RenderEnv* env) {
  std::array<std::optional<Value>, 3> slots;
  FM_RETURN_IF_ERROR(Bind("indent", args, std::array<std::string_view, 3>{"width", "first", "blank"}, &slots));
  std::string indentation = "    ";
  if (slots[0]) {
    if (slots[0]->is_string()) {
      indentation = std::string(slots[0]->string());
    } else if (slots[0]->is(ValueKind::kInt) || slots[0]->is(ValueKind::kBool)) {
      indentation.assign(static_cast<size_t>(std::clamp<int64_t>(slots[0]->as_int(), 0, 4096)), ' ');
    } else {
      return Status::InvalidArgument("indent width must be an integer or a string");
    }
  }
  const bool first = BoolArgument(slots[1], false);
  const bool blank = BoolArgument(slots[2], false);
  FM_ASSIGN_OR_RETURN(std::string_view text, ToStr(value, env->arena));
  // jinja2 appends a newline before splitting, so a trailing newline is
  // dropped and an empty string keeps one (empty) line.
  std::string with_newline(text);
  with_newline.push_back('\n');
  const std::vector<std::string_view> lines = PySplitLines(with_newline);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out.push_back('\n');
    if (i > 0 && (blank || !lines[i].empty())) out.append(indentation);
    out.append(lines[i]);
    if (out.size() > MaxValueBytes(*env->arena)) break;
  }
  if (first) out.insert(0, indentation);
  return MakeString(std::move(out), env->arena);
}

Result<Value> Escape(const Value& value, RenderEnv* env) {
  if (value.is_markup()) return value;
  FM_ASSIGN_OR_RETURN(std::string_view text, ToStr(value, env->arena));
  FM_ASSIGN_OR_RETURN(const Value escaped, MakeString(HtmlEscape(text), env->arena));
  return Value::Markup(escaped.string());
}

// Markup stays Markup through the filters that only transform its text.
Result<Value> KeepMarkup(const Value& operand, Result<Value> result) {
  if (!result.ok() || !operand.is_markup()) return result;
  return Value::Markup(result->string());
}

// Python's int(str): optional sign, digits with single underscores, blanks
// around.
std::optional<int64_t> ParsePyInt(std::string_view text) {
  text = PyStrip(text, std::nullopt, true, true);
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text.empty() || text.front() == '_' || text.back() == '_') return std::nullopt;
  uint64_t magnitude = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '_' && text[i - 1] != '_') continue;
    if (c < '0' || c > '9') return std::nullopt;
    if (magnitude > (std::numeric_limits<uint64_t>::max() - 9) / 10) return std::nullopt;
    magnitude = magnitude * 10 + static_cast<uint64_t>(c - '0');
  }
  if (magnitude > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + (negative ? 1 : 0)) {
    return std::nullopt;
  }
  return negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
}

// Python's float(str): decimal or scientific, inf, nan, blanks around.
std::optional<double> ParsePyFloat(std::string_view text) {
  text = PyStrip(text, std::nullopt, true, true);
  std::string digits;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '_') {
      if (i == 0 || i + 1 == text.size() || !std::isdigit(static_cast<unsigned char>(text[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(text[i + 1]))) {
        return std::nullopt;
      }
      continue;
    }
    digits.push_back(text[i]);
  }
  if (digits.empty() || digits.find_first_of("xXpP") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(digits.c_str(), &end);
  if (end != digits.c_str() + digits.size()) return std::nullopt;
  return v;
}

Result<Value> ToInt(const Value& value, const Arguments& args) {
  std::array<std::optional<Value>, 2> slots;
  FM_RETURN_IF_ERROR(Bind("int", args, std::array<std::string_view, 2>{"default", "base"}, &slots));
  const Value fallback = slots[0].value_or(Value::Int(0));
  switch (value.kind()) {
    case ValueKind::kUndefined:
      return Status::InvalidArgument(UndefinedMessage(value));
    case ValueKind::kBool:
    case ValueKind::kInt:
      return Value::Int(value.as_int());
    case ValueKind::kFloat: {
      const double f = value.float_value();
      if (!std::isfinite(f) || std::fabs(f) >= 9.2233720368547758e18) return fallback;
      return Value::Int(static_cast<int64_t>(f));
    }
    case ValueKind::kString: {
      if (slots[1] && !(slots[1]->is(ValueKind::kInt) && slots[1]->int_value() == 10)) {
        return Status::Unsupported("int filter: only base 10 is supported");
      }
      if (const auto i = ParsePyInt(value.string())) return Value::Int(*i);
      if (const auto f = ParsePyFloat(value.string()); f && std::isfinite(*f) && std::fabs(*f) < 9.2233720368547758e18) {
        return Value::Int(static_cast<int64_t>(*f));
      }
      return fallback;
    }
    default:
      return fallback;
  }
}

Result<Value> ToFloat(const Value& value, const Arguments& args) {
  std::array<std::optional<Value>, 1> slots;
  FM_RETURN_IF_ERROR(Bind("float", args, std::array<std::string_view, 1>{"default"}, &slots));
  const Value fallback = slots[0].value_or(Value::Float(0.0));
  switch (value.kind()) {
    case ValueKind::kUndefined:
      return Status::InvalidArgument(UndefinedMessage(value));
    case ValueKind::kBool:
    case ValueKind::kInt:
    case ValueKind::kFloat:
      return Value::Float(value.as_double());
    case ValueKind::kString:
      if (const auto f = ParsePyFloat(value.string())) return Value::Float(*f);
      return fallback;
    default:
      return fallback;
  }
}

// Python's round(x, n): ties to even on the exact binary value.
double RoundHalfEven(double x, int64_t digits) {
  if (!std::isfinite(x)) return x;
  if (digits >= 0) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(std::min<int64_t>(digits, 300)), x);
    return std::strtod(buf, nullptr);
  }
  const double scale = std::pow(10.0, static_cast<double>(-digits));
  const int mode = std::fegetround();
  std::fesetround(FE_TONEAREST);
  const double rounded = std::nearbyint(x / scale) * scale;
  std::fesetround(mode);
  return rounded;
}

Result<Value> Round(const Value& value, const Arguments& args) {
  std::array<std::optional<Value>, 2> slots;
  FM_RETURN_IF_ERROR(Bind("round", args, std::array<std::string_view, 2>{"precision", "method"}, &slots));
  int64_t precision = 0;
  if (slots[0]) {
    if (!slots[0]->is(ValueKind::kInt) && !slots[0]->is(ValueKind::kBool)) {
      return Status::InvalidArgument("round precision must be an integer");
    }
    precision = slots[0]->as_int();
  }
  const std::string_view method = slots[1] && slots[1]->is_string() ? slots[1]->string() : "common";
  if (method != "common" && method != "ceil" && method != "floor") {
    return Status::InvalidArgument("method must be common, ceil or floor");
  }
  if (!value.is_number()) {
    return Status::InvalidArgument("type " + std::string(TypeName(value)) + " doesn't define __round__ method");
  }
  if (method == "common") {
    if (!value.is(ValueKind::kFloat) && precision >= 0) return Value::Int(value.as_int());
    if (!value.is(ValueKind::kFloat)) return Value::Int(static_cast<int64_t>(RoundHalfEven(value.as_double(), precision)));
    return Value::Float(RoundHalfEven(value.float_value(), precision));
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double scaled = value.as_double() * scale;
  return Value::Float((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
}

Result<Value> Sum(const Value& value, const Arguments& args, RenderEnv* env) {
  std::array<std::optional<Value>, 2> slots;
  FM_RETURN_IF_ERROR(Bind("sum", args, std::array<std::string_view, 2>{"attribute", "start"}, &slots));
  Value total = slots[1].value_or(Value::Int(0));
  FM_ASSIGN_OR_RETURN(const auto items, Iterate(value, env->arena));
  for (const Value& item : items) {
    FM_ASSIGN_OR_RETURN(const Value term, Pick(item, slots[0], env->arena));
    if (!total.is_number() || !term.is_number()) {
      return Status::InvalidArgument("unsupported operand type(s) for +: '" + std::string(TypeName(total)) + "' and '" +
                                     std::string(TypeName(term)) + "'");
    }
    if (total.is(ValueKind::kFloat) || term.is(ValueKind::kFloat)) {
      total = Value::Float(total.as_double() + term.as_double());
    } else {
      int64_t sum = 0;
      if (__builtin_add_overflow(total.as_int(), term.as_int(), &sum)) return Status::InvalidArgument("integer overflow");
      total = Value::Int(sum);
    }
  }
  return total;
}

Result<Value> Tojson(const Value& value, const Arguments& args, RenderEnv* env) {
  std::array<std::optional<Value>, 4> slots;
  FM_RETURN_IF_ERROR(Bind("tojson", args,
                          std::array<std::string_view, 4>{"ensure_ascii", "indent", "separators", "sort_keys"}, &slots));
  JsonStyle style;
  style.ensure_ascii = slots[0] && Truthy(*slots[0]);
  style.sort_keys = slots[3] && Truthy(*slots[3]);
  if (slots[1] && !slots[1]->is(ValueKind::kNone)) {
    if (slots[1]->is_string()) {
      style.indent = std::string(slots[1]->string());
    } else if (slots[1]->is(ValueKind::kInt) || slots[1]->is(ValueKind::kBool)) {
      style.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(slots[1]->as_int(), 0, 4096)), ' ');
    } else {
      return Status::InvalidArgument("tojson indent must be an integer or a string");
    }
    style.item_separator = ",";
  }
  if (slots[2] && !slots[2]->is(ValueKind::kNone)) {
    const Value& separators = *slots[2];
    if (!separators.is_sequence() || separators.items().size() != 2 || !separators.items()[0].is_string() ||
        !separators.items()[1].is_string()) {
      return Status::InvalidArgument("tojson separators must be a pair of strings");
    }
    style.item_separator = std::string(separators.items()[0].string());
    style.key_separator = std::string(separators.items()[1].string());
  }
  std::string out;
  FM_RETURN_IF_ERROR(AppendJson(value, style, &out));
  return MakeString(std::move(out), env->arena);
}

Result<Value> Reverse(const Value& value, RenderEnv* env) {
  if (value.is_string()) {
    const std::string_view text = value.string();
    std::string out;
    out.reserve(text.size());
    size_t end = text.size();
    while (end > 0) {
      size_t begin = end - 1;
      while (begin > 0 && (static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80) --begin;
      out.append(text.substr(begin, end - begin));
      end = begin;
    }
    return MakeString(std::move(out), env->arena);
  }
  // jinja2 returns reversed(value): an iterator; for what reversed() refuses
  // (iterators) it falls back to a reversed list.
  if (value.is_undefined()) return MakeIterator({}, "reversed", env->arena);
  const bool reversible = value.is_sequence() || value.is(ValueKind::kDict);
  FM_ASSIGN_OR_RETURN(const auto items, Iterate(value, env->arena));
  std::vector<Value> reversed(items.rbegin(), items.rend());
  if (!reversible) return MakeList(reversed, env->arena);
  return MakeIterator(reversed, value.is(ValueKind::kDict) ? "dict_reversekeyiterator" : "list_reverseiterator",
                      env->arena);
}

Result<Value> Attr(const Value& value, const Arguments& args, RenderEnv* env) {
  std::array<std::optional<Value>, 1> slots;
  FM_RETURN_IF_ERROR(Bind("attr", args, std::array<std::string_view, 1>{"name"}, &slots));
  if (!slots[0] || !slots[0]->is_string()) return Status::InvalidArgument("attr() needs an attribute name");
  const std::string_view name = slots[0]->string();
  // An attribute only: a dict's keys are items, not attributes.
  if (value.is(ValueKind::kDict)) {
    const auto method = FindMethod(name);
    if (!method) return Value::Undefined(nullptr);
    return GetAttribute(value, name, method, nullptr, env->arena);
  }
  return GetAttribute(value, name, FindMethod(name), nullptr, env->arena);
}

// jinja2's title filter (not str.title): words start after white space or
// one of -({[<; the first character of each is upper-cased, the rest
// lower-cased, so "they're" stays "They're".
std::string JinjaTitle(std::string_view text) {
  std::string out;
  bool word_start = true;
  for (size_t pos = 0; pos < text.size();) {
    const size_t begin = pos;
    const char32_t cp = unicode::next_code_point(text, &pos);
    const std::string_view ch = text.substr(begin, pos - begin);
    const bool separator = IsPySpace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
    if (separator) {
      out.append(ch);
    } else {
      out.append(word_start ? unicode::to_upper(ch) : unicode::to_lower(ch));
    }
    word_start = separator;
  }
  return out;
}

Result<Value> StringFilter(FilterId id, const Value& value, const Arguments& args, RenderEnv* env) {
  FM_ASSIGN_OR_RETURN(const std::string_view text, ToStr(value, env->arena));
  switch (id) {
    case FilterId::kUpper:
      return MakeString(unicode::to_upper(text), env->arena);
    case FilterId::kLower:
      return MakeString(unicode::to_lower(text), env->arena);
    case FilterId::kTitle:
      return MakeString(JinjaTitle(text), env->arena);
    case FilterId::kCapitalize:
      return MakeString(PyCapitalize(text), env->arena);
    case FilterId::kString:
      return Value::String(text);
    case FilterId::kTrim: {
      std::array<std::optional<Value>, 1> slots;
      FM_RETURN_IF_ERROR(Bind("trim", args, std::array<std::string_view, 1>{"chars"}, &slots));
      std::optional<std::string_view> chars;
      if (slots[0] && !slots[0]->is(ValueKind::kNone)) {
        FM_ASSIGN_OR_RETURN(chars, ToStr(*slots[0], env->arena));
      }
      return Value::String(PyStrip(text, chars, true, true));
    }
    case FilterId::kReplace: {
      std::array<std::optional<Value>, 3> slots;
      FM_RETURN_IF_ERROR(Bind("replace", args, std::array<std::string_view, 3>{"old", "new", "count"}, &slots));
      if (!slots[0] || !slots[1]) return Status::InvalidArgument("replace() needs the old and new strings");
      FM_ASSIGN_OR_RETURN(const std::string_view old_text, ToStr(*slots[0], env->arena));
      FM_ASSIGN_OR_RETURN(const std::string_view new_text, ToStr(*slots[1], env->arena));
      int64_t count = -1;
      if (slots[2] && !slots[2]->is(ValueKind::kNone)) {
        if (!slots[2]->is(ValueKind::kInt)) return Status::InvalidArgument("replace() count must be an integer");
        count = slots[2]->int_value();
      }
      if (!old_text.empty() && text.find(old_text) == std::string_view::npos) return Value::String(text);
      return MakeString(PyReplace(text, old_text, new_text, count), env->arena);
    }
    default:
      return Status::Internal("not a string filter");
  }
}

Status NoArguments(std::string_view filter, const Arguments& args) {
  if (args.positional.empty() && args.keyword.empty()) return Status::Ok();
  return Status::InvalidArgument(std::string(filter) + "() takes no arguments");
}

}  // namespace

std::optional<FilterId> FindFilter(std::string_view name) {
  const auto id = FindIn(kFilters, name);
  if (!id) return std::nullopt;
  return static_cast<FilterId>(*id);
}

std::optional<TestId> FindTest(std::string_view name) {
  const auto id = FindIn(kTests, name);
  if (!id) return std::nullopt;
  return static_cast<TestId>(*id);
}

Status UnknownFilter(std::string_view name) {
  if (std::find(std::begin(kOtherJinjaFilters), std::end(kOtherJinjaFilters), name) != std::end(kOtherJinjaFilters)) {
    return Status::Unsupported("the '" + std::string(name) + "' filter is not supported in chat templates");
  }
  return Status::InvalidArgument("no filter named '" + std::string(name) + "'");
}

Status UnknownTest(std::string_view name) {
  if (std::find(std::begin(kOtherJinjaTests), std::end(kOtherJinjaTests), name) != std::end(kOtherJinjaTests)) {
    return Status::Unsupported("the '" + std::string(name) + "' test is not supported in chat templates");
  }
  return Status::InvalidArgument("no test named '" + std::string(name) + "'");
}

Result<Value> ApplyFilter(FilterId id, const Value& value, const Arguments& args, RenderEnv* env) {
  Arena* arena = env->arena;
  switch (id) {
    case FilterId::kUpper:
    case FilterId::kLower:
    case FilterId::kTitle:
    case FilterId::kCapitalize:
    case FilterId::kString:
    case FilterId::kTrim:
    case FilterId::kReplace:
      if (id != FilterId::kTrim && id != FilterId::kReplace) FM_RETURN_IF_ERROR(NoArguments("string filter", args));
      // jinja2's replace and title build plain strings.
      if (id == FilterId::kReplace || id == FilterId::kTitle) return StringFilter(id, value, args, env);
      return KeepMarkup(value, StringFilter(id, value, args, env));
    case FilterId::kSafe: {
      FM_RETURN_IF_ERROR(NoArguments("safe", args));
      if (value.is_markup()) return value;
      FM_ASSIGN_OR_RETURN(std::string_view text, ToStr(value, arena));
      return Value::Markup(text);
    }
    case FilterId::kEscape:
      FM_RETURN_IF_ERROR(NoArguments("escape", args));
      return Escape(value, env);
    case FilterId::kDefault: {
      std::array<std::optional<Value>, 2> slots;
      FM_RETURN_IF_ERROR(Bind("default", args, std::array<std::string_view, 2>{"default_value", "boolean"}, &slots));
      const bool boolean = slots[1] && Truthy(*slots[1]);
      if (value.is_undefined() || (boolean && !Truthy(value))) return slots[0].value_or(Value::String({}));
      return value;
    }
    case FilterId::kLength: {
      FM_RETURN_IF_ERROR(NoArguments("length", args));
      FM_ASSIGN_OR_RETURN(const int64_t length, Length(value));
      return Value::Int(length);
    }
    case FilterId::kFirst: {
      FM_RETURN_IF_ERROR(NoArguments("first", args));
      FM_ASSIGN_OR_RETURN(const auto items, Iterate(value, arena));
      return items.empty() ? Value::Undefined(nullptr) : items.front();
    }
    case FilterId::kLast: {
      FM_RETURN_IF_ERROR(NoArguments("last", args));
      if (value.is_undefined()) return Value::Undefined(nullptr);  // reversed() of it is empty
      if (value.is(ValueKind::kIterator)) return Status::InvalidArgument("argument to reversed() must be a sequence");
      FM_ASSIGN_OR_RETURN(const auto items, Iterate(value, arena));
      return items.empty() ? Value::Undefined(nullptr) : items.back();
    }
    case FilterId::kList: {
      FM_RETURN_IF_ERROR(NoArguments("list", args));
      FM_ASSIGN_OR_RETURN(const auto items, Iterate(value, arena));
      return value.is(ValueKind::kList) ? value : MakeList(items, arena);
    }
    case FilterId::kItems: {
      FM_RETURN_IF_ERROR(NoArguments("items", args));
      // jinja2's items filter is a generator.
      if (value.is_undefined()) return MakeIterator({}, "generator", arena);
      if (!value.is(ValueKind::kDict)) return Status::InvalidArgument("Can only get item pairs from a mapping.");
      FM_ASSIGN_OR_RETURN(const Value pairs, CallMethod(BoundMethod{value, MethodId::kItems}, Arguments{}, env));
      return MakeIterator(pairs.items(), "generator", arena);
    }
    case FilterId::kReverse:
      FM_RETURN_IF_ERROR(NoArguments("reverse", args));
      return Reverse(value, env);
    case FilterId::kAbs:
      FM_RETURN_IF_ERROR(NoArguments("abs", args));
      if (value.is(ValueKind::kFloat)) return Value::Float(std::fabs(value.float_value()));
      if (value.is(ValueKind::kInt) || value.is(ValueKind::kBool)) {
        if (value.as_int() == std::numeric_limits<int64_t>::min()) return Status::InvalidArgument("integer overflow");
        return Value::Int(std::abs(value.as_int()));
      }
      return Status::InvalidArgument("bad operand type for abs(): '" + std::string(TypeName(value)) + "'");
    case FilterId::kInt:
      return ToInt(value, args);
    case FilterId::kFloat:
      return ToFloat(value, args);
    case FilterId::kRound:
      return Round(value, args);
    case FilterId::kJoin:
      return Join(value, args, env);
    case FilterId::kIndent:
      return KeepMarkup(value, Indent(value, args, env));
    case FilterId::kTojson:
      return Tojson(value, args, env);
    case FilterId::kSort:
      return Sort(value, args, env);
    case FilterId::kDictsort:
      return Dictsort(value, args, env);
    case FilterId::kUnique:
      return Unique(value, args, env);
    case FilterId::kMin:
    case FilterId::kMax:
      return MinMax(value, args, env, id == FilterId::kMax);
    case FilterId::kSelect:
    case FilterId::kReject:
      return SelectOrReject(value, args, env, id == FilterId::kSelect, /*by_attribute=*/false);
    case FilterId::kSelectattr:
    case FilterId::kRejectattr:
      return SelectOrReject(value, args, env, id == FilterId::kSelectattr, /*by_attribute=*/true);
    case FilterId::kMap:
      return Map(value, args, env);
    case FilterId::kSum:
      return Sum(value, args, env);
    case FilterId::kAttr:
      return Attr(value, args, env);
  }
  return Status::Internal("unhandled filter");
}

namespace {

Result<Value> OneArgument(std::string_view test, const Arguments& args) {
  std::array<std::optional<Value>, 1> slots;
  FM_RETURN_IF_ERROR(Bind(test, args, std::array<std::string_view, 1>{"other"}, &slots));
  if (!slots[0]) return Status::InvalidArgument(std::string(test) + "() missing 1 required positional argument");
  return *slots[0];
}

// value % divisor == 0 with Python's modulo, for the parity tests.
Result<bool> Divisible(const Value& value, const Value& divisor) {
  if (value.is_undefined()) return Status::InvalidArgument(UndefinedMessage(value));
  if (!value.is_number() || !divisor.is_number()) {
    return Status::InvalidArgument("unsupported operand type(s) for %: '" + std::string(TypeName(value)) + "' and '" +
                                   std::string(TypeName(divisor)) + "'");
  }
  if (value.is(ValueKind::kFloat) || divisor.is(ValueKind::kFloat)) {
    if (divisor.as_double() == 0) return Status::InvalidArgument("float modulo");
    return std::fmod(value.as_double(), divisor.as_double()) == 0;
  }
  if (divisor.as_int() == 0) return Status::InvalidArgument("integer division or modulo by zero");
  if (divisor.as_int() == -1) return true;
  return value.as_int() % divisor.as_int() == 0;
}

// Python's `is`: the same object. Scalars compare by value (small ints,
// True, None are singletons); containers by identity.
bool SameAs(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case ValueKind::kList:
    case ValueKind::kTuple:
      return a.items().data() == b.items().data() && a.items().size() == b.items().size();
    case ValueKind::kDict:
      return a.entries().data() == b.entries().data();
    default:
      return Equals(a, b);
  }
}

}  // namespace

Result<bool> ApplyTest(TestId id, const Value& value, const Arguments& args, RenderEnv* env) {
  const auto no_arguments = [&]() -> Status {
    if (args.positional.empty() && args.keyword.empty()) return Status::Ok();
    return Status::InvalidArgument("test takes no arguments");
  };
  const auto compare = [&](std::string_view name, auto accept) -> Result<bool> {
    FM_ASSIGN_OR_RETURN(const Value other, OneArgument(name, args));
    FM_ASSIGN_OR_RETURN(const int c, Compare(value, other));
    return accept(c);
  };
  switch (id) {
    case TestId::kDefined:
    case TestId::kUndefined:
      FM_RETURN_IF_ERROR(no_arguments());
      return value.is_undefined() == (id == TestId::kUndefined);
    case TestId::kNone:
      FM_RETURN_IF_ERROR(no_arguments());
      return value.is(ValueKind::kNone);
    case TestId::kBoolean:
      FM_RETURN_IF_ERROR(no_arguments());
      return value.is(ValueKind::kBool);
    case TestId::kTrue:
    case TestId::kFalse:
      FM_RETURN_IF_ERROR(no_arguments());
      return value.is(ValueKind::kBool) && value.bool_value() == (id == TestId::kTrue);
    case TestId::kString:
      FM_RETURN_IF_ERROR(no_arguments());
      return value.is_string();
    case TestId::kNumber:
      FM_RETURN_IF_ERROR(no_arguments());
      return value.is_number();
    case TestId::kInteger:
      FM_RETURN_IF_ERROR(no_arguments());
      return value.is(ValueKind::kInt);
    case TestId::kFloat:
      FM_RETURN_IF_ERROR(no_arguments());
      return value.is(ValueKind::kFloat);
    case TestId::kMapping:
      FM_RETURN_IF_ERROR(no_arguments());
      return value.is(ValueKind::kDict);
    case TestId::kSequence:
      FM_RETURN_IF_ERROR(no_arguments());
      return value.is_string() || value.is_sequence() || value.is(ValueKind::kDict) || value.is_undefined();
    case TestId::kIterable:
      FM_RETURN_IF_ERROR(no_arguments());
      return value.is_string() || value.is_sequence() || value.is(ValueKind::kDict) || value.is_undefined() ||
             value.is(ValueKind::kLoop) || value.is(ValueKind::kIterator);
    case TestId::kCallable:
      FM_RETURN_IF_ERROR(no_arguments());
      return value.is(ValueKind::kMacro) || value.is(ValueKind::kFunction) || value.is(ValueKind::kMethod);
    case TestId::kLower:
    case TestId::kUpper: {
      FM_RETURN_IF_ERROR(no_arguments());
      FM_ASSIGN_OR_RETURN(const std::string_view text, ToStr(value, env->arena));
      return id == TestId::kLower ? PyIsLower(text) : PyIsUpper(text);
    }
    case TestId::kOdd:
    case TestId::kEven: {
      FM_RETURN_IF_ERROR(no_arguments());
      FM_ASSIGN_OR_RETURN(const bool even, Divisible(value, Value::Int(2)));
      return even == (id == TestId::kEven);
    }
    case TestId::kDivisibleby: {
      FM_ASSIGN_OR_RETURN(const Value divisor, OneArgument("divisibleby", args));
      return Divisible(value, divisor);
    }
    case TestId::kEq:
    case TestId::kNe: {
      FM_ASSIGN_OR_RETURN(const Value other, OneArgument("eq", args));
      return Equals(value, other) == (id == TestId::kEq);
    }
    case TestId::kLt:
      return compare("lt", [](int c) { return c < 0; });
    case TestId::kLe:
      return compare("le", [](int c) { return c <= 0; });
    case TestId::kGt:
      return compare("gt", [](int c) { return c > 0; });
    case TestId::kGe:
      return compare("ge", [](int c) { return c >= 0; });
    case TestId::kIn: {
      FM_ASSIGN_OR_RETURN(const Value container, OneArgument("in", args));
      return Contains(container, value);
    }
    case TestId::kSameas: {
      FM_ASSIGN_OR_RETURN(const Value other, OneArgument("sameas", args));
      return SameAs(value, other);
    }
    case TestId::kFilter:
    case TestId::kTest:
      FM_RETURN_IF_ERROR(no_arguments());
      if (!value.is_string()) return false;
      return id == TestId::kFilter ? FindFilter(value.string()).has_value() : FindTest(value.string()).has_value();
  }
  return Status::Internal("unhandled test");
}

}  // namespace flopsmeter::jinja
